"""MBG/NBD model: likelihood and gradient against mpmath, predictions against the closed forms
(mpmath 2F1), an event-by-event simulation and lifetimes' ModifiedBetaGeoFitter; the CDNOW fit
against lifetimes; recovery of simulated parameters."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.data._simulate_family import simulate_mbgnbd_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import InvalidParameterError, NotFittedError, UnitMismatchError
from clvmodels.models import bgnbd, mbgnbd
from clvmodels.models.mbgnbd import MBGNBD

mp.mp.dps = 30


@pytest.fixture(scope="module")
def cdnow():
    return clvmodels.rfm_summary(
        load_cdnow_transactions(), amount="amount", calibration_end="1997-09-30",
        observation_end="1998-06-30", time_unit="W",
    )


def _mp_row(r, alpha, a, b, x, tx, T):
    r, alpha, a, b, tx, T = (mp.mpf(v) for v in (r, alpha, a, b, tx, T))
    common = mp.gamma(r + x) * alpha**r / mp.gamma(r)
    first = mp.beta(a, b + x + 1) / mp.beta(a, b) * common / (alpha + T) ** (r + x)
    second = mp.beta(a + 1, b + x) / mp.beta(a, b) * common / (alpha + tx) ** (r + x)
    return mp.log(first + second)


POINTS = [
    ((0.525, 6.183, 0.891, 1.614), 0, 0.0, 38.86),
    ((0.525, 6.183, 0.891, 1.614), 2, 30.43, 38.86),
    ((0.525, 6.183, 0.891, 1.614), 14, 38.0, 38.86),
    ((2.0, 0.5, 0.05, 30.0), 100, 1.0, 500.0),
    ((0.01, 100.0, 20.0, 0.3), 3, 7.5, 8.0),
    ((50.0, 2.0, 1.0, 1.0), 300, 9.9, 10.0),
]


@pytest.mark.parametrize(("params", "x", "tx", "T"), POINTS)
def test_row_loglik_matches_mpmath(params, x, tx, T):
    ours = mbgnbd.log_likelihood_rows(params, [x], [tx], [T])[0]
    assert ours == pytest.approx(float(_mp_row(*params, x, tx, T)), rel=1e-12, abs=1e-12)


def test_gradient_matches_mpmath_and_finite_differences():
    s = simulate_mbgnbd_summary(400, 0.5, 6.0, 0.9, 1.6, np.linspace(5, 40, 400), random_state=2)
    x, tx, T = s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy()
    p = np.array([0.5, 6.0, 0.9, 1.6])
    g = mbgnbd.gradient(p, x, tx, T)
    sub = slice(0, 40)
    g_sub = mbgnbd.gradient(p, x[sub], tx[sub], T[sub])
    for j in range(4):
        def f(v, j=j):
            q = list(p)
            q[j] = v
            return mp.fsum(_mp_row(*q, xi, ti, Ti) for xi, ti, Ti in zip(x[sub], tx[sub], T[sub],
                                                                         strict=True))
        assert g_sub[j] == pytest.approx(float(mp.diff(f, p[j])), rel=1e-9, abs=1e-9)
        h = 1e-6 * p[j]
        e = np.zeros(4)
        e[j] = h
        fd = (mbgnbd.log_likelihood(p + e, x, tx, T) - mbgnbd.log_likelihood(p - e, x, tx, T)) / (
            2 * h)
        assert g[j] == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_likelihood_is_a_shifted_bgnbd_for_repeat_buyers():
    """For x > 0, L_MBG(a, b) = b / (a + b) L_BGNBD(a, b + 1): checks against the core model."""
    p = (0.525, 6.183, 0.891, 1.614)
    x, tx, T = np.array([1, 2, 7]), np.array([3.0, 30.43, 35.0]), np.array([38.86, 38.86, 36.0])
    ours = mbgnbd.log_likelihood_rows(p, x, tx, T)
    other = bgnbd.log_likelihood_rows((p[0], p[1], p[2], p[3] + 1), x, tx, T)
    np.testing.assert_allclose(ours, np.log(p[3] / (p[2] + p[3])) + other, rtol=1e-13)


# ---------------------------------------------------------------------------
# predictions against closed forms
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("params", [(0.525, 6.183, 0.891, 1.614), (1.5, 2.0, 3.0, 4.0),
                                    (0.3, 10.0, 1.8, 0.7)])
def test_predictions_against_mpmath_closed_forms(params):
    r, alpha, a, b = (mp.mpf(v) for v in params)
    for t in (1.0, 39.0, 200.0):
        # Batislam et al.: E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]
        ref = b / (a - 1) * (1 - (alpha / (alpha + t)) ** r
                             * mp.hyp2f1(r, b + 1, a + b, t / (alpha + t)))
        assert float(mbgnbd.expected_purchases_new_customer(params, t)) == pytest.approx(
            float(ref), rel=1e-10)
    for x, tx, T in [(0, 0.0, 38.86), (2, 30.43, 38.86), (10, 20.0, 38.86)]:
        alive = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + tx)) ** (r + x))
        assert float(mbgnbd.probability_alive(params, x, tx, T)) == pytest.approx(
            float(alive), rel=1e-12)
        for t in (5.0, 39.0):
            z = t / (alpha + T + t)
            ref = (a + b + x) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                           * mp.hyp2f1(r + x, b + x + 1, a + b + x, z)) * alive
            assert float(mbgnbd.expected_purchases(params, x, tx, T, t)) == pytest.approx(
                float(ref), rel=1e-10)


def test_probability_of_purchases_against_explicit_formula():
    params = (0.525, 6.183, 0.891, 1.614)
    r, alpha, a, b = (mp.mpf(v) for v in params)
    t = mp.mpf(39)
    q, z = alpha / (alpha + t), t / (alpha + t)

    def nb(j):
        return mp.gamma(r + j) / (mp.gamma(r) * mp.factorial(j)) * q**r * z**j

    for n in (0, 1, 2, 7, 30):
        ref = (mp.beta(a, b + n + 1) / mp.beta(a, b) * nb(n)
               + mp.beta(a + 1, b + n) / mp.beta(a, b) * (1 - mp.fsum(nb(j) for j in range(n))))
        assert float(mbgnbd.probability_of_purchases(params, n, 39.0)) == pytest.approx(
            float(ref), rel=1e-11)
    pr = mbgnbd.probability_of_purchases(params, np.arange(2000), 39.0)
    assert pr.sum() == pytest.approx(1.0, rel=1e-10)
    assert np.sum(np.arange(2000) * pr) == pytest.approx(
        float(mbgnbd.expected_purchases_new_customer(params, 39.0)), rel=1e-9)


# ---------------------------------------------------------------------------
# event-by-event simulation (independent of the library's simulator)
# ---------------------------------------------------------------------------
def _simulate_events(n, params, T, horizon, seed):
    """Purchase by purchase: drop out at time 0 w.p. p, then after each purchase w.p. p."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = params
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    alive = rng.random(n) >= p
    clock = np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    tx = np.zeros(n)
    future = np.zeros(n, dtype=np.int64)
    alive_at_T = alive.copy()
    while np.any(alive):
        clock = np.where(alive, clock + rng.exponential(1 / np.maximum(lam, 1e-300)), clock)
        in_cal = alive & (clock <= T)
        in_hold = alive & (clock > T) & (clock <= T + horizon)
        x += in_cal
        tx = np.where(in_cal, clock, tx)
        future += in_hold
        dies = rng.random(n) < p
        alive_at_T &= ~(in_cal & dies)
        alive = alive & (clock <= T + horizon) & ~dies
    return x, tx, future, alive_at_T


