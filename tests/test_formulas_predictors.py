"""The formulas as per-customer predictors: protocol, no holdout leakage, and values by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from clvmodels.data.summary import rfm_summary
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    NotFittedError,
    UnitMismatchError,
)
from clvmodels.formulas.predictors import (
    FORMULA_PREDICTORS,
    CohortPredictor,
    HistoricalARPUPredictor,
    PredictiveCLVPredictor,
    SCPTPredictor,
    TraditionalCLVPredictor,
    formula_predictor_variants,
)

CAL_END = "1997-09-30"
OBS_END = "1998-06-30"
DAYS_PER_MONTH = 365.25 / 12


@pytest.fixture(scope="module")
def log():
    from clvmodels.datasets import load_cdnow_transactions

    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def cal_log(log):
    return log[log["date"] <= CAL_END].reset_index(drop=True)


@pytest.fixture(scope="module")
def summary(log):
    return rfm_summary(log, amount="amount", calibration_end=CAL_END, observation_end=OBS_END,
                       time_unit="W")


VARIANTS = formula_predictor_variants()


def test_variants_have_distinct_labels_and_cover_every_predictor():
    labels = [p.label for p in VARIANTS]
    assert len(set(labels)) == len(labels)
    assert {p.name for p in VARIANTS} == set(FORMULA_PREDICTORS)
    for name, cls in FORMULA_PREDICTORS.items():
        assert cls.name == name


@pytest.mark.parametrize("predictor", VARIANTS, ids=[p.label for p in VARIANTS])
def test_every_predictor_fits_and_predicts_on_cdnow(predictor, summary, cal_log):
    est = clone(predictor)
    assert est.fit(summary, cal_log) is est
    pred = est.predict(summary, 39)
    assert list(pred.columns) == ["transactions", "revenue"]
    assert pred.index.equals(summary.index)
    values = pred.to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert pred.attrs["method"] == est.label
    # predicting a subset gives the same rows
    sub = summary.iloc[::7]
    pd.testing.assert_frame_equal(est.predict(sub, 39), pred.loc[sub.index], check_like=True)
    # a longer horizon never predicts less
    longer = est.predict(summary, 78)
    assert (longer.to_numpy() >= values - 1e-9).all()


@pytest.mark.parametrize("predictor", VARIANTS, ids=[p.label for p in VARIANTS])
def test_predictors_never_use_holdout_columns(predictor, summary, cal_log):
    est = clone(predictor).fit(summary, cal_log)
    base = est.predict(summary, 39)
    scrambled = summary.copy()
    rng = np.random.default_rng(0)
    for col in ("frequency_holdout", "monetary_value_holdout"):
        scrambled[col] = rng.permutation(scrambled[col].to_numpy())
    again = clone(predictor).fit(scrambled, cal_log).predict(scrambled, 39)
    pd.testing.assert_frame_equal(base, again)
    bare = summary[["frequency", "recency", "T", "monetary_value"]].copy()
    bare.attrs = {"time_unit": "W", "calibration_end": summary.attrs["calibration_end"]}
    pd.testing.assert_frame_equal(clone(predictor).fit(bare, cal_log).predict(bare, 39), base,
                                  check_like=True)


@pytest.mark.parametrize("cls", list(FORMULA_PREDICTORS.values()))
def test_predictors_refuse_holdout_transactions(cls, summary, log):
    with pytest.raises(InvalidTransactionsError, match="after calibration_end.*1997-09-30"):
        cls().fit(summary, log)


@pytest.mark.parametrize("cls", list(FORMULA_PREDICTORS.values()))
def test_protocol_errors(cls, summary, cal_log):
    est = cls()
    with pytest.raises(NotFittedError, match="not fitted"):
        est.predict(summary, 39)
    assert clone(est).get_params() == est.get_params()
    est.fit(summary, cal_log)
    with pytest.raises(InvalidParameterError, match="horizon=0"):
        est.predict(summary, 0)
    days = summary.copy()
    days.attrs = {**summary.attrs, "time_unit": "D"}
    with pytest.raises(UnitMismatchError, match="'W'"):
        est.predict(days, 39)
    later = summary.copy()
    later.attrs = {**summary.attrs, "calibration_end": pd.Timestamp("1997-10-31")}
    with pytest.raises(InvalidSummaryError, match="calibration_end"):
        est.predict(later, 39)
    no_attrs = summary.copy()
    no_attrs.attrs = {}
    with pytest.raises(InvalidSummaryError, match="time_unit"):
        cls().fit(no_attrs, cal_log)
    with pytest.raises(InvalidSummaryError, match=r"lacks column\(s\) \['T'\]"):
        cls().fit(summary.drop(columns="T"), cal_log)


def test_bad_hyperparameters_are_refused_at_fit(summary, cal_log):
    with pytest.raises(InvalidParameterError, match="allocation='shares'"):
        HistoricalARPUPredictor(allocation="shares").fit(summary, cal_log)
    with pytest.raises(InvalidParameterError, match="tail='linear'"):
        CohortPredictor(tail="linear").fit(summary, cal_log)
    with pytest.raises(InvalidParameterError, match="active_window=0"):
        PredictiveCLVPredictor(active_window=0).fit(summary, cal_log)
    with pytest.raises(InvalidParameterError, match="discount_rate=-2"):
        TraditionalCLVPredictor(discount_rate=-2).fit(summary, cal_log)
    with pytest.raises(InvalidParameterError, match="lifetime_months=0.5"):
        SCPTPredictor(lifetime_months=0.5).fit(summary, cal_log)


@pytest.mark.parametrize("cls", [CohortPredictor, PredictiveCLVPredictor,
                                 TraditionalCLVPredictor])
def test_monthly_formulas_need_the_log(cls, summary):
    with pytest.raises(InvalidTransactionsError, match="needs the calibration transactions"):
        cls().fit(summary)


def test_summary_only_predictors_use_repeat_purchases(summary):
    est = HistoricalARPUPredictor("proportional").fit(summary)
    assert est.basis_ == "repeat purchases"
    window_months = (272 + 1) / DAYS_PER_MONTH  # 1997-01-01 .. 1997-09-30
    months = 39 * 7 / DAYS_PER_MONTH
    pred = est.predict(summary, 39)
    expected = summary["frequency"] * summary["monetary_value"] * months / window_months
    np.testing.assert_allclose(pred["revenue"], expected)
    scpt = SCPTPredictor(lifetime_months=6).fit(summary)
    assert scpt.basis_ == "repeat purchases"
    with pytest.raises(InvalidTransactionsError, match="set lifetime_months"):
        SCPTPredictor().fit(summary)


def test_customers_missing_from_the_log_are_reported(summary, cal_log):
    with pytest.raises(InvalidTransactionsError, match="no transaction in the log"):
        HistoricalARPUPredictor().fit(summary, cal_log[cal_log["customer_id"] != 5])


# ---------------------------------------------------------------------------
# Values by hand on CDNOW


def test_historical_arpu_by_hand(summary, cal_log):
    total = cal_log["amount"].sum()
    days = cal_log.drop_duplicates(["customer_id", "date"])
    # window 1997-01-01..1997-09-30 = 273 days = 39 weeks, the horizon: one window ahead
    eq = HistoricalARPUPredictor("equal").fit(summary, cal_log).predict(summary, 39)
    np.testing.assert_allclose(eq["revenue"], total / 2357)
    np.testing.assert_allclose(eq["transactions"], len(days) / 2357)
    prop = HistoricalARPUPredictor("proportional").fit(summary, cal_log).predict(summary, 39)
    own = cal_log.groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(prop["revenue"], own.loc[summary.index])
    np.testing.assert_allclose(prop["transactions"], summary["frequency"] + 1)
    est = HistoricalARPUPredictor().fit(summary, cal_log)
    assert est.historical_clv_ == pytest.approx(total / 2357 * 12 / (273 / DAYS_PER_MONTH))


def _monthly_retention(cal_log):
    """Pooled monthly retention with a one-month window, from sets of buyers per month."""
    buyers = cal_log.groupby(cal_log["date"].dt.month)["customer_id"].apply(set)
    kept = sum(len(buyers[m] & buyers[m - 1]) for m in range(2, 10))
    start = sum(len(buyers[m - 1]) for m in range(2, 10))
    active_months = sum(len(buyers[m]) for m in range(1, 10))
    return kept / start, active_months


def test_predictive_clv_predictor_by_hand(summary, cal_log):
    r, _ = _monthly_retention(cal_log)
    orders = len(cal_log.drop_duplicates(["customer_id", "date"]))
    revenue = cal_log["amount"].sum()
    t, aov = orders / 9, revenue / orders
    h = 39 * 7 / DAYS_PER_MONTH
    factor = (1 - r**h) / (1 - r)  # sum_{k<h} r^k, interpolated for the fractional month
    est = PredictiveCLVPredictor().fit(summary, cal_log)
    assert est.base_clv_ == pytest.approx(t * aov / (1 - r))
    pred = est.predict(summary, 39)
    assert pred["transactions"].sum() == pytest.approx(t * factor)
    np.testing.assert_allclose(pred["revenue"], t * aov * factor / 2357)
    prop = PredictiveCLVPredictor("proportional").fit(summary, cal_log).predict(summary, 39)
    assert prop["revenue"].sum() == pytest.approx(t * aov * factor)
    own = cal_log.groupby("customer_id")["amount"].sum().loc[summary.index]
    np.testing.assert_allclose(prop["revenue"], t * aov * factor * own / own.sum())
    fixed = PredictiveCLVPredictor(lifetime="fixed").fit(summary, cal_log).predict(summary, 39)
    assert fixed["transactions"].sum() == pytest.approx(t * min(h, 1 / (1 - r)))


def test_traditional_clv_predictor_by_hand_in_monthly_units(log, cal_log):
    summary_m = rfm_summary(log, amount="amount", calibration_end=CAL_END,
                            observation_end=OBS_END, time_unit="M")
    r, active_months = _monthly_retention(cal_log)
    m = cal_log["amount"].sum() / active_months
    explicit = sum(m * r**t for t in range(1, 10))  # nine months, retained from month 1
    eq = TraditionalCLVPredictor().fit(summary_m, cal_log).predict(summary_m, 9)
    np.testing.assert_allclose(eq["revenue"], explicit)
    # discounted: 1% a month
    disc = TraditionalCLVPredictor(discount_rate=0.01).fit(summary_m, cal_log)
    np.testing.assert_allclose(disc.predict(summary_m, 9)["revenue"],
                               sum(m * r**t / 1.01**t for t in range(1, 10)))
    # active_only: September buyers keep the value, everybody else 0
    act = TraditionalCLVPredictor("active_only").fit(summary_m, cal_log).predict(summary_m, 9)
    september = set(cal_log.loc[cal_log["date"].dt.month == 9, "customer_id"])
    is_active = summary_m.index.isin(list(september))
    np.testing.assert_allclose(act["revenue"], np.where(is_active, explicit, 0.0))
    # own history: own revenue per calendar month since the first purchase month
    own = TraditionalCLVPredictor("own_history").fit(summary_m, cal_log).predict(summary_m, 9)
    first_month = cal_log.groupby("customer_id")["date"].min().dt.month.loc[summary_m.index]
    spend = cal_log.groupby("customer_id")["amount"].sum().loc[summary_m.index]
    np.testing.assert_allclose(own["revenue"],
                               spend / (9 - first_month + 1) * sum(r**t for t in range(1, 10)))


def test_scpt_predictor_remaining_lifetime_by_hand(summary, cal_log):
    est = SCPTPredictor("equal", "remaining", lifetime_months=10).fit(summary, cal_log)
    orders = len(cal_log.drop_duplicates(["customer_id", "date"]))
    s = cal_log["amount"].sum() / orders
    c = orders / 2357 / (273 / DAYS_PER_MONTH)
    assert est.ltv_ == pytest.approx(s * c * 10)
    pred = est.predict(summary, 39)
    age = summary["T"] * 7 / DAYS_PER_MONTH
    active = np.minimum(39 * 7 / DAYS_PER_MONTH, np.maximum(10 - age, 0))
    np.testing.assert_allclose(pred["revenue"], s * c * active)
    assert (pred.loc[age >= 10, "revenue"] == 0).all()
    geo = SCPTPredictor("equal", "geometric", lifetime_months=10).fit(summary, cal_log)
    h = 39 * 7 / DAYS_PER_MONTH
    np.testing.assert_allclose(geo.predict(summary, 39)["revenue"],
                               s * c * (1 - 0.9**h) / (1 - 0.9))


# ---------------------------------------------------------------------------
# The cohort predictor on a synthetic log whose curve is known


def _synthetic_log(rate=None):
    """Two cohorts (Jan, Feb 2024) of 2 and 3 customers, each buying once a month.

    A customer of age a (months since the first purchase month) spends
    ``rate(a)`` on the 10th of the month.
    """
    rate = rate or (lambda a: 10.0 * (a + 1))
    rows = []
    for cust, cohort in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2)]:
        for month in range(cohort, 5):
            rows.append((cust, pd.Timestamp(2024, month, 10), rate(month - cohort)))
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def test_cohort_predictor_constant_tail_by_hand():
    log = _synthetic_log()
    s = rfm_summary(log, amount="amount", calibration_end="2024-04-30", time_unit="D")
    est = CohortPredictor(tail="constant").fit(s, log)
    np.testing.assert_allclose(est.revenue_curve_.to_numpy(), [10, 20, 30, 40])
    np.testing.assert_allclose(est.transactions_curve_.to_numpy(), [1, 1, 1, 1])
    # 61 days ahead = 2.004 months; January cohort at age 4.0, February at 3.0
    months = 61 / DAYS_PER_MONTH
    pred = est.predict(s, 61)
    jan = 40 * months  # ages 4.. continue at the last value, 40
    feb = 40 * 1 + 40 * (months - 1)  # age 3 (observed, 40) then the tail
    np.testing.assert_allclose(pred["revenue"], [jan, jan, feb, feb, feb])
    np.testing.assert_allclose(pred["transactions"], months)


def test_cohort_predictor_geometric_tail_recovers_the_decay():
    log = _synthetic_log(lambda a: 100.0 if a == 0 else 50.0 * 0.8 ** a)
    s = rfm_summary(log, amount="amount", calibration_end="2024-04-30", time_unit="D")
    est = CohortPredictor().fit(s, log)
    assert est.revenue_decay_ == pytest.approx(0.8)
    pred = est.predict(s, 61)
    months = 61 / DAYS_PER_MONTH
    # January cohort: ages 4, 5 and a sliver of 6; February: 3, 4 and a sliver of 5
    jan = 50 * (0.8**4 + 0.8**5 + (months - 2) * 0.8**6)
    assert pred.loc[1, "revenue"] == pytest.approx(jan)
    feb = 50 * (0.8**3 + 0.8**4 + (months - 2) * 0.8**5)
    assert pred.loc[3, "revenue"] == pytest.approx(feb)


def test_cohort_predictor_proportional_splits_the_cohort_total():
    log = _synthetic_log()
    log.loc[log["customer_id"] == 1, "amount"] *= 3  # customer 1 spends 3x customer 2
    s = rfm_summary(log, amount="amount", calibration_end="2024-04-30", time_unit="D")
    avg = CohortPredictor().fit(s, log).predict(s, 30)
    prop = CohortPredictor("proportional").fit(s, log).predict(s, 30)
    jan = [1, 2]
    assert prop.loc[jan, "revenue"].sum() == pytest.approx(avg.loc[jan, "revenue"].sum())
    assert prop.loc[1, "revenue"] == pytest.approx(3 * prop.loc[2, "revenue"])


def test_predictions_are_finite_when_nobody_is_retained():
    # every customer buys once: retention 0, churn 1
    log = pd.DataFrame({
        "customer_id": [1, 2, 3],
        "date": pd.to_datetime(["2024-01-05", "2024-02-05", "2024-03-05"]),
        "amount": [10.0, 20.0, 30.0],
    })
    s = rfm_summary(log, amount="amount", calibration_end="2024-03-31", time_unit="D")
    for est in formula_predictor_variants():
        pred = est.fit(s, log).predict(s, 30)
        assert np.isfinite(pred.to_numpy()).all(), est.label
        assert (pred.to_numpy() >= 0).all(), est.label
    trad = TraditionalCLVPredictor().fit(s, log)
    assert trad.retention_rate_ == 0.0
    assert (trad.predict(s, 30).to_numpy() == 0).all()
    assert math.isclose(PredictiveCLVPredictor().fit(s, log).average_lifetime_months_, 1.0)


@pytest.mark.parametrize("predictor", VARIANTS, ids=[p.label for p in VARIANTS])
def test_predictors_pass_the_evaluation_protocol_checks(predictor, summary, cal_log):
    base = pytest.importorskip("clvmodels.evaluation.base")
    calibration = base.calibration_only(summary)
    base.check_calibration_summary(calibration, predictor.label)
    assert predictor.needs_transactions is True
    transactions = base.check_calibration_transactions(
        cal_log, summary.attrs["calibration_end"], predictor.label)
    est = clone(predictor).fit(calibration, transactions)
    horizon = base.check_horizon(39)
    checked = base.check_predictions(est.predict(calibration, horizon), calibration, est.label)
    assert checked.index.equals(calibration.index)
