"""BG/NBD (clvmodels.models.bgnbd) against independent truth.

References used, each with its tolerance:

* Fader, Hardie & Lee (2005), CDNOW 39-week calibration: r = 0.243, alpha = 4.414,
  a = 0.793, b = 2.426, LL = -9582.4 (to the printed precision);
* lifetimes 0.11.3 (the peer) on the same data: fit (its optimizer stops near 1e-7
  relative, so 1e-5) and predictions at identical parameters (1e-9);
* mpmath at 50 digits: eq. 6 (likelihood), its derivatives, eq. 8, 9, 10 with 2F1;
* brute-force simulation of the purchase process (means within 4 standard errors);
* parameter recovery and confidence-interval coverage on simulated data.
"""

from __future__ import annotations

import warnings
from functools import partial

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.data.simulate import simulate_bgnbd_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    NotFittedError,
    UnitMismatchError,
)
from clvmodels.models import bgnbd
from clvmodels.models.bgnbd import BGNBD

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
HOLDOUT_ACTUAL = 1882


@pytest.fixture(scope="module")
def cdnow():
    return clvmodels.rfm_summary(
        load_cdnow_transactions(),
        amount="amount",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        time_unit="W",
    )


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return BGNBD().fit(cdnow)


# ------------------------------------------------------------------ mpmath references
def ll_mp(r, alpha, a, b, x, tx, T):
    """Eq. 6 of FHL (2005) at 50 digits."""
    with mp.workdps(50):
        r, alpha, a, b, x, tx, T = map(mp.mpf, (r, alpha, a, b, x, tx, T))
        common = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) - mp.log(mp.beta(a, b))
        first = mp.exp(mp.log(mp.beta(a, b + x)) - (r + x) * mp.log(alpha + T))
        second = 0
        if x > 0:
            second = mp.exp(mp.log(mp.beta(a + 1, b + x - 1)) - (r + x) * mp.log(alpha + tx))
        return common + mp.log(first + second)


def alive_purchases_mp(r, alpha, a, b, t):
    """(a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))] (eq. 9)."""
    with mp.workdps(50):
        r, alpha, a, b, t = map(mp.mpf, (r, alpha, a, b, t))
        z = t / (alpha + t)
        c = a + b - 1
        try:
            # Euler's transformation (an identity): fast for large r and b (large frequencies)
            f = (1 - z) ** (a - 1) * mp.hyp2f1(c - r, a - 1, c, z, maxterms=10**5)
        except mp.libmp.libhyper.NoConvergence:
            f = (1 - z) ** r * mp.hyp2f1(r, b, c, z, maxterms=10**6)
        return c / (a - 1) * (1 - f)


def alive_mp(r, alpha, a, b, x, tx, T):
    with mp.workdps(50):
        r, alpha, a, b, x, tx, T = map(mp.mpf, (r, alpha, a, b, x, tx, T))
        if x == 0:
            return mp.mpf(1)
        return 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))


def conditional_mp(r, alpha, a, b, x, tx, T, t):
    """Eq. 10: P(alive) times eq. 9 with updated parameters."""
    return alive_mp(r, alpha, a, b, x, tx, T) * alive_purchases_mp(r + x, alpha + T, a, b + x, t)


def pmf_mp(r, alpha, a, b, n, t):
    """Eq. 8 with the finite sum written out."""
    with mp.workdps(50):
        r, alpha, a, b, t = map(mp.mpf, (r, alpha, a, b, t))
        q = alpha / (alpha + t)
        z = t / (alpha + t)

        def nb(j):
            return mp.gamma(r + j) / (mp.gamma(r) * mp.factorial(j)) * q**r * z**j

        value = mp.beta(a, b + n) / mp.beta(a, b) * nb(n)
        if n > 0:
            value += (
                mp.beta(a + 1, b + n - 1) / mp.beta(a, b) * (1 - mp.fsum(nb(j) for j in range(n)))
            )
        return value


