"""Gamma-Gompertz/NBD: published estimates (CDNOW), mpmath at 30 digits, brute-force simulation.

References
----------
* CDNOW (the 2,357-customer sample, 39-week calibration, weeks): CLVTools'
  ``tests/testthat/test_correctness_ggomnbd.R`` (bachmannpatrick/CLVTools) states its own
  estimates ``r = 0.55313, alpha = 10.5758, b = 0.0000011, s = 0.60682, beta = 0.000013``,
  ``LL = -9594.9762``, and Bemmaor & Glady (2012), Table 2, p. 1018: ``r = 0.553,
  alpha = 10.578, b = 0.0002, s = 0.603, beta = 0.0026``, ``LL = -9594.98``. The maximum
  is on the boundary ``b -> 0, beta -> 0`` with ``beta / b`` fixed (the Pareto/NBD
  limit; CLVTools' test sets ``kkt2.true = FALSE``), so ``b`` and ``beta`` are compared
  through that limit: ``beta / b`` is the Pareto/NBD's ``beta = 11.669`` (Fader, Hardie
  & Lee 2005).
* Apparel (CLVTools' ``apparelTrans``, 104-week estimation period as in its
  walkthrough): CLVTools publishes no Gamma-Gompertz/NBD figures on it; the fit is
  checked against an independent mpmath evaluation of its likelihood and against the
  Pareto/NBD it nests.
* Likelihood, gradient and every prediction against mpmath (30 digits, tanh-sinh
  quadrature on breakpoints placed at the integrand's scales) on a grid including
  ``x = 1e4`` and ``T = 1e4``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import InvalidCustomerDataError, InvalidParameterError
from clvmodels.models import ggomnbd as gg
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.ggomnbd import GammaGompertzNBD
from clvmodels.models.paretonbd import ParetoNBD

mp.mp.dps = 30

# the shared data folder: ../shared/data from the repository's root (the main checkout),
# or the same folder seen from a worktree of it
_ROOT = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (_ROOT.parent / "shared" / "data", _ROOT.parents[1] / "shared" / "data")
               if p.exists()), _ROOT.parent / "shared" / "data")
APPAREL = SHARED / "apparel_transactions.csv"

#: Parameter sets of the mpmath grid: a moderate one, CLVTools' CDNOW estimate (the
#: Pareto/NBD limit), a fast-dying population (b T up to 1e4) and a slow one.
GRID_PARAMS = [
    (0.55, 10.6, 0.05, 0.6, 1.5),
    (0.55313, 10.5758, 1.1e-6, 0.60682, 1.3e-5),
    (2.0, 0.01, 1.0, 3.0, 500.0),
    (0.3, 100.0, 0.001, 0.2, 0.05),
]
#: Customers (x, t_x, T) of the grid, with x and T up to 1e4.
GRID_ROWS = [
    (0, 0.0, 38.86), (2, 30.43, 38.86), (1e4, 9000.0, 1e4), (1e4, 100.0, 1e4),
    (50, 1e4, 1e4), (0, 0.0, 1e4), (3, 0.5, 1e4), (7, 20.0, 20.0),
]


# ----------------------------------------------------------------- mpmath reference
def _breaks(lo, hi, scales):
    """Breakpoints from ``lo`` at geometric multiples of each scale (tanh-sinh per piece)."""
    pts = {mp.mpf(lo), mp.mpf(hi)}
    for d in scales:
        step = d / 100
        while lo + step < hi:
            pts.add(lo + step)
            step *= 2
    return sorted(pts)


def _mp(params):
    return [mp.mpf(v) for v in params]


def mp_loglik(params, x, tx, T):
    r, alpha, b, s, beta = _mp(params)
    x, tx, T = mp.mpf(x), mp.mpf(tx), mp.mpf(T)

    def q(t):
        return beta - 1 + mp.exp(b * t)

    alive = (alpha + T) ** (-(r + x)) * q(T) ** (-s)

    def f(tau):
        return mp.exp(b * tau) * (alpha + tau) ** (-(r + x)) * q(tau) ** (-(s + 1))

    dead = 0
    if T > tx:
        dead = b * s * mp.quad(f, _breaks(tx, T, [(alpha + tx) / (r + x), 1 / (b * (s + 1))]))
    const = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
    return const + mp.log(alive + dead), alive, dead


def mp_p_alive(params, x, tx, T):
    _, alive, dead = mp_loglik(params, x, tx, T)
    return alive / (alive + dead)


def _mp_cond_survival(params, T):
    r, alpha, b, s, beta = _mp(params)
    qT = beta - 1 + mp.exp(b * mp.mpf(T))
    return lambda u: (qT / (beta - 1 + mp.exp(b * (mp.mpf(T) + u)))) ** s


def mp_expected(params, x, tx, T, t):
    r, alpha, b, s, beta = _mp(params)
    surv = _mp_cond_survival(params, T)
    window = mp.quad(surv, _breaks(mp.mpf(0), mp.mpf(t), [1 / (b * (s + 1)), mp.mpf(t)]))
    return mp_p_alive(params, x, tx, T) * (r + x) / (alpha + T) * window


def mp_pmf_given_alive(params, x, T, n, t):
    """P(n in (T, T+t] | alive at T): survival times NB at t plus the density integral."""
    r, alpha, b, s, beta = _mp(params)
    rr, aa = r + x, alpha + mp.mpf(T)
    T = mp.mpf(T)
    qT = beta - 1 + mp.exp(b * T)

    def nb(u):
        return (mp.exp(mp.loggamma(rr + n) - mp.loggamma(rr) - mp.loggamma(n + 1))
                * (aa / (aa + u)) ** rr * (u / (aa + u)) ** n)

    def dens(u):
        return (b * s * mp.exp(b * (T + u)) * qT ** s
                / (beta - 1 + mp.exp(b * (T + u))) ** (s + 1))

    surv = _mp_cond_survival(params, T)
    pieces = _breaks(mp.mpf(0), mp.mpf(t), [1 / (b * (s + 1)), mp.mpf(t), aa])
    return surv(mp.mpf(t)) * nb(mp.mpf(t)) + mp.quad(lambda u: dens(u) * nb(u), pieces)


# ----------------------------------------------------------------------- likelihood
@pytest.mark.parametrize("params", GRID_PARAMS)
def test_log_likelihood_rows_match_mpmath(params):
    x, tx, T = (np.array(c, dtype=float) for c in zip(*GRID_ROWS, strict=True))
    ours = gg.log_likelihood_rows(params, x, tx, T)
    ref = np.array([float(mp_loglik(params, *row)[0]) for row in GRID_ROWS])
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("params", [GRID_PARAMS[0], GRID_PARAMS[2]])
def test_gradient_matches_mpmath_derivative(params):
    rows = [GRID_ROWS[i] for i in (2, 6, 7)]  # x = 1e4 and T = 1e4 among them
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    ours = gg.gradient(params, x, tx, T)
    for j in range(5):
        def total(v, j=j):
            p = list(params)
            p[j] = v
            return mp.fsum(mp_loglik(p, *row)[0] for row in rows)
        ref = float(mp.diff(total, mp.mpf(params[j])))
        assert ours[j] == pytest.approx(ref, rel=1e-9, abs=1e-9 * abs(ref) + 1e-10), j


def test_likelihood_refuses_bad_input():
    with pytest.raises(InvalidCustomerDataError, match="recency > T"):
        gg.log_likelihood_rows(GRID_PARAMS[0], [1], [5.0], [4.0])
    with pytest.raises(InvalidParameterError, match="parameter b"):
        gg.log_likelihood_rows((0.5, 1.0, -1.0, 1.0, 1.0), [1], [1.0], [4.0])


# ---------------------------------------------------------------------- predictions
@pytest.mark.parametrize("params", [GRID_PARAMS[0], GRID_PARAMS[2], GRID_PARAMS[3]])
def test_probability_alive_and_expectation_match_mpmath(params):
    rows = [GRID_ROWS[i] for i in (0, 1, 3, 5, 6)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    alive = gg.probability_alive(params, x, tx, T)
    ref = np.array([float(mp_p_alive(params, *row)) for row in rows])
    np.testing.assert_allclose(alive, ref, rtol=1e-11, atol=1e-300)
    for t in (39.0, 1e3):
        ours = gg.expected_purchases(params, x, tx, T, t)
        ref = np.array([float(mp_expected(params, *row, t)) for row in rows])
        np.testing.assert_allclose(ours, ref, rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize("params", [GRID_PARAMS[0], GRID_PARAMS[3]])
def test_new_customer_quantities_match_mpmath(params):
    t = np.array([1.0, 39.0, 1e4])
    ours = gg.expected_purchases_new_customer(params, t)
    ref = [float(mp_expected(params, 0, 0, 0, tt) / mp_p_alive(params, 0, 0, 0)) for tt in t]
    np.testing.assert_allclose(ours, ref, rtol=1e-11)
    n = np.array([0, 1, 5, 50])
    ours = gg.probability_of_purchases(params, n, 39.0)
    ref = [float(mp_pmf_given_alive(params, 0, 0, int(k), 39.0)) for k in n]
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_conditional_pmf_matches_mpmath():
    params = GRID_PARAMS[0]
    cases = [(0, 0.0, 38.86, 0), (0, 0.0, 38.86, 2), (2, 30.43, 38.86, 1),
             (7, 20.0, 20.0, 12), (3, 0.5, 1e4, 0)]
    n = np.array([c[3] for c in cases])
    x, tx, T = (np.array([c[i] for c in cases]) for i in range(3))
    ours = np.exp(gg.log_conditional_pmf(params, n, x, tx, T, 39.0))
    ref = []
    for xx, txx, TT, k in cases:
        alive = mp_p_alive(params, xx, txx, TT)
        value = alive * mp_pmf_given_alive(params, xx, TT, k, 39.0)
        ref.append(float(value + (1 - alive if k == 0 else 0)))
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_predict_draws_equal_the_pure_functions():
    draws = np.array([GRID_PARAMS[0], GRID_PARAMS[3]])
    x, tx, T = (np.array(c, dtype=float) for c in zip(*GRID_ROWS[:4], strict=True))
    for quantity in ("probability_alive", "expected_purchases"):
        out = gg.predict_draws(quantity, draws, x, tx, T, t=20.0)
        for i, p in enumerate(draws):
            single = (gg.probability_alive(p, x, tx, T) if quantity == "probability_alive"
                      else gg.expected_purchases(p, x, tx, T, 20.0))
            np.testing.assert_allclose(out[i], single, rtol=1e-13)


# ------------------------------------------------------ brute force: the whole process
def _simulate_process(n, params, T, t, seed):
    """Calibration summary and holdout counts of customers simulated from the prior."""
    r, alpha, b, s, beta = params
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    eta = rng.gamma(s, 1 / beta, n)
    life = np.log1p(rng.exponential(size=n) / eta) / b  # Gompertz: P(tau > u) = e^{-eta(e^{bu}-1)}
    alive_cal = np.minimum(life, T)
    x = rng.poisson(lam * alive_cal)
    tx = np.where(x > 0, alive_cal * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    holdout = rng.poisson(lam * np.clip(life - T, 0.0, t))
    return x.astype(float), tx, np.full(n, float(T)), holdout, life > T


def test_conditional_expectation_and_p_alive_match_a_simulated_cohort():
    """E[E[X(T, T+t) | history]] = E[X(T, T+t)], and E[P(alive)] = P(tau > T).

    With b T = 3 the Gompertz hazard grows within the calibration period, so a
    remaining lifetime that forgot the customer's age (restarting the Gompertz clock at
    T) would miss the simulated holdout by many standard errors.
    """
    params = (0.8, 6.0, 0.1, 1.0, 3.0)
    x, tx, T, holdout, alive = _simulate_process(40_000, params, 30.0, 30.0, seed=7)
    ours = gg.expected_purchases(params, x, tx, T, 30.0)
    se = holdout.std(ddof=1) / np.sqrt(holdout.size)
    assert abs(ours.mean() - holdout.mean()) < 4 * se, (ours.mean(), holdout.mean(), se)
    p = gg.probability_alive(params, x, tx, T)
    # the remaining lifetime with the Gompertz clock restarted at T (survival
    # (B/(B + e^{bu} - 1))^s, B = beta - 1 + e^{bT}: the form of the CET reference in
    # CLVTools' test_correctness_ggomnbd.R) misses the simulation by far
    big_b = params[4] - 1 + np.exp(params[2] * 30.0)
    u = np.linspace(0.0, 30.0, 30_001)
    restart = (big_b / (big_b + np.expm1(params[2] * u))) ** params[3]
    window = float(np.sum((restart[1:] + restart[:-1]) / 2) * (u[1] - u[0]))
    forgetful = p * (params[0] + x) / (params[1] + T) * window
    assert abs(forgetful.mean() - holdout.mean()) > 20 * se
    se = alive.std(ddof=1) / np.sqrt(alive.size)
    assert abs(p.mean() - alive.mean()) < 4 * se


# ----------------------------------------------------------------------------- CDNOW
@pytest.fixture(scope="module")
def cdnow_summary():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rfm_summary(load_cdnow_transactions(), amount="amount",
                           calibration_end="1997-09-30", time_unit="W")


@pytest.fixture(scope="module")
def cdnow_fit(cdnow_summary):
    with pytest.warns(Warning, match="ran to a bound"):
        return GammaGompertzNBD().fit(cdnow_summary)


def test_cdnow_fit_reproduces_clvtools_and_bemmaor_glady(cdnow_fit):
    p = cdnow_fit.params_
    # log-likelihood: CLVTools -9594.9762 (to its 4 printed decimals, 1e-3); Bemmaor &
    # Glady -9594.98 (2 decimals)
    assert cdnow_fit.log_likelihood_ == pytest.approx(-9594.9762, abs=1e-3)
    assert round(cdnow_fit.log_likelihood_, 2) == -9594.98
    # r, alpha: CLVTools 0.55313, 10.5758; B&G 0.553, 10.578 (0.05%: the fits stop at
    # different points of the flat boundary ridge)
    assert round(p["r"], 3) == 0.553 and p["r"] == pytest.approx(0.55313, rel=5e-4)
    assert round(p["alpha"], 3) == 10.578 and p["alpha"] == pytest.approx(10.5758, rel=5e-4)
    # s: CLVTools 0.60682, B&G 0.603; along the ridge s moves with b (1%)
    assert p["s"] == pytest.approx(0.60682, rel=1e-2) and p["s"] == pytest.approx(0.603, rel=1e-2)
    # b and beta on the boundary; their ratio is the Pareto/NBD beta (FHL 2005: 11.669)
    assert p["b"] < 1e-4 and p["beta"] < 1e-3
    assert p["beta"] / p["b"] == pytest.approx(11.669, rel=2e-3)
    assert not cdnow_fit.converged_  # at the bound: the fit says so


def test_cdnow_fit_equals_the_pareto_nbd_limit(cdnow_fit, cdnow_summary):
    """The boundary maximum is the Pareto/NBD's: same likelihood and the same P(alive)."""
    pnbd = ParetoNBD().fit(cdnow_summary)
    assert cdnow_fit.log_likelihood_ == pytest.approx(pnbd.log_likelihood_, abs=1e-3)
    small = cdnow_summary.iloc[:200]
    np.testing.assert_allclose(cdnow_fit.probability_alive(small),
                               pnbd.probability_alive(small), rtol=2e-3)
    np.testing.assert_allclose(cdnow_fit.expected_purchases(small, t=39.0),
                               pnbd.expected_purchases(small, t=39.0), rtol=5e-3)


