"""BG/CNBD-k and MBG/CNBD-k: k = 1 against BG/NBD and MBG/NBD, mpmath at 30 digits, simulation.

The mpmath references are derived independently of the module's algebra: the likelihood
integrates the Erlang-k survival function (the regularised upper incomplete gamma) over the
gamma-distributed rate by quadrature, instead of the closed-form sum ``S2``; the conditional
expectation integrates Poisson tails over the rate and the ticks since the last purchase,
instead of the negative binomial tails of the posterior.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels.models import bgcnbd, bgnbd, mbgcnbd, mbgnbd

mp.mp.dps = 30

#: (k, r, alpha, a, b, x, t_x, T): ordinary, extreme frequencies / ages, k up to 10
GRID = [
    (2, 0.8, 2.0, 0.8, 2.5, 0, 0.0, 52.0),
    (2, 0.8, 2.0, 0.8, 2.5, 3, 20.0, 52.0),
    (3, 0.05, 0.3, 2.0, 0.4, 7, 51.9, 52.0),
    (5, 3.0, 40.0, 0.3, 8.0, 40, 100.0, 300.0),
    (10, 1.2, 0.5, 1.5, 1.5, 12, 30.0, 35.0),
    (4, 0.7, 10.0, 0.9, 3.0, 10_000, 9_990.0, 10_000.0),
    (10, 50.0, 1e3, 0.2, 0.2, 300, 1_000.0, 10_000.0),
]


def _log_integral(g, peaks):
    """``log int_0^inf exp(g(lam)) dlam``, the integrand scaled at its largest peak candidate
    and the range split around every candidate (the integrands here have at most two modes)."""
    peaks = [max(p, mp.mpf(10) ** -25) for p, _ in peaks] and peaks
    top = max(g(max(p, mp.mpf(10) ** -25)) for p, _ in peaks)
    points = {mp.mpf(0)}
    for p, sd in peaks:
        for j in (-40, -12, -4, -1, 0, 1, 4, 12, 40):
            if p + j * sd > 0:
                points.add(p + j * sd)
    value = mp.quad(lambda lam: mp.exp(g(lam) - top), sorted(points) + [mp.inf])
    return mp.log(value) + top


def _mp_loglik(k, r, alpha, a, b, x, tx, T, c):
    """Quadrature over lambda of the Erlang survival (alive) and of the dropout branch."""
    k, x = int(k), int(x)
    r, alpha, a, b, tx, T = (mp.mpf(v) for v in (r, alpha, a, b, tx, T))
    lb = mp.log(mp.beta(a, b))
    log_stay = mp.log(mp.beta(a, b + x + c)) - lb
    has_dead = x > 0 or c > 0
    log_drop = mp.log(mp.beta(a + 1, b + x - 1 + c)) - lb if has_dead else None
    s = r + k * x

    def g(lam):
        base = (s - 1) * mp.log(lam) - lam * (alpha + tx)
        alive = log_stay + mp.log(mp.gammainc(k, lam * (T - tx), mp.inf, regularized=True))
        total = mp.exp(alive) + (mp.exp(log_drop) if has_dead else 0)
        return base + mp.log(total)

    peaks = [((s - 1) / (alpha + T), mp.sqrt(s) / (alpha + T)),
             ((s - 1) / (alpha + tx), mp.sqrt(s) / (alpha + tx))]
    return _log_integral(g, peaks) + r * mp.log(alpha) - mp.loggamma(r)


def _mp_alive(k, r, alpha, a, b, x, tx, T, c):
    """P(alive) = alive branch / both branches, each by quadrature."""
    whole = _mp_loglik(k, r, alpha, a, b, x, tx, T, c)
    k, x = int(k), int(x)
    r, alpha, a, b, tx, T = (mp.mpf(v) for v in (r, alpha, a, b, tx, T))
    s = r + k * x
    log_stay = mp.log(mp.beta(a, b + x + c)) - mp.log(mp.beta(a, b))

    def g(lam):
        return ((s - 1) * mp.log(lam) - lam * (alpha + tx) + log_stay
                + mp.log(mp.gammainc(k, lam * (T - tx), mp.inf, regularized=True)))

    alive = _log_integral(g, [((s - 1) / (alpha + T), mp.sqrt(s) / (alpha + T))])
    return mp.exp(alive + r * mp.log(alpha) - mp.loggamma(r) - whole)


@pytest.mark.parametrize("case", GRID, ids=[f"k{g[0]}-x{g[5]}-T{g[7]:g}" for g in GRID])
@pytest.mark.parametrize("c", [0, 1], ids=["BG", "MBG"])
def test_likelihood_and_p_alive_against_mpmath_quadrature(case, c):
    k, r, alpha, a, b, x, tx, T = case
    params = (k, r, alpha, a, b)
    got = bgcnbd.log_likelihood_rows(params, x, tx, T, dropout_at_zero=bool(c))
    want = _mp_loglik(*case, c)
    assert float(got) == pytest.approx(float(want), rel=1e-11, abs=1e-11)
    alive = bgcnbd.probability_alive(params, x, tx, T, dropout_at_zero=bool(c))
    assert float(alive) == pytest.approx(float(_mp_alive(*case, c)), rel=1e-9, abs=1e-14)


def _mp_closed_loglik(k, x, tx, T, c):
    """The likelihood's closed form (paper eq. 6-8) at 30 digits, for mpmath's derivatives."""
    def f(r, alpha, a, b):
        s = r + k * x
        u = (T - tx) / (alpha + T)
        s2 = mp.fsum(mp.gamma(s + j) / (mp.gamma(s) * mp.factorial(j)) * u ** j
                     for j in range(k))
        s1 = (a / (b + x - 1 + c) * ((alpha + T) / (alpha + tx)) ** s) if (x > 0 or c) else 0
        return (mp.log(mp.beta(a, b + x + c)) - mp.log(mp.beta(a, b)) + mp.loggamma(s)
                - mp.loggamma(r) + r * mp.log(alpha) - s * mp.log(alpha + T) + mp.log(s2 + s1))
    return f


@pytest.mark.parametrize("case", GRID[:5], ids=[f"k{g[0]}-x{g[5]}" for g in GRID[:5]])
@pytest.mark.parametrize("c", [0, 1], ids=["BG", "MBG"])
def test_gradient_against_mpmath(case, c):
    k, r, alpha, a, b, x, tx, T = case
    grad = bgcnbd.gradient((k, r, alpha, a, b), [x], [tx], [T], dropout_at_zero=bool(c))
    f = _mp_closed_loglik(k, x, mp.mpf(tx), mp.mpf(T), c)
    point = [mp.mpf(v) for v in (r, alpha, a, b)]
    want = []
    for i in range(4):
        def partial(v, i=i):
            q = list(point)
            q[i] = v
            return f(*q)
        want.append(float(mp.diff(partial, point[i])))
    np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-12)


def _mp_expected(k, r, alpha, a, b, x, tx, T, t, c):
    """E[Y(t) | data] by quadrature over lambda of Poisson tails (independent of the NB route)."""
    k, x = int(k), int(x)
    r, alpha, a, b, tx, T, t = (mp.mpf(v) for v in (r, alpha, a, b, tx, T, t))
    s = r + k * x
    delta = T - tx
    lb = mp.log(mp.beta(a, b))
    n_m = 400

    def future(lam):
        total = mp.mpf(0)
        for j in range(k):
            w = (lam * delta) ** j / mp.factorial(j)
            # Poisson tails beyond mean + 12 sd + 30 are below 1e-25: stop there
            last = int((lam * t + 12 * mp.sqrt(lam * t) + 30 + j) / k) + 2
            inner = mp.fsum(mp.exp(mp.log(mp.beta(a, b + x + c + m - 1)) - lb)
                            * mp.gammainc(m * k - j, 0, lam * t, regularized=True)
                            for m in range(1, min(n_m, last)))
            total += w * inner
        return total

    def g(lam):
        return (s - 1) * mp.log(lam) - lam * (alpha + T) + mp.log(future(lam))

    log_num = _log_integral(g, [((s - 1) / (alpha + T), mp.sqrt(s) / (alpha + T))])
    log_num += r * mp.log(alpha) - mp.loggamma(r)
    return mp.exp(log_num - _mp_loglik(k, r, alpha, a, b, x, tx, T, c))


@pytest.mark.slow  # 20-70 s per case: the reference sums Poisson tails at every node
@pytest.mark.parametrize("case,t", [(GRID[1], 10.0), (GRID[2], 10.0), (GRID[4], 3.0)],
                         ids=["k2", "k3", "k10"])
@pytest.mark.parametrize("c", [0, 1], ids=["BG", "MBG"])
def test_conditional_expectation_against_mpmath_quadrature(case, t, c):
    k, r, alpha, a, b, x, tx, T = case
    mp.mp.dps = 20  # the reference sums k x (Poisson-tail terms) per node; 20 digits suffice
    try:
        want = _mp_expected(*case, t, c)
    finally:
        mp.mp.dps = 30
    got = bgcnbd.expected_purchases((k, r, alpha, a, b), x, tx, T, t, dropout_at_zero=bool(c))
    assert float(got) == pytest.approx(float(want), rel=1e-9)


# ----------------------------------------------------------------- k = 1: BG/NBD, MBG/NBD
K1_PARAMS = [(0.243, 4.414, 0.793, 2.426), (2.0, 0.5, 1.7, 0.3), (0.05, 50.0, 0.2, 9.0)]
X = np.array([0, 1, 2, 5, 30, 1_000, 10_000.0])
TX = np.array([0.0, 5.0, 30.43, 20.0, 37.0, 500.0, 9_000.0])
T_ = np.array([38.86, 38.86, 38.86, 30.0, 38.0, 600.0, 10_000.0])


@pytest.mark.parametrize("params", K1_PARAMS)
@pytest.mark.parametrize("c", [0, 1], ids=["BG/NBD", "MBG/NBD"])
def test_k1_equals_bgnbd_and_mbgnbd(params, c):
    ref = mbgnbd if c else bgnbd
    cn = (1, *params)
    kw = {"dropout_at_zero": bool(c)}
    np.testing.assert_allclose(bgcnbd.log_likelihood_rows(cn, X, TX, T_, **kw),
                               ref.log_likelihood_rows(params, X, TX, T_), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bgcnbd.gradient(cn, X, TX, T_, **kw),
                               ref.gradient(params, X, TX, T_), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bgcnbd.probability_alive(cn, X, TX, T_, **kw),
                               ref.probability_alive(params, X, TX, T_), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bgcnbd.expected_purchases(cn, X, TX, T_, 26.0, **kw),
                               ref.expected_purchases(params, X, TX, T_, 26.0), rtol=1e-12)
    n = np.array([0, 1, 2, 7, 3, 400, 30])
    np.testing.assert_allclose(bgcnbd.log_conditional_pmf(cn, n, X, TX, T_, 26.0, **kw),
                               ref.log_conditional_pmf(params, n, X, TX, T_, 26.0),
                               rtol=1e-12, atol=1e-12)
    t = np.array([1.0, 39.0, 400.0])
    np.testing.assert_allclose(bgcnbd.expected_purchases_new_customer(cn, t, **kw),
                               ref.expected_purchases_new_customer(params, t), rtol=1e-12)
    np.testing.assert_allclose(bgcnbd.probability_of_purchases(cn, np.arange(30), 39.0, **kw),
                               ref.probability_of_purchases(params, np.arange(30), 39.0),
                               rtol=1e-11, atol=1e-300)


def test_mbgcnbd_module_is_the_dropout_at_zero_variant():
    p = (3, 0.8, 2.0, 0.8, 2.5)
    args = ([0, 4], [0.0, 20.0], [30.0, 30.0])
    np.testing.assert_array_equal(mbgcnbd.probability_alive(p, *args),
                                  bgcnbd.probability_alive(p, *args, dropout_at_zero=True))
    # a new MBG/CNBD-k customer survives time 0 with probability b / (a + b)
    assert mbgcnbd.probability_of_purchases(p, 0, 1e-9)[()] == pytest.approx(1.0, abs=1e-6)
    zero = bgcnbd.probability_alive(p, 0, 0.0, 0.0, dropout_at_zero=True)
    assert float(zero) == pytest.approx(2.5 / 3.3, rel=1e-14)


# ---------------------------------------------------------------------- simulation
@pytest.mark.parametrize("c", [0, 1], ids=["BG", "MBG"])
def test_conditional_pmf_matches_simulation_of_one_history(c):
    """The conditional PMF against the forecast hook's simulation (alive share by P(alive)),
    for a regular customer who is due: the Erlang gap in progress makes the first future
    purchase come soon."""
    p = (4, 2.0, 3.0, 0.6, 3.0)
    x, tx, T, t = 8, 40.0, 45.0, 10.0
    n = 200_000
    rng = np.random.default_rng(7)
    alive = rng.random(n) < float(bgcnbd.probability_alive(p, x, tx, T, dropout_at_zero=bool(c)))
    theta = np.tile(np.array(p, dtype=float), (int(alive.sum()), 1))
    owner, _, keep = bgcnbd.simulate_alive_purchases(
        theta, np.full(theta.shape[0], float(x)), np.full(theta.shape[0], T), t, rng,
        recency=np.full(theta.shape[0], tx), dropout_at_zero=bool(c))
    counts = np.zeros(n, dtype=np.int64)
    counts[np.flatnonzero(alive)] = np.bincount(owner[keep], minlength=theta.shape[0])
    freq = np.bincount(counts, minlength=12)[:12] / n
    pmf = np.exp(bgcnbd.log_conditional_pmf(p, np.arange(12), x, tx, T, t,
                                            dropout_at_zero=bool(c)))
    se = np.sqrt(pmf * (1 - pmf) / n)
    assert np.all(np.abs(freq - pmf) < 5 * se + 1e-6), (freq, pmf)
    mean = float(bgcnbd.expected_purchases(p, x, tx, T, t, dropout_at_zero=bool(c)))
    assert abs(counts.mean() - mean) < 5 * counts.std() / np.sqrt(n)


def test_summary_likelihood_profile_finds_k_without_litt():
    from clvmodels.data._simulate_cnbd import simulate_cnbd_summary
    from clvmodels.models.bgcnbd import BGCNBD

    s = simulate_cnbd_summary(4000, 3, 0.85, 1.45, 0.79, 2.42, 52.0, random_state=3)
    with_litt = BGCNBD().fit(s)
    without = BGCNBD().fit(s[["frequency", "recency", "T"]])
    assert with_litt.fit_info_["timing_term"] == "litt"
    assert without.fit_info_["timing_term"] == "recency"
    assert int(with_litt.params_["k"]) == int(without.params_["k"]) == 3
    # for the same k the continuous estimates do not depend on the timing term
    np.testing.assert_allclose(with_litt.params_, without.params_, rtol=1e-6)
    table = with_litt.summary()
    assert np.isnan(table.loc["k", "std_error"]) and "k_note" in table.attrs
    # k = 1 with the event log: (k - 1) litt - x log 0! = 0, the BG/NBD likelihood itself
    fixed = BGCNBD(k=1).fit(s)
    assert fixed.log_likelihood_ == pytest.approx(
        bgnbd.log_likelihood(fixed.params_.to_numpy()[1:], s["frequency"], s["recency"],
                             s["T"]), rel=1e-12)


def test_clv_with_gamma_gamma_works_through_the_expected_purchases():
    """customer_lifetime_value needs only expected_purchases: without discounting it is
    margin x spend x E[X(H)]; with it, the discounted sum of the monthly increments."""
    from clvmodels.models.clv import customer_lifetime_value
    from clvmodels.models.gamma_gamma import GammaGamma
    from clvmodels.models.mbgcnbd import MBGCNBD

    model = MBGCNBD.from_params(k=2, r=0.8, alpha=2.0, a=0.8, b=2.5)
    spend = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    summary = pd.DataFrame({"frequency": [0, 3, 8], "recency": [0.0, 20.0, 40.0],
                            "T": [52.0, 52.0, 45.0], "monetary_value": [0.0, 30.0, 12.0]},
                           index=pd.Index(["a", "b", "c"], name="customer_id"))
    value = spend.expected_spend(summary).to_numpy()
    flat = customer_lifetime_value(model, spend, summary, horizon=52, discount_rate=0.0)
    e52 = mbgcnbd.expected_purchases(model.params_.to_numpy(), summary["frequency"],
                                     summary["recency"], summary["T"], 52.0)
    np.testing.assert_allclose(np.asarray(flat), value * e52, rtol=1e-10)
    d = 0.01
    discounted = customer_lifetime_value(model, spend, summary, horizon=52, discount_rate=d,
                                         periods_per_step=4)
    steps = np.arange(4, 53, 4, dtype=float)
    e = np.array([mbgcnbd.expected_purchases(model.params_.to_numpy(), summary["frequency"],
                                             summary["recency"], summary["T"], s)
                  for s in np.r_[0.0, steps]])
    want = value * ((e[1:] - e[:-1]) / (1 + d) ** steps[:, None]).sum(axis=0)
    np.testing.assert_allclose(np.asarray(discounted), want, rtol=1e-10)


def _mp_new_customer_pmf(k, r, alpha, a, b, n, t, c):
    """P(X(t) = n) of a new customer: quadrature over lambda of Poisson epoch counts."""
    r, alpha, a, b, t = (mp.mpf(v) for v in (r, alpha, a, b, t))
    lb = mp.log(mp.beta(a, b))
    bp = b + c  # MBG: survived the dropout at time 0

    def epochs(lam, m):  # P(floor(N / k) = m), N ~ Poisson(lam t)
        return mp.fsum(mp.exp(-lam * t + i * mp.log(lam * t) - mp.loggamma(i + 1))
                       for i in range(m * k, m * k + k))

    def given(lam):
        if n == 0:
            return epochs(lam, 0)
        more = mp.gammainc((n + 1) * k, 0, lam * t, regularized=True)
        stay = mp.exp(mp.log(mp.beta(a, bp + n - 1)) - mp.log(mp.beta(a, bp)))
        drop = mp.exp(mp.log(mp.beta(a + 1, bp + n - 1)) - mp.log(mp.beta(a, bp)))
        return epochs(lam, n) * stay + more * drop

    def g(lam):
        return (r - 1) * mp.log(lam) - lam * alpha + mp.log(given(lam))

    value = mp.exp(_log_integral(g, [((r + n * k - 1) / (alpha + t), mp.sqrt(r + n * k)
                                      / (alpha + t)), ((r - 1) / alpha, mp.sqrt(r) / alpha)])
                   + r * mp.log(alpha) - mp.loggamma(r))
    if c:  # alive after time 0 with probability b / (a + b); else no purchase
        alive = mp.exp(mp.log(mp.beta(a, b + 1)) - lb)
        value = alive * value + (1 - alive if n == 0 else 0)
    return value


@pytest.mark.parametrize("k,r,alpha,a,b", [
    (3, 0.8, 2.0, 0.8, 2.5),
    pytest.param(10, 1.5, 0.4, 2.0, 0.7, marks=pytest.mark.slow),  # ~12 s each
])
@pytest.mark.parametrize("c", [0, 1], ids=["BG", "MBG"])
def test_new_customer_pmf_and_expectation_against_mpmath(k, r, alpha, a, b, c):
    t = 20.0
    n = np.array([0, 1, 3, 8])
    got = bgcnbd.probability_of_purchases((k, r, alpha, a, b), n, t, dropout_at_zero=bool(c))
    want = [float(_mp_new_customer_pmf(k, r, alpha, a, b, int(m), t, c)) for m in n]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-300)
    full = bgcnbd.probability_of_purchases((k, r, alpha, a, b), np.arange(2000), t,
                                           dropout_at_zero=bool(c))
    assert full.sum() == pytest.approx(1.0, rel=1e-10)
    mean = bgcnbd.expected_purchases_new_customer((k, r, alpha, a, b), t,
                                                  dropout_at_zero=bool(c))
    assert float(mean) == pytest.approx(float((full * np.arange(2000)).sum()), rel=1e-9)


@pytest.mark.parametrize("case", [GRID[5], GRID[6], GRID[3]], ids=["x1e4", "k10-T1e4", "k5"])
@pytest.mark.parametrize("c", [0, 1], ids=["BG", "MBG"])
def test_extreme_histories_pmf_mean_equals_the_series(case, c):
    """Two routes at x up to 1e4, T up to 1e4: the PMF (negative binomial point masses and one
    tail per count) summed against n, and the expectation's series of tails."""
    k, r, alpha, a, b, x, tx, T = case
    params = (k, r, alpha, a, b)
    t = 20.0
    n = np.arange(4000)
    pmf = np.exp(bgcnbd.log_conditional_pmf(params, n, x, tx, T, t, dropout_at_zero=bool(c)))
    assert pmf.sum() == pytest.approx(1.0, rel=1e-9)
    mean = bgcnbd.expected_purchases(params, x, tx, T, t, dropout_at_zero=bool(c))
    assert float(mean) == pytest.approx(float((pmf * n).sum()), rel=1e-8, abs=1e-14)
    assert np.isfinite(bgcnbd.gradient(params, [x], [tx], [T], dropout_at_zero=bool(c))).all()
