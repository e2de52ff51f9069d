"""Discounted CLV: against an explicit per-period computation from lifetimes, lifetimes' own
customer_lifetime_value at equal step definitions, closed-form limits and unit checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import InvalidParameterError, InvalidSummaryError, UnitMismatchError
from clvmodels.models import clv as clv_module
from clvmodels.models.clv import convert_discount_rate, customer_lifetime_value, step_times

# Published CDNOW estimates (Fader, Hardie & Lee 2005; Fader & Hardie 2013).
BGNBD_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_CDNOW = {"p": 6.25, "q": 3.74, "gamma": 15.44}

lifetimes = pytest.importorskip("lifetimes")


@pytest.fixture(scope="module")
def cdnow_summary():
    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    return rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end="1997-09-30",
                       observation_end="1998-06-30", time_unit="W")


def _lifetimes_bgf(params=BGNBD_CDNOW):
    bgf = lifetimes.BetaGeoFitter()
    bgf.params_ = pd.Series(params)
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # as lifetimes' fit does
    return bgf


def _lifetimes_ggf(params=GG_CDNOW):
    ggf = lifetimes.GammaGammaFitter()
    ggf.params_ = pd.Series({"p": params["p"], "q": params["q"], "v": params["gamma"]})
    return ggf


class LifetimesPurchases:
    """Duck-typed purchase model backed by lifetimes' BetaGeoFitter (a foreign implementation)."""

    def __init__(self, time_unit="W", params=BGNBD_CDNOW):
        self.time_unit_ = time_unit
        self._bgf = _lifetimes_bgf(params)

    def expected_purchases(self, summary, t):
        return pd.Series(
            np.asarray(self._bgf.conditional_expected_number_of_purchases_up_to_time(
                t, summary["frequency"].to_numpy(float), summary["recency"].to_numpy(float),
                summary["T"].to_numpy(float)), dtype=float),
            index=summary.index)


class RecencyCurveModel:
    """A purchase model whose curve shape depends on recency: no (x, T) factorisation."""

    time_unit_ = "W"

    def expected_purchases(self, summary, t):
        rate = 0.1 + 0.05 * summary["frequency"].to_numpy(float)
        scale = 1.0 + summary["recency"].to_numpy(float)
        return pd.Series(rate * scale * (1 - np.exp(-t / scale)), index=summary.index)


def _explicit_clv(summary, horizon_steps, step, weekly_rate, margin, bgf, ggf):
    """Independent reference: a plain loop over steps of lifetimes' conditional expectations,
    customers' spend from lifetimes' Gamma-Gamma, discounted at each step's end."""
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    spend = np.asarray(ggf.conditional_expected_average_profit(
        summary["frequency"], summary["monetary_value"]), dtype=float)
    total = np.zeros(len(summary))
    for k in range(1, horizon_steps + 1):
        now = bgf.conditional_expected_number_of_purchases_up_to_time(k * step, x, tx, T)
        before = (bgf.conditional_expected_number_of_purchases_up_to_time((k - 1) * step, x, tx, T)
                  if k > 1 else 0.0)
        total += margin * spend * (now - before) / (1 + weekly_rate) ** (k * step)
    return total


class LifetimesSpend:
    def expected_spend(self, summary):
        return pd.Series(np.asarray(_lifetimes_ggf().conditional_expected_average_profit(
            summary["frequency"], summary["monetary_value"]), dtype=float), index=summary.index)


# ---------------------------------------------------------------------------
# against independent computations
# ---------------------------------------------------------------------------
@pytest.mark.peers
@pytest.mark.parametrize("method", ["auto", "exact", "factorized"])
def test_clv_matches_explicit_per_week_loop(cdnow_summary, method):
    rate, margin = 0.002, 0.3
    ours = customer_lifetime_value(LifetimesPurchases(), LifetimesSpend(), cdnow_summary,
                                   horizon=52, discount_rate=rate, margin=margin, method=method)
    ref = _explicit_clv(cdnow_summary, 52, 1.0, rate, margin, _lifetimes_bgf(), _lifetimes_ggf())
    assert ours.index.equals(cdnow_summary.index)
    assert ours.name == "clv"
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.peers
def test_clv_matches_lifetimes_customer_lifetime_value_with_monthly_steps(cdnow_summary):
    """lifetimes steps by 4.345 weeks (freq="W") with a monthly rate; we express the same steps
    with periods_per_step=4.345 and the equivalent weekly rate."""
    monthly = 0.01
    theirs = _lifetimes_ggf().customer_lifetime_value(
        _lifetimes_bgf(), cdnow_summary["frequency"], cdnow_summary["recency"],
        cdnow_summary["T"], cdnow_summary["monetary_value"], time=12, discount_rate=monthly,
        freq="W")
    weekly = (1 + monthly) ** (1 / 4.345) - 1
    ours = customer_lifetime_value(LifetimesPurchases(), LifetimesSpend(), cdnow_summary,
                                   horizon=12 * 4.345, discount_rate=weekly, periods_per_step=4.345)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(dtype=float), rtol=1e-9)