def random_points(seed, n):
    """Parameters log-uniform in 1e-3..1e3; frequencies to 1e5; T from 1e-6 to 1000."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        params = 10 ** rng.uniform(-3, 3, 4)
        x = float(rng.choice([0, 1, 2, 7, 300, 5000, 100_000]))
        T = float(rng.choice([1e-6, 0.5, 39.0, 1000.0]))
        tx = 0.0 if x == 0 else T * rng.uniform()
        out.append((params, x, tx, T))
    return out


# ------------------------------------------------------------------ CDNOW, published
def test_cdnow_matches_published_estimates(cdnow_fit):
    assert cdnow_fit.converged_
    for name, value in PUBLISHED.items():
        assert round(cdnow_fit.params_[name], 3) == value, name
    assert round(cdnow_fit.log_likelihood_, 1) == PUBLISHED_LL
    assert cdnow_fit.n_customers_ == 2357
    assert cdnow_fit.time_unit_ == "W"


def test_cdnow_summary_table(cdnow_fit):
    table = cdnow_fit.summary()
    assert list(table.index) == ["r", "alpha", "a", "b"]
    assert (table["ci_lower"] < table["estimate"]).all()
    assert (table["estimate"] < table["ci_upper"]).all()
    assert table.attrs["aic"] == pytest.approx(8 - 2 * cdnow_fit.log_likelihood_)
    assert table.attrs["bic"] == pytest.approx(4 * np.log(2357) - 2 * cdnow_fit.log_likelihood_)


@pytest.mark.peers
def test_cdnow_fit_agrees_with_lifetimes(cdnow, cdnow_fit):
    lifetimes = pytest.importorskip("lifetimes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    ours = cdnow_fit.params_[["r", "alpha", "a", "b"]].to_numpy()
    theirs = peer.params_[["r", "alpha", "a", "b"]].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)  # lifetimes' optimizer tolerance
    ll_theirs = bgnbd.log_likelihood(theirs, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert cdnow_fit.log_likelihood_ >= ll_theirs - 1e-9 * abs(ll_theirs)
    assert cdnow_fit.log_likelihood_ == pytest.approx(ll_theirs, rel=1e-9)
    # standard errors: lifetimes' diagonal is right (only its off-diagonal terms are not)
    se_theirs = peer.summary["se(coef)"][["r", "alpha", "a", "b"]].to_numpy()
    np.testing.assert_allclose(cdnow_fit.summary()["std_error"].to_numpy(), se_theirs, rtol=1e-3)


@pytest.mark.peers
def test_cdnow_predictions_agree_with_lifetimes(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    peer = lifetimes.BetaGeoFitter()
    peer.params_ = pd.Series(PUBLISHED)
    x, tx, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    model = BGNBD.from_params(**PUBLISHED, time_unit="W")
    ours = model.expected_purchases(cdnow, t=39).to_numpy()
    theirs = peer.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(
        model.probability_alive(cdnow).to_numpy(),
        peer.conditional_probability_alive(x, tx, T),
        rtol=1e-12,
    )
    times = np.array([1.0, 13.0, 39.0, 78.0])
    np.testing.assert_allclose(
        model.expected_purchases_new_customer(times),
        peer.expected_number_of_purchases_up_to_time(times),
        rtol=1e-9,
    )
    for n in (0, 1, 5):
        assert model.probability_of_purchases(n, 39.0) == pytest.approx(
            peer.probability_of_n_purchases_up_to_time(39.0, n), rel=1e-9
        )


def test_cdnow_holdout_total(cdnow, cdnow_fit):
    """Summed conditional expectations (eq. 10) against the cohort expectation (eq. 9).

    By the law of total expectation, the sum over customers of E[Y(39) | history] has
    the same expectation as sum_i E[X(T_i + 39)] - E[X(T_i)]; on 2,357 customers they
    agree within sampling noise (3%). Both are about 1,660 against 1,882 actual: the
    BG/NBD under-forecasts CDNOW's holdout by about 12% (FHL 2005, Figure 4 shows the
    model below the actual cumulative curve late in the holdout).
    """
    predicted = cdnow_fit.expected_purchases(cdnow, t=39).sum()
    T = cdnow["T"].to_numpy()
    cohort = (
        cdnow_fit.expected_purchases_new_customer(T + 39)
        - cdnow_fit.expected_purchases_new_customer(T)
    ).sum()
    assert abs(predicted - cohort) / cohort < 0.03
    assert 0.8 < predicted / HOLDOUT_ACTUAL < 1.0
    assert cdnow["frequency_holdout"].sum() == HOLDOUT_ACTUAL


# ------------------------------------------------------------------ mpmath
@pytest.mark.parametrize("seed", [0, 1])
def test_log_likelihood_matches_mpmath(seed):
    points = random_points(seed, 30)
    for params, x, tx, T in points:
        ours = bgnbd.log_likelihood_rows(params, x, tx, T)
        ref = float(ll_mp(*params, x, tx, T))
        assert ours == pytest.approx(ref, rel=1e-11, abs=1e-12), (params, x, tx, T)


def _ll_at(params, j, value, *, x, tx, T):
    p = [mp.mpf(v) for v in params]
    p[j] = value
    return ll_mp(*p, x, tx, T)


def test_gradient_matches_mpmath():
    for params, x, tx, T in random_points(7, 25):
        ours = bgnbd.gradient(params, [x], [tx], [T])
        with mp.workdps(25):  # diff steps suit 25 digits; ll_mp itself works at 50
            ref = [
                float(mp.diff(partial(_ll_at, params, j, x=x, tx=tx, T=T), mp.mpf(params[j])))
                for j in range(4)
            ]
        # a and b derivatives are small differences of O(1/a) terms when T - t_x is tiny;
        # 1e-11 absolute is far below anything the optimizer can see
        np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-11, err_msg=str((params, x)))


def test_gradient_matches_finite_differences():
    s = simulate_bgnbd_summary(500, 0.5, 3.0, 1.2, 2.0, T=30.0, random_state=3)
    data = (s["frequency"], s["recency"], s["T"])
    params = np.array([0.4, 2.5, 0.9, 3.1])
    g = bgnbd.gradient(params, *data)
    for j in range(4):
        h = 1e-6 * params[j]
        up, down = params.copy(), params.copy()
        up[j] += h
        down[j] -= h
        fd = (bgnbd.log_likelihood(up, *data) - bgnbd.log_likelihood(down, *data)) / (2 * h)
        assert g[j] == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_weighted_log_likelihood_is_weighted_sum():
    rows = bgnbd.log_likelihood_rows(PUBLISHED, [0, 3, 3], [0.0, 10.0, 20.0], [30.0, 30.0, 25.0])
    total = bgnbd.log_likelihood(
        PUBLISHED, [0, 3, 3], [0.0, 10.0, 20.0], [30.0, 30.0, 25.0], weights=[2, 1, 3]
    )
    assert total == pytest.approx(2 * rows[0] + rows[1] + 3 * rows[2], rel=1e-14)


@pytest.mark.parametrize("seed", [11, 12])
def test_conditional_expected_purchases_match_mpmath(seed):
    rng = np.random.default_rng(seed)
    cases = random_points(seed, 30)
    for params, x, tx, T in cases:
        t = float(10 ** rng.uniform(-2, 3))
        ours = float(bgnbd.expected_purchases(params, x, tx, T, t))
        ref = float(conditional_mp(*params, x, tx, T, t))
        assert ours == pytest.approx(ref, rel=5e-12, abs=1e-300), (params, x, tx, T, t)


def test_conditional_expected_purchases_extremes():
    cases = [  # frequency 1e5, T near 0, parameters at 1e-3 and 1e3, horizons to 1e4 x alpha
        ((0.243, 4.414, 0.793, 2.426), 1e5, 38.86 - 1e-5, 38.86, 39.0),
        ((1e-3, 1e-3, 1e-3, 1e-3), 3, 1e-7, 1e-6, 52.0),
        ((1e3, 1e3, 1e3, 1e3), 2, 0.5, 1.0, 39.0),
        ((1e-3, 1e3, 1e3, 1e-3), 0, 0.0, 1e-6, 1e4),
        ((1e3, 1e-3, 1e-3, 1e3), 100, 19.99, 20.0, 5.0),
        ((2.0, 0.01, 0.5, 0.4), 0, 0.0, 0.0, 100.0),  # new customer, a + b < 1
    ]
    for params, x, tx, T, t in cases:
        ours = float(bgnbd.expected_purchases(params, x, tx, T, t))
        ref = float(conditional_mp(*params, x, tx, T, t))
        assert ours == pytest.approx(ref, rel=5e-12), (params, x, tx, T, t)


def test_new_customer_expected_purchases_match_mpmath_including_a_equal_one():
    for params, t in [
        ((0.243, 4.414, 0.793, 2.426), 39.0),
        ((0.5, 2.0, 1.0, 3.0), 10.0),  # a = 1: removable singularity of eq. 9
        ((0.5, 2.0, 0.3, 0.2), 10.0),  # a + b - 1 < 0
        ((5.0, 1e-3, 2.0, 7.0), 1e3),  # t / (alpha + t) = 1 - 1e-6
    ]:
        ours = float(bgnbd.expected_purchases_new_customer(params, t))
        r, alpha, a, b = params
        if a == 1.0:  # eq. 9 at a = 1 + 1e-25: the limit, to 50 digits
            with mp.workdps(50):
                ref = float(alive_purchases_mp(r, alpha, mp.mpf(1) + mp.mpf("1e-25"), b, t))
        else:
            ref = float(alive_purchases_mp(r, alpha, a, b, t))
        assert ours == pytest.approx(ref, rel=1e-12), params


def test_probability_alive_matches_mpmath():
    for params, x, tx, T in random_points(21, 40):
        ours = float(bgnbd.probability_alive(params, x, tx, T))
        ref = float(alive_mp(*params, x, tx, T))
        assert ours == pytest.approx(ref, rel=1e-9, abs=1e-300), (params, x, tx, T)


def test_probability_of_purchases_matches_mpmath_and_sums_to_one():
    params = (0.243, 4.414, 0.793, 2.426)
    n = np.arange(8)
    ours = bgnbd.probability_of_purchases(params, n, 39.0)
    ref = [float(pmf_mp(*params, int(k), 39.0)) for k in n]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    for p, t in [(params, 39.0), ((2.0, 1.0, 3.0, 1.0), 5.0), ((0.01, 0.1, 0.05, 0.05), 2.0)]:
        full = bgnbd.probability_of_purchases(p, np.arange(20_000), t)
        assert full.sum() == pytest.approx(1.0, abs=1e-10)
        assert np.all(full >= 0)


# ------------------------------------------------------------------ simulation
def test_new_customer_predictions_match_simulation():
    params = (0.5, 3.0, 0.8, 2.5)
    t = 20.0
    # a customer observed for t after the first purchase: frequency = repeat purchases in (0, t]
    sim = simulate_bgnbd_summary(200_000, *params, T=t, random_state=5)["frequency"]
    mean = float(bgnbd.expected_purchases_new_customer(params, t))
    se = sim.std() / np.sqrt(sim.size)
    assert abs(sim.mean() - mean) < 4 * se
    pmf = bgnbd.probability_of_purchases(params, np.arange(6), t)
    counts = np.bincount(sim.clip(upper=6), minlength=7)[:6] / sim.size
    assert np.all(np.abs(counts - pmf) < 4 * np.sqrt(pmf * (1 - pmf) / sim.size))


def test_conditional_predictions_match_simulation():
    """Customers with the same history: future purchases counted in a longer simulation."""
    params = (0.7, 4.0, 1.5, 3.0)
    rng = np.random.default_rng(8)
    n, T, t = 400_000, 10.0, 15.0
    lam = rng.gamma(params[0], 1 / params[1], n)
    p = rng.beta(params[2], params[3], n)
    # purchases by time T and in (T, T + t], the process simulated event by event
    calibration = np.zeros(n, dtype=np.int64)
    future = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    clock = np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1 / lam[idx])
        done = clock[idx] > T + t
        alive[idx[done]] = False
        idx = idx[~done]
        in_cal = clock[idx] <= T
        calibration[idx[in_cal]] += 1
        future[idx[~in_cal]] += 1
        alive[idx[rng.random(idx.size) < p[idx]]] = False
    # condition on x = 0 (then recency is 0 and P(alive) is 1 by assumption)
    group = calibration == 0
    ours = float(bgnbd.expected_purchases(params, 0, 0.0, T, t))
    se = future[group].std() / np.sqrt(group.sum())
    assert abs(future[group].mean() - ours) < 4 * se


@pytest.mark.parametrize(
    "params",
    [(0.243, 4.414, 0.793, 2.426), (1.5, 10.0, 0.5, 5.0), (0.8, 2.0, 3.0, 8.0)],
)
def test_parameter_recovery(params):
    rng = np.random.default_rng(42)
    T = rng.integers(1, 53, 30_000).astype(float)
    s = simulate_bgnbd_summary(30_000, *params, T=T, random_state=1)
    model = BGNBD().fit(s)
    table = model.summary()
    assert model.converged_
    z = (table["estimate"].to_numpy() - np.array(params)) / table["std_error"].to_numpy()
    assert np.all(np.abs(z) < 3), table


@pytest.mark.slow
def test_confidence_interval_coverage():
    """95% intervals cover the truth in 85-99% of 120 replications, for every parameter."""
    truth = np.array([0.5, 4.0, 0.8, 2.5])
    rng = np.random.default_rng(2024)
    covered = np.zeros(4)
    n_reps = 120
    for rep in range(n_reps):
        T = rng.integers(20, 53, 3000).astype(float)
        s = simulate_bgnbd_summary(3000, *truth, T=T, random_state=rep)
        s["recency"] = np.round(s["recency"] * 7) / 7  # daily data, as rfm_summary gives
        table = BGNBD().fit(s).summary()
        covered += (table["ci_lower"].to_numpy() <= truth) & (truth <= table["ci_upper"].to_numpy())
    coverage = covered / n_reps
    assert np.all((coverage >= 0.85) & (coverage <= 0.99)), coverage


# ------------------------------------------------------------------ the estimator
def test_predictions_are_series_indexed_by_customer(cdnow, cdnow_fit):
    e = cdnow_fit.expected_purchases(cdnow, t=10)
    assert isinstance(e, pd.Series) and e.index.equals(cdnow.index)
    assert e.name == "expected_purchases"
    pa = cdnow_fit.probability_alive(cdnow)
    assert pa.index.equals(cdnow.index) and ((pa > 0) & (pa <= 1)).all()
    by_keyword = cdnow_fit.expected_purchases(
        frequency=cdnow["frequency"], recency=cdnow["recency"], T=cdnow["T"], t=10
    )
    np.testing.assert_array_equal(by_keyword.to_numpy(), e.to_numpy())


def test_unit_mismatch_is_refused(cdnow, cdnow_fit):
    days = cdnow[["frequency", "recency", "T"]].copy()
    days.attrs = {"time_unit": "D"}
    with pytest.raises(UnitMismatchError, match="'W'.*'D'"):
        cdnow_fit.expected_purchases(days, t=7)


def test_unfitted_model_names_the_method():
    with pytest.raises(NotFittedError, match=r"probability_alive\(\).*fit"):
        BGNBD().probability_alive(frequency=[1], recency=[1.0], T=[2.0])
    with pytest.raises(NotFittedError, match="expected_purchases_new_customer"):
        BGNBD().expected_purchases_new_customer(1.0)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        (
            "recency",
            [0.0, 50.0, 3.0],
            r"'recency' exceeds column 'T' in 1 of 3 rows.*customer_id 'b'",
        ),
        ("frequency", [0, 1.5, 2], r"'frequency' is not a whole number.*1\.5"),
        ("T", [10.0, np.nan, 10.0], r"'T' is missing \(NaN\)"),
        ("frequency", [0, -1, 2], r"'frequency' is negative"),
        ("recency", [2.0, 5.0, 3.0], r"'frequency' is 0 but 'recency' is > 0"),
    ],
)
def test_bad_summaries_are_refused_with_row_and_fix(column, values, message):
    frame = pd.DataFrame(
        {"frequency": [0, 1, 2], "recency": [0.0, 5.0, 3.0], "T": [10.0, 10.0, 10.0]},
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    frame[column] = values
    with pytest.raises(InvalidSummaryError, match=message):
        BGNBD().fit(frame)


def test_missing_column_lists_what_is_there():
    with pytest.raises(InvalidSummaryError, match=r"missing column\(s\) \['T'\]"):
        BGNBD().fit(pd.DataFrame({"frequency": [1], "recency": [1.0]}))


def test_free_functions_refuse_bad_parameters():
    with pytest.raises(InvalidParameterError, match="alpha"):
        bgnbd.log_likelihood((0.2, -1.0, 0.5, 0.5), [1], [1.0], [2.0])
    with pytest.raises(InvalidParameterError, match="4 numbers"):
        bgnbd.probability_alive((0.2, 1.0), [1], [1.0], [2.0])
    with pytest.raises(InvalidParameterError, match="horizon"):
        bgnbd.expected_purchases_new_customer(PUBLISHED, -1.0)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        bgnbd.probability_of_purchases(PUBLISHED, 1.5, 2.0)


def test_zero_horizon_gives_zero():
    assert float(bgnbd.expected_purchases_new_customer(PUBLISHED, 0.0)) == 0.0
    assert float(bgnbd.expected_purchases(PUBLISHED, 3, 2.0, 5.0, 0.0)) == 0.0


def test_scoring_on_many_rows_equals_row_by_row(cdnow):
    params = tuple(PUBLISHED.values())
    x, tx, T = (cdnow[c].to_numpy()[:300] for c in ("frequency", "recency", "T"))
    batch = bgnbd.expected_purchases(params, x, tx, T, 26.0)  # goes through unique-row compression
    single = np.array(
        [float(bgnbd.expected_purchases(params, *row, 26.0)) for row in zip(x, tx, T, strict=True)]
    )
    np.testing.assert_allclose(batch, single, rtol=1e-14)