def test_cdnow_clv_with_gamma_gamma_is_the_discounted_expectation(cdnow_fit, cdnow_summary):
    from clvmodels.models.clv import customer_lifetime_value

    repeat = cdnow_summary[cdnow_summary["frequency"] > 0]
    spend = GammaGamma().fit(repeat)
    small = cdnow_summary.iloc[:50]
    clv = customer_lifetime_value(cdnow_fit, spend, small, horizon=12, discount_rate=0.01)
    steps = np.arange(13.0)
    cum = np.column_stack([cdnow_fit.expected_purchases(small, t=k) for k in steps])
    by_hand = (np.diff(cum, axis=1) / 1.01 ** steps[1:]).sum(axis=1)
    np.testing.assert_allclose(clv, by_hand * spend.expected_spend(small), rtol=1e-9)


# --------------------------------------------------------------------------- apparel
@pytest.fixture(scope="module")
def apparel_summary():
    if not APPAREL.exists():
        pytest.skip(f"{APPAREL} not found (the shared data folder)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rfm_summary(pd.read_csv(APPAREL), customer_id="Id", date="Date",
                           amount="Price", calibration_end="2006-12-31", time_unit="W")


@pytest.mark.slow
def test_apparel_fit_against_mpmath_and_the_nested_pareto_nbd(apparel_summary):
    """No published GG/NBD figures on apparel: the independent quadrature and nesting.

    The log-likelihood at our estimate, summed by mpmath over every customer, equals
    ours (1e-10 relative); it is at least the Pareto/NBD's (its limit b -> 0); and the
    analytic gradient (checked against mpmath above) vanishes there.
    """
    with pytest.warns(Warning, match="ran to a bound"):  # b -> 0 here too (Pareto/NBD limit)
        model = GammaGompertzNBD().fit(apparel_summary)
    data = [apparel_summary[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    rows = pd.DataFrame(dict(zip(("x", "tx", "T"), data, strict=True))).value_counts()
    ref = mp.fsum(count * mp_loglik(model.params_.to_numpy(), *row)[0]
                  for row, count in rows.items())
    assert model.log_likelihood_ == pytest.approx(float(ref), rel=1e-10)
    pnbd = ParetoNBD().fit(apparel_summary)
    assert model.log_likelihood_ >= pnbd.log_likelihood_ - 1e-6
    grad = gg.gradient(model.params_.to_numpy(), *data) * model.params_.to_numpy()
    assert np.max(np.abs(grad)) < 1e-2 * len(apparel_summary) ** 0.5
