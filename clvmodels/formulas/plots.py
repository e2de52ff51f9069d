"""Plots of the formulas' tables: cohort heatmap and curves, ladder funnel, ABC-XYZ matrix.

Each function takes ``ax=None`` (a new figure is made when it is None),
returns the matplotlib Axes, and imports matplotlib only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    import matplotlib.axes

__all__ = [
    "plot_cohort_heatmap",
    "plot_cohort_curves",
    "plot_ladder_funnel",
    "plot_abc_xyz_matrix",
]

_VALUE_LABELS = {
    "revenue": "revenue per customer",
    "gross_margin": "gross margin per customer",
    "transactions": "transactions per customer",
    "active": "share of the cohort active",
}


def _axes(ax: matplotlib.axes.Axes | None) -> matplotlib.axes.Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _value_label(table: pd.DataFrame) -> str:
    label = _VALUE_LABELS.get(table.attrs.get("value"), "value per customer")
    if table.attrs.get("cumulative"):
        label = "cumulative " + label
    return label


def _check_table(table: object) -> None:
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise InvalidParameterError(
            "table must be a non-empty DataFrame from cohort_table()."
        )


def plot_cohort_heatmap(
    table: pd.DataFrame, ax: matplotlib.axes.Axes | None = None, *, cmap: str = "viridis",
    annotate: bool | None = None, fmt: str = "{:.0f}",
) -> matplotlib.axes.Axes:
    """Heatmap of a cohort table: cohorts down, months since first purchase across.

    Parameters
    ----------
    table : DataFrame
        From :func:`clvmodels.formulas.cohort.cohort_table`.
    ax : matplotlib Axes, optional
    cmap : str, default "viridis"
    annotate : bool, optional
        Write each cell's value (default: when the table has at most 400 cells).
    fmt : str, default "{:.0f}"
        Format of the annotations.

    Returns
    -------
    matplotlib Axes
        Holding one image (cells not yet observed are left blank) and a colorbar.
    """
    _check_table(table)
    ax = _axes(ax)
    values = np.ma.masked_invalid(table.to_numpy(dtype=float))
    image = ax.imshow(values, aspect="auto", cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label=_value_label(table))
    ax.set_xticks(range(table.shape[1]))
    ax.set_xticklabels([str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]))
    ax.set_yticklabels([str(i) for i in table.index])
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel("cohort (month of first purchase)")
    ax.set_title("Cohort table")
    if annotate is None:
        annotate = table.size <= 400
    if annotate:
        finite = values.compressed()
        mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for i in range(table.shape[0]):
            for j in range(table.shape[1]):
                v = table.iat[i, j]
                if np.isfinite(v):
                    ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                            color="white" if v < mid else "black")
    return ax


def plot_cohort_curves(
    table: pd.DataFrame, ax: matplotlib.axes.Axes | None = None, *, average: bool = True,
) -> matplotlib.axes.Axes:
    """One curve per cohort of a cohort table, by months since first purchase.

    Parameters
    ----------
    table : DataFrame
        From :func:`clvmodels.formulas.cohort.cohort_table`.
    ax : matplotlib Axes, optional
    average : bool, default True
        Add the size-weighted average over the cohorts observed at each age
        (dashed black), when the table records the cohort sizes.

    Returns
    -------
    matplotlib Axes
        One line per cohort (labelled by cohort), then the average line.
    """
    _check_table(table)
    ax = _axes(ax)
    ages = np.asarray(table.columns, dtype=float)
    for cohort, row in table.iterrows():
        ok = row.notna().to_numpy()
        ax.plot(ages[ok], row.to_numpy(dtype=float)[ok], marker="o", markersize=3,
                label=str(cohort))
    sizes = table.attrs.get("cohort_size")
    if average and sizes:
        w = np.array([sizes.get(str(c), 0) for c in table.index], dtype=float)
        v = table.to_numpy(dtype=float)
        ok = np.isfinite(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(ok, v, 0.0).T @ w / (ok.T @ w)
        ax.plot(ages, avg, color="black", linestyle="--", linewidth=2,
                label="average (weighted by cohort size)")
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel(_value_label(table))
    ax.set_title("Cohort curves")
    ax.legend(fontsize="small")
    return ax


def plot_ladder_funnel(
    funnel: pd.DataFrame, ax: matplotlib.axes.Axes | None = None, *, color: str = "tab:blue",
) -> matplotlib.axes.Axes:
    """The loyalty ladder as a funnel: one centred bar per rung, with conversion rates.

    Parameters
    ----------
    funnel : DataFrame
        From :func:`clvmodels.formulas.segmentation.ladder_funnel`.
    ax : matplotlib Axes, optional
    color : str

    Returns
    -------
    matplotlib Axes
        One bar per rung (lowest rung at the top) labelled with its customer
        count and share, and the conversion from the rung above it.
    """
    if not isinstance(funnel, pd.DataFrame) or "customers" not in funnel.columns:
        raise InvalidParameterError("funnel must be the DataFrame of ladder_funnel().")
    ax = _axes(ax)
    counts = funnel["customers"].to_numpy(dtype=float)
    top = counts.max() if counts.size and counts.max() > 0 else 1.0
    y = np.arange(len(funnel))[::-1]
    ax.barh(y, counts, left=(top - counts) / 2, color=color, height=0.7)
    for yi, (stage, row) in zip(y, funnel.iterrows(), strict=True):
        ax.text(top / 2, yi, f"{stage}: {int(row['customers']):,} "
                f"({row['share_of_all']:.1%})", ha="center", va="center", fontsize=9,
                color="black")
    for k in range(1, len(funnel)):
        ax.text(top, (y[k - 1] + y[k]) / 2, f"{funnel['conversion'].iloc[k]:.1%}",
                ha="right", va="center", fontsize=8, style="italic")
    ax.set_yticks(y)
    ax.set_yticklabels([str(s) for s in funnel.index])
    ax.set_xlim(0, top * 1.02)
    ax.set_xticks([])
    ax.set_title("Loyalty ladder (conversion between rungs at the right)")
    return ax


def plot_abc_xyz_matrix(
    matrix: pd.DataFrame, ax: matplotlib.axes.Axes | None = None, *, cmap: str = "Blues",
    fmt: str = "{:,.0f}",
) -> matplotlib.axes.Axes:
    """Heatmap of the 3 x 3 ABC-XYZ matrix with the value written in each cell.

    Parameters
    ----------
    matrix : DataFrame
        From :func:`clvmodels.formulas.segmentation.abc_xyz_matrix`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if not isinstance(matrix, pd.DataFrame) or matrix.shape != (3, 3):
        raise InvalidParameterError("matrix must be the 3 x 3 DataFrame of abc_xyz_matrix().")
    ax = _axes(ax)
    values = matrix.to_numpy(dtype=float)
    ax.imshow(values, cmap=cmap)
    mid = (values.min() + values.max()) / 2
    for i in range(3):
        for j in range(3):
            ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center",
                    color="white" if values[i, j] > mid else "black")
    ax.set_xticks(range(3))
    ax.set_xticklabels([str(c) for c in matrix.columns])
    ax.set_yticks(range(3))
    ax.set_yticklabels([str(i) for i in matrix.index])
    ax.set_xlabel("XYZ (regularity of spend)")
    ax.set_ylabel("ABC (share of revenue)")
    ax.set_title("ABC-XYZ matrix")
    return ax
