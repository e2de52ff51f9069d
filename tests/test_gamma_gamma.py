"""Gamma-Gamma spend model: maths against mpmath, Monte Carlo and lifetimes; fits against
Fader & Hardie (2013) and simulation."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from clvmodels.errors import InvalidParameterError, InvalidSummaryError, StatisticalWarning
from clvmodels.models import gamma_gamma as gg

# Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", CDNOW 946 repeat buyers.
PUBLISHED_CDNOW = {"p": 6.25, "q": 3.74, "gamma": 15.44}


# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------
def _mp_loglik(p, q, g, x, m):
    """Eq. (3) of Fader & Hardie (2013) term by term, at mpmath's working precision."""
    p, q, g, x, m = (mp.mpf(v) for v in (p, q, g, x, m))
    return (mp.loggamma(p * x + q) - mp.loggamma(p * x) - mp.loggamma(q) + q * mp.log(g)
            + (p * x - 1) * mp.log(m) + p * x * mp.log(x) - (p * x + q) * mp.log(g + x * m))


def _mp_loglik_scale(p, q, g, x, m):
    """Size of the largest term of eq. (3): round-off of any float64 evaluation scales with it
    only after the exact cancellations, so this is a loose bound for the tolerance."""
    p, q, g, x, m = (mp.mpf(v) for v in (p, q, g, x, m))
    return max(abs(mp.loggamma(q)), abs(q * mp.log1p(x * m / g)),
               abs(p * x * mp.log1p(g / (x * m))), abs(mp.log(m)), mp.mpf(1))


# points: typical, and extremes of every parameter and data value
POINTS = [
    (6.25, 3.74, 15.44, 1, 20.0),
    (6.25, 3.74, 15.44, 14, 300.0),
    (0.5, 1.5, 2.0, 2, 0.01),
    (1e-3, 1e-2, 1e-3, 1, 1e-3),
    (1e3, 1e3, 1e5, 1e4, 1e6),
    (50.0, 0.05, 3.0, 300, 0.2),
    (0.02, 200.0, 1e4, 3, 5000.0),
    (1e4, 2.0, 1.0, 1, 1e-4),
    (3.0, 1e4, 1e-2, 7, 1e3),
]


def _random_points(n, seed):
    rng = np.random.default_rng(seed)
    p = 10 ** rng.uniform(-2, 3, n)
    q = 10 ** rng.uniform(-2, 3, n)
    g = 10 ** rng.uniform(-2, 4, n)
    x = rng.integers(1, 500, n)
    m = 10 ** rng.uniform(-2, 5, n)
    return [tuple(float(v) for v in row) for row in zip(p, q, g, x, m, strict=True)]


ALL_POINTS = POINTS + _random_points(25, seed=20240531)


@pytest.mark.parametrize("point", ALL_POINTS)
def test_individual_log_likelihood_matches_mpmath(point):
    p, q, g, x, m = point
    mp.mp.dps = 50
    ref = _mp_loglik(p, q, g, x, m)
    ours = gg.individual_log_likelihood((p, q, g), [x], [m])[0]
    # float64 round-off relative to the largest term
    tol = 1e-13 * max(float(_mp_loglik_scale(p, q, g, x, m)), abs(float(ref)))
    assert abs(ours - float(ref)) <= tol, (ours, float(ref))


@pytest.mark.parametrize("point", ALL_POINTS)
def test_gradient_matches_mpmath_derivatives(point):
    p, q, g, x, m = point
    mp.mp.dps = 60
    ref = [
        mp.diff(lambda v: _mp_loglik(v, q, g, x, m), mp.mpf(p)),
        mp.diff(lambda v: _mp_loglik(p, v, g, x, m), mp.mpf(q)),
        mp.diff(lambda v: _mp_loglik(p, q, v, x, m), mp.mpf(g)),
    ]
    # Natural sizes of each derivative's terms (differences of these cancel in float64).
    pp, qq, gm, xx, mm = (mp.mpf(v) for v in point)
    scales = [
        xx * (abs(mp.digamma(pp * xx + qq) - mp.digamma(pp * xx)) + abs(mp.log1p(gm / (xx * mm)))),
        abs(mp.digamma(pp * xx + qq)) + abs(mp.digamma(qq)) + abs(mp.log1p(xx * mm / gm)),
        qq / gm + (pp * xx + qq) / (gm + xx * mm),
    ]
    ours = gg.gradient((p, q, g), [x], [m])
    for k in range(3):
        tol = 1e-12 * float(scales[k]) + 1e-300
        assert abs(ours[k] - float(ref[k])) <= tol, (k, ours[k], float(ref[k]), float(scales[k]))