def test_zero_discount_is_expected_purchases_times_spend_times_margin(cdnow_summary):
    model = LifetimesPurchases()
    out = customer_lifetime_value(model, 25.0, cdnow_summary, horizon=39, discount_rate=0.0,
                                  margin=0.4, components=True)
    expected = model.expected_purchases(cdnow_summary, 39.0).to_numpy() * 25.0 * 0.4
    np.testing.assert_allclose(out["clv"].to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out["expected_purchases"].to_numpy(),
                               model.expected_purchases(cdnow_summary, 39.0).to_numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(out["discounted_purchases"], out["expected_purchases"], rtol=1e-12)


def test_constant_purchase_rate_gives_annuity_closed_form():
    """One purchase per period: CLV = spend * sum_k v^k = spend * (1 - v^H) / d."""

    class Steady:
        def expected_purchases(self, summary, t):
            return pd.Series(float(t), index=summary.index)

    summary = pd.DataFrame({"frequency": [0, 3], "recency": [0.0, 4.0], "T": [9.0, 9.0]})
    d, H = 0.015, 30
    out = customer_lifetime_value(Steady(), 12.0, summary, horizon=H, discount_rate=d)
    annuity = (1 - (1 + d) ** -H) / d
    np.testing.assert_allclose(out.to_numpy(), 12.0 * annuity, rtol=1e-13)


def test_partial_last_step_and_step_times():
    np.testing.assert_array_equal(step_times(10, 4), [4.0, 8.0, 10.0])
    assert len(step_times(12 * 4.345, 4.345)) == 12
    assert step_times(0.5, 1).tolist() == [0.5]

    class Steady:
        def expected_purchases(self, summary, t):
            return pd.Series(2.0 * t, index=summary.index)

    summary = pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [3.0]})
    out = customer_lifetime_value(Steady(), 1.0, summary, horizon=10, discount_rate=0.01,
                                  periods_per_step=4)
    ref = 8 / 1.01**4 + 8 / 1.01**8 + 4 / 1.01**10
    assert out.iloc[0] == pytest.approx(ref, rel=1e-14)


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------
def test_clv_is_linear_in_margin_decreasing_in_rate_increasing_in_horizon(cdnow_summary):
    model, spend = LifetimesPurchases(), LifetimesSpend()
    base = customer_lifetime_value(model, spend, cdnow_summary, 52, 0.002, margin=0.5)
    double = customer_lifetime_value(model, spend, cdnow_summary, 52, 0.002, margin=1.0)
    np.testing.assert_allclose(double.to_numpy(), 2 * base.to_numpy(), rtol=1e-14)
    higher_rate = customer_lifetime_value(model, spend, cdnow_summary, 52, 0.01, margin=0.5)
    assert np.all(higher_rate.to_numpy() < base.to_numpy())
    longer = customer_lifetime_value(model, spend, cdnow_summary, 78, 0.002, margin=0.5)
    assert np.all(longer.to_numpy() > base.to_numpy())
    assert np.all(base.to_numpy() > 0)


def test_methods_agree_and_auto_falls_back_for_a_non_factorising_model():
    rng = np.random.default_rng(1)
    n = 400
    x = rng.integers(0, 4, n)
    T = rng.choice([10.0, 20.0], n)
    rec = np.where(x > 0, np.round(rng.uniform(0, 1, n) * T), 0.0)
    summary = pd.DataFrame({"frequency": x, "recency": rec, "T": T})
    summary.attrs["time_unit"] = "W"
    model = RecencyCurveModel()
    exact = customer_lifetime_value(model, 1.0, summary, 20, 0.01, method="exact")
    auto = customer_lifetime_value(model, 1.0, summary, 20, 0.01, method="auto")
    np.testing.assert_allclose(auto.to_numpy(), exact.to_numpy(), rtol=1e-13)
    # the shortcut really is wrong for this model, so the check above is meaningful
    forced = customer_lifetime_value(model, 1.0, summary, 20, 0.01, method="factorized")
    assert not np.allclose(forced.to_numpy(), exact.to_numpy(), rtol=1e-6)


