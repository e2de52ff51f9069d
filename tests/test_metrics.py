"""Holdout metrics, each checked against a hand computation on a tiny data set.

The five customers below are small enough to compute every metric on paper
(the arithmetic is in the comments); independent references are scipy's
Spearman, scikit-learn's ROC AUC (for 0/1 outcomes the normalised Gini of the
gains curve is the accuracy ratio 2 AUC - 1), brute-force enumeration of tie
orders, and scipy's Poisson pmf.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from clvmodels.errors import CLVError, InvalidParameterError, StatisticalWarning
from clvmodels.evaluation.metrics import (
    METRICS,
    bias,
    conditional_expectations,
    gains_curve,
    gini,
    holdout_actuals,
    holdout_log_likelihood,
    mae,
    metric_direction,
    rmse,
    score_predictions,
    spearman,
    top_share_capture,
    total_error_pct,
)

# Tiny data set: 5 customers.
ACTUAL = np.array([0.0, 1.0, 3.0, 0.0, 6.0])
PREDICTED = np.array([0.5, 2.0, 1.0, 0.5, 4.0])
# errors p - a: 0.5, 1, -2, 0.5, -2


def test_accuracy_by_hand():
    assert mae(ACTUAL, PREDICTED) == pytest.approx(6.0 / 5)  # (0.5 + 1 + 2 + 0.5 + 2) / 5
    assert rmse(ACTUAL, PREDICTED) == pytest.approx(math.sqrt(9.5 / 5))  # .25+1+4+.25+4
    assert bias(ACTUAL, PREDICTED) == pytest.approx(-2.0 / 5)
    assert total_error_pct(ACTUAL, PREDICTED) == pytest.approx(-20.0)  # (8 - 10) / 10


def test_total_error_with_zero_actual_total():
    assert total_error_pct([0, 0], [0, 0]) == 0.0
    with pytest.warns(StatisticalWarning, match="actual total is 0"):
        assert math.isnan(total_error_pct([0, 0], [1, 0]))


def test_spearman_by_hand_and_against_scipy():
    # ranks (ties averaged): actual [1.5, 3, 4, 1.5, 5], predicted [1.5, 4, 3, 1.5, 5];
    # centred: [-1.5, 0, 1, -1.5, 2] and [-1.5, 1, 0, -1.5, 2]; 8.5 / sqrt(9.5 * 9.5)
    assert spearman(ACTUAL, PREDICTED) == pytest.approx(8.5 / 9.5)
    rng = np.random.default_rng(3)
    a, p = rng.poisson(1.0, 200), rng.gamma(1.0, size=200)
    assert spearman(a, p) == pytest.approx(stats.spearmanr(a, p).statistic, rel=1e-12)


def test_spearman_constant_convention_is_zero_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert spearman(ACTUAL, np.zeros(5)) == 0.0
        assert spearman(np.ones(5), PREDICTED) == 0.0
        assert spearman([3.0], [1.0]) == 0.0


def test_capture_by_hand():
    # ranking by prediction: 4 (actual 6), 2 (1), 1 (3), then 0.5 tied (0, 0); total 10
    assert top_share_capture(ACTUAL, PREDICTED, 0.2) == pytest.approx(0.6)  # k = 1
    assert top_share_capture(ACTUAL, PREDICTED, 0.1) == pytest.approx(0.6)  # k = ceil(0.5) = 1
    assert top_share_capture(ACTUAL, PREDICTED, 0.4) == pytest.approx(0.7)  # k = 2: 6 + 1
    assert top_share_capture(ACTUAL, PREDICTED, 0.6) == pytest.approx(1.0)  # 6 + 1 + 3
    assert top_share_capture(ACTUAL, PREDICTED, 1.0) == pytest.approx(1.0)


def test_capture_k_is_exact_ceiling():
    # 0.1 * 30 is 3.0000000000000004 in floating point: still 3 customers, not 4
    a = np.arange(30, dtype=float)
    assert top_share_capture(a, a, 0.1) == pytest.approx((29 + 28 + 27) / a.sum())


def test_capture_ties_share_slots_pro_rata():
    # predictions tie three customers (actual 0, 1, 0) behind 4 (6) and 1 (3);
    # k = 3 takes 6 + 3 and one of the three tied slots: mean 1/3 -> (9 + 1/3) / 10
    p = np.array([0.5, 0.5, 1.0, 0.5, 4.0])
    assert top_share_capture(ACTUAL, p, 0.6) == pytest.approx((9 + 1 / 3) / 10)


def test_capture_and_gini_equal_the_mean_over_all_tie_orders():
    rng = np.random.default_rng(7)
    a = rng.poisson(2.0, 8).astype(float)
    p = np.array([1, 1, 1, 2, 2, 0, 3, 1], dtype=float)
    tied = np.flatnonzero(p == 1)
    captures, ginis = [], []
    for perm in itertools.permutations(range(len(tied))):
        # break ties by a tiny, permutation-specific nudge
        q = p.copy()
        q[tied] += np.array(perm) * 1e-6
        captures.append(top_share_capture(a, q, 0.5))
        ginis.append(gini(a, q))
    assert top_share_capture(a, p, 0.5) == pytest.approx(np.mean(captures), rel=1e-12)
    assert gini(a, p) == pytest.approx(np.mean(ginis), rel=1e-12)


def test_constant_prediction_scores_like_a_random_ranking():
    rng = np.random.default_rng(1)
    a = rng.poisson(1.0, 1000).astype(float)
    assert top_share_capture(a, np.zeros(1000), 0.1) == pytest.approx(0.1)
    assert top_share_capture(a, np.zeros(1000), 0.2) == pytest.approx(0.2)
    assert gini(a, np.zeros(1000)) == pytest.approx(0.0, abs=1e-12)


def test_gini_by_hand():
    # gains points x = 0, .2, .4, .6, 1 ; y = 0, .6, .7, 1, 1 -> area .06 + .13 + .17 + .4 = .76
    # perfect ranking (6, 3, 1, 0, 0): y = .6, .9, 1, 1, 1 -> area .06 + .15 + .19 + .2 + .2 = .8
    assert gini(ACTUAL, PREDICTED) == pytest.approx((2 * 0.76 - 1) / (2 * 0.8 - 1))
    assert gini(ACTUAL, ACTUAL) == pytest.approx(1.0)
    assert gini(ACTUAL, -ACTUAL) == pytest.approx(-1.0)


def test_gini_of_binary_outcomes_is_the_accuracy_ratio():
    # For 0/1 outcomes the normalised gains-curve Gini is 2 * ROC AUC - 1, ties included.
    rng = np.random.default_rng(11)
    a = (rng.random(400) < 0.3).astype(float)
    p = np.round(a * 0.5 + rng.random(400), 1)  # rounding creates many ties
    assert gini(a, p) == pytest.approx(2 * roc_auc_score(a, p) - 1, rel=1e-10)


def test_gains_curve_points():
    g = gains_curve(ACTUAL, PREDICTED)
    np.testing.assert_allclose(g["share_of_customers"], [0, 0.2, 0.4, 0.6, 1.0])
    np.testing.assert_allclose(g["share_of_actual"], [0, 0.6, 0.7, 1.0, 1.0])


def test_ranking_metrics_undefined_cases_warn():
    with pytest.warns(StatisticalWarning):
        assert math.isnan(gini([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
    with pytest.warns(StatisticalWarning):
        assert math.isnan(top_share_capture([0.0, 0.0], [1.0, 2.0], 0.5))
    with pytest.raises(InvalidParameterError, match=">= 0"):
        gini([-1.0, 2.0], [1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="share"):
        top_share_capture(ACTUAL, PREDICTED, 0.0)


def test_series_are_aligned_by_customer():
    ids = ["a", "b", "c", "d", "e"]
    a = pd.Series(ACTUAL, index=ids)
    p = pd.Series(PREDICTED, index=ids)[::-1]  # reversed order
    assert mae(a, p) == pytest.approx(1.2)
    assert gini(a, p) == pytest.approx(gini(ACTUAL, PREDICTED))
    with pytest.raises(InvalidParameterError, match="same customers"):
        mae(a, p.rename({"e": "z"}))


def test_bad_inputs_are_refused():
    with pytest.raises(InvalidParameterError, match="aligned"):
        mae([1, 2], [1, 2, 3])
    with pytest.raises(InvalidParameterError, match="non-finite"):
        rmse([1, np.nan], [1, 2])
    with pytest.raises(InvalidParameterError, match="empty"):
        bias([], [])


def test_conditional_expectations_by_hand():
    frequency = np.array([0, 0, 1, 5, 9, 2, 1])
    actual = np.array([0, 1, 1, 2, 6, 3, 0])
    predicted = np.array([0.2, 0.4, 1.0, 3.0, 5.0, 2.0, 0.5])
    t = conditional_expectations(frequency, actual, predicted, max_frequency=3)
    assert list(t.index) == ["0", "1", "2", "3+"]
    assert t.index.name == "frequency"
    assert t["n_customers"].tolist() == [2, 2, 1, 2]
    np.testing.assert_allclose(t["actual"], [0.5, 0.5, 3.0, 4.0])
    np.testing.assert_allclose(t["predicted"], [0.3, 0.75, 2.0, 4.0])


def test_conditional_expectations_default_groups_and_empty_groups():
    frequency = np.array([0, 1, 2, 3, 4, 5, 6, 7, 12, 0])
    t = conditional_expectations(frequency, frequency * 1.0, frequency * 0.5)
    assert list(t.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert t.loc["7+", "n_customers"] == 2 and t.loc["7+", "actual"] == pytest.approx(9.5)
    # empty groups are left out
    t2 = conditional_expectations([0, 3], [1.0, 2.0], [1.0, 1.0])
    assert list(t2.index) == ["0", "3"]
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        conditional_expectations([0.5, 1], [1, 1], [1, 1])


def test_holdout_actuals_revenue_is_count_times_mean():
    s = pd.DataFrame({"frequency_holdout": [0, 2, 3], "monetary_value_holdout": [0.0, 10.0, 4.0],
                      "duration_holdout": 39.0})
    a = holdout_actuals(s)
    np.testing.assert_allclose(a["transactions"], [0, 2, 3])
    np.testing.assert_allclose(a["revenue"], [0, 20, 12])
    with pytest.raises(InvalidParameterError, match="observation_end"):
        holdout_actuals(s.drop(columns="frequency_holdout"))


class _PoissonStub:
    """A probabilistic method whose holdout counts are Poisson(rate * horizon)."""

    name = "poisson_stub"

    def __init__(self, rate):
        self.rate = rate

    def log_likelihood_holdout(self, summary, horizon, counts):
        mu = self.rate * horizon
        return counts * np.log(mu) - mu - np.array([math.lgamma(c + 1) for c in counts])


def test_holdout_log_likelihood_of_a_poisson_stub():
    s = pd.DataFrame({"frequency": [0, 1, 2]})
    counts = np.array([0, 2, 5])
    ll = holdout_log_likelihood(_PoissonStub(0.1), s, 10.0, counts)
    assert ll == pytest.approx(stats.poisson.logpmf(counts, 1.0).sum(), rel=1e-12)
    assert holdout_log_likelihood(object(), s, 10.0, counts) is None
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        holdout_log_likelihood(_PoissonStub(0.1), s, 10.0, [0.5, 1, 2])


def test_holdout_log_likelihood_from_probabilities():
    class ProbabilityStub:
        def probability_of_holdout_counts(self, summary, horizon, counts):
            return stats.poisson.pmf(counts, 0.1 * horizon)

    s = pd.DataFrame({"frequency": [0, 1, 2]})
    counts = np.array([0, 2, 5])
    ll = holdout_log_likelihood(ProbabilityStub(), s, 10.0, counts)
    assert ll == pytest.approx(stats.poisson.logpmf(counts, 1.0).sum(), rel=1e-12)


def test_holdout_log_likelihood_refuses_nan_and_warns_on_zero_probability():
    class NaNStub(_PoissonStub):
        def log_likelihood_holdout(self, summary, horizon, counts):
            return np.full(len(counts), np.nan)

    class ZeroStub(_PoissonStub):
        def log_likelihood_holdout(self, summary, horizon, counts):
            return np.array([0.0, -np.inf])

    s = pd.DataFrame({"frequency": [0, 1]})
    with pytest.raises(CLVError, match="NaN"):
        holdout_log_likelihood(NaNStub(1), s, 1.0, [0, 1])
    with pytest.warns(StatisticalWarning, match="probability 0"):
        assert holdout_log_likelihood(ZeroStub(1), s, 1.0, [0, 1]) == -np.inf


def test_score_predictions_collects_every_metric():
    actual = pd.DataFrame({"transactions": ACTUAL, "revenue": ACTUAL * 10})
    pred = pd.DataFrame({"transactions": PREDICTED, "revenue": PREDICTED * 10})
    s = score_predictions(pred, actual, log_likelihood=-12.5)
    assert set(s.index) == set(METRICS)
    assert s["transactions_mae"] == pytest.approx(1.2)
    assert s["revenue_mae"] == pytest.approx(12.0)
    assert s["revenue_rmse"] == pytest.approx(10 * math.sqrt(1.9))
    assert s["transactions_total_error_pct"] == pytest.approx(-20.0)
    assert s["transactions_top20_capture"] == pytest.approx(0.6)
    assert s["revenue_top10_capture"] == pytest.approx(0.6)
    assert s["revenue_gini"] == pytest.approx(0.52 / 0.6)
    assert s["revenue_spearman"] == pytest.approx(8.5 / 9.5)
    assert s["holdout_log_likelihood"] == -12.5
    # transactions only
    s2 = score_predictions(pred[["transactions"]], actual)
    assert all(k.startswith("transactions_") for k in s2.index)


def test_score_predictions_warns_once_for_undefined_metrics():
    actual = pd.DataFrame({"transactions": [0.0, 0.0], "revenue": [0.0, 0.0]})
    pred = pd.DataFrame({"transactions": [1.0, 0.0], "revenue": [1.0, 0.0]})
    with pytest.warns(StatisticalWarning, match="undefined"):
        s = score_predictions(pred, actual)
    assert math.isnan(s["transactions_gini"]) and s["transactions_spearman"] == 0.0


def test_metric_directions():
    assert metric_direction("revenue_mae") == "lower"
    assert metric_direction("transactions_bias") == "zero"
    assert metric_direction("transactions_gini") == "higher"
    assert metric_direction("holdout_log_likelihood") == "higher"
    assert metric_direction("revenue_top5_capture") == "higher"
    with pytest.raises(InvalidParameterError):
        metric_direction("nonsense")