def test_digamma_difference_matches_mpmath_across_branch():
    mp.mp.dps = 40
    for a in (1e-3, 0.7, 39.9, 40.0, 41.0, 1e3, 1e6, 1e12):
        for b in (1e-4, 0.3, 3.74, 1e3, 1e8):
            ref = mp.digamma(mp.mpf(a) + mp.mpf(b)) - mp.digamma(mp.mpf(a))
            ours = gg._digamma_difference(a, b)
            # scipy branch: round-off of digamma values of size ~log(a + b)
            tol = 2e-15 * (abs(float(mp.digamma(a + b))) + abs(float(mp.digamma(a))) + 1)
            if a >= 40:  # asymptotic branch: accurate relative to the difference itself
                tol = 1e-13 * abs(float(ref))
            assert abs(ours - float(ref)) <= tol, (a, b, ours, float(ref))


def test_log_beta_matches_mpmath_where_scipy_betaln_drifts():
    mp.mp.dps = 40
    for a in (0.3, 39.0, 40.0, 1e3, 1.47e5, 1e7, 1e10):
        for b in (1e-4, 0.47, 3.7, 39.0, 1e3, 1e7):
            ref = mp.log(mp.beta(mp.mpf(a), mp.mpf(b)))
            assert float(gg._log_beta(a, b)) == pytest.approx(float(ref), rel=1e-14, abs=1e-13)


def test_gradient_matches_central_finite_differences_with_weights():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 20, 60).astype(float)
    m = rng.gamma(3.0, 10.0, 60)
    w = rng.integers(1, 5, 60)
    params = np.array([2.3, 4.1, 12.0])
    grad = gg.gradient(params, x, m, weights=w)
    for k in range(3):
        h = 1e-6 * params[k]
        up, dn = params.copy(), params.copy()
        up[k] += h
        dn[k] -= h
        fd = (gg.log_likelihood(up, x, m, w) - gg.log_likelihood(dn, x, m, w)) / (2 * h)
        assert grad[k] == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_log_likelihood_weights_equal_repeated_rows():
    x = np.array([1, 2, 5])
    m = np.array([10.0, 22.0, 31.0])
    w = np.array([3, 1, 2])
    params = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    rep_x, rep_m = np.repeat(x, w), np.repeat(m, w)
    assert gg.log_likelihood(params, x, m, w) == pytest.approx(
        gg.log_likelihood(params, rep_x, rep_m), rel=1e-14)
    np.testing.assert_allclose(gg.gradient(params, x, m, w), gg.gradient(params, rep_x, rep_m),
                               rtol=1e-13)


def test_density_integrates_to_one():
    """The marginal density of mbar (eq. 3) is a density: it integrates to 1 over mbar > 0."""
    from scipy import integrate

    for x in (1, 4):
        total, _ = integrate.quad(
            lambda mbar, x=x: np.exp(
                gg.individual_log_likelihood((6.25, 3.74, 15.44), [x], [mbar])[0]),
            0, np.inf, limit=200)
        assert total == pytest.approx(1.0, abs=1e-8)


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
def _mc_posterior_mean_spend(p, q, g, x, m, n_draws, rng):
    """E[p / nu | x, mbar] by importance sampling from the prior nu ~ Gamma(q, rate g),
    weighting each draw by the likelihood of mbar ~ Gamma(p x, rate x nu): no conjugacy used."""
    from scipy import stats

    nu = rng.gamma(q, 1.0 / g, n_draws)
    logw = stats.gamma.logpdf(m, a=p * x, scale=1.0 / (x * nu))
    w = np.exp(logw - logw.max())
    vals = p / nu
    est = np.sum(w * vals) / np.sum(w)
    # delta-method standard error of the self-normalised estimator
    se = np.sqrt(np.sum(w**2 * (vals - est) ** 2)) / np.sum(w)
    return est, se


@pytest.mark.parametrize(("x", "m"), [(1, 20.0), (3, 35.0), (10, 12.5), (2, 150.0)])
def test_expected_spend_matches_monte_carlo_posterior_mean(x, m):
    p, q, g = 6.25, 3.74, 15.44
    est, se = _mc_posterior_mean_spend(p, q, g, x, m, 400_000, np.random.default_rng(x))
    ours = gg.expected_spend((p, q, g), [x], [m])[0]
    assert abs(ours - est) <= 4 * se + 1e-9, (ours, est, se)