def test_factorized_and_exact_call_the_model_a_few_times_on_few_rows(cdnow_summary):
    calls = []

    class Counting(LifetimesPurchases):
        def expected_purchases(self, summary, t):
            calls.append(len(summary))
            return super().expected_purchases(summary, t)

    n = len(cdnow_summary)
    groups = cdnow_summary.groupby(["frequency", "T"]).ngroups
    histories = cdnow_summary.groupby(["frequency", "recency", "T"]).ngroups
    customer_lifetime_value(Counting(), 10.0, cdnow_summary, 52, 0.002, method="factorized")
    # the curve on one history per (x, T), plus E[X(H)] for every distinct history
    assert len(calls) == 2
    assert sum(calls) == groups * 52 + histories < 52 * n
    calls.clear()
    customer_lifetime_value(Counting(), 10.0, cdnow_summary, 52, 0.002, method="exact")
    assert len(calls) == 1 and calls[0] == histories * 52


def test_scalar_only_purchase_model_is_called_once_per_step():
    class ScalarOnly:
        def expected_purchases(self, summary, t):
            if not isinstance(t, float):
                raise TypeError("t must be a float")
            return pd.Series(0.5 * t, index=summary.index)

    summary = pd.DataFrame({"frequency": [1, 2], "recency": [1.0, 2.0], "T": [3.0, 3.0]})
    out = customer_lifetime_value(ScalarOnly(), 2.0, summary, horizon=3, discount_rate=0.1,
                                  method="exact")
    ref = sum(1.0 / 1.1**k for k in (1, 2, 3))
    np.testing.assert_allclose(out.to_numpy(), ref, rtol=1e-14)


def test_spend_forms(cdnow_summary):
    model = LifetimesPurchases()
    per_customer = pd.Series(10.0, index=cdnow_summary.index[::-1])  # any order, aligned by id
    a = customer_lifetime_value(model, None, cdnow_summary, 10, 0.0, spend=per_customer)
    b = customer_lifetime_value(model, 10.0, cdnow_summary, 10, 0.0)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0)
    with pytest.raises(InvalidParameterError, match="no spend"):
        customer_lifetime_value(model, None, cdnow_summary, 10, 0.0)
    with pytest.raises(InvalidParameterError, match="not both"):
        customer_lifetime_value(model, LifetimesSpend(), cdnow_summary, 10, 0.0, spend=3.0)
    with pytest.raises(InvalidParameterError, match="no value for 1 customer"):
        customer_lifetime_value(model, None, cdnow_summary, 10, 0.0,
                                spend=per_customer.iloc[1:])


def test_bad_arguments_are_refused(cdnow_summary):
    model = LifetimesPurchases()
    for kwargs, pattern in [
        ({"horizon": 0, "discount_rate": 0.0}, "horizon"),
        ({"horizon": 10, "discount_rate": -0.1}, "discount_rate"),
        ({"horizon": 10, "discount_rate": 0.0, "margin": -1}, "margin"),
        ({"horizon": 10, "discount_rate": 0.0, "periods_per_step": 0}, "periods_per_step"),
        ({"horizon": 10, "discount_rate": 0.0, "method": "fast"}, "method"),
    ]:
        with pytest.raises(InvalidParameterError, match=pattern):
            customer_lifetime_value(model, 10.0, cdnow_summary, **kwargs)
    with pytest.raises(InvalidSummaryError, match="DataFrame"):
        customer_lifetime_value(model, 10.0, cdnow_summary.to_numpy(), 10, 0.0)


# ---------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------
def test_unit_mismatches_raise(cdnow_summary):
    with pytest.raises(UnitMismatchError, match="time_unit_ = 'D'"):
        customer_lifetime_value(LifetimesPurchases(time_unit="D"), 10.0, cdnow_summary, 10, 0.0)
    with pytest.raises(UnitMismatchError, match="time_unit argument = 'M'"):
        customer_lifetime_value(LifetimesPurchases(), 10.0, cdnow_summary, 10, 0.0,
                                time_unit="M")
    # agreeing units (case-insensitive) are fine
    out = customer_lifetime_value(LifetimesPurchases(), 10.0, cdnow_summary, 10, 0.0,
                                  time_unit="w")
    assert out.shape == (len(cdnow_summary),)


def test_convert_discount_rate_round_trips():
    weekly = convert_discount_rate(0.10, "Y", "W")
    assert (1 + weekly) ** (365.25 / 7) == pytest.approx(1.10, rel=1e-14)
    assert convert_discount_rate(weekly, "W", "Y") == pytest.approx(0.10, rel=1e-12)


def test_empty_summary_gives_empty_series():
    summary = pd.DataFrame({"frequency": pd.Series([], dtype="int64"),
                            "recency": pd.Series([], dtype=float), "T": pd.Series([], dtype=float)})
    out = customer_lifetime_value(LifetimesPurchases(), 10.0, summary, 10, 0.01)
    assert out.empty and out.name == "clv"


def test_module_documents_formula():
    assert "(1 + d)^(t_k)" in clv_module.__doc__


