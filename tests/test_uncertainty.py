"""Intervals on predictions (clvmodels.models.uncertainty).

What is checked against what:

* coverage: on data simulated from known parameters, the 90% intervals of
  quantities that depend on the parameters only (a new customer's expected
  purchases, the expectation for fixed histories, the Gamma-Gamma population
  mean) contain the value at the TRUE parameters in 85-95% of 200 fits;
* the bootstrap (200 resamples) against the asymptotic intervals on CDNOW;
* the draw kernels against the models' own pure functions (themselves checked
  against mpmath and published values in the model tests), parameter vector by
  parameter vector, including the regions where the fast BG/NBD path switches
  to its series or to the quadrature;
* the draws against their defining distribution; percentiles against
  ``np.quantile``; CLV intervals against a brute-force loop over draws;
* the estimate column equals the result without ``interval`` exactly; the
  bounds collapse as the level goes to 0; seeds reproduce; errors are clear.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.simulate import simulate_bgnbd_summary, simulate_gamma_gamma_spend
from clvmodels.errors import CLVError, InvalidParameterError
from clvmodels.models import bgnbd, gamma_gamma, mbgnbd, paretonbd
from clvmodels.models._base import BaseModel
from clvmodels.models.bgbb import BGBB
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.bgnbd import alive_purchases_fast as _alive_purchases_fast
from clvmodels.models.clv import customer_lifetime_value
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.gamma_gamma import expected_spend_draws as gamma_gamma_draws
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.paretonbd import ParetoNBD
from clvmodels.models.paretonbd import predict_draws as paretonbd_draws
from clvmodels.models.uncertainty import (
    bootstrap_parameters,
    draw_parameters,
    percentiles,
)

TRUE_BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
ROWS = {"frequency": [0, 2, 5], "recency": [0.0, 20.0, 30.0], "T": [0.0, 40.0, 40.0]}


@pytest.fixture(scope="module")
def cdnow():
    from clvmodels import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    return rfm_summary(load_cdnow_transactions(), amount="amount",
                       calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow):
    return BGNBD().fit(cdnow)


@pytest.fixture(scope="module")
def small():
    """A simulated BG/NBD summary and its fit (fast)."""
    summary = simulate_bgnbd_summary(800, T=np.linspace(20, 52, 800), random_state=3, **TRUE_BG)
    return summary, BGNBD().fit(summary)


# --------------------------------------------------------------------------- coverage
@pytest.mark.slow
def test_bgnbd_intervals_cover_the_true_values_in_85_to_95_percent():
    """200 data sets of 1,000 customers; truth = the prediction at the true parameters."""
    theta = np.array(list(TRUE_BG.values()))
    truth = bgnbd.expected_purchases(theta, ROWS["frequency"], ROWS["recency"], ROWS["T"], 26.0)
    # the first row (x = 0, T = 0) is a new customer: eq. 9 of FHL 2005
    assert truth[0] == pytest.approx(float(bgnbd.expected_purchases_new_customer(theta, 26.0)))
    alive_truth = bgnbd.probability_alive(theta, [2], [20.0], [40.0])[0]
    n_rep = 200
    hits = np.zeros(4)
    for rep in range(n_rep):
        s = simulate_bgnbd_summary(1000, T=np.linspace(20, 52, 1000), random_state=rep,
                                   **TRUE_BG)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = BGNBD(n_starts=1).fit(s)
        e = m.expected_purchases(t=26.0, interval=0.9, random_state=rep, **ROWS)
        lo, hi = e["expected_purchases_lower"].to_numpy(), e["expected_purchases_upper"].to_numpy()
        hits[:3] += (lo <= truth) & (truth <= hi)
        p = m.probability_alive(frequency=[2], recency=[20.0], T=[40.0], interval=0.9,
                                random_state=rep)
        hits[3] += p["probability_alive_lower"].iloc[0] <= alive_truth <= p[
            "probability_alive_upper"].iloc[0]
    coverage = hits / n_rep
    assert np.all((coverage >= 0.85) & (coverage <= 0.95)), coverage


@pytest.mark.slow
def test_gamma_gamma_interval_of_the_population_mean_covers_the_truth():
    p, q, gamma = 2.0, 4.0, 20.0
    truth = p * gamma / (q - 1)
    hits = 0
    n_rep = 200
    for rep in range(n_rep):
        rng = np.random.default_rng(rep)
        x = rng.integers(1, 8, size=600)
        m = simulate_gamma_gamma_spend(x, p, q, gamma, random_state=rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GammaGamma(n_starts=1).fit(frequency=x, monetary_value=m)
        # a customer without repeat purchases gets the population mean
        e = model.expected_spend(frequency=[0], monetary_value=[0.0], interval=0.9,
                                 random_state=rep)
        hits += e["expected_spend_lower"].iloc[0] <= truth <= e["expected_spend_upper"].iloc[0]
    assert 0.85 <= hits / n_rep <= 0.95, hits / n_rep


# --------------------------------------------------------------------------- bootstrap
@pytest.mark.slow
def test_bootstrap_and_asymptotic_intervals_agree_on_cdnow(cdnow, cdnow_bgnbd):
    """BG/NBD on CDNOW, 200 resamples: widths and bounds within 20% of the asymptotic width."""
    m = cdnow_bgnbd
    for quantity, kwargs in (("expected_purchases", {"t": 39}), ("probability_alive", {})):
        a = getattr(m, quantity)(cdnow, interval=0.9, random_state=2, n_draws=2000, **kwargs)
        b = getattr(m, quantity)(cdnow, interval=0.9, method="bootstrap", n_boot=200,
                                 fit_summary=cdnow, random_state=1, **kwargs)
        wa = (a.iloc[:, 2] - a.iloc[:, 1]).to_numpy()
        wb = (b.iloc[:, 2] - b.iloc[:, 1]).to_numpy()
        ok = wa > 1e-9  # P(alive) = 1 exactly without repeat purchases
        ratio = wb[ok] / wa[ok]
        shift = np.maximum(np.abs(b.iloc[:, 1] - a.iloc[:, 1]),
                           np.abs(b.iloc[:, 2] - a.iloc[:, 2])).to_numpy()[ok] / wa[ok]
        assert abs(np.median(ratio) - 1) < 0.2
        assert np.quantile(np.abs(ratio - 1), 0.9) < 0.2
        assert np.quantile(shift, 0.9) < 0.2
        total_a = a.iloc[:, 2].sum() - a.iloc[:, 1].sum()
        total_b = b.iloc[:, 2].sum() - b.iloc[:, 1].sum()
        assert abs(total_b / total_a - 1) < 0.2
        assert b.attrs["method"] == "bootstrap"


def test_bootstrap_refit_with_the_original_counts_returns_the_estimate(small):
    summary, m = small
    columns, counts = m._bootstrap_data(summary)
    assert counts.sum() == len(summary)
    theta = m._refit_weighted(columns, counts, m.params_.to_numpy() * 1.05)
    np.testing.assert_allclose(theta, m.params_.to_numpy(), rtol=1e-5)


def test_bootstrap_is_reproducible_and_needs_the_fit_summary(small):
    summary, m = small
    a = bootstrap_parameters(m, summary, n_boot=5, random_state=4)
    b = bootstrap_parameters(m, summary, n_boot=5, random_state=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 4)
    with pytest.raises(InvalidParameterError, match="fit_summary"):
        m.expected_purchases(summary, t=10, interval=0.9, method="bootstrap")


def test_bootstrap_of_gamma_gamma_resamples_the_repeat_customers(cdnow):
    g = GammaGamma().fit(cdnow[cdnow["frequency"] > 0])
    columns, counts = g._bootstrap_data(cdnow)
    assert counts.sum() == int((cdnow["frequency"] > 0).sum())
    theta = g._refit_weighted(columns, counts, g.params_.to_numpy())
    np.testing.assert_allclose(theta, g.params_.to_numpy(), rtol=1e-5)


# --------------------------------------------------------------------------- kernels
def _grid_rows(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30, n).astype(float)
    x[:5] = 0
    T = rng.uniform(1, 80, n)
    tx = np.where(x > 0, T * rng.uniform(0, 1, n), 0.0)
    return x, tx, T


@pytest.mark.parametrize("base", [(0.243, 4.414, 0.793, 2.426), (2.0, 1.0, 5.0, 0.3),
                                  (0.5, 3.0, 0.3, 0.4), (0.243, 4.414, 1.0004, 2.426)])
@pytest.mark.parametrize("t", [0.05, 1.0, 39.0, 400.0])
@pytest.mark.parametrize("module,variant", [(bgnbd, "bgnbd"), (mbgnbd, "mbgnbd")])
def test_bgnbd_kernel_equals_the_pure_functions_draw_by_draw(base, t, module, variant):
    rng = np.random.default_rng(1)
    draws = np.asarray(base) * np.exp(0.1 * rng.standard_normal((6, 4)))
    draws[0] = base
    x, tx, T = _grid_rows()
    ep = module.predict_draws("expected_purchases", draws, x, tx, T, t)
    pa = module.predict_draws("probability_alive", draws, x, tx, T)
    for i, theta in enumerate(draws):
        np.testing.assert_allclose(ep[i], module.expected_purchases(theta, x, tx, T, t),
                                   rtol=5e-9, atol=1e-300)
        np.testing.assert_allclose(pa[i], module.probability_alive(theta, x, tx, T),
                                   rtol=1e-12)


def test_fast_alive_purchases_uses_each_route_and_stays_exact():
    """Closed form, small-s series (short horizon, a near 1) and quadrature (a = 1, s > 0.5)."""
    r = np.array([[0.3], [0.3], [0.3], [3.0]])
    alpha = np.array([[40.0], [40.0], [2.0], [10.0]])
    a = np.array([[0.8, 1.0 + 1e-9, 1.0, 0.5]])
    b = np.array([[2.5], [2.5], [2.5], [0.2]])
    t = np.array([[20.0], [0.01], [30.0], [5.0]])
    fast = _alive_purchases_fast(r, alpha, a, b, t)
    exact = bgnbd.alive_purchases(*np.broadcast_arrays(r, alpha, a, b, t))
    np.testing.assert_allclose(fast, exact, rtol=5e-9)


@pytest.mark.parametrize("t", [0.0, 2.0, 39.0])
@pytest.mark.parametrize("base", [(0.553, 10.578, 0.606, 11.669), (0.553, 0.5, 0.606, 300.0),
                                  (2.0, 80.0, 1.5, 0.3)])
def test_paretonbd_kernel_equals_the_pure_functions_draw_by_draw(t, base):
    """Series, continued fraction and (alpha and beta far apart, short times) quadrature cells."""
    rng = np.random.default_rng(2)
    draws = np.asarray(base) * np.exp(0.2 * rng.standard_normal((4, 4)))
    x, tx, T = _grid_rows(40, seed=3)
    tx[5:10] = np.minimum(tx[5:10], 0.01)
    ep = paretonbd_draws("expected_purchases", draws, x, tx, T, t)
    pa = paretonbd_draws("probability_alive", draws, x, tx, T)
    for i, theta in enumerate(draws):
        np.testing.assert_allclose(ep[i], paretonbd.expected_purchases(theta, x, tx, T, t),
                                   rtol=1e-11, atol=1e-300)
        np.testing.assert_allclose(pa[i], paretonbd.probability_alive(theta, x, tx, T),
                                   rtol=1e-11)


def test_gamma_gamma_kernel_equals_the_pure_function_and_marks_missing_means_infinite():
    draws = np.array([[6.25, 3.74, 15.44], [2.0, 1.5, 10.0], [1.0, 0.5, 3.0]])
    x = np.array([0.0, 1.0, 4.0])
    m = np.array([0.0, 20.0, 35.0])
    values = gamma_gamma_draws(draws, x, m)
    for i in range(2):
        np.testing.assert_allclose(values[i], gamma_gamma.expected_spend(draws[i], x, m),
                                   rtol=1e-14)
    # q = 0.5: no finite mean for x = 0 (p x + q - 1 < 0), finite for x >= 1
    assert np.isinf(values[2, 0]) and np.all(np.isfinite(values[2, 1:]))


@pytest.mark.parametrize("model", [
    BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
    MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614),
    ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669),
])
def test_vectorised_hooks_equal_the_generic_loop_over_draws(model):
    x, tx, T = _grid_rows(30, seed=5)
    data = {"frequency": x, "recency": tx, "T": T}
    draws = model.params_.to_numpy() * np.exp(0.05 * np.random.default_rng(0).standard_normal(
        (5, 4)))
    for quantity, kwargs in (("expected_purchases", {"t": 13.0}), ("probability_alive", {})):
        fast = model._predict_with_params(quantity, draws, data, **kwargs)
        loop = BaseModel._predict_with_params(model, quantity, draws, data, **kwargs)
        np.testing.assert_allclose(fast, loop, rtol=5e-9)


# --------------------------------------------------------------------------- machinery
def test_draws_follow_the_asymptotic_normal_of_the_log_parameters(small):
    _, m = small
    draws = draw_parameters(m, 40_000, random_state=0)
    logs = np.log(draws)
    cov = m._covariance_log
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(logs.mean(axis=0), np.log(m.params_.to_numpy()),
                               atol=4 * se.max() / np.sqrt(40_000))
    np.testing.assert_allclose(np.cov(logs.T), cov, atol=0.03 * se.max() ** 2)


def test_percentiles_equal_numpy_quantile():
    rng = np.random.default_rng(0)
    for n in (2, 7, 1000, 1001):
        v = rng.standard_normal((n, 13))
        for probs in ([0.05, 0.95], [0.0, 1.0], [0.5, 0.5], [0.25, 0.975]):
            np.testing.assert_allclose(percentiles(v, probs), np.quantile(v, probs, axis=0),
                                       rtol=1e-15, atol=1e-15)
    # +inf draws (a quantity that does not exist at some parameters) stay +inf, never NaN
    v = rng.standard_normal((101, 3))
    v[:, 0] = np.inf
    v[90:, 1] = np.inf
    out = percentiles(v, [0.05, 0.95])
    assert np.isinf(out[:, 0]).all() and np.isfinite(out[0, 1]) and np.isinf(out[1, 1])


def test_estimate_column_equals_the_plain_result_and_the_names_are_documented(small):
    summary, m = small
    plain = m.expected_purchases(summary, t=10)
    full = m.expected_purchases(summary, t=10, interval=0.9, random_state=0, n_draws=300)
    assert list(full.columns) == ["expected_purchases", "expected_purchases_lower",
                                  "expected_purchases_upper"]
    pd.testing.assert_series_equal(full["expected_purchases"], plain)
    assert (full["expected_purchases_lower"] <= full["expected_purchases_upper"]).all()
    assert full.attrs["interval"] == 0.9 and full.attrs["n_draws"] == 300
    assert "not the customer's own" in full.attrs["covers"]
    assert full.attrs["n_unique_rows"] == len(summary[["frequency", "recency", "T"]]
                                              .drop_duplicates())
    alive = m.probability_alive(summary, interval=0.8, random_state=0, n_draws=300)
    pd.testing.assert_series_equal(alive["probability_alive"], m.probability_alive(summary))


def test_bounds_collapse_as_the_level_goes_to_zero(small):
    summary, m = small
    wide = m.expected_purchases(summary, t=10, interval=0.9, random_state=0)
    narrow = m.expected_purchases(summary, t=10, interval=1e-9, random_state=0)
    width = (wide.iloc[:, 2] - wide.iloc[:, 1]).to_numpy()
    np.testing.assert_allclose(narrow.iloc[:, 2] - narrow.iloc[:, 1], 0.0, atol=1e-6 * width.max())
    # both bounds tend to the median of the draws, which is the estimate up to the skewness
    # of the prediction's sampling distribution and Monte Carlo error
    mid = narrow.iloc[:, 1].to_numpy()
    est = narrow.iloc[:, 0].to_numpy()
    assert np.all(np.abs(mid - est) <= 0.1 * width + 1e-12)


def test_same_seed_same_interval_and_other_seed_differs(small):
    summary, m = small
    a = m.probability_alive(summary, interval=0.9, random_state=7, n_draws=200)
    b = m.probability_alive(summary, interval=0.9, random_state=7, n_draws=200)
    c = m.probability_alive(summary, interval=0.9, random_state=8, n_draws=200)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_one_horizon_per_customer(small):
    summary, m = small
    t = np.where(summary["T"] > 36, 5.0, 20.0)
    full = m.expected_purchases(summary, t=t, interval=0.9, random_state=0, n_draws=200)
    pd.testing.assert_series_equal(full["expected_purchases"], m.expected_purchases(summary, t=t))
    # the same customer row with two horizons has two intervals
    one = m.expected_purchases(frequency=[2, 2], recency=[10.0, 10.0], T=[30.0, 30.0],
                               t=[5.0, 20.0], interval=0.9, random_state=0, n_draws=200)
    assert one["expected_purchases_upper"].iloc[1] > one["expected_purchases_upper"].iloc[0]


def test_threads_do_not_change_the_result(small, monkeypatch):
    import clvmodels.models.uncertainty as unc

    summary, m = small
    monkeypatch.setattr(unc, "CHUNK_CELLS", 20_000)  # many chunks
    monkeypatch.setattr(unc, "N_THREADS", 2)
    a = m.expected_purchases(summary, t=10, interval=0.9, random_state=0, n_draws=200)
    monkeypatch.setattr(unc, "N_THREADS", 1)
    b = m.expected_purchases(summary, t=10, interval=0.9, random_state=0, n_draws=200)
    pd.testing.assert_frame_equal(a, b)


def test_bgbb_intervals_use_the_generic_hook():
    from clvmodels.data._simulate_family import simulate_bgbb_summary

    summary = simulate_bgbb_summary(3000, alpha=1.2, beta=0.75, gamma=0.66, delta=2.78,
                                    n_periods=6, random_state=0)
    m = BGBB().fit(summary)
    full = m.expected_purchases(summary, t=5, interval=0.9, random_state=0, n_draws=100)
    pd.testing.assert_series_equal(full["expected_purchases"], m.expected_purchases(summary, t=5))
    assert (full["expected_purchases_lower"] < full["expected_purchases_upper"]).all()


# --------------------------------------------------------------------------- CLV
def test_clv_interval_with_a_known_spend_is_the_scaled_purchase_interval(cdnow, cdnow_bgnbd):
    """No discounting, constant spend: CLV = margin * spend * E[X(H)] draw by draw."""
    clv = customer_lifetime_value(cdnow_bgnbd, 30.0, cdnow, horizon=26, discount_rate=0.0,
                                  margin=0.5, periods_per_step=26, interval=0.9,
                                  random_state=3, n_draws=300)
    ep = cdnow_bgnbd.expected_purchases(cdnow, t=26, interval=0.9, random_state=3, n_draws=300)
    np.testing.assert_allclose(clv["clv_lower"], 15.0 * ep["expected_purchases_lower"],
                               rtol=1e-9)
    np.testing.assert_allclose(clv["clv_upper"], 15.0 * ep["expected_purchases_upper"],
                               rtol=1e-9)


def test_clv_interval_equals_a_brute_force_loop_over_independent_draws(cdnow, cdnow_bgnbd):
    g = GammaGamma().fit(cdnow[cdnow["frequency"] > 0])
    sub = cdnow.iloc[[0, 1, 2, 10, 50, 100, 200]]
    kwargs = {"horizon": 12, "discount_rate": 0.01, "periods_per_step": 4}
    out = customer_lifetime_value(cdnow_bgnbd, g, sub, **kwargs, interval=0.8, random_state=5,
                                  n_draws=150, components=True)
    pd.testing.assert_series_equal(out["clv"], customer_lifetime_value(cdnow_bgnbd, g, sub,
                                                                       **kwargs))
    rng = np.random.default_rng(5)
    pd_draws = draw_parameters(cdnow_bgnbd, 150, rng)
    sp_draws = draw_parameters(g, 150, rng)
    times = np.array([4.0, 8.0, 12.0])
    disc = 1.01 ** -times
    values = []
    for theta, spend in zip(pd_draws, sp_draws, strict=True):
        curve = np.column_stack([bgnbd.expected_purchases(theta, sub["frequency"],
                                                          sub["recency"], sub["T"], t)
                                 for t in times])
        steps = np.diff(curve, axis=1, prepend=0.0)
        m = np.where(sub["frequency"] > 0, sub["monetary_value"], 0.0)
        values.append(gamma_gamma.expected_spend(spend, sub["frequency"], m) * (steps @ disc))
    lo, hi = np.quantile(np.array(values), [0.1, 0.9], axis=0)
    np.testing.assert_allclose(out["clv_lower"], lo, rtol=1e-8)
    np.testing.assert_allclose(out["clv_upper"], hi, rtol=1e-8)
    assert list(out.columns)[-3:] == ["clv", "clv_lower", "clv_upper"]


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, 1.5, 90, -0.1, "0.9", True, None])
def test_interval_must_be_a_probability(small, bad):
    summary, m = small
    if bad is None:
        assert isinstance(m.probability_alive(summary, interval=bad), pd.Series)
        return
    with pytest.raises(InvalidParameterError, match="interval"):
        m.probability_alive(summary, interval=bad)


def test_model_without_covariance_explains_and_suggests_the_bootstrap(small):
    summary, _ = small
    given = BGNBD.from_params(**TRUE_BG)
    with pytest.raises(InvalidParameterError, match="from_params.*bootstrap"):
        given.expected_purchases(summary, t=5, interval=0.9)
    # with the data, the bootstrap works for it
    out = given.expected_purchases(summary.iloc[:200], t=5, interval=0.9, method="bootstrap",
                                   n_boot=5, fit_summary=summary.iloc[:200], random_state=0)
    assert out.shape[1] == 3


def test_fit_with_a_singular_hessian_explains(small):
    summary, m = small
    broken = BGNBD().fit(summary)
    broken._covariance_log = np.full((4, 4), np.nan)
    broken.fit_info_["hessian_ok"] = False
    with pytest.raises(InvalidParameterError, match="not positive definite.*bootstrap"):
        broken.probability_alive(summary, interval=0.9)


def test_poorly_identified_parameters_are_refused_not_drawn_to_infinity(small):
    summary, m = small
    wild = BGNBD().fit(summary)
    wild._covariance_log = np.diag([0.01, 0.01, 400.0, 400.0])
    with pytest.raises(InvalidParameterError, match="barely identify"):
        wild.probability_alive(summary, interval=0.9)


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "bayes"}, "method"),
    ({"n_draws": 1}, "n_draws"),
    ({"n_draws": 10.5}, "n_draws"),
    ({"random_state": "seed"}, "random_state"),
])
def test_other_bad_arguments(small, kwargs, match):
    summary, m = small
    with pytest.raises(InvalidParameterError, match=match):
        m.expected_purchases(summary, t=5, interval=0.9, **kwargs)


def test_a_hook_that_disagrees_with_its_method_is_caught(small):
    summary, m = small

    class Wrong(BGNBD):
        def _predict_with_params(self, quantity, params, data, **kwargs):
            return super()._predict_with_params(quantity, params, data, **kwargs) * 1.01

    w = Wrong()
    w.__dict__.update(m.__dict__)
    with pytest.raises(CLVError, match="disagree"):
        w.probability_alive(summary.iloc[:50], interval=0.9, n_draws=20)
