"""Naive baselines, the method protocol helpers and the registry.

Expected values are hand computations on a three-customer summary, and on
CDNOW the published totals (2,457 repeat transactions in calibration).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    NotFittedError,
)
from clvmodels.evaluation import baselines
from clvmodels.evaluation.base import (
    Method,
    calibration_only,
    check_calibration_summary,
    check_calibration_transactions,
    check_predictions,
    prediction_frame,
)
from clvmodels.evaluation.baselines import OwnRate, PopulationRate, Zero
from clvmodels.evaluation.registry import (
    available_methods,
    get_method,
    register_method,
    unregister_method,
)


@pytest.fixture
def summary():
    s = pd.DataFrame(
        {"frequency": [4, 0, 2], "recency": [6.0, 0.0, 1.0], "T": [8.0, 2.0, 0.0],
         "monetary_value": [10.0, 0.0, 3.0]},
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    s.attrs = {"time_unit": "W", "calibration_end": pd.Timestamp("2024-03-01")}
    return s


def test_zero(summary):
    p = Zero().fit(summary).predict(summary, 13)
    assert list(p.columns) == ["transactions", "revenue"]
    assert p.index.equals(summary.index)
    assert (p.to_numpy() == 0).all()


def test_own_rate_by_hand(summary):
    p = OwnRate().fit(summary).predict(summary, 4)
    # a: 4 repeat purchases in 8 weeks -> 0.5 / week * 4 = 2, revenue 2 * 10
    # b: none -> 0; c: T = 0 (first purchase on the cutoff day) -> no observed rate -> 0
    np.testing.assert_allclose(p["transactions"], [2.0, 0.0, 0.0])
    np.testing.assert_allclose(p["revenue"], [20.0, 0.0, 0.0])


def test_population_rate_by_hand(summary):
    m = PopulationRate().fit(summary)
    # pooled rate: (4 + 0 + 2) / (8 + 2 + 0) = 0.6 per week;
    # mean repeat spend (4 * 10 + 2 * 3) / 6 = 46 / 6
    assert m.rate_ == pytest.approx(0.6)
    assert m.spend_ == pytest.approx(46 / 6)
    p = m.predict(summary, 10)
    np.testing.assert_allclose(p["transactions"], [6.0, 6.0, 6.0])
    np.testing.assert_allclose(p["revenue"], [46.0, 46.0, 46.0])


def test_population_rate_needs_fit_and_same_unit(summary):
    with pytest.raises(NotFittedError, match="fit"):
        PopulationRate().predict(summary, 1)
    m = PopulationRate().fit(summary)
    days = summary.copy()
    days.attrs = {**summary.attrs, "time_unit": "D"}
    with pytest.raises(InvalidSummaryError, match="time unit"):
        m.predict(days, 1)


def test_population_rate_on_cdnow_matches_published_totals():
    log = clvmodels.datasets.load_cdnow_transactions()
    full = clvmodels.rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                                 observation_end="1998-06-30")
    s = calibration_only(full)
    m = PopulationRate().fit(s)
    # 2,457 repeat transactions in calibration (Fader, Hardie & Lee 2005)
    assert m.rate_ * s["T"].sum() == pytest.approx(2457)
    p = OwnRate().fit(s).predict(s, 39)
    # own rate reproduces each customer's calibration count over a horizon of T
    np.testing.assert_allclose((p["transactions"] / 39 * s["T"])[s["T"] > 0],
                               s["frequency"][s["T"] > 0])


@pytest.mark.parametrize("cls", [Zero, OwnRate, PopulationRate])
def test_baselines_refuse_holdout_columns(cls, summary):
    leaky = summary.assign(frequency_holdout=[1, 0, 0])
    with pytest.raises(InvalidSummaryError, match="holdout columns"):
        cls().fit(leaky)
    fitted = cls().fit(summary)
    with pytest.raises(InvalidSummaryError, match="calibration_only"):
        fitted.predict(leaky, 4)


@pytest.mark.parametrize("cls", [Zero, OwnRate, PopulationRate])
def test_baselines_refuse_bad_horizon(cls, summary):
    m = cls().fit(summary)
    for h in (0, -1, np.nan, "soon"):
        with pytest.raises(InvalidParameterError, match="horizon"):
            m.predict(summary, h)


def test_own_rate_refuses_negative_frequency(summary):
    bad = summary.copy()
    bad.loc["b", "frequency"] = -1
    with pytest.raises(InvalidSummaryError, match="'frequency'.*'b'"):
        OwnRate().fit(bad).predict(bad, 1)


def test_revenue_needs_monetary_value(summary):
    s = summary.drop(columns="monetary_value")
    with pytest.raises(InvalidSummaryError, match="monetary_value"):
        OwnRate().fit(s).predict(s, 1)


# --- protocol helpers -------------------------------------------------------------------


def test_check_calibration_summary_messages(summary):
    with pytest.raises(InvalidSummaryError, match="DataFrame"):
        check_calibration_summary(summary.to_numpy())
    with pytest.raises(InvalidSummaryError, match=r"\['T'\]"):
        check_calibration_summary(summary.drop(columns="T"))
    no_attrs = summary.copy()
    no_attrs.attrs = {}
    with pytest.raises(InvalidSummaryError, match="calibration_end"):
        check_calibration_summary(no_attrs)


def test_calibration_only_drops_holdout(summary):
    full = summary.assign(frequency_holdout=[1, 0, 0], monetary_value_holdout=1.0,
                          duration_holdout=39.0)
    full.attrs = {**summary.attrs, "observation_end": pd.Timestamp("2024-12-01")}
    s = calibration_only(full)
    assert list(s.columns) == list(summary.columns)
    assert s.attrs["observation_end"] is None
    assert s.attrs["calibration_end"] == summary.attrs["calibration_end"]
    assert "frequency_holdout" in full.columns  # the input is untouched


def test_check_calibration_transactions_raises_on_holdout_rows():
    log = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [1.0, 2.0, 3.0],
                        "date": ["2024-01-01", "2024-03-01 18:00", "2024-03-02"]})
    with pytest.raises(InvalidTransactionsError, match=r"1 transaction\(s\).*2024-03-02.*leakage"):
        check_calibration_transactions(log, pd.Timestamp("2024-03-01"))
    # a transaction on calibration_end (any time of day) belongs to calibration
    ok = check_calibration_transactions(log.iloc[:2], pd.Timestamp("2024-03-01"))
    assert pd.api.types.is_datetime64_any_dtype(ok["date"])
    with pytest.raises(InvalidTransactionsError, match="needs the calibration transactions"):
        check_calibration_transactions(None, pd.Timestamp("2024-03-01"))
    with pytest.raises(InvalidTransactionsError, match="amount"):
        check_calibration_transactions(log.drop(columns="amount"), pd.Timestamp("2024-03-01"))


def test_check_predictions(summary):
    good = prediction_frame(summary, [1, 2, 3], [4, 5, 6])
    assert check_predictions(good.iloc[::-1], summary).index.equals(summary.index)
    with pytest.raises(InvalidSummaryError, match="revenue"):
        check_predictions(good[["transactions"]], summary)
    with pytest.raises(InvalidSummaryError, match="indexed by the summary's customers"):
        check_predictions(good.iloc[:2], summary)
    neg = good.copy()
    neg.loc["b", "revenue"] = -1.0
    with pytest.raises(InvalidSummaryError, match="customer 'b'"):
        check_predictions(neg, summary)


def test_method_repr_and_defaults():
    class Mine(Method):
        name = "mine"

        def __init__(self, k=3):
            self.k = k

    assert repr(Mine()) == "Mine(k=3) [name='mine']"
    assert Mine.needs_transactions is False
    with pytest.raises(NotImplementedError):
        Mine().fit(None)


# --- registry ---------------------------------------------------------------------------


def test_builtins_are_registered():
    names = available_methods()
    for name in ("zero", "own_rate", "population_rate", "gradient_boosting"):
        assert name in names
    assert isinstance(get_method("own_rate"), OwnRate)
    assert get_method("own_rate") is not get_method("own_rate")  # a new object each time


def test_register_user_method(summary):
    class Double(Method):
        name = "double_own_rate"

        def fit(self, summary, transactions=None):
            self.inner_ = OwnRate().fit(summary)
            return self

        def predict(self, summary, horizon):
            return self.inner_.predict(summary, 2 * horizon)

    register_method(Double)
    try:
        assert "double_own_rate" in available_methods()
        p = get_method("double_own_rate").fit(summary).predict(summary, 2)
        np.testing.assert_allclose(p["transactions"], [2.0, 0.0, 0.0])
        with pytest.raises(InvalidParameterError, match="already registered"):
            register_method(OwnRate, name="double_own_rate")
        register_method(OwnRate, name="double_own_rate", overwrite=True)
        assert isinstance(get_method("double_own_rate"), OwnRate)
    finally:
        unregister_method("double_own_rate")
    assert "double_own_rate" not in available_methods()


def test_register_partial_and_function_factories():
    register_method(functools.partial(baselines.PopulationRate), name="pooled")
    try:
        assert isinstance(get_method("pooled"), PopulationRate)
    finally:
        unregister_method("pooled")

    def my_zero():
        return Zero()

    register_method(my_zero)  # named after the function
    try:
        assert isinstance(get_method("my_zero"), Zero)
    finally:
        unregister_method("my_zero")


def test_registry_errors():
    with pytest.raises(InvalidParameterError, match="registered:.*own_rate"):
        get_method("no_such_method")
    with pytest.raises(InvalidParameterError, match="callable"):
        register_method(42, name="x")
    with pytest.raises(InvalidParameterError, match="no method named"):
        unregister_method("no_such_method")
    register_method(lambda: object(), name="not_a_method")
    try:
        with pytest.raises(InvalidParameterError, match="no fit"):
            get_method("not_a_method")
    finally:
        unregister_method("not_a_method")
