"""The verdict's statistics against hand computations, the metrics module and simulation.

* every bootstrap statistic at unit weights equals its :mod:`clvmodels.evaluation.metrics`
  counterpart, and at resample weights equals that function on the expanded resample
  (ties in the predictions included);
* two copies of one method are never significantly different;
* the paired intervals of a difference cover the true difference at their nominal rate;
* the Diebold-Mariano statistic, RPS, PIT, calibration table, predictive intervals and
  tracking error against hand computations on tiny data; RPS against a brute-force sum;
  PIT uniform and predictive intervals covering for forecasts that are calibrated by
  construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.errors import InvalidParameterError, StatisticalWarning
from clvmodels.evaluation import metrics
from clvmodels.evaluation.scores import (
    calibration_table,
    count_pmf_matrix,
    interval_coverage,
    pit_histogram,
    predictive_intervals,
    ranked_probability_score,
    tracking_error,
)
from clvmodels.evaluation.verdict import (
    BOOTSTRAP_METRICS,
    _Method,
    _metric_values,
    _Ranking,
    decide,
    diebold_mariano,
    paired_bootstrap,
    rank_first_share,
)
from clvmodels.models.bgnbd import BGNBD

POINT = ["rmse", "mae", "bias", "total_error_pct", "spearman", "gini", "top10_capture",
         "top20_capture"]
REFERENCE = {
    "rmse": metrics.rmse, "mae": metrics.mae, "bias": metrics.bias,
    "total_error_pct": metrics.total_error_pct, "spearman": metrics.spearman,
    "gini": metrics.gini,
    "top10_capture": lambda a, p: metrics.top_share_capture(a, p, 0.1),
    "top20_capture": lambda a, p: metrics.top_share_capture(a, p, 0.2),
}


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.6, 2.0, n)
    actual = rng.poisson(lam).astype(float)
    predicted = np.round(lam * rng.lognormal(0, 0.3, n), 1)  # rounding makes ties
    return actual, predicted


def _weighted(name, W, a, p):
    return _metric_values(name, W, a, _Method(p, a, {}), {"actual_ranking": _Ranking(a)})


@pytest.mark.parametrize("name", POINT)
def test_unit_weights_equal_the_metrics_module(name):
    a, p = _data()
    assert p.size != np.unique(p).size  # ties present
    ours = _weighted(name, np.ones((1, a.size)), a, p)[0]
    assert ours == pytest.approx(REFERENCE[name](a, p), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", POINT)
def test_resample_weights_equal_the_metric_on_the_expanded_resample(name):
    a, p = _data(200, seed=1)
    rng = np.random.default_rng(5)
    idx = rng.integers(0, a.size, size=(3, a.size))
    W = np.stack([np.bincount(i, minlength=a.size) for i in idx]).astype(float)
    ours = _weighted(name, W, a, p)
    for b in range(3):
        assert ours[b] == pytest.approx(REFERENCE[name](a[idx[b]], p[idx[b]]), rel=1e-9,
                                        abs=1e-12)


def test_estimates_and_paired_differences():
    a, p = _data(400, seed=2)
    table = paired_bootstrap({"good": p, "copy": p.copy(), "zero": np.zeros_like(p)}, a,
                             metrics=["rmse", "gini", "abs_total_error_pct"], n_boot=100,
                             random_state=0)
    rmse = table[table["metric"] == "rmse"].set_index("method")
    assert rmse.loc["good", "estimate"] == pytest.approx(metrics.rmse(a, p))
    assert rmse.loc["good", "ci_lower"] <= rmse.loc["good", "estimate"] <= rmse.loc[
        "good", "ci_upper"]
    # two copies of the same method: identical on every resample
    other = "copy" if rmse["best"].iloc[0] == "good" else "good"
    assert rmse.loc[other, "difference_lower"] == rmse.loc[other, "difference_upper"] == 0
    assert rmse.loc[other, "share_better"] == 0
    verdict = decide(table, {"valuation": "rmse", "targeting": "gini"})
    assert not verdict.loc["valuation", "significant"]
    assert verdict.loc["valuation", "conclusion"].startswith("no clear winner")
    # same seed, same answer
    again = paired_bootstrap({"good": p, "copy": p.copy(), "zero": np.zeros_like(p)}, a,
                             metrics=["rmse", "gini", "abs_total_error_pct"], n_boot=100,
                             random_state=0)
    pd.testing.assert_frame_equal(table, again)


def test_a_clearly_better_method_is_significant():
    a, p = _data(2000, seed=3)
    table = paired_bootstrap({"model": p, "zero": np.zeros_like(p)}, a,
                             metrics=["rmse", "gini"], n_boot=200, random_state=1)
    verdict = decide(table, {"valuation": "rmse", "targeting": "gini"})
    assert verdict.loc["valuation", "method"] == "model"
    assert verdict.loc["valuation", "significant"]
    assert verdict.loc["valuation", "margin"] > 0
    assert verdict.loc["valuation", "ci_lower"] > 0
    assert verdict.loc["targeting", "conclusion"] == "model"


def test_paired_intervals_cover_the_true_difference():
    """90% intervals of MAE(B) - MAE(A) over 150 simulated samples: coverage 0.83-0.96."""
    rng = np.random.default_rng(11)
    # the true difference, E|1.3 lam - Y| - E|lam - Y| with lam ~ Gamma(2, 1), Y ~ Poisson
    lam = rng.gamma(2.0, 1.0, 2_000_000)
    y = rng.poisson(lam)
    truth = float(np.mean(np.abs(1.3 * lam - y) - np.abs(lam - y)))
    covered = 0
    n_sims = 150
    for sim in range(n_sims):
        lam = rng.gamma(2.0, 1.0, 400)
        y = rng.poisson(lam).astype(float)
        table = paired_bootstrap({"A": lam, "B": 1.3 * lam}, y, metrics=["mae"], n_boot=200,
                                 random_state=sim)
        row = table[(table["method"] == "B") & (table["best"] == "A")]
        if row.empty:  # B happened to be best: the interval is of A - B
            row = table[table["method"] == "A"]
            lo, hi = -row["difference_upper"].iloc[0], -row["difference_lower"].iloc[0]
        else:
            lo, hi = row["difference_lower"].iloc[0], row["difference_upper"].iloc[0]
        covered += lo <= truth <= hi
    assert 0.83 <= covered / n_sims <= 0.96, covered / n_sims


def test_bad_inputs_are_refused():
    a, p = _data(20)
    with pytest.raises(InvalidParameterError, match="unknown metric"):
        paired_bootstrap({"m": p}, a, metrics=["accuracy"])
    with pytest.raises(InvalidParameterError, match="20 finite values"):
        paired_bootstrap({"m": p[:5]}, a)
    with pytest.raises(InvalidParameterError, match="n_boot"):
        paired_bootstrap({"m": p}, a, n_boot=1)
    table = paired_bootstrap({"m": p, "z": 0 * p}, a, metrics=["bias"], n_boot=5)
    with pytest.raises(InvalidParameterError, match="abs_total_error_pct"):
        decide(table, {"budget": "bias"})
    assert set(BOOTSTRAP_METRICS) >= set(POINT)


def test_diebold_mariano_by_hand():
    # d = [-1, 0, -2], mean -1, V = ((0)^2 + 1^2 + (-1)^2) / 3 = 2/3, DM = -1 / sqrt(V / 3)
    r = diebold_mariano([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    dm = -1 / np.sqrt((2 / 3) / 3) * np.sqrt((3 + 1 - 2) / 3)
    assert r["statistic"] == pytest.approx(dm)
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(dm), 2))
    # lag-1 autocovariance with horizon 2: V = (2/3) + 2 * (0*1 + 1*(-1)) / 3 = 0 -> undefined
    assert np.isnan(diebold_mariano([1.0, 2.0, 3.0], [2.0, 2.0, 5.0], horizon=2)["statistic"])
    same = diebold_mariano([1.0, 2.0], [1.0, 2.0])
    assert np.isnan(same["statistic"]) and same["p_value"] == 1.0


def test_rank_first_share_by_hand():
    per_cutoff = pd.DataFrame({"a": [1.0, 2.0, 1.0], "b": [2.0, 1.0, 1.0]})
    share = rank_first_share(per_cutoff, "lower")
    assert share.tolist() == pytest.approx([0.5, 0.5])  # a, b, then a tie shared
    assert rank_first_share(per_cutoff, "higher").tolist() == pytest.approx([0.5, 0.5])


def test_rps_by_hand_and_against_a_brute_force_sum():
    assert ranked_probability_score([[0.2, 0.5, 0.3]], [1])[0] == pytest.approx(
        0.2 ** 2 + 0.3 ** 2)
    # an outcome beyond the columns: F(2) = 1 stays for n = 2, 3, 4 against indicator 0
    assert ranked_probability_score([[0.2, 0.5, 0.3]], [5])[0] == pytest.approx(
        0.2 ** 2 + 0.7 ** 2 + 1 + 1 + 1)
    mu = np.array([0.3, 2.0, 7.5])
    y = np.array([0, 3, 4])
    K = 60
    pmf = stats.poisson.pmf(np.arange(K + 1)[None, :], mu[:, None])
    brute = [sum((stats.poisson.cdf(n, m) - (yy <= n)) ** 2 for n in range(400))
             for m, yy in zip(mu, y, strict=True)]
    np.testing.assert_allclose(ranked_probability_score(pmf, y), brute, rtol=1e-12)


def test_pit_is_uniform_for_calibrated_forecasts_and_not_for_overdispersed_data():
    rng = np.random.default_rng(3)
    mu = rng.gamma(2.0, 1.5, 20000)
    K = 80
    pmf = stats.poisson.pmf(np.arange(K + 1)[None, :], mu[:, None])
    y = rng.poisson(mu)
    masses = pit_histogram(pmf, y, bins=10)["mass"].to_numpy()
    np.testing.assert_allclose(masses, 0.1, atol=0.01)
    wild = rng.poisson(mu * rng.gamma(0.5, 2.0, mu.size))  # extra-Poisson variation
    masses = pit_histogram(pmf, wild, bins=10)["mass"].to_numpy()
    assert masses[0] > 0.15 and masses[-1] > 0.15  # U-shaped: too narrow forecasts


def test_pit_calibration_table_intervals_and_tracking_by_hand():
    table = pit_histogram([[0.5, 0.5], [0.5, 0.5]], [0, 1], bins=4)
    # y = 0: F(u) = min(u / 0.5, 1); y = 1: F(u) = max((u - 0.5) / 0.5, 0)
    assert table["mass"].tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25])
    cal = calibration_table([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], [0, 2], max_count=2)
    assert cal["predicted"].tolist() == pytest.approx([0.6, 0.4, 1.0])
    assert cal["actual"].tolist() == [1, 0, 1]
    iv = predictive_intervals([[0.1, 0.3, 0.4, 0.2]], level=0.8)
    # F = [0.1, 0.4, 0.8, 1.0]; lower: first F >= 0.1 -> 0; upper: first F >= 0.9 -> 3
    assert iv.iloc[0].tolist() == [0, 3]
    assert interval_coverage(iv, [3]) == 1.0 and interval_coverage(iv, [4]) == 0.0
    track = tracking_error([10.0, 12.0, 5.0], [8.0, 14.0, 5.0])
    assert track["error"].tolist() == [2.0, -2.0, 0.0]
    assert track["cumulative_error"].tolist() == [2.0, 0.0, 0.0]
    assert track.attrs["mae"] == pytest.approx(4 / 3)
    assert track.attrs["rmse"] == pytest.approx(np.sqrt(8 / 3))
    assert track.attrs["mape"] == pytest.approx(100 * (2 / 8 + 2 / 14 + 0) / 3)


def test_predictive_intervals_cover_outcomes_of_their_own_distribution():
    rng = np.random.default_rng(4)
    mu = rng.gamma(1.0, 2.0, 5000)
    pmf = stats.poisson.pmf(np.arange(81)[None, :], mu[:, None])
    iv = predictive_intervals(pmf, level=0.9)
    assert 0.9 <= interval_coverage(iv, rng.poisson(mu)) <= 0.99  # discrete: at least 90%


def test_count_pmf_matrix_from_a_model():
    model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    summary = pd.DataFrame({"frequency": [0, 2, 10], "recency": [0.0, 30.4, 38.0],
                            "T": [38.86, 38.86, 38.86]}, index=["a", "b", "c"])
    P = count_pmf_matrix(model, summary, 39.0)
    assert P.index.tolist() == ["a", "b", "c"]
    assert np.all(P.attrs["tail"] < 1e-6)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    mean = (P.to_numpy() * P.columns.to_numpy()[None, :]).sum(axis=1)
    np.testing.assert_allclose(mean, model.expected_purchases(summary, t=39.0), rtol=1e-4)
    with pytest.warns(StatisticalWarning, match="beyond 3 purchases"):
        fixed = count_pmf_matrix(model, summary, 39.0, max_count=3)
    np.testing.assert_allclose(fixed.to_numpy(), P.to_numpy()[:, :4], rtol=1e-12)
