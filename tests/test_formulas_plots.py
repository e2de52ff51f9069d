"""The formulas' plots render with the Agg backend and draw the expected artists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from clvmodels.errors import InvalidParameterError  # noqa: E402
from clvmodels.formulas import (  # noqa: E402
    abc_xyz_analysis,
    abc_xyz_matrix,
    cohort_table,
    ladder_funnel,
    loyalty_ladder,
)
from clvmodels.formulas.plots import (  # noqa: E402
    plot_abc_xyz_matrix,
    plot_cohort_curves,
    plot_cohort_heatmap,
    plot_ladder_funnel,
)


@pytest.fixture(scope="module")
def log():
    from clvmodels.datasets import load_cdnow_transactions

    return load_cdnow_transactions()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_cohort_heatmap(log):
    table = cohort_table(log)
    ax = plot_cohort_heatmap(table)
    assert len(ax.images) == 1
    data = ax.images[0].get_array()
    assert data.shape == table.shape
    # unobserved cells are masked, observed ones hold the table's values
    assert np.array_equal(np.ma.getmaskarray(data), table.isna().to_numpy())
    np.testing.assert_allclose(data.compressed(), table.to_numpy()[table.notna().to_numpy()])
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(p) for p in table.index]
    n_cells = int(table.notna().to_numpy().sum())
    assert len(ax.texts) == n_cells  # annotated: small table
    assert len(ax.figure.axes) == 2  # the colorbar


def test_cohort_heatmap_on_given_axes_without_annotations(log):
    fig, ax = plt.subplots()
    out = plot_cohort_heatmap(cohort_table(log, value="active"), ax=ax, annotate=False)
    assert out is ax
    assert len(ax.texts) == 0
    assert "share of the cohort active" in fig.axes[1].get_ylabel()


def test_cohort_curves(log):
    table = cohort_table(log)
    ax = plot_cohort_curves(table)
    lines = ax.get_lines()
    assert len(lines) == len(table) + 1  # one per cohort + the weighted average
    for line, (_, row) in zip(lines, table.iterrows(), strict=False):
        np.testing.assert_allclose(line.get_ydata(), row.dropna().to_numpy())
    avg = lines[-1].get_ydata()
    sizes = np.array(list(table.attrs["cohort_size"].values()), dtype=float)
    # at age 0 every cohort is observed: the size-weighted mean of the column
    assert avg[0] == pytest.approx(np.average(table[0].to_numpy(), weights=sizes))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["1997-01", "1997-02", "1997-03"]
    assert "cumulative revenue per customer" in ax.get_ylabel()


def test_ladder_funnel_plot(log):
    funnel = ladder_funnel(loyalty_ladder(log))
    ax = plot_ladder_funnel(funnel)
    bars = ax.patches
    assert len(bars) == len(funnel)
    widths = [b.get_width() for b in bars]
    assert widths == pytest.approx(funnel["customers"].tolist())
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("buyer: 2,357") for t in texts)
    conversion = f"{funnel['conversion'].iloc[1]:.1%}"
    assert conversion in texts
    assert [t.get_text() for t in ax.get_yticklabels()] == list(funnel.index)


def test_abc_xyz_matrix_plot(log):
    m = abc_xyz_matrix(abc_xyz_analysis(log, period="Y"))
    ax = plot_abc_xyz_matrix(m)
    assert len(ax.images) == 1
    assert len(ax.texts) == 9
    assert ax.texts[0].get_text() == f"{m.iloc[0, 0]:,.0f}"


def test_plots_refuse_wrong_input():
    with pytest.raises(InvalidParameterError):
        plot_cohort_heatmap(pd.DataFrame())
    with pytest.raises(InvalidParameterError):
        plot_ladder_funnel(pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidParameterError):
        plot_abc_xyz_matrix(pd.DataFrame(np.zeros((2, 2))))
