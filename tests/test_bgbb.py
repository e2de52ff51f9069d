"""BG/BB model: likelihood and gradient against mpmath, predictions against explicit sums,
brute-force simulation, R's BTYD and lifetimes; the donations fit of Fader, Hardie & Shang
(2010); recovery of simulated parameters."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels.data._simulate_family import simulate_bgbb_summary
from clvmodels.datasets import load_donations
from clvmodels.errors import InvalidParameterError, InvalidSummaryError, NotFittedError
from clvmodels.models import bgbb
from clvmodels.models.bgbb import BGBB

mp.mp.dps = 30

# Fader, Hardie & Shang (2010), donations data (11,104 donors, 6 opportunities).
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783, "ll": -33225.6}
PUB_PARAMS = (1.204, 0.750, 0.657, 2.783)

# R package BTYD, documentation example of bgbb.Expectation(c(1.20, 0.75, 0.66, 2.78), n = 1:10)
# (printed output of the package's own closed form, 7 significant digits).
BTYD_EXPECTATION = [0.4973166, 0.9207078, 1.2927317, 1.6266289, 1.9309062, 2.2113893, 2.4722624,
                    2.7166434, 2.9469256, 3.1649902]


# ---------------------------------------------------------------------------
# independent references (mpmath, term by term)
# ---------------------------------------------------------------------------
def _mp_lik(a, b, g, d, x, tx, n):
    a, b, g, d = (mp.mpf(v) for v in (a, b, g, d))
    bab, bgd = mp.beta(a, b), mp.beta(g, d)
    total = mp.beta(a + x, b + n - x) / bab * mp.beta(g, d + n) / bgd
    for i in range(int(n - tx)):
        total += mp.beta(a + x, b + tx - x + i) / bab * mp.beta(g + 1, d + tx + i) / bgd
    return total


def _mp_loglik(params, x, tx, n, w):
    return mp.fsum(mp.mpf(int(wi)) * mp.log(_mp_lik(*params, xi, ti, ni))
                   for xi, ti, ni, wi in zip(x, tx, n, w, strict=True))


def _mp_expected(params, x, tx, n, m):
    """Sum over future opportunities of P(alive at t and transact | data)."""
    a, b, g, d = (mp.mpf(v) for v in params)
    lead = mp.beta(a + x + 1, b + n - x) / mp.beta(a, b) / _mp_lik(*params, x, tx, n)
    return lead * mp.fsum(mp.beta(g, d + t) / mp.beta(g, d) for t in range(n + 1, n + m + 1))


def _donations():
    d = load_donations()
    return (d["frequency"].to_numpy(), d["recency"].to_numpy(), d["n_periods"].to_numpy(),
            d["weights"].to_numpy())


POINTS = [
    (PUB_PARAMS, 0, 0, 6),
    (PUB_PARAMS, 3, 5, 6),
    (PUB_PARAMS, 6, 6, 6),
    ((0.05, 20.0, 3.0, 0.1), 2, 40, 120),
    ((50.0, 0.3, 0.02, 80.0), 90, 100, 100),
    ((1.0, 1.0, 1.0, 1.0), 1, 1, 300),
    ((1e3, 1e3, 5.0, 5.0), 10, 30, 30),
]


@pytest.mark.parametrize(("params", "x", "tx", "n"), POINTS)
def test_row_loglik_matches_mpmath(params, x, tx, n):
    ours = bgbb.log_likelihood_rows(params, [x], [tx], [n])[0]
    ref = mp.log(_mp_lik(*params, x, tx, n))
    assert ours == pytest.approx(float(ref), rel=1e-12, abs=1e-12)


def test_loglik_and_gradient_match_mpmath_on_donations():
    x, tx, n, w = _donations()
    for params in (PUB_PARAMS, (0.8, 1.5, 1.3, 0.9)):
        assert bgbb.log_likelihood(params, x, tx, n, w) == pytest.approx(
            float(_mp_loglik(params, x, tx, n, w)), rel=1e-13
        )
        g = bgbb.gradient(params, x, tx, n, w)
        for j in range(4):
            def f(v, j=j, params=params):
                p = list(params)
                p[j] = v
                return _mp_loglik(p, x, tx, n, w)

            assert g[j] == pytest.approx(float(mp.diff(f, params[j])), rel=1e-9, abs=1e-7)


def test_gradient_matches_finite_differences_on_varied_data():
    s = simulate_bgbb_summary(3000, 0.7, 1.8, 0.4, 3.0, np.arange(3000) % 25, random_state=4)
    x, tx, n = (s[c].to_numpy() for c in ("frequency", "recency", "n_periods"))
    p = np.array([0.7, 1.8, 0.4, 3.0])
    g = bgbb.gradient(p, x, tx, n)
    for j in range(4):
        h = 1e-6 * p[j]
        e = np.zeros(4)
        e[j] = h
        fd = (bgbb.log_likelihood(p + e, x, tx, n) - bgbb.log_likelihood(p - e, x, tx, n)) / (2 * h)
        assert g[j] == pytest.approx(fd, rel=1e-6)


# ---------------------------------------------------------------------------
# the paper and R's BTYD
# ---------------------------------------------------------------------------
def test_reproduces_fader_hardie_shang_2010():
    model = BGBB().fit(load_donations())  # the weights column is used automatically
    assert model.converged_
    assert model.n_customers_ == 11104
    for name in ("alpha", "beta", "gamma", "delta"):
        assert round(model.params_[name], 3) == PUBLISHED[name]
    assert round(model.log_likelihood_, 1) == PUBLISHED["ll"]
    assert np.all(model.summary()["std_error"] > 0)


def test_expected_purchases_new_customer_matches_btyd():
    ours = bgbb.expected_purchases_new_customer((1.20, 0.75, 0.66, 2.78), np.arange(1, 11))
    np.testing.assert_allclose(ours, BTYD_EXPECTATION, rtol=2e-7)


# ---------------------------------------------------------------------------
# predictions against explicit sums (mpmath)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "gamma", [0.657, 1.0, 1.0 + 1e-7, 1.0 - 5e-4, 1.0 + 2e-3, 0.951, 1.049, 1.051, 0.949, 4.5]
)
def test_expected_purchases_against_explicit_sums(gamma):
    params = (1.204, 0.750, gamma, 2.783)
    for x, tx, n in [(0, 0, 6), (3, 5, 6), (6, 6, 6), (10, 40, 50)]:
        for m in (1, 5, 30):
            ours = bgbb.expected_purchases(params, x, tx, n, m)
            assert float(ours) == pytest.approx(float(_mp_expected(params, x, tx, n, m)), rel=1e-12)
    # new customers: E[X(m)] = alpha / (alpha + beta) sum_{t=1}^{m} P(alive at t)
    for m in (1, 6, 100):
        ref = mp.mpf(1.204) / (mp.mpf(1.204) + mp.mpf(0.75)) * mp.fsum(
            mp.beta(gamma, mp.mpf(2.783) + t) / mp.beta(gamma, mp.mpf(2.783))
            for t in range(1, m + 1)
        )
        assert float(bgbb.expected_purchases_new_customer(params, m)) == pytest.approx(
            float(ref), rel=1e-12
        )


def test_probability_alive_against_explicit_formula():
    for x, tx, n, t in [(0, 0, 6, 1), (3, 5, 6, 1), (6, 6, 6, 4), (2, 2, 30, 1), (2, 30, 30, 0)]:
        a, b, g, d = (mp.mpf(v) for v in PUB_PARAMS)
        ref = (mp.beta(a + x, b + n - x) / mp.beta(a, b) * mp.beta(g, d + n + t) / mp.beta(g, d)
               / _mp_lik(*PUB_PARAMS, x, tx, n))
        assert float(bgbb.probability_alive(PUB_PARAMS, x, tx, n, t)) == pytest.approx(
            float(ref), rel=1e-12
        )
    # a customer with a transaction at the last opportunity is alive then: P(alive at n) = 1
    assert float(bgbb.probability_alive(PUB_PARAMS, 4, 6, 6, 0)) == pytest.approx(1.0)


def test_probability_of_purchases_is_a_distribution_matching_mpmath():
    params = (0.9, 1.7, 0.5, 2.2)
    for t in (0, 1, 6, 25):
        pr = bgbb.probability_of_purchases(params, np.arange(t + 3), t)
        assert pr.sum() == pytest.approx(1.0, rel=1e-12)
        assert np.all(pr[t + 1:] == 0)
        mean = float(np.sum(np.arange(t + 3) * pr))
        assert mean == pytest.approx(float(bgbb.expected_purchases_new_customer(params, t)),
                                     rel=1e-12, abs=1e-15)
    a, b, g, d = (mp.mpf(v) for v in params)
    for n, t in [(0, 6), (3, 6), (6, 6), (4, 25)]:
        ref = mp.binomial(t, n) * mp.beta(a + n, b + t - n) / mp.beta(a, b) * mp.beta(
            g, d + t) / mp.beta(g, d) + mp.fsum(
            mp.binomial(i, n) * mp.beta(a + n, b + i - n) / mp.beta(a, b)
            * mp.beta(g + 1, d + i) / mp.beta(g, d) for i in range(n, t))
        assert float(bgbb.probability_of_purchases(params, n, t)) == pytest.approx(
            float(ref), rel=1e-12
        )


@pytest.mark.parametrize("gamma", [0.657, 1.0, 2.5])
@pytest.mark.parametrize("d", [0.02, 0.1, 1.0])
def test_dert_against_explicit_discounted_sum(gamma, d):
    params = (1.204, 0.750, gamma, 2.783)
    with mp.workdps(30):
        a, b, g, dl = (mp.mpf(v) for v in params)
        z = 1 / (1 + mp.mpf(d))
        for x, tx, n in [(0, 0, 6), (3, 5, 6), (6, 6, 6), (5, 20, 40)]:
            lead = mp.beta(a + x + 1, b + n - x) / mp.beta(a, b) / _mp_lik(*params, x, tx, n)
            # sum_{t>n} P(alive at t) z^(t-n); P(alive at t+1) / P(alive at t) = (d+t)/(g+d+t)
            alive = mp.beta(g, dl + n + 1) / mp.beta(g, dl)
            total, k = mp.mpf(0), 1
            while alive * z**k > mp.mpf(10) ** -25 * (1 - z) * (total + alive * z):
                total += alive * z**k
                alive *= (dl + n + k) / (g + dl + n + k)
                k += 1
            ours = bgbb.discounted_expected_residual_transactions(params, x, tx, n, d)
            assert float(ours) == pytest.approx(float(lead * total), rel=1e-12)


def test_dert_without_discount_is_all_future_transactions():
    params = (1.204, 0.750, 2.5, 2.783)
    x, tx, n = np.array([0, 3, 6]), np.array([0, 5, 6]), np.array([6, 6, 6])
    far = bgbb.expected_purchases(params, x, tx, n, 10**7)
    np.testing.assert_allclose(
        bgbb.discounted_expected_residual_transactions(params, x, tx, n, 0.0), far, rtol=1e-8
    )
    assert np.all(np.isinf(bgbb.discounted_expected_residual_transactions(
        PUB_PARAMS, x, tx, n, 0.0)))


# ---------------------------------------------------------------------------
# brute-force simulation of the process, opportunity by opportunity
# ---------------------------------------------------------------------------
def _brute_force(n_customers, params, n, m, seed):
    """Every opportunity drawn explicitly: alive, then transact (independent of the library)."""
    rng = np.random.default_rng(seed)
    a, b, g, d = params
    p = rng.beta(a, b, n_customers)
    theta = rng.beta(g, d, n_customers)
    alive = np.ones(n_customers, dtype=bool)
    buys = np.zeros((n_customers, n + m), dtype=bool)
    for t in range(n + m):
        alive &= rng.random(n_customers) >= theta  # drop out at the start of opportunity t + 1
        buys[:, t] = alive & (rng.random(n_customers) < p)
    cal = buys[:, :n]
    x = cal.sum(axis=1)
    idx = np.arange(1, n + 1)
    tx = np.where(x > 0, np.max(np.where(cal, idx, 0), axis=1), 0)
    return x, tx, buys[:, n:].sum(axis=1), alive


def test_predictions_against_brute_force_simulation():
    params = (1.204, 0.750, 0.657, 2.783)
    n, m = 6, 5
    x, tx, future, _ = _brute_force(400_000, params, n, m, seed=7)
    frame = pd.DataFrame({"x": x, "tx": tx, "future": future})
    groups = frame.groupby(["x", "tx"])["future"].agg(["mean", "std", "size"])
    groups = groups[groups["size"] >= 2000]
    expected = bgbb.expected_purchases(params, groups.index.get_level_values(0),
                                       groups.index.get_level_values(1), n, m)
    se = groups["std"] / np.sqrt(groups["size"])
    z = (groups["mean"] - expected) / se
    assert np.all(np.abs(z) < 4.5), z
    # P(X(n) = x) against the simulated frequencies
    share = np.bincount(x, minlength=n + 1) / x.size
    pr = bgbb.probability_of_purchases(params, np.arange(n + 1), n)
    assert np.all(np.abs(share - pr) < 4.5 * np.sqrt(pr * (1 - pr) / x.size))


def test_library_simulator_matches_brute_force_distribution():
    params = (0.9, 1.4, 0.5, 1.8)
    n = 8
    x, tx, _, _ = _brute_force(100_000, params, n, 0, seed=3)
    s = simulate_bgbb_summary(100_000, *params, n, random_state=3)
    for a, b in [(x, s["frequency"].to_numpy()), (tx, s["recency"].to_numpy())]:
        pa = np.bincount(a, minlength=n + 1) / a.size
        pb = np.bincount(b, minlength=n + 1) / b.size
        pooled = (pa + pb) / 2
        assert np.all(np.abs(pa - pb) < 4.5 * np.sqrt(2 * pooled * (1 - pooled) / a.size) + 1e-9)


# ---------------------------------------------------------------------------
# the peer (lifetimes) at the same parameters
# ---------------------------------------------------------------------------
@pytest.mark.peers
def test_predictions_match_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    x, tx, n, w = _donations()
    peer = lifetimes.BetaGeoBetaBinomFitter()
    peer.fit(x, tx, n, weights=w)
    ours = BGBB().fit(load_donations())
    # the fits agree (lifetimes adds 1e-15 inside its log, a negligible change)
    np.testing.assert_allclose(peer.params_.to_numpy(), ours.params_.to_numpy(), rtol=1e-4)
    peer.params_[:] = ours.params_.to_numpy()
    p = ours.params_
    for m in (1, 3, 10):
        np.testing.assert_allclose(
            bgbb.expected_purchases(p, x, tx, n, m),
            peer.conditional_expected_number_of_purchases_up_to_time(m, x, tx, n), rtol=1e-6)
        np.testing.assert_allclose(
            bgbb.probability_alive(p, x, tx, n, m),
            peer.conditional_probability_alive(m, x, tx, n), rtol=1e-6)
    table = peer.expected_number_of_transactions_in_first_n_periods(6)
    np.testing.assert_allclose(
        bgbb.probability_of_purchases(p, table.index.to_numpy(), 6) * w.sum(),
        table["model"].to_numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [(1.2, 0.75, 0.66, 2.8), (0.5, 2.0, 1.5, 1.0), (3.0, 3.0, 0.3, 5.0), (0.8, 0.4, 2.0, 8.0)],
)
def test_recovers_simulated_parameters_within_3_se(params):
    seed = int(sum(1000 * v for v in params))  # a fixed seed per parameter set
    s = simulate_bgbb_summary(20_000, *params, 10, random_state=seed)
    model = BGBB().fit(s)
    table = model.summary()
    z = np.abs(table["estimate"].to_numpy() - np.array(params)) / table["std_error"].to_numpy()
    assert model.converged_
    assert np.all(z < 3), (table, z)


def test_varied_opportunities_and_compressed_rows_give_the_same_fit():
    s = simulate_bgbb_summary(5000, 1.0, 1.0, 0.7, 2.0, np.arange(5000) % 7 + 3, random_state=1)
    full = BGBB().fit(s)
    table = s.value_counts().rename("weights").reset_index()
    compact = BGBB().fit(table)
    np.testing.assert_allclose(compact.params_, full.params_, rtol=1e-7)
    assert compact.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-12)
    assert compact.n_customers_ == full.n_customers_ == 5000


def test_class_predictions_are_series_indexed_like_the_summary():
    model = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783, time_unit="Y")
    s = pd.DataFrame({"frequency": [0, 3], "recency": [0, 5], "n_periods": [6, 6]},
                     index=pd.Index(["a", "b"], name="donor"))
    e = model.expected_purchases(s, t=5)
    assert list(e.index) == ["a", "b"] and e.name == "expected_purchases"
    np.testing.assert_allclose(e, bgbb.expected_purchases(PUB_PARAMS, [0, 3], [0, 5], 6, 5))
    pa = model.probability_alive(s)
    np.testing.assert_allclose(pa, bgbb.probability_alive(PUB_PARAMS, [0, 3], [0, 5], 6))
    dert = model.discounted_expected_residual_transactions(s, discount_rate=0.1)
    assert dert.name == "discounted_expected_residual_transactions"
    assert model.probability_of_purchases([0, 1], 6).shape == (2,)
    assert float(model.expected_purchases_new_customer(6)) > 0


def test_save_load_round_trip(tmp_path):
    from clvmodels.models.io import load_model

    model = BGBB().fit(load_donations())
    path = tmp_path / "bgbb.json"
    model.save(path)
    back = load_model(path)
    assert isinstance(back, BGBB)
    np.testing.assert_allclose(back.params_, model.params_)
    np.testing.assert_allclose(back.covariance_, model.covariance_)


# ---------------------------------------------------------------------------
# errors for people
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "match"),
    [
        ({"frequency": [3], "recency": [2], "n_periods": [6]}, "exceeds 'recency'"),
        ({"frequency": [1], "recency": [7], "n_periods": [6]}, "exceeds column 'n_periods'"),
        ({"frequency": [0], "recency": [2], "n_periods": [6]}, "'frequency' is 0"),
        ({"frequency": [1.5], "recency": [2], "n_periods": [6]}, "whole number"),
        ({"frequency": [1], "recency": [2]}, "missing column"),
    ],
)
def test_bad_summaries_are_explained(frame, match):
    with pytest.raises(InvalidSummaryError, match=match):
        BGBB().fit(pd.DataFrame(frame))


def test_bad_arguments_and_unfitted_use():
    with pytest.raises(NotFittedError):
        BGBB().expected_purchases(frequency=[1], recency=[1], n_periods=[2])
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        bgbb.expected_purchases(PUB_PARAMS, 1, 1, 6, 2.5)
    with pytest.raises(InvalidParameterError, match="frequency <= recency"):
        bgbb.probability_alive(PUB_PARAMS, 3, 2, 6)
    with pytest.raises(InvalidParameterError, match="discount_rate"):
        bgbb.discounted_expected_residual_transactions(PUB_PARAMS, 1, 1, 6, -0.1)
    with pytest.raises(InvalidParameterError, match="gamma"):
        bgbb.log_likelihood((1.0, 1.0, -1.0, 1.0), 1, 1, 6)


def test_estimator_contract_basics():
    from sklearn.base import clone

    model = BGBB(penalizer=0.0, n_starts=2)
    assert clone(model).get_params() == model.get_params()
    data = load_donations()
    a = model.fit(data).params_.copy()
    b = model.fit(data).params_
    pd.testing.assert_series_equal(a, b)  # fitting twice gives the same answer
    assert model.get_params() == {"penalizer": 0.0, "n_starts": 2}  # fit leaves them alone
    with pytest.raises(InvalidParameterError, match="penalizer"):
        BGBB(penalizer=-1).fit(data)
