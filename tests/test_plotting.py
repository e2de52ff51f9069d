"""Plots rendered with Agg to PNG and checked for their artists; tables checked independently.

References: the published CDNOW counts (1,411 customers without a repeat
purchase, 2,457 calibration and 1,882 holdout repeat transactions), plain
Python loops over the log, closed forms for stand-in models, and the
lifetimes peer for the BG/NBD curves.
"""

from __future__ import annotations

import io
from collections import Counter

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from scipy import stats

import clvmodels
from clvmodels import plotting
from clvmodels.errors import InvalidParameterError, UnitMismatchError
from clvmodels.evaluation.base import calibration_only
from clvmodels.evaluation.metrics import gains_curve, holdout_actuals

CAL_END, OBS_END = "1997-09-30", "1998-06-30"
PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005), CDNOW


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def render(ax) -> bytes:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    return data


@pytest.fixture(scope="module")
def log():
    return clvmodels.datasets.load_cdnow_transactions()


@pytest.fixture(scope="module")
def full(log):
    return clvmodels.rfm_summary(log, amount="amount", calibration_end=CAL_END,
                                 observation_end=OBS_END)


@pytest.fixture(scope="module")
def summary(full):
    return calibration_only(full)


@pytest.fixture(scope="module")
def bgnbd():
    from clvmodels.models.bgnbd import BGNBD

    return BGNBD.from_params(time_unit="W", **PARAMS)


@pytest.fixture(scope="module")
def lifetimes_bgnbd():
    lifetimes = pytest.importorskip("lifetimes")
    m = lifetimes.BetaGeoFitter()
    m.params_ = pd.Series(PARAMS)
    return m


class PoissonStandIn:
    """Customers buy at a common Poisson rate and never leave: closed forms everywhere."""

    def __init__(self, rate):
        self.rate = rate

    def probability_of_purchases(self, n, t):
        return stats.poisson.pmf(n, self.rate * np.asarray(t))

    def expected_purchases_new_customer(self, t):
        return self.rate * np.asarray(t, dtype=float)

    def probability_alive(self, summary):
        return np.where(summary["frequency"] > 0, summary["recency"] / summary["T"], 1.0)

    def expected_purchases(self, summary, t):
        return self.rate * t * self.probability_alive(summary)


# --- frequency histogram ---------------------------------------------------------------


def test_frequency_histogram_table_by_hand_with_a_stand_in():
    s = pd.DataFrame({"frequency": [0, 1, 4, 9], "T": [2.0, 0.0, 1.0, 2.0]})
    t = plotting.frequency_histogram_table(PoissonStandIn(0.5), s, max_frequency=3)
    assert list(t.index) == ["0", "1", "2", "3+"]
    np.testing.assert_allclose(t["actual"], [1, 1, 0, 2])
    # expected customers with n purchases: sum over customers of Poisson(0.5 T) pmf; T = 0 -> 0
    expected = [sum(stats.poisson.pmf(n, 0.5 * T) if T > 0 else float(n == 0) for T in s["T"])
                for n in range(3)]
    np.testing.assert_allclose(t["model"][:3], expected, rtol=1e-12)
    assert t["model"].sum() == pytest.approx(4.0)


def test_frequency_histogram_on_cdnow(summary, bgnbd):
    t = plotting.frequency_histogram_table(bgnbd, summary)
    assert t.loc["0", "actual"] == 1411  # published: 1,411 of 2,357 made no repeat purchase
    assert t["actual"].sum() == 2357 and t["model"].sum() == pytest.approx(2357)
    ax = plotting.plot_frequency_histogram(bgnbd, summary)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 and all(len(c) == 8 for c in bars)
    np.testing.assert_allclose([p.get_height() for p in bars[0]], t["actual"])
    np.testing.assert_allclose([p.get_height() for p in bars[1]], t["model"])
    assert [x.get_text() for x in ax.get_xticklabels()][-1] == "7+"
    assert ax.get_ylabel() == "Customers" and "calibration" in ax.get_xlabel()
    # the model's display name from the registry labels its bars by default
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["Actual", "BG/NBD"]
    render(ax)