def test_predictions_against_event_simulation():
    params = (0.525, 6.183, 0.891, 1.614)
    T, horizon = 38.0, 39.0
    x, tx, future, alive_at_T = _simulate_events(300_000, params, T, horizon, seed=8)
    frame = pd.DataFrame({"x": np.minimum(x, 6), "future": future, "alive": alive_at_T,
                          "pred": mbgnbd.expected_purchases(params, x, tx, T, horizon),
                          "palive": mbgnbd.probability_alive(params, x, tx, T)})
    # within groups of frequency, the mean simulated future purchases and alive share match the
    # mean predictions (predictions are exact conditional expectations, so this holds per group)
    for _, g in frame.groupby("x"):
        se = g["future"].std() / np.sqrt(len(g))
        assert abs(g["future"].mean() - g["pred"].mean()) < 4.5 * se + 1e-9
        se = np.sqrt(g["palive"].mean() * (1 - g["palive"].mean()) / len(g))
        assert abs(g["alive"].mean() - g["palive"].mean()) < 4.5 * se + 1e-9
    share = np.bincount(x, minlength=4)[:4] / x.size
    pr = mbgnbd.probability_of_purchases(params, np.arange(4), T)
    assert np.all(np.abs(share - pr) < 4.5 * np.sqrt(pr * (1 - pr) / x.size))


def test_library_simulator_matches_event_simulation():
    params = (0.8, 4.0, 1.2, 2.0)
    x_ev, _, _, _ = _simulate_events(100_000, params, 30.0, 0.0, seed=1)
    s = simulate_mbgnbd_summary(100_000, *params, 30.0, random_state=1)
    for k in range(5):
        pa, pb = np.mean(x_ev == k), np.mean(s["frequency"] == k)
        pooled = (pa + pb) / 2
        assert abs(pa - pb) < 4.5 * np.sqrt(2 * pooled * (1 - pooled) / 100_000)


