"""The shared maximum-likelihood machinery (clvmodels.models._fit) against closed forms.

Truth comes from textbook results, not from our own outputs: the exponential
MLE 1/mean with variance rate^2/n, the gamma MLE of scipy.stats.gamma.fit and
its inverse Fisher information (full 2x2 matrix, which checks the delta
method's off-diagonal terms).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma, polygamma

from clvmodels.errors import ConvergenceWarning, HessianWarning, InvalidParameterError
from clvmodels.models._fit import (
    compress,
    covariance_from_hessian,
    fit_maximum_likelihood,
    hessian_log_scale,
    summary_table,
)


def exponential_loglik(params, y, weights):
    (rate,) = params
    return float(weights @ (np.log(rate) - rate * y)), np.array([weights @ (1 / rate - y)])


def gamma_loglik(params, y, weights):
    shape, rate = params
    rows = stats.gamma.logpdf(y, shape, scale=1 / rate)
    d_shape = np.log(rate) - digamma(shape) + np.log(y)
    d_rate = shape / rate - y
    return float(weights @ rows), np.array([weights @ d_shape, weights @ d_rate])


# --------------------------------------------------------------------- compress
def test_compress_counts_inverse_and_order():
    a = np.array([2, 0, 2, 1, 0, 2])
    b = np.array([1.5, 0.0, 1.5, 3.0, 0.0, 0.5])
    c = compress([a, b])
    assert c.columns[0].tolist() == [0, 1, 2, 2]
    assert c.columns[1].tolist() == [0.0, 3.0, 0.5, 1.5]  # lexicographic
    assert c.weights.tolist() == [2, 1, 1, 2]
    np.testing.assert_array_equal(c.columns[0][c.inverse], a)
    np.testing.assert_array_equal(c.columns[1][c.inverse], b)


def test_compress_weights_multiply_in():
    a = np.array([1, 1, 0])
    c = compress([a], weights=np.array([2.0, 3.0, 0.5]))
    assert c.weights.tolist() == [0.5, 5.0]


def test_compress_rejects_unequal_lengths():
    with pytest.raises(InvalidParameterError, match="different lengths"):
        compress([np.zeros(3), np.zeros(2)])


# --------------------------------------------------------------- closed forms
def test_exponential_mle_and_standard_error():
    rng = np.random.default_rng(0)
    y = rng.exponential(2.0, size=500)
    result = fit_maximum_likelihood(exponential_loglik, (y,), ("rate",), [np.array([1.0])])
    rate = 1 / y.mean()
    assert result.converged
    np.testing.assert_allclose(result.params[0], rate, rtol=1e-10)
    # Fisher information n / rate^2
    np.testing.assert_allclose(result.covariance[0, 0], rate**2 / y.size, rtol=1e-6)
    np.testing.assert_allclose(result.covariance_log[0, 0], 1 / y.size, rtol=1e-6)
    np.testing.assert_allclose(result.log_likelihood, y.size * (np.log(rate) - 1), rtol=1e-12)
    assert result.n_unique == y.size and result.n_observations == y.size


def test_gamma_mle_and_full_covariance_matrix():
    rng = np.random.default_rng(1)
    y = rng.gamma(3.0, 1 / 2.0, size=2000)
    result = fit_maximum_likelihood(gamma_loglik, (y,), ("shape", "rate"), [np.ones(2)])
    shape_ref, _, scale_ref = stats.gamma.fit(y, floc=0, method="MLE")
    # scipy's own optimiser stops near 1e-6 relative; the closed-form score equation is exact:
    np.testing.assert_allclose(result.params, [shape_ref, 1 / scale_ref], rtol=1e-4)
    shape, rate = result.params
    assert abs(np.log(shape) - digamma(shape) - np.log(y.mean()) + np.mean(np.log(y))) < 1e-10
    np.testing.assert_allclose(rate, shape / y.mean(), rtol=1e-10)
    fisher = y.size * np.array([[polygamma(1, shape), -1 / rate], [-1 / rate, shape / rate**2]])
    expected = np.linalg.inv(fisher)  # the observed information equals it for the gamma MLE
    np.testing.assert_allclose(result.covariance, expected, rtol=1e-6)
    # the off-diagonal term is where an elementwise delta method goes wrong
    assert result.covariance[0, 1] > 0
    np.testing.assert_allclose(result.covariance, result.covariance.T, rtol=0, atol=0)


def test_weights_equal_repeated_rows():
    rng = np.random.default_rng(2)
    y = np.round(rng.gamma(2.0, 1.0, size=300), 1) + 0.05
    expanded = fit_maximum_likelihood(gamma_loglik, (y,), ("shape", "rate"), [np.ones(2)])
    values, counts = np.unique(y, return_counts=True)
    weighted = fit_maximum_likelihood(
        gamma_loglik, (values,), ("shape", "rate"), [np.ones(2)], weights=counts
    )
    np.testing.assert_array_equal(expanded.params, weighted.params)
    assert expanded.log_likelihood == weighted.log_likelihood
    assert expanded.n_unique == weighted.n_unique == values.size


def test_penalizer_shrinks_toward_one_and_reports_unpenalised_loglik():
    y = np.random.default_rng(3).exponential(1 / 5.0, size=50)
    plain = fit_maximum_likelihood(exponential_loglik, (y,), ("rate",), [np.ones(1)])
    shrunk = fit_maximum_likelihood(
        exponential_loglik, (y,), ("rate",), [np.ones(1)], penalizer=0.5
    )
    assert 1 < shrunk.params[0] < plain.params[0]
    # stationary point of -mean LL + 0.5 log(rate)^2 in x = log(rate): 1 - rate mean(y) - x = 0
    rate = shrunk.params[0]
    assert abs(1 - rate * y.mean() - np.log(rate)) < 1e-9
    ll, _ = exponential_loglik(shrunk.params, y, np.ones_like(y))
    assert shrunk.log_likelihood == pytest.approx(ll, rel=1e-14)
    assert plain.log_likelihood > shrunk.log_likelihood


def test_best_of_several_starts_is_kept():
    y = np.random.default_rng(4).gamma(0.5, 3.0, size=400)
    starts = [np.array([50.0, 50.0]), np.array([1.0, 1.0]), np.array([0.01, 100.0])]
    result = fit_maximum_likelihood(gamma_loglik, (y,), ("shape", "rate"), starts)
    assert result.n_starts == 3 and len(result.start_log_likelihoods) == 3
    assert result.log_likelihood >= max(result.start_log_likelihoods) - 1e-8


# ------------------------------------------------------------------ diagnoses
def test_parameter_at_bound_warns_and_names_it():
    y = np.zeros(20)  # exponential data all 0: the rate MLE is infinite
    with pytest.warns(ConvergenceWarning, match=r"rate=.*bound"):
        result = fit_maximum_likelihood(exponential_loglik, (y,), ("rate",), [np.ones(1)])
    assert not result.converged
    assert result.at_bound == ["rate"]
    assert np.isnan(result.covariance).all()


def test_unidentified_parameters_give_hessian_warning_not_pseudo_inverse():
    y = np.random.default_rng(5).exponential(0.5, size=100)

    def product_loglik(params, y, weights):
        a, b = params  # only a*b is identified
        rate = a * b
        ll, g = exponential_loglik([rate], y, weights)
        return ll, np.array([g[0] * b, g[0] * a])

    with pytest.warns(HessianWarning, match="not positive definite") as record:
        result = fit_maximum_likelihood(product_loglik, (y,), ("a", "b"), [np.ones(2)])
    assert "log(a)" in str(record[0].message) and "log(b)" in str(record[0].message)
    assert not result.hessian_ok
    assert np.isnan(result.covariance).all()
    np.testing.assert_allclose(np.prod(result.params), 1 / y.mean(), rtol=1e-8)


def test_covariance_from_hessian_rejects_indefinite_and_nonfinite():
    with pytest.warns(HessianWarning):
        cov, _, ok = covariance_from_hessian(np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones(2), "ab")
    assert not ok and np.isnan(cov).all()
    with pytest.warns(HessianWarning, match="non-finite"):
        cov, _, ok = covariance_from_hessian(np.array([[np.nan, 0], [0, 1.0]]), np.ones(2), "ab")
    assert not ok


def test_delta_method_is_the_full_matrix():
    h = np.array([[4.0, 1.0], [1.0, 2.0]])
    theta = np.array([2.0, 5.0])
    cov, cov_log, ok = covariance_from_hessian(h, theta, "ab")
    v = np.linalg.inv(h)
    np.testing.assert_allclose(cov_log, v, rtol=1e-14)
    np.testing.assert_allclose(cov, np.diag(theta) @ v @ np.diag(theta), rtol=1e-14)


def test_hessian_of_known_function():
    def grad(x):  # f = exp(x0) + x0 x1^2
        return np.array([np.exp(x[0]) + x[1] ** 2, 2 * x[0] * x[1]])

    x = np.array([0.3, -1.2])
    expected = np.array([[np.exp(0.3), 2 * -1.2], [2 * -1.2, 2 * 0.3]])
    np.testing.assert_allclose(hessian_log_scale(grad, x), expected, rtol=1e-8)


def test_summary_table_log_scale_interval():
    table = summary_table(["r"], np.array([2.0]), np.array([[0.04]]), np.array([[0.01]]))
    z = stats.norm.ppf(0.975)
    assert table.loc["r", "ci_lower"] == pytest.approx(2 * np.exp(-z * 0.1))
    assert table.loc["r", "ci_upper"] == pytest.approx(2 * np.exp(z * 0.1))
    with pytest.raises(InvalidParameterError):
        summary_table(["r"], np.ones(1), np.ones((1, 1)), np.ones((1, 1)), alpha=1.5)


def test_bad_start_and_penalizer_are_refused():
    y = np.ones(3)
    with pytest.raises(InvalidParameterError, match="start values"):
        fit_maximum_likelihood(exponential_loglik, (y,), ("rate",), [np.array([-1.0])])
    with pytest.raises(InvalidParameterError, match="penalizer"):
        fit_maximum_likelihood(exponential_loglik, (y,), ("rate",), [np.ones(1)], penalizer=-1)


def test_likelihood_undefined_everywhere_is_an_error_not_a_silent_result():
    y = np.array([0.0, 1.0, 2.0])  # log(0) in the gamma score: not finite for any parameter

    def broken(params, y, weights):
        return float("nan"), np.full(2, np.nan)

    with pytest.raises(InvalidParameterError, match="not finite"):
        fit_maximum_likelihood(broken, (y,), ("shape", "rate"), [np.ones(2)])


def test_no_warning_on_a_clean_fit():
    y = np.random.default_rng(6).exponential(1.0, size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_maximum_likelihood(exponential_loglik, (y,), ("rate",), [np.ones(1)])


def test_fit_skips_compression_only_when_rows_are_nearly_all_distinct():
    """A large continuous sample is fitted row by row (compressing would not pay); the
    estimates equal those of the compressed path, and data with repeats still compress."""
    from clvmodels.models import _fit
    from clvmodels.models.gamma_gamma import GammaGamma

    rng = np.random.default_rng(3)
    n = 250_000
    x = rng.integers(1, 20, n).astype(float)
    m = rng.gamma(6.0, 1.0 / rng.gamma(3.7, 1 / 15.4, n)) + 1.0
    assert _fit._mostly_distinct([x, m])
    assert not _fit._mostly_distinct([x, np.round(m)])
    # every row twice, sorted so that repeats sit next to each other: still detected
    twice = np.sort(np.repeat(m[: n // 2], 2))
    assert not _fit._mostly_distinct([np.ones_like(twice), twice])
    assert not _fit._mostly_distinct([x[:1000], m[:1000]])  # small data always compress

    direct = GammaGamma().fit(frequency=x, monetary_value=m)
    assert direct.fit_info_["n_unique_rows"] == n
    old = _fit._SAMPLE_CHECK_ROWS
    try:
        _fit._SAMPLE_CHECK_ROWS = 10**12  # force the compressed path
        packed = GammaGamma().fit(frequency=x, monetary_value=m)
    finally:
        _fit._SAMPLE_CHECK_ROWS = old
    np.testing.assert_allclose(direct.params_, packed.params_, rtol=1e-7)
    assert direct.log_likelihood_ == pytest.approx(packed.log_likelihood_, rel=1e-12)
