"""The gradient-boosting baseline: no holdout leakage; targets and features by brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.data.simulate import simulate_transactions
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    NotFittedError,
)
from clvmodels.evaluation.base import calibration_only
from clvmodels.evaluation.baselines import PopulationRate
from clvmodels.evaluation.metrics import gini, holdout_actuals, rmse
from clvmodels.evaluation.ml import FEATURES, GradientBoosting, rfm_features

CAL_END = pd.Timestamp("1997-09-30")
OBS_END = pd.Timestamp("1998-06-30")


def fast(**kw):
    return GradientBoosting(max_iter=40, n_threads=1, random_state=0, **kw)


@pytest.fixture(scope="module")
def log():
    # 800 customers acquired over 12 weeks from 1997-01-01, observed for 78 weeks
    return simulate_transactions(800, observation_days=546, random_state=42)


@pytest.fixture(scope="module")
def full_summary(log):
    return clvmodels.rfm_summary(log, amount="amount", calibration_end=CAL_END,
                                 observation_end=OBS_END)


@pytest.fixture(scope="module")
def cal_log(log):
    return log[log["date"] <= CAL_END].reset_index(drop=True)


@pytest.fixture(scope="module")
def summary(full_summary):
    return calibration_only(full_summary)


def test_predicts_every_customer_non_negative_and_reproducibly(summary, cal_log):
    p1 = fast().fit(summary, cal_log).predict(summary, 13)
    p2 = fast().fit(summary, cal_log).predict(summary, 13)
    assert p1.index.equals(summary.index)
    assert list(p1.columns) == ["transactions", "revenue"]
    assert (p1.to_numpy() >= 0).all() and np.isfinite(p1.to_numpy()).all()
    pd.testing.assert_frame_equal(p1, p2)


def test_fit_refuses_transactions_after_calibration_end(summary, log):
    with pytest.raises(InvalidTransactionsError, match="after calibration_end.*leakage"):
        fast().fit(summary, log)


def test_fit_refuses_summary_with_holdout_columns(full_summary, cal_log):
    with pytest.raises(InvalidSummaryError, match="holdout columns"):
        fast().fit(full_summary, cal_log)


def test_needs_transactions(summary):
    assert GradientBoosting.needs_transactions is True
    with pytest.raises(InvalidTransactionsError, match="needs the calibration transactions"):
        fast().fit(summary)


def test_predictions_do_not_change_when_holdout_rows_change(log, summary):
    """End to end as the harness does it: summary and log cut at calibration_end."""
    rng = np.random.default_rng(0)
    changed = log.copy()
    after = (changed["date"] > CAL_END).to_numpy()
    changed.loc[after, "amount"] = rng.gamma(1.0, 100.0, after.sum())
    changed.loc[after, "date"] = CAL_END + pd.to_timedelta(rng.integers(1, 273, after.sum()), "D")
    extra = pd.DataFrame({"customer_id": rng.choice(log["customer_id"].unique(), 500),
                          "date": CAL_END + pd.to_timedelta(rng.integers(1, 273, 500), "D"),
                          "amount": 1000.0})
    changed = pd.concat([changed, extra], ignore_index=True)

    preds = []
    for full_log in (log, changed):
        s = calibration_only(clvmodels.rfm_summary(
            full_log, amount="amount", calibration_end=CAL_END, observation_end=OBS_END))
        cal = full_log[full_log["date"] <= CAL_END]
        preds.append(fast().fit(s, cal).predict(s, 26))
    pd.testing.assert_frame_equal(preds[0], preds[1])
    # ...while the holdout truth did change, so the test had something to detect
    a0 = holdout_actuals(clvmodels.rfm_summary(log, amount="amount", calibration_end=CAL_END,
                                               observation_end=OBS_END))
    a1 = holdout_actuals(clvmodels.rfm_summary(changed, amount="amount", calibration_end=CAL_END,
                                               observation_end=OBS_END))
    assert not np.allclose(a0["revenue"], a1["revenue"])


def test_training_features_ignore_the_target_window(summary, cal_log):
    """Changing transactions in (inner cutoff, calibration_end] changes targets, never features."""
    m = fast().fit(summary, cal_log)
    inner = m.inner_cutoff(13)
    X0, y0 = m.training_data(13)
    rng = np.random.default_rng(1)
    changed = cal_log.copy()
    window = (changed["date"] > inner).to_numpy()
    changed.loc[window, "amount"] *= rng.uniform(2, 3, window.sum())
    m1 = fast().fit(summary, changed)
    X1, y1 = m1.training_data(13)
    pd.testing.assert_frame_equal(X0, X1)
    assert (y1["revenue"] > y0["revenue"]).sum() > 0


def test_training_data_against_a_plain_loop(summary, cal_log):
    m = fast().fit(summary, cal_log)
    assert m.training_window(13) == pytest.approx(13.0)
    inner = m.inner_cutoff(13)
    assert inner == CAL_END - pd.Timedelta(days=91)
    X, y = m.training_data(13)
    # features: the data layer's summary of the log truncated at the inner cutoff
    ref = clvmodels.rfm_summary(cal_log[cal_log["date"] <= inner], amount="amount",
                                calibration_end=inner)
    assert X.index.equals(ref.index)
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(X[col], ref[col])
    assert list(X.columns) == list(FEATURES)
    # targets: transaction days and spend in (inner, calibration_end], customer by customer
    for cid in X.index[:150]:
        rows = cal_log[(cal_log["customer_id"] == cid) & (cal_log["date"] > inner)]
        assert y.loc[cid, "transactions"] == rows["date"].dt.normalize().nunique()
        assert y.loc[cid, "revenue"] == pytest.approx(rows["amount"].sum())


def test_rfm_features_by_hand():
    log = pd.DataFrame({
        "customer_id": [1, 1, 1, 1, 2, 3],
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-08", "2024-01-29",
                                "2024-01-15", "2024-02-05"]),
        "amount": [10.0, 5.0, 15.0, 30.0, 5.0, 99.0],
    })
    f = rfm_features(log, "2024-01-29")
    assert list(f.index) == [1, 2]  # customer 3 buys after the cutoff
    # customer 1: days 0, 7 (two rows merged: 20), 28 -> 2 repeats, recency 4 w, T 4 w
    assert f.loc[1, "frequency"] == 2 and f.loc[1, "recency"] == 4.0 and f.loc[1, "T"] == 4.0
    assert f.loc[1, "time_since_last"] == 0.0 and f.loc[1, "rate"] == 0.5
    assert f.loc[1, "monetary_value"] == 25.0  # (20 + 30) / 2
    assert f.loc[1, "mean_spend"] == 20.0  # (10 + 20 + 30) / 3
    assert f.loc[1, "total_spend"] == 60.0
    assert f.loc[2, "time_since_last"] == 2.0 and f.loc[2, "rate"] == 0.0


def test_auto_window_is_capped_at_half_the_calibration_span(summary, cal_log):
    m = fast().fit(summary, cal_log)
    span_days = (CAL_END - cal_log["date"].min()).days  # 272 days
    assert m.training_window(39) == pytest.approx((span_days // 2) / 7)
    # both horizons beyond the cap share one trained window: predictions scale linearly
    p39 = m.predict(summary, 39)
    p52 = m.predict(summary, 52)
    np.testing.assert_allclose(p52.to_numpy(), p39.to_numpy() * 52 / 39, rtol=1e-12)


def test_explicit_window_too_long_for_the_calibration_period_raises(summary, cal_log):
    m = fast(window=39).fit(summary, cal_log)
    with pytest.raises(InvalidParameterError, match="calibration period is too short"):
        m.predict(summary, 39)
    with pytest.raises(InvalidParameterError, match="window must be"):
        fast(window="long").fit(summary, cal_log).predict(summary, 4)


def test_predict_checks(summary, cal_log):
    with pytest.raises(NotFittedError, match="fit"):
        fast().predict(summary, 4)
    m = fast().fit(summary, cal_log)
    moved = summary.copy()
    moved.attrs = {**summary.attrs, "calibration_end": CAL_END - pd.Timedelta(days=7)}
    with pytest.raises(InvalidSummaryError, match="refit"):
        m.predict(moved, 4)
    stranger = pd.concat([summary, summary.iloc[:1].rename(index={summary.index[0]: -5})])
    stranger.attrs = summary.attrs
    with pytest.raises(InvalidSummaryError, match="no transaction in the calibration log"):
        m.predict(stranger, 4)


def test_learns_something_on_simulated_data(summary, cal_log, full_summary):
    """A sanity check, not a benchmark: better RMSE than one pooled rate, an informative ranking."""
    actual = holdout_actuals(full_summary)["transactions"]
    p = GradientBoosting(n_threads=1, random_state=0).fit(summary, cal_log).predict(summary, 39)
    pooled = PopulationRate().fit(summary).predict(summary, 39)
    assert rmse(actual, p["transactions"]) < rmse(actual, pooled["transactions"])
    assert gini(actual, p["transactions"]) > 0.3
    ratio = p["transactions"].sum() / actual.sum()  # the total is not off by a factor
    assert 0.5 < ratio < 2.0