# ---------------------------------------------------------------------------
# CDNOW against lifetimes
# ---------------------------------------------------------------------------
@pytest.mark.peers
def test_cdnow_fit_and_predictions_match_lifetimes(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    x, tx, T = cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
    ours = MBGNBD().fit(cdnow)
    assert ours.converged_ and ours.time_unit_ == "W"
    peer = lifetimes.ModifiedBetaGeoFitter()
    peer.fit(x, tx, T)
    # estimates agree to 1e-4 relative (measured: 6e-7); ours is at least as likely
    np.testing.assert_allclose(peer.params_.to_numpy(), ours.params_.to_numpy(), rtol=1e-4)
    ll_peer = mbgnbd.log_likelihood(peer.params_.to_numpy(), x, tx, T)
    assert ours.log_likelihood_ >= ll_peer - 1e-9
    # predictions at the SAME parameters (lifetimes' own estimates) to 1e-6
    p = peer.params_.to_numpy()
    np.testing.assert_allclose(mbgnbd.expected_purchases(p, x, tx, T, 39.0),
                               peer.conditional_expected_number_of_purchases_up_to_time(
                                   39.0, x, tx, T), rtol=1e-6)
    np.testing.assert_allclose(mbgnbd.probability_alive(p, x, tx, T),
                               peer.conditional_probability_alive(x, tx, T), rtol=1e-6)
    ts = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(mbgnbd.expected_purchases_new_customer(p, ts),
                               peer.expected_number_of_purchases_up_to_time(ts), rtol=1e-6)
    np.testing.assert_allclose(
        mbgnbd.probability_of_purchases(p, np.arange(10), 39.0),
        [peer.probability_of_n_purchases_up_to_time(39.0, k) for k in range(10)], rtol=1e-6)


# ---------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [(0.525, 6.183, 0.891, 1.614), (1.5, 2.0, 3.0, 4.0), (0.3, 10.0, 1.8, 0.7),
     (2.0, 20.0, 0.5, 3.0)],
)
def test_recovers_simulated_parameters_within_3_se(params):
    seed = int(sum(100 * v for v in params))
    s = simulate_mbgnbd_summary(20_000, *params, T=np.linspace(20, 52, 20_000),
                                random_state=seed)
    model = MBGNBD().fit(s)
    table = model.summary()
    z = np.abs(table["estimate"].to_numpy() - np.array(params)) / table["std_error"].to_numpy()
    assert model.converged_
    assert np.all(z < 3), (table, z)


def test_class_api(cdnow, tmp_path):
    model = MBGNBD().fit(cdnow)
    e = model.expected_purchases(cdnow, t=39)
    assert e.index.equals(cdnow.index) and e.name == "expected_purchases"
    # CDNOW holdout: 1,882 repeat purchases in weeks 40-78; the model's total is in that region
    assert 1400 < e.sum() < 2100
    pa = model.probability_alive(cdnow)
    assert pa.name == "probability_alive" and np.all((pa > 0) & (pa < 1))
    assert model.probability_of_purchases([0, 1], 39).shape == (2,)
    assert float(model.expected_purchases_new_customer(39)) > 0
    monthly = cdnow.copy()
    monthly.attrs = {**cdnow.attrs, "time_unit": "M"}
    with pytest.raises(UnitMismatchError):
        model.expected_purchases(monthly, t=9)
    from clvmodels.models.io import load_model

    path = tmp_path / "mbg.json"
    model.save(path)
    back = load_model(path)
    assert isinstance(back, MBGNBD)
    np.testing.assert_allclose(back.expected_purchases(cdnow, t=39), e)


def test_errors():
    with pytest.raises(NotFittedError):
        MBGNBD().probability_alive(frequency=[1], recency=[1.0], T=[2.0])
    with pytest.raises(InvalidParameterError, match="MBG/NBD parameter a"):
        mbgnbd.probability_alive((1.0, 1.0, -1.0, 1.0), 1, 1.0, 2.0)
    with pytest.raises(InvalidParameterError, match="recency"):
        mbgnbd.expected_purchases((1.0, 1.0, 1.0, 1.0), 1, 3.0, 2.0, 5.0)


def test_estimator_contract_basics(cdnow):
    from sklearn.base import clone

    model = MBGNBD(n_starts=2)
    assert clone(model).get_params() == model.get_params()
    a = model.fit(cdnow).params_.copy()
    pd.testing.assert_series_equal(a, model.fit(cdnow).params_)
    assert model.get_params() == {"penalizer": 0.0, "n_starts": 2}
    # compressed rows with weights give the same fit as one row per customer
    table = cdnow[["frequency", "recency", "T"]].value_counts().rename("w").reset_index()
    compact = MBGNBD().fit(table, weights="w")
    np.testing.assert_allclose(compact.params_, a, rtol=1e-6)
