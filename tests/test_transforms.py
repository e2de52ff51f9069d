"""Per-parameter transforms of the fitting engine (log, identity, logit), against closed forms.

Truth is independent of the engine: the normal MLE (mean, root mean squared
deviation) and its inverse Fisher information ``diag(sigma^2 / n, sigma^2 /
(2n))``; the Wald z and p from scipy.stats; finite differences of the inverse
transforms for the Jacobian; a finite-difference Hessian on the *natural*
scale (at an unpenalised optimum the covariance does not depend on the
parametrisation); Nelder-Mead on the natural scale for a zero-inflated Poisson
whose zero-inflation probability is logit-transformed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit, gammaln

from clvmodels.errors import InvalidParameterError
from clvmodels.models._base import BaseModel
from clvmodels.models._fit import (
    IDENTITY,
    LOG,
    LOGIT,
    fit_maximum_likelihood,
    get_transform,
    summary_table,
)
from clvmodels.models.uncertainty import draw_parameters


# --------------------------------------------------------------------------- the transforms
@pytest.mark.parametrize("transform,theta", [
    (LOG, np.array([1e-6, 0.3, 1.0, 250.0])),
    (IDENTITY, np.array([-40.0, -0.2, 0.0, 3.5])),
    (LOGIT, np.array([1e-6, 0.1, 0.5, 0.999])),
])
def test_each_transform_inverts_and_its_derivative_is_the_finite_difference(transform, theta):
    x = transform.forward(theta)
    np.testing.assert_allclose(transform.inverse(x), theta, rtol=1e-12, atol=1e-300)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    fd = (transform.inverse(x + h) - transform.inverse(x - h)) / (2 * h)
    np.testing.assert_allclose(transform.derivative(x), fd, rtol=1e-6)
    np.testing.assert_allclose(transform.derivative_at(theta), fd, rtol=1e-6)
    assert np.all(transform.in_domain(theta))


def test_domains_and_names():
    assert get_transform("log") is LOG and get_transform("identity") is IDENTITY
    assert get_transform(LOGIT) is LOGIT
    assert not LOG.in_domain(np.float64(0.0)) and not LOGIT.in_domain(np.float64(1.0))
    assert IDENTITY.in_domain(np.float64(-5.0)) and not IDENTITY.in_domain(np.float64(np.nan))
    with pytest.raises(InvalidParameterError, match="unknown parameter transform"):
        get_transform("probit")


# --------------------------------------------------------------------------- a real parameter
def normal_loglik(params, y, weights):
    """N(mu, sigma^2): mu real, sigma positive."""
    mu, sigma = params
    z = (y - mu) / sigma
    ll = weights @ (-0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi))
    return float(ll), np.array([weights @ (z / sigma), weights @ ((z**2 - 1) / sigma)])


@pytest.fixture(scope="module")
def normal_fit():
    y = np.random.default_rng(5).normal(-0.4, 2.0, 400)
    result = fit_maximum_likelihood(normal_loglik, (y,), ("mu", "sigma"),
                                    [np.array([0.0, 1.0])], transforms=["identity", "log"])
    return y, result


def test_a_real_parameter_is_fitted_on_its_own_scale_to_the_closed_form(normal_fit):
    y, result = normal_fit
    n = y.size
    mu, sigma = y.mean(), np.sqrt(np.mean((y - y.mean()) ** 2))
    assert result.converged and result.transforms == (IDENTITY, LOG)
    np.testing.assert_allclose(result.params, [mu, sigma], rtol=1e-7)
    assert result.params[0] < 0  # a negative estimate: impossible on the log scale
    # inverse Fisher information of the normal at the MLE
    np.testing.assert_allclose(result.covariance, np.diag([sigma**2 / n, sigma**2 / (2 * n)]),
                               rtol=1e-5, atol=1e-9)
    # transformed scale: mu itself, log(sigma) with variance 1 / (2n)
    np.testing.assert_allclose(np.diag(result.covariance_transformed),
                               [sigma**2 / n, 1 / (2 * n)], rtol=1e-5)


def test_wald_z_and_p_of_a_real_parameter(normal_fit):
    _, result = normal_fit
    table = summary_table(result.param_names, result.params, result.covariance,
                          result.covariance_transformed, transforms=result.transforms, alpha=0.1)
    est, se = table.loc["mu", "estimate"], table.loc["mu", "std_error"]
    assert se == pytest.approx(np.sqrt(result.covariance[0, 0]), rel=1e-14)
    assert table.loc["mu", "z_value"] == pytest.approx(est / se, rel=1e-14)
    assert table.loc["mu", "p_value"] == pytest.approx(
        2 * (1 - stats.norm.cdf(abs(est / se))), rel=1e-10)
    q = stats.norm.ppf(0.95)
    assert table.loc["mu", "ci_lower"] == pytest.approx(est - q * se, rel=1e-12)
    assert table.loc["mu", "ci_upper"] == pytest.approx(est + q * se, rel=1e-12)
    # the positive parameter keeps its log-scale interval and has no test of zero
    sigma, se_log = result.params[1], np.sqrt(result.covariance_transformed[1, 1])
    assert table.loc["sigma", "ci_lower"] == pytest.approx(sigma * np.exp(-q * se_log))
    assert np.isnan(table.loc["sigma", "z_value"]) and np.isnan(table.loc["sigma", "p_value"])


def test_models_without_real_parameters_keep_their_columns():
    table = summary_table(["r"], np.array([2.0]), np.array([[0.04]]), np.array([[0.01]]))
    assert list(table.columns) == ["estimate", "std_error", "ci_lower", "ci_upper"]


def test_the_penalizer_acts_on_the_transformed_scale():
    """Penalised optimum: d/dmu [-mean LL + c (mu^2 + log(sigma)^2)] = 0 gives
    mu = ybar / (1 + 2 c sigma^2) at the fitted sigma (a ridge on mu itself)."""
    y = np.random.default_rng(2).normal(1.5, 1.0, 300)
    c = 0.05
    result = fit_maximum_likelihood(normal_loglik, (y,), ("mu", "sigma"), [np.array([0.0, 1.0])],
                                    transforms=["identity", "log"], penalizer=c)
    mu, sigma = result.params
    assert mu == pytest.approx(y.mean() / (1 + 2 * c * sigma**2), rel=1e-6)
    assert mu < y.mean()


def test_draws_of_a_real_parameter_are_normal_on_its_own_scale(normal_fit):
    y, result = normal_fit

    class Normal(BaseModel):
        _param_names = ("mu", "sigma")
        _param_transforms = {"mu": "identity"}
        _data_columns = ("y",)

    model = Normal()
    model._set_fit_result(result)
    draws = draw_parameters(model, 20_000, random_state=1)
    se = np.sqrt(np.diag(result.covariance_transformed))
    assert result.params[0] < 0 and np.mean(draws[:, 0] < 0) > 0.9  # drawn as is, not via exp
    np.testing.assert_allclose(draws[:, 0].mean(), result.params[0], atol=4 * se[0] / 141)
    np.testing.assert_allclose(draws[:, 0].std(), se[0], rtol=0.03)
    np.testing.assert_allclose(np.log(draws[:, 1]).std(), se[1], rtol=0.03)


# --------------------------------------------------------------------------- a probability
def zip_loglik(params, y, weights):
    """Zero-inflated Poisson: with probability p a customer buys ~ Poisson(rate), else never."""
    p, rate = params
    zero = y == 0
    e = np.exp(-rate)
    l0 = np.log1p(-p + p * e)
    rows = np.where(zero, l0, np.log(p) + y * np.log(rate) - rate - gammaln(y + 1))
    d_p = np.where(zero, (e - 1) / (1 - p + p * e), 1 / p)
    d_rate = np.where(zero, -p * e / (1 - p + p * e), y / rate - 1)
    return float(weights @ rows), np.array([weights @ d_p, weights @ d_rate])


class ZeroInflatedPoisson(BaseModel):
    """A tiny model with a probability parameter (logit) and a rate (log)."""

    _param_names = ("p", "rate")
    _param_transforms = {"p": "logit"}
    _data_columns = ("y",)
    _integer_columns = ("y",)
    _loglik_and_gradient = staticmethod(zip_loglik)

    def _start_values(self, y, weights):
        return [np.array([0.5, max(float(np.mean(y)), 0.1)])]


@pytest.fixture(scope="module")
def zip_fit():
    rng = np.random.default_rng(4)
    n = 100
    active = rng.random(n) < 0.95
    y = np.where(active, rng.poisson(2.0, n), 0)
    return y, ZeroInflatedPoisson().fit(y=y)


def test_a_probability_is_fitted_and_matches_a_natural_scale_optimizer(zip_fit):
    y, model = zip_fit

    def nll(theta):
        if not (0 < theta[0] < 1 and theta[1] > 0):
            return np.inf
        return -zip_loglik(theta, y, np.ones(y.size))[0]

    ref = optimize.minimize(nll, [0.8, 0.5], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    np.testing.assert_allclose(model.params_.to_numpy(), ref.x, rtol=1e-5)
    assert model.fit_result_.transforms == (LOGIT, LOG)


def test_natural_covariance_is_the_jacobian_sandwich_and_the_natural_hessian_inverse(zip_fit):
    y, model = zip_fit
    result = model.fit_result_
    x_hat = np.array([LOGIT.forward(result.params[0]), LOG.forward(result.params[1])])
    # J from finite differences of the inverse transforms, not from the engine
    inverses = (expit, np.exp)
    h = 1e-6
    jac = np.diag([(f(x + h) - f(x - h)) / (2 * h) for f, x in zip(inverses, x_hat,
                                                                       strict=True)])
    V = result.covariance_transformed
    np.testing.assert_allclose(result.covariance, jac @ V @ jac.T, rtol=1e-7)
    pd.testing.assert_frame_equal(model.covariance_, pd.DataFrame(
        result.covariance, index=["p", "rate"], columns=["p", "rate"]))
    # at an unpenalised optimum the natural-scale covariance is the inverse of the
    # natural-scale Hessian of -LL (finite differences of the analytic gradient)
    w = np.ones(y.size)

    def grad(theta):
        return -zip_loglik(theta, y, w)[1]

    theta = result.params
    H = np.column_stack([(grad(theta + e) - grad(theta - e)) / (2 * np.linalg.norm(e))
                         for e in np.diag(1e-6 * theta)])
    np.testing.assert_allclose(result.covariance, np.linalg.inv(0.5 * (H + H.T)), rtol=1e-4)


def test_a_probability_has_logit_intervals_inside_zero_one(zip_fit):
    _, model = zip_fit
    table = model.summary()
    p, se = table.loc["p", "estimate"], table.loc["p", "std_error"]
    q = stats.norm.ppf(0.975)
    assert p + q * se > 1  # a Wald interval would leave (0, 1) here
    assert 0 < table.loc["p", "ci_lower"] < p < table.loc["p", "ci_upper"] < 1
    se_x = np.sqrt(model._covariance_log[0, 0])
    logit = np.log(p / (1 - p))
    assert table.loc["p", "ci_lower"] == pytest.approx(expit(logit - q * se_x), rel=1e-12)
    assert table.loc["p", "ci_upper"] == pytest.approx(expit(logit + q * se_x), rel=1e-12)
    assert "z_value" not in table.columns  # no real-valued parameter in this model
    draws = draw_parameters(model, 5000, random_state=0)
    assert np.all((draws[:, 0] > 0) & (draws[:, 0] < 1))
    text = model.summary_text()  # a model outside the registry is titled by its class
    assert text.splitlines()[0].strip() == "ZeroInflatedPoisson results"
    assert "p: intervals on the logit scale (inside (0, 1))." in text
    assert f"{table.loc['p', 'ci_upper']:.6g}" in text


def test_given_parameters_are_checked_against_their_domains():
    model = ZeroInflatedPoisson.from_params(p=0.3, rate=2.0)
    assert model.params_["p"] == 0.3 and model.converged_ is None
    with pytest.raises(InvalidParameterError, match=r"parameter p must be finite and in \(0, 1\)"):
        ZeroInflatedPoisson.from_params(p=1.5, rate=2.0)
    with pytest.raises(InvalidParameterError, match="start values"):
        fit_maximum_likelihood(zip_loglik, (np.array([0.0, 1.0]),), ("p", "rate"),
                               [np.array([1.2, 1.0])], transforms=["logit", "log"])