@pytest.mark.peers
def test_frequency_histogram_model_column_matches_lifetimes(summary, bgnbd, lifetimes_bgnbd):
    t = plotting.frequency_histogram_table(bgnbd, summary)
    uT, counts = np.unique(summary["T"], return_counts=True)
    for n in range(7):
        peer = sum(c * lifetimes_bgnbd.probability_of_n_purchases_up_to_time(T, n)
                   for T, c in zip(uT, counts, strict=True))
        assert t.loc[str(n), "model"] == pytest.approx(peer, rel=1e-8)


def test_frequency_histogram_refuses_mismatched_units(summary, bgnbd):
    days = summary.copy()
    days.attrs = {**summary.attrs, "time_unit": "D"}
    with pytest.raises(UnitMismatchError, match="time unit"):
        plotting.frequency_histogram_table(bgnbd, days)


# --- conditional expectations ----------------------------------------------------------


def test_conditional_expectations_plot(summary, full, bgnbd):
    actual = holdout_actuals(full)["transactions"]
    preds = {"BG/NBD": bgnbd.expected_purchases(summary, 39),
             "half": 0.5 * bgnbd.expected_purchases(summary, 39)}
    t = plotting.conditional_expectations_table(summary["frequency"], actual, preds)
    assert list(t.columns) == ["n_customers", "actual", "BG/NBD", "half"]
    assert t["n_customers"].sum() == 2357
    # published holdout total: 1,882 repeat transactions
    assert (t["actual"] * t["n_customers"]).sum() == pytest.approx(1882)
    np.testing.assert_allclose(t["half"], 0.5 * t["BG/NBD"])
    ax = plotting.plot_conditional_expectations(summary["frequency"], actual, preds)
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[0].get_ydata(), t["actual"])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), t["BG/NBD"])
    assert "holdout" in ax.get_ylabel() and "calibration" in ax.get_xlabel()
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["Actual", "BG/NBD", "half"]
    render(ax)


@pytest.mark.peers
def test_conditional_expectations_model_column_matches_lifetimes(summary, full, bgnbd,
                                                                lifetimes_bgnbd):
    actual = holdout_actuals(full)["transactions"]
    ours = plotting.conditional_expectations_table(
        summary["frequency"], actual, bgnbd.expected_purchases(summary, 39))
    peer_pred = lifetimes_bgnbd.conditional_expected_number_of_purchases_up_to_time(
        39, summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy())
    peer = plotting.conditional_expectations_table(summary["frequency"], actual, peer_pred)
    np.testing.assert_allclose(ours["predicted"], peer["predicted"], rtol=1e-6)


# --- tracking ----------------------------------------------------------------------------