def test_expected_spend_is_weighted_mean_and_population_mean_for_zero_frequency():
    p, q, g = 6.25, 3.74, 15.44
    pop = p * g / (q - 1)  # Fader & Hardie (2013), E[Z] for a random customer
    assert gg.population_mean_spend((p, q, g)) == pytest.approx(pop, rel=1e-15)
    out = gg.expected_spend((p, q, g), [0, 2], [0.0, 50.0])
    weight = p * 2 / (p * 2 + q - 1)
    assert out[0] == pytest.approx(pop, rel=1e-15)
    assert out[1] == pytest.approx((1 - weight) * pop + weight * 50.0, rel=1e-14)


def test_population_mean_spend_matches_monte_carlo():
    p, q, g = 6.25, 3.74, 15.44
    rng = np.random.default_rng(3)
    nu = rng.gamma(q, 1 / g, 2_000_000)
    z = rng.gamma(p, 1 / nu)
    se = z.std() / np.sqrt(z.size)
    assert abs(gg.population_mean_spend((p, q, g)) - z.mean()) <= 4 * se


def test_expected_spend_refuses_infinite_expectation_and_warns_when_q_le_1():
    with pytest.raises(InvalidParameterError, match="q <= 1"):
        gg.population_mean_spend((2.0, 0.8, 10.0))
    with pytest.raises(InvalidParameterError, match="p x \\+ q <= 1"):
        gg.expected_spend((2.0, 0.8, 10.0), [0, 1], [0.0, 10.0])
    with pytest.warns(StatisticalWarning, match="no finite mean"):
        out = gg.expected_spend((2.0, 0.8, 10.0), [1, 2], [10.0, 5.0])
    assert np.all(np.isfinite(out))


def test_bad_inputs_are_refused_with_a_diagnosis():
    with pytest.raises(InvalidParameterError, match="> 0"):
        gg.log_likelihood((-1.0, 2.0, 3.0), [1], [10.0])
    with pytest.raises(InvalidParameterError, match="3 parameters"):
        gg.log_likelihood((1.0, 2.0), [1], [10.0])
    with pytest.raises(InvalidSummaryError, match="frequency=0"):
        gg.log_likelihood((1.0, 2.0, 3.0), [1, 0], [10.0, 5.0])
    with pytest.raises(InvalidSummaryError, match="monetary_value=-5"):
        gg.gradient((1.0, 2.0, 3.0), [1, 2], [10.0, -5.0])
    with pytest.raises(InvalidSummaryError, match="non-finite"):
        gg.expected_spend((1.0, 2.0, 3.0), [1, 2], [10.0, np.nan])


# ---------------------------------------------------------------------------
# the lifetimes peer
# ---------------------------------------------------------------------------
@pytest.mark.peers
def test_log_likelihood_and_expected_spend_match_lifetimes_at_same_params():
    lifetimes = pytest.importorskip("lifetimes")
    rng = np.random.default_rng(11)
    x = rng.integers(1, 30, 200).astype(float)
    m = rng.gamma(4.0, 8.0, 200)
    params = np.array([6.25, 3.74, 15.44])
    w = np.ones_like(x)
    # lifetimes' objective is the mean negative log-likelihood (penalizer 0)
    theirs = -lifetimes.GammaGammaFitter._negative_log_likelihood(np.log(params), x, m, w, 0.0)
    assert gg.log_likelihood(params, x, m) / x.size == pytest.approx(theirs, rel=1e-12)
    fitter = lifetimes.GammaGammaFitter()
    import pandas as pd

    fitter.params_ = pd.Series(params, index=["p", "q", "v"])
    np.testing.assert_allclose(gg.expected_spend(params, x, m),
                               fitter.conditional_expected_average_profit(x, m), rtol=1e-12)


# ---------------------------------------------------------------------------
# independence diagnostic
# ---------------------------------------------------------------------------
def test_independence_check_matches_scipy_and_flags_dependence():
    from scipy import stats

    rng = np.random.default_rng(5)
    x = rng.integers(1, 20, 500).astype(float)
    m = 10 + 3 * x + rng.normal(0, 5, 500)  # strongly dependent
    res = gg.independence_check(x, m)
    ref = stats.pearsonr(x, m)
    assert res["correlation"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res["p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert res["violated"]
    res_s = gg.independence_check(x, m, method="spearman")
    assert res_s["correlation"] == pytest.approx(stats.spearmanr(x, m).statistic, rel=1e-12)
    indep = gg.independence_check(x, rng.gamma(3, 10, 500))
    assert not indep["violated"]
