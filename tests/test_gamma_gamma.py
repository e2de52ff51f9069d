"""Gamma-Gamma spend model: maths against mpmath, Monte Carlo and lifetimes; fits against
Fader & Hardie (2013) and simulation."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
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


def test_sorted_and_shuffled_rows_give_the_same_likelihood():
    """The kernel groups rows by distinct frequency: any row order gives the sum of the row
    log-densities (and the same gradient)."""
    rng = np.random.default_rng(8)
    x = np.sort(rng.integers(1, 40, 500)).astype(float)
    m = rng.gamma(3.0, 10.0, 500)
    w = rng.integers(1, 4, 500).astype(float)
    params = (3.1, 4.2, 20.0)
    perm = rng.permutation(500)
    rows = gg.individual_log_likelihood(params, x, m)
    assert gg.log_likelihood(params, x, m, w) == pytest.approx(np.sum(w * rows), rel=1e-13)
    assert gg.log_likelihood(params, x[perm], m[perm], w[perm]) == pytest.approx(
        np.sum(w * rows), rel=1e-13)
    np.testing.assert_allclose(gg.gradient(params, x[perm], m[perm], w[perm]),
                               gg.gradient(params, x, m, w), rtol=1e-12)


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


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdnow_summary():
    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    return rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end="1997-09-30",
                       observation_end="1998-06-30", time_unit="W")


@pytest.fixture(scope="module")
def cdnow_repeat(cdnow_summary):
    return cdnow_summary[cdnow_summary["frequency"] > 0]


@pytest.fixture(scope="module")
def cdnow_fit(cdnow_repeat):
    from clvmodels.models.gamma_gamma import GammaGamma

    return GammaGamma().fit(cdnow_repeat)


def test_cdnow_fit_reproduces_fader_hardie_2013(cdnow_fit, cdnow_repeat):
    assert len(cdnow_repeat) == 946
    assert cdnow_fit.n_customers_ == 946
    assert cdnow_fit.converged_
    # published to 3 significant figures: equal after rounding to the printed precision
    assert round(cdnow_fit.params_["p"], 2) == PUBLISHED_CDNOW["p"]
    assert round(cdnow_fit.params_["q"], 2) == PUBLISHED_CDNOW["q"]
    assert round(cdnow_fit.params_["gamma"], 2) == PUBLISHED_CDNOW["gamma"]
    table = cdnow_fit.summary()
    assert list(table.index) == ["p", "q", "gamma"]
    assert np.all(table["std_error"] > 0)
    # the log-likelihood is the maximum: the published point is (slightly) worse
    x, m = cdnow_repeat["frequency"], cdnow_repeat["monetary_value"]
    assert cdnow_fit.log_likelihood_ >= gg.log_likelihood(PUBLISHED_CDNOW, x, m)
    assert cdnow_fit.log_likelihood_ == pytest.approx(
        gg.log_likelihood(cdnow_fit.params_, x, m), rel=1e-14)


def test_cdnow_independence_diagnostic_matches_the_note(cdnow_fit):
    # Fader & Hardie (2013) report a correlation of 0.11 between frequency and mean spend
    res = cdnow_fit.independence_
    assert round(res["correlation"], 2) == 0.11
    assert res["n_customers"] == 946
    assert not res["violated"]


@pytest.mark.peers
def test_cdnow_fit_agrees_with_lifetimes(cdnow_fit, cdnow_repeat, cdnow_summary):
    lifetimes = pytest.importorskip("lifetimes")
    ggf = lifetimes.GammaGammaFitter().fit(cdnow_repeat["frequency"],
                                           cdnow_repeat["monetary_value"])
    theirs = ggf.params_[["p", "q", "v"]].to_numpy()
    np.testing.assert_allclose(cdnow_fit.params_.to_numpy(), theirs, rtol=1e-6)
    # conditional expected spend at the same parameters, for all 2,357 customers
    ours = cdnow_fit.expected_spend(cdnow_summary)
    ggf.params_ = pd.Series(cdnow_fit.params_.to_numpy(), index=["p", "q", "v"])
    ref = ggf.conditional_expected_average_profit(cdnow_summary["frequency"],
                                                  cdnow_summary["monetary_value"])
    np.testing.assert_allclose(ours.to_numpy(), np.asarray(ref, dtype=float), rtol=1e-6)
    assert ours.index.equals(cdnow_summary.index)


def test_fit_refuses_rows_without_repeat_spend_and_drops_them_on_request(cdnow_summary):
    from clvmodels.errors import ExcludedCustomersWarning
    from clvmodels.models.gamma_gamma import GammaGamma

    with pytest.raises(InvalidSummaryError, match=r"1411 of 2357 rows.*customer_id 3: "
                                                  r"frequency=0.*drop_invalid=True"):
        GammaGamma().fit(cdnow_summary)
    with pytest.warns(ExcludedCustomersWarning, match="left out 1411 of 2357"):
        by_call = GammaGamma().fit(cdnow_summary, drop_invalid=True)
    with pytest.warns(ExcludedCustomersWarning):
        by_param = GammaGamma(drop_invalid=True).fit(cdnow_summary)
    repeat = GammaGamma().fit(cdnow_summary[cdnow_summary["frequency"] > 0])
    np.testing.assert_allclose(by_call.params_, repeat.params_, rtol=1e-10)
    np.testing.assert_allclose(by_param.params_, repeat.params_, rtol=1e-10)
    assert by_call.n_excluded_customers_ == 1411
    bad = pd.DataFrame({"frequency": [2, 3, 1], "monetary_value": [10.0, -4.0, 5.0]})
    with pytest.raises(InvalidSummaryError, match="monetary_value"):
        GammaGamma(drop_invalid=True).fit(bad)  # negative values are errors, not exclusions
    zero = pd.DataFrame({"frequency": [0, 0], "monetary_value": [0.0, 0.0]})
    with pytest.raises(InvalidSummaryError, match="no customer"):
        GammaGamma(drop_invalid=True).fit(zero)


def test_fit_warns_when_spend_depends_on_frequency():
    from clvmodels.models.gamma_gamma import GammaGamma

    rng = np.random.default_rng(2)
    x = rng.integers(1, 15, 3000)
    m = rng.gamma(5.0, (2.0 + x) / 5.0)  # mean spend grows with frequency
    summary = pd.DataFrame({"frequency": x, "monetary_value": m})
    with pytest.warns(StatisticalWarning, match="assumes spend per transaction is independent"):
        model = GammaGamma().fit(summary)
    assert model.independence_["violated"]
    with pytest.warns(StatisticalWarning, match="spearman"):
        res = model.independence_check(summary, method="spearman")
    assert res["method"] == "spearman" and res["violated"]


def test_expected_spend_series_and_population_mean(cdnow_fit, cdnow_summary):
    out = cdnow_fit.expected_spend(cdnow_summary)
    p, q, g = cdnow_fit.params_
    assert out.name == "expected_spend"
    zero = cdnow_summary["frequency"] == 0
    np.testing.assert_allclose(out[zero], p * g / (q - 1), rtol=1e-15)
    assert cdnow_fit.population_mean_spend() == pytest.approx(p * g / (q - 1), rel=1e-15)
    # a daily summary of the same customers gives the same spends (spend has no time unit)
    daily = cdnow_summary.copy()
    daily.attrs = {**cdnow_summary.attrs, "time_unit": "D"}
    np.testing.assert_array_equal(cdnow_fit.expected_spend(daily).to_numpy(), out.to_numpy())
    # a negative mean value is refused; 0 (free repeat purchases) is eq. (5) at mbar = 0
    bad = pd.DataFrame({"frequency": [2], "monetary_value": [-1.0]},
                       index=pd.Index([7], name="id"))
    with pytest.raises(InvalidSummaryError, match="monetary_value=-1"):
        cdnow_fit.expected_spend(bad)


def test_unfitted_model_says_how_to_fix():
    from clvmodels.errors import NotFittedError
    from clvmodels.models.gamma_gamma import GammaGamma

    with pytest.raises(NotFittedError, match="fit"):
        GammaGamma().expected_spend(pd.DataFrame({"frequency": [1], "monetary_value": [3.0]}))
    with pytest.raises(NotFittedError):
        GammaGamma().population_mean_spend()


def test_from_params_clone_and_save_round_trip(tmp_path, cdnow_fit, cdnow_summary):
    from sklearn.base import clone

    from clvmodels.models.gamma_gamma import GammaGamma
    from clvmodels.models.io import load_model

    model = GammaGamma.from_params(**PUBLISHED_CDNOW)
    ref = gg.expected_spend(PUBLISHED_CDNOW, cdnow_summary["frequency"],
                            cdnow_summary["monetary_value"])
    np.testing.assert_allclose(model.expected_spend(cdnow_summary), ref, rtol=1e-15)
    twin = clone(GammaGamma(drop_invalid=True, independence_threshold=0.5))
    assert twin.get_params() == {"penalizer": 0.0, "n_starts": 3, "drop_invalid": True,
                                 "independence_threshold": 0.5}
    path = tmp_path / "gg.json"
    cdnow_fit.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, GammaGamma)
    assert loaded.fit_info_["independence_correlation"] == pytest.approx(0.1139, abs=1e-4)
    assert loaded.fit_info_["n_excluded_customers"] == 0
    np.testing.assert_array_equal(loaded.params_, cdnow_fit.params_)
    np.testing.assert_array_equal(loaded.expected_spend(cdnow_summary),
                                  cdnow_fit.expected_spend(cdnow_summary))


# ---------------------------------------------------------------------------
# recovery from simulation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("p", "q", "gamma", "seed"),
    [(6.25, 3.74, 15.44, 1), (2.0, 6.0, 50.0, 2), (15.0, 2.5, 3.0, 3), (0.8, 12.0, 120.0, 4)],
)
def test_parameter_recovery_within_three_standard_errors(p, q, gamma, seed):
    from clvmodels.data.simulate import simulate_gamma_gamma_spend
    from clvmodels.models.gamma_gamma import GammaGamma

    rng = np.random.default_rng(seed)
    freq = 1 + rng.poisson(2.5, 20_000)
    spend = simulate_gamma_gamma_spend(freq, p, q, gamma, random_state=rng)
    model = GammaGamma().fit(pd.DataFrame({"frequency": freq, "monetary_value": spend}))
    assert model.converged_
    se = np.sqrt(np.diag(model.covariance_.to_numpy()))
    truth = np.array([p, q, gamma])
    z = (model.params_.to_numpy() - truth) / se
    assert np.all(np.abs(z) < 3), dict(zip(gg.PARAM_NAMES, z, strict=True))


def test_density_is_the_beta_prime_law_and_simulator_follows_it():
    """x mbar / gamma = G(p x) / G(q) is beta-prime(p x, q) (ratio of independent gammas), an
    independent closed form for eq. (3); the simulated mean spends follow it (KS test)."""
    from scipy import stats

    from clvmodels.data.simulate import simulate_gamma_gamma_spend

    p, q, g = 6.25, 3.74, 15.44
    for x in (1, 3, 12):
        mbar = np.array([0.5, 8.0, 30.0, 120.0, 900.0])
        ref = stats.betaprime.logpdf(x * mbar / g, p * x, q) + np.log(x / g)
        np.testing.assert_allclose(gg.individual_log_likelihood((p, q, g), np.full(5, x), mbar),
                                   ref, rtol=1e-12)
    draws = simulate_gamma_gamma_spend(np.full(4000, 3), p, q, g, random_state=9)
    assert stats.kstest(3 * draws / g, stats.betaprime(3 * p, q).cdf).pvalue > 0.001


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_weighted_independence_check_equals_scipy_on_repeated_rows(method):
    from scipy import stats

    rng = np.random.default_rng(12)
    x = rng.integers(1, 6, 300).astype(float)  # many ties, as real frequencies have
    m = np.round(rng.gamma(3.0, 10.0, 300) + 2 * x)
    w = rng.integers(1, 5, 300)
    res = gg.independence_check(x, m, method=method, weights=w, threshold=0.1)
    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    ref = fn(np.repeat(x, w), np.repeat(m, w))
    assert res["correlation"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res["p_value"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert res["n_customers"] == w.sum()


def test_fit_with_weights_equals_fit_on_repeated_rows():
    from clvmodels.models.gamma_gamma import GammaGamma

    rng = np.random.default_rng(13)
    x = rng.integers(1, 8, 400)
    m = np.round(rng.gamma(6.0, 5.0, 400), 2)
    w = rng.integers(1, 4, 400)
    weighted = GammaGamma().fit(pd.DataFrame({"frequency": x, "monetary_value": m, "n": w}),
                                weights="n")
    repeated = GammaGamma().fit(pd.DataFrame({"frequency": np.repeat(x, w),
                                              "monetary_value": np.repeat(m, w)}))
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-7)
    assert weighted.n_customers_ == repeated.n_customers_ == w.sum()
    assert weighted.independence_["correlation"] == pytest.approx(
        repeated.independence_["correlation"], rel=1e-12)