def _weekly_repeat_counts_by_loop(log, cal_end, n_weeks):
    start = log["date"].min()
    counts = Counter()
    for _, rows in log.groupby("customer_id"):
        days = sorted({(d - start).days for d in rows["date"]})
        if days[0] > (pd.Timestamp(cal_end) - start).days:
            continue
        for d in days[1:]:
            counts[d // 7 + 1] += 1
    return np.array([counts[w] for w in range(1, n_weeks + 1)], dtype=float)


def test_tracking_actual_against_a_plain_loop_and_published_totals(log, bgnbd):
    t = plotting.tracking_table(log, bgnbd, CAL_END, OBS_END)
    assert len(t) == 78 and t.attrs["calibration_time"] == pytest.approx(39.0)
    np.testing.assert_allclose(t["actual"], _weekly_repeat_counts_by_loop(log, CAL_END, 78))
    assert t.loc[39, "cumulative_actual"] == 2457  # published calibration total
    assert t.loc[78, "cumulative_actual"] - t.loc[39, "cumulative_actual"] == 1882  # holdout
    assert not t.loc[39, "holdout"] and t.loc[40, "holdout"]
    assert t.loc[39, "period_end"] == pd.Timestamp(CAL_END)


def test_tracking_model_with_a_linear_stand_in(log):
    """f(t) = rate * t: the cumulative model is rate * sum over customers of their age."""
    rate = 0.1
    t = plotting.tracking_table(log, lambda age: rate * np.asarray(age), CAL_END, OBS_END)
    first = log.groupby("customer_id")["date"].min()
    start = log["date"].min()
    for week in (1, 13, 39, 78):
        end_day = 7 * week - 1  # last day of the week, days since 1997-01-01
        ages = [max(0, end_day - (d - start).days) / 7 for d in first]
        assert t.loc[week, "cumulative_model"] == pytest.approx(rate * sum(ages), rel=1e-12)
    np.testing.assert_allclose(t["model"].cumsum(), t["cumulative_model"])


@pytest.mark.peers
def test_tracking_model_matches_lifetimes_curve(log, bgnbd, lifetimes_bgnbd):
    t = plotting.tracking_table(log, bgnbd, CAL_END, OBS_END)
    start = log["date"].min()
    first_days = (log.groupby("customer_id")["date"].min() - start).dt.days.to_numpy()
    for week in (10, 39, 78):
        ages = (7 * week - 1 - first_days) / 7
        ages = ages[ages > 0]
        peer = lifetimes_bgnbd.expected_number_of_purchases_up_to_time(ages).sum()
        assert t.loc[week, "cumulative_model"] == pytest.approx(peer, rel=1e-6)


@pytest.mark.parametrize("kind", ["cumulative", "incremental"])
def test_tracking_plots(log, bgnbd, kind):
    plot = getattr(plotting, f"plot_{kind}_tracking")
    ax = plot(log, bgnbd, CAL_END, OBS_END, label="BG/NBD")
    assert len(ax.lines) == 3  # actual, model, cutoff
    actual, model, cutoff = ax.lines
    t = plotting.tracking_table(log, bgnbd, CAL_END, OBS_END)
    col = "cumulative_" if kind == "cumulative" else ""
    np.testing.assert_allclose(actual.get_ydata(), t[col + "actual"])
    np.testing.assert_allclose(model.get_ydata(), t[col + "model"])
    assert list(cutoff.get_xdata()) == [39.0, 39.0]
    assert ax.get_xlabel() == "Time since 1997-01-01 (weeks)"
    assert ("Cumulative" in ax.get_ylabel()) == (kind == "cumulative")
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["Actual", "BG/NBD", "End of calibration"]
    render(ax)


@pytest.mark.parametrize("cls, params, shown", [
    ("BGNBD", PARAMS, "BG/NBD"),
    ("ParetoNBD", {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, "Pareto/NBD"),
    ("MBGNBD", {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, "MBG/NBD"),
])
def test_model_plots_are_labelled_with_the_display_name(log, summary, cls, params, shown):
    import clvmodels.models

    model = getattr(clvmodels.models, cls).from_params(time_unit="W", **params)
    for plot in (plotting.plot_cumulative_tracking, plotting.plot_incremental_tracking):
        ax = plot(log, model, CAL_END, OBS_END)
        labels = [x.get_text() for x in ax.get_legend().get_texts()]
        assert labels == ["Actual", shown, "End of calibration"]
        assert cls not in labels and "Model" not in labels
        render(ax)
    ax = plotting.plot_frequency_histogram(model, summary)
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["Actual", shown]
    # a stand-in the registry does not know (a plain function of t) reads "Model"
    ax = plotting.plot_cumulative_tracking(log, model.expected_purchases_new_customer,
                                           CAL_END, OBS_END)
    assert [x.get_text() for x in ax.get_legend().get_texts()][1] == "Model"


def test_tracking_table_options_and_errors(log, bgnbd):
    t = plotting.tracking_table(log, bgnbd, CAL_END, OBS_END, period=4)  # 4-week periods
    assert len(t) == 20 and t["time"].iloc[-1] == pytest.approx(78.0)  # last period is partial
    assert t["cumulative_actual"].iloc[-1] == 2457 + 1882
    with pytest.raises(InvalidParameterError, match="calibration_end"):
        plotting.tracking_table(log, bgnbd, "1996-01-01", OBS_END)
    with pytest.raises(InvalidParameterError, match="expected_purchases_new_customer"):
        plotting.tracking_table(log, object(), CAL_END, OBS_END)
    with pytest.raises(UnitMismatchError):
        plotting.tracking_table(log, bgnbd, CAL_END, OBS_END, time_unit="D")


# --- matrices ----------------------------------------------------------------------------


def test_probability_alive_table_with_a_stand_in():
    t = plotting.probability_alive_table(PoissonStandIn(1.0), max_frequency=3, T=4.5)
    assert t.shape == (4, 5)  # frequency 0..3, recency 0..4
    assert t.index.name == "frequency" and t.columns.name == "recency"
    assert t.loc[0, 0.0] == 1.0 and t.loc[0, 1.0:].isna().all()  # impossible cells are NaN
    assert t.loc[2, 3.0] == pytest.approx(3.0 / 4.5)
    e = plotting.expected_purchases_table(PoissonStandIn(2.0), t=3.0, max_frequency=3, T=4.5)
    assert e.loc[2, 3.0] == pytest.approx(2.0 * 3.0 * 3.0 / 4.5)
    with pytest.raises(InvalidParameterError, match="summary, or max_frequency"):
        plotting.probability_alive_table(PoissonStandIn(1.0))


@pytest.mark.peers
def test_probability_alive_table_matches_lifetimes(summary, bgnbd, lifetimes_bgnbd):
    t = plotting.probability_alive_table(bgnbd, summary, max_frequency=10)
    assert t.attrs["T"] == pytest.approx(summary["T"].max())
    f, r = np.meshgrid(np.arange(1, 11), t.columns.to_numpy(), indexing="ij")
    peer = lifetimes_bgnbd.conditional_probability_alive(f, r, t.attrs["T"])
    np.testing.assert_allclose(t.loc[1:].to_numpy(), peer, rtol=1e-8)


@pytest.mark.parametrize("which", ["probability_alive", "expected_purchases"])
def test_matrix_plots(summary, bgnbd, which):
    plot = getattr(plotting, f"plot_{which}_matrix")
    ax = plot(bgnbd, summary, max_frequency=12)
    assert len(ax.images) == 1
    image = ax.images[0]
    assert image.get_array().shape == (13, int(np.floor(summary["T"].max())) + 1)
    assert len(ax.figure.axes) == 2  # the heatmap and its colour bar
    assert ax.get_xlabel() == "Recency (weeks)"
    assert ax.get_ylabel() == "Frequency (repeat transactions)"
    assert "weeks" in ax.get_title()
    render(ax)


# --- leaderboard -------------------------------------------------------------------------


@pytest.fixture
def leaderboard():
    # three backtest cutoffs per method for the MAE, one row with a spread for the bias
    return pd.DataFrame({
        "method": ["zero", "zero", "zero", "bgnbd", "bgnbd", "bgnbd", "zero", "bgnbd", "own"],
        "metric": ["transactions_mae"] * 6 + ["transactions_bias"] * 3,
        "value": [0.8, 0.7, 0.9, 0.6, 0.5, 0.7, -0.8, 0.1, -0.05],
        "value_std": [np.nan] * 6 + [0.02, 0.03, 0.2],
    })


def test_leaderboard_table(leaderboard):
    t = plotting.leaderboard_table(leaderboard, "transactions_mae")
    assert list(t.index) == ["bgnbd", "zero"]  # lower MAE first
    np.testing.assert_allclose(t["value"], [0.6, 0.8])
    np.testing.assert_allclose(t["value_std"], [0.1, 0.1])  # sample std of (.6, .5, .7)
    b = plotting.leaderboard_table(leaderboard, "transactions_bias")
    assert list(b.index) == ["own", "bgnbd", "zero"]  # closest to 0 first
    np.testing.assert_allclose(b["value_std"], [0.2, 0.03, 0.02])
    with pytest.raises(InvalidParameterError, match="choose a metric"):
        plotting.leaderboard_table(leaderboard)
    with pytest.raises(InvalidParameterError, match="no rows"):
        plotting.leaderboard_table(leaderboard, "revenue_gini")
    with pytest.raises(InvalidParameterError, match="tidy"):
        plotting.leaderboard_table(leaderboard.drop(columns="metric"))


def test_leaderboard_plot(leaderboard):
    ax = plotting.plot_leaderboard(leaderboard, "transactions_mae")
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 1 and len(bars[0]) == 2
    assert bars[0].errorbar is not None  # backtest spread drawn
    widths = {lab.get_text(): p.get_width() for lab, p in
              zip(ax.get_yticklabels()[::-1], bars[0].patches[::-1], strict=True)}
    assert widths == pytest.approx({"bgnbd": 0.6, "zero": 0.8})
    top = max(ax.get_yticklabels(), key=lambda lab: lab.get_position()[1]).get_text()
    assert top == "bgnbd"  # best on top
    assert ax.get_xlabel() == "transactions_mae (lower is better)"
    render(ax)
    one = leaderboard[leaderboard["method"] == "own"]
    ax2 = plotting.plot_leaderboard(one.assign(value_std=np.nan))
    assert [c for c in ax2.containers if isinstance(c, BarContainer)][0].errorbar is None


def test_leaderboard_plot_shows_the_display_names(leaderboard):
    names = {"bgnbd": "BG/NBD + Gamma-Gamma"}  # as in ComparisonResult.display_names
    ax = plotting.plot_leaderboard(leaderboard, "transactions_mae", labels=names)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)][0]
    widths = {lab.get_text(): p.get_width() for lab, p in
              zip(ax.get_yticklabels()[::-1], bars.patches[::-1], strict=True)}
    assert widths == pytest.approx({"BG/NBD + Gamma-Gamma": 0.6, "zero": 0.8})


# --- gains / lift ------------------------------------------------------------------------


def test_gains_table_and_plot():
    actual = np.array([0.0, 1.0, 3.0, 0.0, 6.0])
    preds = {"good": np.array([0.5, 2.0, 1.0, 0.5, 4.0]), "flat": np.zeros(5)}
    t = plotting.gains_table(actual, preds)
    assert list(pd.unique(t["method"])) == ["good", "flat", "perfect"]
    good = t[t["method"] == "good"]
    np.testing.assert_allclose(good["share_of_actual"], [0, 0.6, 0.7, 1.0, 1.0])
    flat = t[t["method"] == "flat"]
    np.testing.assert_allclose(flat["share_of_actual"], [0, 1.0])  # one tied group: diagonal
    pd.testing.assert_frame_equal(
        t[t["method"] == "perfect"].drop(columns="method").reset_index(drop=True),
        gains_curve(actual, actual))

    ax = plotting.plot_gains(actual, preds)
    assert len(ax.lines) == 4  # good, flat, perfect, random
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["good", "flat", "perfect", "random"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0, 0.6, 0.7, 1.0, 1.0])
    assert ax.get_xlabel() == "Share of customers, ranked by prediction"
    render(ax)

    lift = plotting.plot_gains(actual, preds, kind="lift", perfect=False)
    assert len(lift.lines) == 3  # good, flat, random level
    np.testing.assert_allclose(lift.lines[0].get_ydata()[0], 0.6 / 0.2)
    assert "Lift" in lift.get_ylabel()
    with pytest.raises(InvalidParameterError, match="kind"):
        plotting.plot_gains(actual, preds, kind="roc")


def test_plots_draw_on_a_given_axes(summary, bgnbd):
    fig, axes = plt.subplots(1, 2)
    ax = plotting.plot_frequency_histogram(bgnbd, summary, ax=axes[1])
    assert ax is axes[1] and len(axes[0].patches) == 0
    render(ax)