# ---------------------------------------------------------------------------
# with clvmodels' own BG/NBD and Gamma-Gamma
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdnow_models():
    from clvmodels.models.bgnbd import BGNBD
    from clvmodels.models.gamma_gamma import GammaGamma

    return (BGNBD.from_params(time_unit="W", **BGNBD_CDNOW), GammaGamma.from_params(**GG_CDNOW))



@pytest.mark.peers
@pytest.mark.parametrize("method", ["auto", "exact"])
def test_bgnbd_gamma_gamma_clv_matches_explicit_lifetimes_loop(cdnow_summary, cdnow_models,
                                                               method):
    """Our models (BG/NBD by quadrature, Gamma-Gamma) against lifetimes' hyp2f1-based
    conditional expectations and Gamma-Gamma, combined by an explicit loop over weeks."""
    purchases, spend = cdnow_models
    rate, margin = 0.0018, 0.25
    ours = customer_lifetime_value(purchases, spend, cdnow_summary, horizon=52,
                                   discount_rate=rate, margin=margin, method=method)
    ref = _explicit_clv(cdnow_summary, 52, 1.0, rate, margin, _lifetimes_bgf(), _lifetimes_ggf())
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-9)


@pytest.mark.peers
def test_bgnbd_gamma_gamma_clv_matches_lifetimes_customer_lifetime_value(cdnow_summary,
                                                                        cdnow_models):
    purchases, spend = cdnow_models
    monthly = 0.01
    theirs = _lifetimes_ggf().customer_lifetime_value(
        _lifetimes_bgf(), cdnow_summary["frequency"], cdnow_summary["recency"],
        cdnow_summary["T"], cdnow_summary["monetary_value"], time=12, discount_rate=monthly,
        freq="W")
    ours = customer_lifetime_value(purchases, spend, cdnow_summary, horizon=12 * 4.345,
                                   discount_rate=(1 + monthly) ** (1 / 4.345) - 1,
                                   periods_per_step=4.345, components=True)
    np.testing.assert_allclose(ours["clv"].to_numpy(), theirs.to_numpy(dtype=float), rtol=1e-9)
    # components multiply back to the CLV
    np.testing.assert_allclose(ours["clv"], ours["discounted_purchases"] * ours["expected_spend"],
                               rtol=1e-14)


def test_bgnbd_clv_zero_discount_is_expected_purchases_times_spend(cdnow_summary, cdnow_models):
    purchases, spend = cdnow_models
    out = customer_lifetime_value(purchases, spend, cdnow_summary, horizon=39, discount_rate=0.0,
                                  margin=0.3)
    ref = (purchases.expected_purchases(cdnow_summary, t=39.0).to_numpy()
           * spend.expected_spend(cdnow_summary).to_numpy() * 0.3)
    np.testing.assert_allclose(out.to_numpy(), ref, rtol=1e-12)


def test_bgnbd_clv_factorisation_is_exact(cdnow_summary, cdnow_models):
    purchases, spend = cdnow_models
    kwargs = {"horizon": 26, "discount_rate": 0.003, "periods_per_step": 2}
    exact = customer_lifetime_value(purchases, spend, cdnow_summary, method="exact", **kwargs)
    fact = customer_lifetime_value(purchases, spend, cdnow_summary, method="factorized", **kwargs)
    np.testing.assert_allclose(fact.to_numpy(), exact.to_numpy(), rtol=1e-12)


def test_bgnbd_model_unit_must_match_summary(cdnow_summary):
    from clvmodels.models.bgnbd import BGNBD
    daily = BGNBD.from_params(time_unit="D", **BGNBD_CDNOW)
    with pytest.raises(UnitMismatchError, match="'D'"):
        customer_lifetime_value(daily, 30.0, cdnow_summary, horizon=52, discount_rate=0.001)


def test_fitted_cdnow_models_give_a_sensible_clv(cdnow_summary):
    from clvmodels.models.bgnbd import BGNBD
    from clvmodels.models.gamma_gamma import GammaGamma

    purchases = BGNBD().fit(cdnow_summary)
    spend = GammaGamma().fit(cdnow_summary[cdnow_summary["frequency"] > 0])
    out = customer_lifetime_value(purchases, spend, cdnow_summary, horizon=39,
                                  discount_rate=0.0, components=True)
    # A sanity bound, not a reference value: the 39-week holdout (1,882 transactions) is
    # predicted within 20% in total (BG/NBD under-predicts CDNOW's holdout by ~12%), and the
    # undiscounted CLV ranks customers like their actual holdout revenue.
    assert out["expected_purchases"].sum() == pytest.approx(1882, rel=0.2)
    revenue = cdnow_summary["frequency_holdout"] * cdnow_summary["monetary_value_holdout"]
    assert out["clv"].sum() == pytest.approx(revenue.sum(), rel=0.2)
    assert out["clv"].corr(revenue, method="spearman") > 0.3
