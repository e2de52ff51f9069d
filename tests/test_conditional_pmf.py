"""Tests of the conditional PMF P(X(T, T+t) = n | x, t_x, T) for BG/NBD, MBG/NBD and Pareto/NBD.

Independent truths: probabilities sum to 1; their mean is the model's own conditional
expectation (FHL 2005 eq. 10, note 009 eq. 41, Wagner & Hoppe 2008), computed by
different code; brute-force Monte Carlo of each model's story (latent rates drawn from
the prior, weighted by the calibration likelihood given the rates, then the future
simulated event by event); mpmath at 30 digits from the defining integrals (the joint
P(data, n) integrated directly, not via the alive/dead split used by the code); the
lifetimes peer's Pareto/NBD conditional PMF (Fader & Hardie note 028, eq. 16).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy.special import betainc

from clvmodels.errors import InvalidParameterError, InvalidSummaryError, NotFittedError
from clvmodels.models import bgnbd, mbgnbd, paretonbd
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.bgnbd import log_conditional_pmf as log_conditional_pmf_bgnbd
from clvmodels.models.conditional_pmf import log_conditional_pmf
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.mbgnbd import log_conditional_pmf as log_conditional_pmf_mbgnbd
from clvmodels.models.paretonbd import ParetoNBD
from clvmodels.models.paretonbd import log_conditional_pmf as log_conditional_pmf_paretonbd

CDNOW_BGNBD = (0.243, 4.414, 0.793, 2.426)  # Fader, Hardie & Lee (2005)
CDNOW_PARETO = (0.553, 10.578, 0.606, 11.669)  # Fader, Hardie & Lee (2005)
CDNOW_MBGNBD = (0.525, 6.183, 0.891, 1.614)  # lifetimes / our fit on CDNOW

FUNCTIONS = {
    "bgnbd": (log_conditional_pmf_bgnbd, bgnbd.expected_purchases),
    "mbgnbd": (log_conditional_pmf_mbgnbd, mbgnbd.expected_purchases),
    "paretonbd": (log_conditional_pmf_paretonbd, paretonbd.expected_purchases),
}

PARAMS = {
    "bgnbd": [CDNOW_BGNBD, (2.0, 1.0, 3.0, 0.5), (0.5, 30.0, 0.2, 10.0)],
    "mbgnbd": [CDNOW_MBGNBD, (2.0, 1.0, 3.0, 0.5), (0.5, 30.0, 0.2, 10.0)],
    "paretonbd": [CDNOW_PARETO, (2.0, 1.0, 3.0, 0.5), (0.5, 30.0, 0.2, 30.0), (1.0, 5.0, 1.0, 5.0)],
}

# (x, t_x, T, t): ordinary, no repeat purchase, recency = T, early dropout signs,
# heavy buyers, long histories, a short and a long window
CUSTOMERS = [
    (0, 0.0, 38.86, 39.0),
    (2, 30.43, 38.86, 39.0),
    (2, 5.0, 38.86, 39.0),
    (7, 38.86, 38.86, 39.0),
    (50, 30.0, 38.86, 39.0),
    (1000, 38.0, 39.0, 39.0),
    (5, 50.0, 500.0, 39.0),
    (3, 20.0, 30.0, 0.5),
    (3, 20.0, 30.0, 400.0),
]


def _customer_arrays():
    x, tx, T, t = (np.array(c, dtype=float) for c in zip(*CUSTOMERS, strict=True))
    return x, tx, T, t


def _case_ids():
    return [(m, p) for m, ps in PARAMS.items() for p in ps]


# ---------------------------------------------------------------------------
# (1) normalisation and (2) mean = the model's conditional expectation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "params"), _case_ids())
def test_sums_to_one_and_mean_is_conditional_expectation(model, params):
    fun, expected = FUNCTIONS[model]
    x, tx, T, t = _customer_arrays()
    n_max = 2000
    n = np.arange(n_max)
    # one row per (customer, n): the functions broadcast n against the customers
    lp = fun(params, n[None, :], x[:, None], tx[:, None], T[:, None], t[:, None])
    assert lp.shape == (len(CUSTOMERS), n_max)
    assert np.all(np.isfinite(lp[:, :300])), "log-probabilities must be finite"
    assert np.all(lp <= 1e-12)
    prob = np.exp(lp)
    # the tail beyond n_max is negligible: the last 300 probabilities are below 1e-30
    assert np.all(prob[:, -300:] < 1e-30)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    mean = (prob * n).sum(axis=1)
    np.testing.assert_allclose(mean, expected(params, x, tx, T, t), rtol=1e-8, atol=0)


@pytest.mark.parametrize("model", list(FUNCTIONS))
def test_window_of_length_zero_has_no_purchases(model):
    fun, _ = FUNCTIONS[model]
    lp = fun(PARAMS[model][0], [0, 1, 5], [2, 2, 2], [10.0] * 3, [20.0] * 3, 0.0)
    np.testing.assert_array_equal(lp, [0.0, -np.inf, -np.inf])


@pytest.mark.parametrize("model", list(FUNCTIONS))
def test_extreme_counts_stay_finite_and_decrease(model):
    """Counts of several hundred for light buyers over long histories: underflow in linear space."""
    fun, _ = FUNCTIONS[model]
    n = np.arange(0, 801, 50)
    lp = fun(PARAMS[model][0], n, 0, 0.0, 2000.0, 39.0)
    assert np.all(np.isfinite(lp))
    assert lp[-1] < -1000  # far below the smallest double: only the log survives
    assert np.all(np.diff(lp[1:]) < 0)
    lp = fun(PARAMS[model][0], n, 1000, 1000.0, 1000.0, 39.0)
    assert np.all(np.isfinite(lp))


# ---------------------------------------------------------------------------
# (3) brute-force Monte Carlo of the model's story
# ---------------------------------------------------------------------------
def _weighted_pmf(weights, counts, n_max):
    total = weights.sum()
    est = np.bincount(counts, weights=weights, minlength=n_max + 1)[: n_max + 1] / total
    ess = total**2 / np.sum(weights**2)
    return est, ess


def _mc_bg_family(params, x, tx, T, t, n_draws, rng, modified):
    """Importance sampling: (lambda, p) from the prior, weighted by P(data | lambda, p).

    Given the rates, the customer is alive at T with probability (alive term) / (sum of
    terms); an alive customer's future: Poisson purchases at rate lambda, and after each
    a coin with probability p ends the relationship, so the count in the window is
    min(Poisson(lambda t), K) with K ~ Geometric(p) on {1, 2, ...}.
    """
    r, alpha, a, b = params
    lam = rng.gamma(r, 1.0 / alpha, n_draws)
    p = rng.beta(a, b, n_draws)
    shift = 1 if modified else 0  # MBG/NBD: one more survival coin, at time 0
    log_alive = (x + shift) * np.log1p(-p) + x * np.log(lam) - lam * T
    if modified or x > 0:
        log_dead = np.log(p) + (x + shift - 1) * np.log1p(-p) + x * np.log(lam) - lam * tx
    else:
        log_dead = np.full(n_draws, -np.inf)
    log_w = np.logaddexp(log_alive, log_dead)
    w = np.exp(log_w - log_w.max())
    alive = rng.random(n_draws) < np.exp(log_alive - log_w)
    k = rng.geometric(p)
    counts = np.where(alive, np.minimum(rng.poisson(lam * t), k), 0)
    return w, counts


def _mc_paretonbd(params, x, tx, T, t, n_draws, rng):
    """Importance sampling: (lambda, mu) from the prior, weighted by P(data | lambda, mu).

    Given the rates: alive at T has weight lambda^x e^-(lambda+mu) T, dead between t_x and
    T has weight lambda^x mu (e^-(lambda+mu) t_x - e^-(lambda+mu) T) / (lambda + mu). An
    alive customer lives another Exp(mu) and buys Poisson(lambda min(t, remaining life)).
    """
    r, alpha, s, beta = params
    lam = rng.gamma(r, 1.0 / alpha, n_draws)
    mu = rng.gamma(s, 1.0 / beta, n_draws)
    rate = lam + mu
    log_alive = x * np.log(lam) - rate * T
    with np.errstate(divide="ignore"):
        log_dead = (x * np.log(lam) + np.log(mu) - np.log(rate) - rate * tx
                    + np.log(-np.expm1(-rate * (T - tx))))
    log_w = np.logaddexp(log_alive, log_dead)
    w = np.exp(log_w - log_w.max())
    alive = rng.random(n_draws) < np.exp(log_alive - log_w)
    life = rng.exponential(1.0 / mu)
    counts = np.where(alive, rng.poisson(lam * np.minimum(t, life)), 0)
    return w, counts


MC_CASES = [
    ("bgnbd", CDNOW_BGNBD, (0, 0.0, 38.86, 39.0)),
    ("bgnbd", CDNOW_BGNBD, (2, 30.43, 38.86, 39.0)),
    ("bgnbd", (2.0, 1.0, 3.0, 0.5), (4, 10.0, 20.0, 15.0)),
    ("mbgnbd", CDNOW_MBGNBD, (0, 0.0, 38.86, 39.0)),
    ("mbgnbd", CDNOW_MBGNBD, (3, 25.0, 38.86, 39.0)),
    ("paretonbd", CDNOW_PARETO, (0, 0.0, 38.86, 39.0)),
    ("paretonbd", CDNOW_PARETO, (2, 30.43, 38.86, 39.0)),
    ("paretonbd", (2.0, 1.0, 3.0, 5.0), (4, 10.0, 20.0, 15.0)),
]


@pytest.mark.parametrize(("model", "params", "customer"), MC_CASES)
def test_against_monte_carlo_of_the_story(model, params, customer):
    x, tx, T, t = customer
    rng = np.random.default_rng(20260 + int(10 * tx) + x)
    n_draws = 400_000
    if model == "paretonbd":
        w, counts = _mc_paretonbd(params, x, tx, T, t, n_draws, rng)
    else:
        w, counts = _mc_bg_family(params, x, tx, T, t, n_draws, rng, model == "mbgnbd")
    n_max = 12
    est, ess = _weighted_pmf(w, counts, n_max)
    assert ess > 5_000, f"too few effective draws ({ess:.0f}) for a meaningful check"
    fun, _ = FUNCTIONS[model]
    prob = np.exp(fun(params, np.arange(n_max + 1), x, tx, T, t))
    # 5 standard errors of a weighted proportion (ESS approximation), plus a floor for
    # the rare counts whose ESS-based error is itself uncertain
    sd = np.sqrt(prob * (1 - prob) / ess)
    np.testing.assert_array_less(np.abs(est - prob), 5 * sd + 2e-4)


# ---------------------------------------------------------------------------
# (4) mpmath at high precision from the defining integrals
# ---------------------------------------------------------------------------
def _mp_bg_family(params, n, x, tx, T, t, modified):
    """P(data, n) / P(data) from the joint given (lambda, p), integrated at 30 digits.

    Joint given (lambda, p), shift = 1 for MBG/NBD (a survival coin at time 0):
      alive at T: (1-p)^(x+shift) lambda^x e^-lambda T
                  * [Pois(n; lambda t) (1-p)^n + [n>0] p (1-p)^(n-1) P(Pois(lambda t) >= n)]
      dead at T:  [x + shift > 0] p (1-p)^(x+shift-1) lambda^x e^-lambda t_x [n = 0]
    p is integrated by beta functions, lambda by gamma integrals
    c(k, u) = E[lambda^k e^-lambda u] = Gamma(r+k) alpha^r / (Gamma(r) (alpha+u)^(r+k)); the
    Poisson tail is written P(Pois(lambda t) >= n) = int_0^t lambda^n v^(n-1) e^-lambda v
    / (n-1)! dv (the n-th event before t), so its lambda integral is a quadrature over v.
    """
    mp.mp.dps = 30
    r, alpha, a, b = (mp.mpf(v) for v in params)
    x, tx, T, t = (mp.mpf(v) for v in (x, tx, T, t))
    shift = 1 if modified else 0
    B = mp.beta

    def c(k, u):
        return mp.exp(mp.loggamma(r + k) - mp.loggamma(r)) * alpha**r / (alpha + u) ** (r + k)

    e_alive = B(a, b + x + shift) / B(a, b)
    dead = B(a + 1, b + x + shift - 1) / B(a, b) * c(x, tx) if x + shift > 0 else mp.mpf(0)
    denominator = e_alive * c(x, T) + dead
    keep = B(a, b + x + shift + n) / B(a, b)
    term = keep * c(x + n, T + t) * t**n / mp.factorial(n)
    if n > 0:
        drop = B(a + 1, b + x + shift + n - 1) / B(a, b)
        term += drop * mp.quad(
            lambda v: c(x + n, T + v) * v ** (n - 1) / mp.factorial(n - 1),
            mp.linspace(0, t, 65),  # the integrand peaks sharply for large n: many panels
        )
    else:
        term += dead
    return term / denominator


def _mp_paretonbd(params, n, x, tx, T, t):
    """P(data, n) / P(data), lambda and mu integrated analytically, death time by quadrature.

    With c(k, u) = Gamma(r+k) alpha^r / (Gamma(r) (alpha+u)^(r+k)) (lambda integrated with
    exposure u and k events) and the death density s beta^s (beta+tau)^-(s+1):
      alive at T + t:        c(x+n, T+t) t^n/n! (beta/(beta+T+t))^s
      dies at tau in window: int_T^(T+t) c(x+n, tau) (tau-T)^n/n! s beta^s (beta+tau)^-(s+1)
      dies before T:         [n = 0] int_(t_x)^T c(x, tau) s beta^s (beta+tau)^-(s+1)
    """
    mp.mp.dps = 30
    r, alpha, s, beta = (mp.mpf(v) for v in params)
    x, tx, T, t = (mp.mpf(v) for v in (x, tx, T, t))

    def c(k, u):
        return mp.exp(mp.loggamma(r + k) - mp.loggamma(r)) * alpha**r / (alpha + u) ** (r + k)

    def death(tau):
        return s * beta**s / (beta + tau) ** (s + 1)

    dead_before = mp.quad(lambda tau: c(x, tau) * death(tau), [tx, T]) if T > tx else 0
    denominator = c(x, T) * (beta / (beta + T)) ** s + dead_before
    fact = mp.factorial(n)
    numerator = c(x + n, T + t) * t**n / fact * (beta / (beta + T + t)) ** s
    numerator += mp.quad(
        lambda tau: c(x + n, tau) * (tau - T) ** n / fact * death(tau),
        mp.linspace(T, T + t, 65),
    )
    if n == 0:
        numerator += dead_before
    return numerator / denominator


MP_POINTS = [
    (0, 0.0, 38.86, 39.0, [0, 1, 3]),
    (2, 30.43, 38.86, 39.0, [0, 1, 2, 10]),
    (2, 5.0, 38.86, 39.0, [0, 1, 4]),
    (7, 38.86, 38.86, 39.0, [0, 3, 7, 40]),
    (60, 35.0, 40.0, 20.0, [0, 30, 60, 150]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "params"), [
    ("bgnbd", CDNOW_BGNBD),
    ("bgnbd", (2.0, 1.0, 3.0, 0.5)),
    ("mbgnbd", CDNOW_MBGNBD),
    ("mbgnbd", (0.5, 30.0, 0.2, 10.0)),
    ("paretonbd", CDNOW_PARETO),
    ("paretonbd", (2.0, 1.0, 3.0, 0.5)),
    ("paretonbd", (1.0, 5.0, 1.0, 5.0)),
])
def test_against_mpmath(model, params):
    fun, _ = FUNCTIONS[model]
    for x, tx, T, t, ns in MP_POINTS:
        ours = fun(params, np.array(ns), x, tx, T, t)
        for n, value in zip(ns, ours, strict=True):
            if model == "paretonbd":
                truth = _mp_paretonbd(params, n, x, tx, T, t)
            else:
                truth = _mp_bg_family(params, n, x, tx, T, t, model == "mbgnbd")
            # log-probabilities to 1e-10 absolute (i.e. probabilities to 1e-10 relative)
            assert abs(value - float(mp.log(truth))) < 1e-10, (model, params, x, tx, T, t, n)


def test_far_tail_against_mpmath():
    """Counts where the negative binomial tail underflows (the series branch)."""
    mp.mp.dps = 40
    x, tx, T, t = 0, 0.0, 2000.0, 39.0
    for model, params in (("bgnbd", CDNOW_BGNBD), ("mbgnbd", CDNOW_MBGNBD)):
        fun, _ = FUNCTIONS[model]
        ns = np.array([300, 600])
        ours = fun(params, ns, x, tx, T, t)
        assert np.all(ours < np.log(1e-300))
        # the negative binomial tail underflows there: the code takes its series branch
        assert np.all(betainc(ns, params[0], t / (params[1] + T + t)) < 1e-280)
        shift = 1 if model == "mbgnbd" else 0
        r, alpha, a, b = (mp.mpf(v) for v in params)
        # closed form at 40 digits: alive customer with (r, alpha + T, a, b + shift) posterior
        ra, aa, bb = r, alpha + T, b + shift
        z = mp.mpf(t) / (aa + t)
        d = mp.log(a / (b + x + shift - 1)) if x + shift > 0 else None
        p_alive = 1 / (1 + mp.exp(d) * ((alpha + T) / (alpha + tx)) ** (r + x)) if d is not None \
            else mp.mpf(1)
        for n, value in zip(ns, ours, strict=True):
            n = int(n)
            nb = mp.exp(mp.loggamma(ra + n) - mp.loggamma(ra) - mp.loggamma(n + 1)) * (
                1 - z) ** ra * z**n
            tail = mp.betainc(n, ra, 0, z, regularized=True)
            pnew = mp.beta(a, bb + n) / mp.beta(a, bb) * nb + mp.beta(a + 1, bb + n - 1) / mp.beta(
                a, bb) * tail
            assert abs(value - float(mp.log(p_alive * pnew))) < 1e-9, (model, n)


# ---------------------------------------------------------------------------
# peer: lifetimes' Pareto/NBD conditional PMF (Fader & Hardie note 028, eq. 16)
# ---------------------------------------------------------------------------
def test_paretonbd_against_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    peer = lifetimes.ParetoNBDFitter()
    peer.params_ = pd.Series(dict(zip(("r", "alpha", "s", "beta"), CDNOW_PARETO, strict=True)))
    for x, tx, T in [(0, 0.0, 38.86), (2, 30.43, 38.86), (2, 5.0, 38.86), (10, 35.0, 38.0)]:
        for n in (0, 1, 2, 5):
            theirs = float(peer.conditional_probability_of_n_purchases_up_to_time(
                n, 39.0, x, tx, T))
            ours = float(np.exp(log_conditional_pmf_paretonbd(CDNOW_PARETO, n, x, tx, T, 39.0)))
            assert ours == pytest.approx(theirs, rel=1e-7, abs=1e-12), (x, tx, T, n)


# ---------------------------------------------------------------------------
# dispatcher on fitted models
# ---------------------------------------------------------------------------
MODELS = [
    (BGNBD, dict(zip(bgnbd.PARAM_NAMES, CDNOW_BGNBD, strict=True)), log_conditional_pmf_bgnbd),
    (MBGNBD, dict(zip(mbgnbd.PARAM_NAMES, CDNOW_MBGNBD, strict=True)), log_conditional_pmf_mbgnbd),
    (ParetoNBD, dict(zip(paretonbd.PARAM_NAMES, CDNOW_PARETO, strict=True)),
     log_conditional_pmf_paretonbd),
]


@pytest.fixture
def small_summary():
    summary = pd.DataFrame(
        {"frequency": [0, 2, 7, 1], "recency": [0.0, 30.43, 38.0, 3.0], "T": [38.86, 38.86, 38.0,
                                                                              20.0]},
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )
    summary.attrs["time_unit"] = "W"
    return summary


@pytest.mark.parametrize(("cls", "params", "fun"), MODELS)
def test_dispatcher_matches_free_function(cls, params, fun, small_summary):
    model = cls.from_params(**params)
    counts = pd.Series([0, 1, 4, 0], index=["a", "b", "c", "d"])
    out = log_conditional_pmf(model, small_summary, counts, 39.0)
    assert isinstance(out, np.ndarray) and out.shape == (4,)
    expected = fun(tuple(params.values()), counts.to_numpy(), small_summary["frequency"],
                   small_summary["recency"], small_summary["T"], 39.0)
    np.testing.assert_array_equal(out, expected)
    # a Series in another order is aligned on the summary's index
    shuffled = counts.iloc[::-1]
    np.testing.assert_array_equal(log_conditional_pmf(model, small_summary, shuffled, 39.0),
                                  expected)
    # per-customer windows
    windows = np.array([39.0, 10.0, 39.0, 1.0])
    np.testing.assert_array_equal(
        log_conditional_pmf(model, small_summary, counts.to_numpy(), windows),
        fun(tuple(params.values()), counts.to_numpy(), small_summary["frequency"],
            small_summary["recency"], small_summary["T"], windows),
    )


def test_dispatcher_errors(small_summary):
    model = BGNBD.from_params(**dict(zip(bgnbd.PARAM_NAMES, CDNOW_BGNBD, strict=True)))
    with pytest.raises(NotFittedError):
        log_conditional_pmf(BGNBD(), small_summary, [0, 0, 0, 0], 39.0)
    with pytest.raises(InvalidParameterError, match="supports BGNBD"):
        log_conditional_pmf(object(), small_summary, [0, 0, 0, 0], 39.0)
    with pytest.raises(InvalidSummaryError, match="4 customers"):
        log_conditional_pmf(model, small_summary, [0, 0, 0], 39.0)
    with pytest.raises(InvalidSummaryError, match="no value for 1 customer"):
        log_conditional_pmf(model, small_summary, pd.Series([0, 0, 0], index=["a", "b", "c"]),
                            39.0)
    with pytest.raises(InvalidParameterError, match=r"position 2: -1\.0"):
        log_conditional_pmf(model, small_summary, [0, 0, -1, 0], 39.0)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        log_conditional_pmf(model, small_summary, [0, 0.5, 1, 0], 39.0)
    with pytest.raises(InvalidParameterError, match="horizon"):
        log_conditional_pmf(model, small_summary, [0, 0, 1, 0], -1.0)
    with pytest.raises(InvalidSummaryError):
        bad = small_summary.assign(recency=[0.0, 50.0, 38.0, 3.0])
        log_conditional_pmf(model, bad, [0, 0, 1, 0], 39.0)


# ---------------------------------------------------------------------------
# (5) CDNOW holdout log-likelihood with the published parameters
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdnow():
    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    return rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end="1997-09-30",
                       observation_end="1998-06-30", time_unit="W")


@pytest.mark.parametrize(("cls", "params", "fun"), MODELS)
def test_cdnow_holdout_log_likelihood(cls, params, fun, cdnow):
    model = cls.from_params(**params)
    assert cdnow["frequency_holdout"].sum() == 1882
    lp = log_conditional_pmf(model, cdnow, cdnow["frequency_holdout"], 39.0)
    assert lp.shape == (2357,) and np.all(np.isfinite(lp)) and np.all(lp < 0)
    total = float(lp.sum())
    # the holdout log-likelihood of a model that knows nothing about the customers (the
    # empirical distribution of holdout counts, which it cannot beat by much) bounds it
    counts = cdnow["frequency_holdout"].to_numpy()
    freq = np.bincount(counts) / counts.size
    empirical = float(np.sum(np.log(freq[counts])))
    assert -1.3 * abs(empirical) < total < 0
    # and the conditional model beats predicting every customer with the new-customer PMF
    # (mixing over everyone's history is what the calibration data is for)
    prior = np.log(cls.from_params(**params).probability_of_purchases(counts, 39.0))
    assert total > float(np.sum(prior))
    # mean check on real data: sum of conditional means = model's expected purchases
    n = np.arange(300)
    x, tx, T = (cdnow[c].to_numpy()[:, None] for c in ("frequency", "recency", "T"))
    prob = np.exp(fun(tuple(params.values()), n[None, :], x, tx, T, 39.0))
    assert np.all(prob[:, -20:] < 1e-15)  # even for the heaviest buyers the tail is nil
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose((prob * n).sum(axis=1),
                               model.expected_purchases(cdnow, t=39.0).to_numpy(), rtol=1e-8)


def test_cdnow_published_values_are_plausible(cdnow):
    """The BG/NBD and Pareto/NBD holdout log-likelihoods are close: their calibration LLs are."""
    lls = {}
    for cls, params, _ in MODELS:
        model = cls.from_params(**params)
        lls[cls.__name__] = float(np.sum(
            log_conditional_pmf(model, cdnow, cdnow["frequency_holdout"], 39.0)))
    assert math.isclose(lls["BGNBD"], lls["ParetoNBD"], rel_tol=0.02)
