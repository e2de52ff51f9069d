"""Pareto/NBD estimator: published CDNOW estimates, brute-force simulation, the lifetimes peer,
and the estimator contract. (The maths against mpmath are in test_paretonbd_mpmath.py.)"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from clvmodels import rfm_summary
from clvmodels.data._simulate_paretonbd import simulate_paretonbd_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    NotFittedError,
    UnitMismatchError,
)
from clvmodels.models import paretonbd as pnbd
from clvmodels.models.io import load_model
from clvmodels.models.paretonbd import ParetoNBD

# Fader, Hardie & Lee (2005), Marketing Science 24(2), and the CDNOW data README.
PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_LL = -9595.0
CDNOW = tuple(PUBLISHED.values())


@pytest.fixture(scope="module")
def cdnow_summary():
    return rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end="1997-09-30",
                       observation_end="1998-06-30", time_unit="W")


@pytest.fixture(scope="module")
def cdnow_fit(cdnow_summary):
    return ParetoNBD().fit(cdnow_summary)


# ---------------------------------------------------------------------------
# published estimates
# ---------------------------------------------------------------------------
def test_cdnow_fit_reproduces_fader_hardie_lee_2005(cdnow_fit, cdnow_summary):
    assert len(cdnow_summary) == 2357 and cdnow_summary["frequency"].sum() == 2457
    for name, value in PUBLISHED.items():
        assert round(float(cdnow_fit.params_[name]), 3) == value, name
    assert round(cdnow_fit.log_likelihood_, 1) == PUBLISHED_LL
    assert cdnow_fit.converged_
    assert cdnow_fit.n_customers_ == 2357
    table = cdnow_fit.summary()
    assert np.all(np.isfinite(table["std_error"])) and np.all(table["std_error"] > 0)
    assert table.attrs["time_unit"] == "W"


def test_cdnow_fit_is_a_maximum_every_start_agrees(cdnow_fit, cdnow_summary):
    # every start value heads for the same optimum (later starts may stop early once in its basin)
    lls = cdnow_fit.fit_info_["start_log_likelihoods"]
    assert max(lls) - min(lls) < 1e-2
    assert max(lls) <= cdnow_fit.log_likelihood_ + 1e-6
    # and the likelihood at the published (rounded) values is not higher
    data = (cdnow_summary[c] for c in ("frequency", "recency", "T"))
    assert pnbd.log_likelihood(CDNOW, *data) <= cdnow_fit.log_likelihood_


def test_zero_purchase_likelihood_is_the_probability_of_no_purchase():
    """x = 0, t_x = 0: L is P(X(T) = 0) (two different evaluation methods)."""
    T = np.array([1.0, 39.0, 400.0])
    ll = pnbd.log_likelihood_rows(CDNOW, np.zeros(3), np.zeros(3), T)
    assert np.allclose(np.exp(ll), pnbd.probability_of_purchases(CDNOW, 0, T), rtol=1e-12)


# ---------------------------------------------------------------------------
# brute-force simulation of the model's story
# ---------------------------------------------------------------------------
def _simulate_story(n, params, T, horizon, seed):
    """Calibration summary, holdout purchases in (T, T + horizon] and alive-at-T flags."""
    r, alpha, s, beta = params
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    mu = rng.gamma(s, 1 / beta, n)
    death = rng.exponential(1 / mu)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,))
    alive_span = np.minimum(death, T)
    x = rng.poisson(lam * alive_span)
    tx = np.where(x > 0, alive_span * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    holdout = rng.poisson(lam * np.clip(np.minimum(death, T + horizon) - T, 0, None))
    return x, tx, T, holdout, death > T


def test_new_customer_predictions_match_simulation():
    params = (0.8, 6.0, 1.3, 20.0)
    t = 26.0
    n = 200_000
    x = _simulate_story(n, params, t, 0.0, seed=5)[0]
    mean, se = x.mean(), x.std() / np.sqrt(n)
    assert abs(pnbd.expected_purchases_new_customer(params, t) - mean) < 4 * se
    probs = pnbd.probability_of_purchases(params, np.arange(6), t)
    freq = np.bincount(x, minlength=6)[:6] / n
    assert np.all(np.abs(probs - freq) < 4 * np.sqrt(probs * (1 - probs) / n))


def test_conditional_predictions_match_simulation_by_frequency_group():
    """Within groups of customers, mean E[Y|x, t_x, T] ~ mean holdout purchases and mean
    P(alive) ~ the fraction actually alive at T (Bayes calibration of the posterior)."""
    params = (0.553, 10.578, 0.606, 11.669)
    n, horizon = 150_000, 39.0
    T = np.random.default_rng(1).uniform(20, 40, n)
    x, tx, T, holdout, alive = _simulate_story(n, params, T, horizon, seed=2)
    expected = pnbd.expected_purchases(params, x, tx, T, horizon)
    p_alive = pnbd.probability_alive(params, x, tx, T)
    for group in (x == 0, x == 1, (x >= 2) & (x <= 4), x >= 5):
        h = holdout[group]
        assert abs(expected[group].mean() - h.mean()) < 4 * h.std() / np.sqrt(h.size)
        a = alive[group]
        share = a.mean()
        assert abs(p_alive[group].mean() - share) < 4 * np.sqrt(share * (1 - share) / a.size)


def test_probabilities_of_purchases_sum_to_one_and_have_the_right_mean():
    cases = ((CDNOW, 39.0), ((0.553, 10.578, 1.0, 11.669), 78.0), ((2.0, 1.0, 0.5, 3.0), 10.0))
    for params, t in cases:
        n = np.arange(4000)
        probs = pnbd.probability_of_purchases(params, n, t)
        assert np.all(probs >= 0)
        assert abs(probs.sum() - 1.0) < 1e-10
        # the mean of the distribution is E[X(t)] (computed by a different formula)
        assert abs(probs @ n / pnbd.expected_purchases_new_customer(params, t) - 1) < 1e-9


def test_dert_is_below_undiscounted_residual_and_decreases_with_the_rate():
    params = (0.553, 10.578, 3.0, 11.669)  # s > 1: finite undiscounted residual lifetime
    x, tx, T = np.array([0, 2, 7]), np.array([0.0, 30.43, 35.0]), 38.86
    rates = [1e-8, 1e-3, 1e-2, 1e-1]
    values = [pnbd.expected_residual_transactions(params, x, tx, T, d) for d in rates]
    assert np.all(np.diff(np.array(values), axis=0) < 0)
    # as delta -> 0, DERT -> P(alive) (r+x)/(alpha+T) (beta+T)/(s-1)
    r, alpha, s, beta = params
    limit = pnbd.probability_alive(params, x, tx, T) * (r + x) / (alpha + T) * (beta + T) / (s - 1)
    assert np.allclose(values[0], limit, rtol=1e-5)


def test_simulator_reproducible_and_consistent():
    a = simulate_paretonbd_summary(500, 0.5, 10.0, 0.6, 12.0, T=np.linspace(1, 50, 500),
                                   random_state=3)
    b = simulate_paretonbd_summary(500, 0.5, 10.0, 0.6, 12.0, T=np.linspace(1, 50, 500),
                                   random_state=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["frequency", "recency", "T"] and a.index.name == "customer_id"
    assert (a["recency"] <= a["T"]).all() and (a.loc[a["frequency"] == 0, "recency"] == 0).all()
    assert a.attrs["true_params"] == {"r": 0.5, "alpha": 10.0, "s": 0.6, "beta": 12.0}
    with pytest.raises(InvalidParameterError, match="beta"):
        simulate_paretonbd_summary(10, 0.5, 10.0, 0.6, -1.0, T=39)
    with pytest.raises(InvalidParameterError, match="T must be"):
        simulate_paretonbd_summary(10, 0.5, 10.0, 0.6, 1.0, T=-1)


def test_simulator_frequency_distribution_is_the_model_s():
    params = (0.7, 5.0, 0.9, 15.0)
    x = simulate_paretonbd_summary(100_000, *params, T=30.0, random_state=9)["frequency"].to_numpy()
    probs = pnbd.probability_of_purchases(params, np.arange(5), 30.0)
    freq = np.bincount(x, minlength=5)[:5] / x.size
    assert np.all(np.abs(probs - freq) < 4 * np.sqrt(probs * (1 - probs) / x.size))


RECOVERY = [
    ((0.553, 10.578, 0.606, 11.669), 11),
    ((1.5, 4.0, 0.4, 30.0), 12),
    ((0.3, 20.0, 2.0, 8.0), 13),
]


@pytest.mark.slow
@pytest.mark.parametrize(("params", "seed"), RECOVERY)
def test_parameter_recovery_within_three_standard_errors(params, seed):
    T = np.repeat(np.arange(26.0, 78.0), 200)  # 52 weekly cohorts, 10,400 customers
    summary = simulate_paretonbd_summary(T.size, *params, T=T, random_state=seed)
    model = ParetoNBD().fit(summary)
    assert model.converged_
    se = model.summary()["std_error"]
    for name, true in zip(pnbd.PARAM_NAMES, params, strict=True):
        assert abs(model.params_[name] - true) < 3 * se[name], (name, model.params_[name], true)


# ---------------------------------------------------------------------------
# the lifetimes peer at ordinary points
# ---------------------------------------------------------------------------
def _lifetimes_fitter(lifetimes, params):
    fitter = lifetimes.ParetoNBDFitter()
    fitter.params_ = pd.Series(dict(zip(pnbd.PARAM_NAMES, params, strict=True)))
    return fitter


@pytest.mark.peers
def test_predictions_match_lifetimes_on_cdnow(cdnow_summary):
    lifetimes = pytest.importorskip("lifetimes")
    fitter = _lifetimes_fitter(lifetimes, CDNOW)
    x, tx, T = (cdnow_summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll = fitter._conditional_log_likelihood(CDNOW, x, tx, T)
        alive = fitter.conditional_probability_alive(x, tx, T)
        expected = fitter.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T)
        new = fitter.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 78.0]))
    np.testing.assert_allclose(pnbd.log_likelihood_rows(CDNOW, x, tx, T), ll, rtol=1e-6)
    np.testing.assert_allclose(pnbd.probability_alive(CDNOW, x, tx, T), alive, rtol=1e-6)
    np.testing.assert_allclose(pnbd.expected_purchases(CDNOW, x, tx, T, 39.0), expected, rtol=1e-6)
    np.testing.assert_allclose(pnbd.expected_purchases_new_customer(CDNOW, [1.0, 39.0, 78.0]),
                               new, rtol=1e-6)


@pytest.mark.peers
def test_random_ordinary_points_match_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    rng = np.random.default_rng(8)
    for _ in range(20):
        params = tuple(10 ** rng.uniform(-0.7, 1.3, 4))
        fitter = _lifetimes_fitter(lifetimes, params)
        T = rng.uniform(1, 80, 50)
        x = rng.poisson(3, 50)
        tx = np.where(x > 0, T * rng.uniform(0, 0.99, 50), 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alive = fitter.conditional_probability_alive(x, tx, T)
            expected = fitter.conditional_expected_number_of_purchases_up_to_time(20.0, x, tx, T)
        np.testing.assert_allclose(pnbd.probability_alive(params, x, tx, T), alive, rtol=1e-6)
        np.testing.assert_allclose(pnbd.expected_purchases(params, x, tx, T, 20.0), expected,
                                   rtol=1e-6)


# ---------------------------------------------------------------------------
# estimator contract and errors
# ---------------------------------------------------------------------------
def test_methods_return_series_indexed_like_the_summary(cdnow_fit, cdnow_summary):
    head = cdnow_summary.head(5)
    for method in (cdnow_fit.probability_alive, cdnow_fit.expected_purchases):
        out = method(head) if method == cdnow_fit.probability_alive else method(head, t=39)
        assert isinstance(out, pd.Series) and out.index.equals(head.index)
    dert = cdnow_fit.expected_residual_transactions(head, discount_rate=np.log(1.15) / 52)
    assert dert.index.equals(head.index) and np.all(dert > 0)
    total = cdnow_fit.expected_purchases(cdnow_summary, t=39).sum()
    # model forecast of the 39-week holdout against the 1,882 actual repeat transactions
    assert 1500 < total < 2300
    assert cdnow_fit.expected_purchases_new_customer(39.0) > 0
    assert cdnow_fit.probability_of_purchases([0, 1], 39.0).shape == (2,)


def test_unfitted_model_says_how_to_fix():
    with pytest.raises(NotFittedError, match="fit"):
        ParetoNBD().probability_alive(frequency=[1], recency=[1.0], T=[2.0])
    with pytest.raises(NotFittedError):
        ParetoNBD().expected_purchases_new_customer(1.0)


def test_from_params_clone_and_save_round_trip(tmp_path, cdnow_fit, cdnow_summary):
    model = ParetoNBD.from_params(**PUBLISHED, time_unit="W")
    head = cdnow_summary.head(3)
    direct = pnbd.probability_alive(CDNOW, head["frequency"], head["recency"], head["T"])
    np.testing.assert_allclose(model.probability_alive(head), direct)
    path = tmp_path / "pnbd.json"
    cdnow_fit.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, ParetoNBD)
    pd.testing.assert_series_equal(loaded.params_, cdnow_fit.params_)
    np.testing.assert_allclose(loaded.covariance_, cdnow_fit.covariance_)
    assert clone(cdnow_fit).get_params() == cdnow_fit.get_params()


def test_refuses_bad_inputs_with_a_diagnosis(cdnow_fit):
    with pytest.raises(InvalidSummaryError, match="recency"):
        ParetoNBD().fit(frequency=[1, 2], recency=[5.0, 1.0], T=[4.0, 3.0])
    with pytest.raises(InvalidSummaryError, match="recency > T"):
        pnbd.log_likelihood(CDNOW, [1], [5.0], [4.0])
    with pytest.raises(InvalidParameterError, match="finite and > 0"):
        pnbd.log_likelihood((0.5, -1.0, 0.5, 1.0), [1], [1.0], [4.0])
    with pytest.raises(InvalidParameterError, match="discount_rate"):
        cdnow_fit.expected_residual_transactions(frequency=[1], recency=[1.0], T=[2.0])
    with pytest.raises(InvalidParameterError, match="discount_rate"):
        pnbd.expected_residual_transactions(CDNOW, [1], [1.0], [2.0], 0.0)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        pnbd.probability_of_purchases(CDNOW, 1.5, 3.0)
    summary = pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0]})
    summary.attrs["time_unit"] = "D"
    with pytest.raises(UnitMismatchError):
        cdnow_fit.probability_alive(summary)


def test_weights_equal_repeated_rows():
    summary = simulate_paretonbd_summary(300, *CDNOW, T=39.0, random_state=4)
    x, tx, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    w = np.arange(1, 301) % 4 + 1
    expanded = [np.repeat(v, w) for v in (x, tx, T)]
    assert pnbd.log_likelihood(CDNOW, x, tx, T, w) == pytest.approx(
        pnbd.log_likelihood(CDNOW, *expanded), rel=1e-12)
    np.testing.assert_allclose(pnbd.gradient(CDNOW, x, tx, T, w), pnbd.gradient(CDNOW, *expanded),
                               rtol=1e-10)
    fitted_w = ParetoNBD(n_starts=1).fit(frequency=x, recency=tx, T=T, weights=w)
    fitted_e = ParetoNBD(n_starts=1).fit(frequency=expanded[0], recency=expanded[1], T=expanded[2])
    np.testing.assert_allclose(fitted_w.params_, fitted_e.params_, rtol=1e-6)


def test_extreme_parameters_stay_finite():
    """The optimiser's bounds are 1e-8..1e8: the likelihood and gradient are finite there."""
    summary = simulate_paretonbd_summary(200, *CDNOW, T=np.linspace(1, 60, 200), random_state=6)
    x, tx, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    for params in ((1e-8, 1e8, 1e-8, 1e-8), (1e8, 1e-8, 1e8, 1e8), (1e-8, 1e-8, 1e8, 1e-8),
                   (3.0, 1e-6, 0.5, 1e6), (3.0, 1e6, 0.5, 1e-6)):
        ll = pnbd.log_likelihood(params, x, tx, T)
        g = pnbd.gradient(params, x, tx, T)
        assert np.isfinite(ll) and np.all(np.isfinite(g)), params
