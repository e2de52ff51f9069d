"""Shifted-beta-geometric model: maths against mpmath and explicit sums, fits against
Fader & Hardie (2007), projections against the actual survivors, recovery from simulation."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels.data._simulate_family import simulate_sbg_lifetimes
from clvmodels.datasets import load_sbg_retention
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    NotFittedError,
    StatisticalWarning,
)
from clvmodels.models import sbg
from clvmodels.models.sbg import ShiftedBetaGeometric

# Fader & Hardie (2007), "How to project customer retention", fits to years 0-7.
PUBLISHED = {
    "regular": {"alpha": 0.704, "beta": 1.182, "ll": -1680.3},
    "high_end": {"alpha": 0.668, "beta": 3.806, "ll": -1611.2},
}

mp.mp.dps = 40


# ---------------------------------------------------------------------------
# independent references (mpmath, term by term)
# ---------------------------------------------------------------------------
def _mp_row(alpha, beta, t, churned):
    alpha, beta = mp.mpf(alpha), mp.mpf(beta)
    if churned:
        return mp.log(mp.beta(alpha + 1, beta + t - 1) / mp.beta(alpha, beta))
    return mp.log(mp.beta(alpha, beta + t) / mp.beta(alpha, beta))


def _mp_loglik(alpha, beta, period, churned, weights):
    return mp.fsum(
        mp.mpf(float(w)) * _mp_row(alpha, beta, int(t), int(c))
        for t, c, w in zip(period, churned, weights, strict=True)
    )


def _counts(col, years=8):
    return load_sbg_retention()[col].to_numpy()[:years]


ROWS_POINTS = [
    (0.704, 1.182, 1, 1),
    (0.704, 1.182, 7, 0),
    (0.668, 3.806, 12, 1),
    (1e-3, 1e-3, 5, 1),
    (50.0, 0.02, 3, 0),
    (0.3, 200.0, 1000, 1),
    (2.0, 1e4, 1, 1),
    (1e3, 1e3, 250, 0),
    (0.05, 7.0, 0, 0),
]


@pytest.mark.parametrize(("alpha", "beta", "t", "c"), ROWS_POINTS)
def test_row_loglik_matches_mpmath(alpha, beta, t, c):
    ours = sbg.log_likelihood_rows((alpha, beta), [t], [c])[0]
    ref = float(_mp_row(alpha, beta, t, c))
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_total_loglik_and_gradient_against_mpmath():
    rows = sbg.counts_to_lifetimes(_counts("regular"))
    args = (rows["period"].to_numpy(), rows["churned"].to_numpy(), rows["customers"].to_numpy())
    for alpha, beta in [(0.704, 1.182), (0.3, 8.0), (4.0, 0.9)]:
        ll = sbg.log_likelihood((alpha, beta), *args)
        assert ll == pytest.approx(float(_mp_loglik(alpha, beta, *args)), rel=1e-13)
        g = sbg.gradient((alpha, beta), *args)
        ref = [
            mp.diff(lambda a, b=beta: _mp_loglik(a, b, *args), alpha),
            mp.diff(lambda b, a=alpha: _mp_loglik(a, b, *args), beta),
        ]
        np.testing.assert_allclose(g, [float(v) for v in ref], rtol=1e-10, atol=1e-8)


def test_gradient_matches_finite_differences_with_censoring():
    rng = np.random.default_rng(5)
    t = rng.integers(0, 40, 200)
    c = (rng.random(200) < 0.7) & (t > 0)
    w = rng.integers(1, 5, 200)
    p = np.array([1.3, 2.7])
    g = sbg.gradient(p, t, c, w)
    h = 1e-6
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        fd = (sbg.log_likelihood(p + e, t, c, w) - sbg.log_likelihood(p - e, t, c, w)) / (2 * h)
        assert g[j] == pytest.approx(fd, rel=1e-6)


# ---------------------------------------------------------------------------
# the lifetime distribution: identities and explicit sums
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("alpha", "beta"), [(0.704, 1.182), (0.668, 3.806), (3.0, 0.5)])
def test_distribution_identities(alpha, beta):
    t = np.arange(1, 60)
    pmf = sbg.probability_churn((alpha, beta), t)
    s = sbg.survival((alpha, beta), np.r_[0, t])
    # P(T = t) = S(t-1) - S(t); S(t) is the product of the retention rates
    np.testing.assert_allclose(pmf, s[:-1] - s[1:], rtol=1e-10)
    np.testing.assert_allclose(s[1:], np.cumprod(sbg.retention_rate((alpha, beta), t)), rtol=1e-12)
    # the explicit retention formula of eq. 4
    np.testing.assert_allclose(
        sbg.retention_rate((alpha, beta), t), (beta + t - 1) / (alpha + beta + t - 1), rtol=1e-15
    )
    assert pmf.sum() + s[-1] == pytest.approx(1.0, rel=1e-12)


def test_expected_lifetime_finite_and_infinite():
    # alpha > 1: E[T] = E[1 / theta] under Beta(alpha, beta), by mpmath quadrature
    a, b = 2.5, 3.0
    ref = mp.quad(lambda th: th ** (a - 2) * (1 - th) ** (b - 1), [0, 1]) / mp.beta(a, b)
    assert float(sbg.expected_lifetime((a, b))) == pytest.approx(float(ref), rel=1e-10)
    # alpha <= 1: infinite, with a warning that says why
    with pytest.warns(StatisticalWarning, match="infinite"):
        assert np.isinf(sbg.expected_lifetime((0.704, 1.182)))
    # finite horizon: the explicit sum
    h = np.array([0, 1, 5, 40])
    expected = [sum(float(mp.beta(0.704, 1.182 + t) / mp.beta(0.704, 1.182)) for t in range(k))
                for k in h]
    np.testing.assert_allclose(sbg.expected_lifetime((0.704, 1.182), h), expected, rtol=1e-12)


def test_survival_monte_carlo():
    lives = simulate_sbg_lifetimes(200_000, 0.9, 2.0, 10, random_state=11)
    t = np.arange(0, 11)
    alive = np.array([np.mean(~((lives["churned"] == 1) & (lives["period"] <= k))) for k in t])
    s = sbg.survival((0.9, 2.0), t)
    se = np.sqrt(s * (1 - s) / len(lives)) + 1e-12
    assert np.all(np.abs(alive - s) < 4 * se)


# ---------------------------------------------------------------------------
# 2F1 and the discounted lifetimes (Fader & Hardie 2010)
# ---------------------------------------------------------------------------
HYP_POINTS = [
    (b, g, d)
    for b in (0.01, 1.182, 3.8, 100.7, 1000.3)
    for g in (0.05, 0.704, 1.0, 2.0, 7.3)
    for d in (1e-3, 0.1, 1.0, 10.0)
]


def _mp_hyp(b, g, d):
    z = 1 / (1 + mp.mpf(d))
    try:
        return mp.hyp2f1(1, b, b + g, z, maxterms=10**6)
    except mp.libmp.NoConvergence:  # pragma: no cover - mpmath's own limit
        return None


@pytest.mark.parametrize(("b", "g", "d"), HYP_POINTS)
def test_hyp2f1_unit_matches_mpmath(b, g, d):
    ref = _mp_hyp(b, g, d)
    if ref is None:
        pytest.skip("mpmath does not converge here")
    assert float(sbg.hyp2f1_unit(b, g, d)) == pytest.approx(float(ref), rel=1e-13)


def _mp_series(b, g, d, start=0):
    """``sum_{k>=0} (b)_k / (b + g)_k z^k``, summed term by term at 30 digits until the rest is
    provably below 1e-22 of the total (the term ratios stay below z)."""
    with mp.workdps(30):
        z = 1 / (1 + mp.mpf(d))
        bb, gg = mp.mpf(b), mp.mpf(g)
        u, total, k = mp.mpf(1), mp.mpf(0), 0
        while True:
            total += u
            u *= z * (bb + k) / (bb + gg + k)
            k += 1
            if u < total * mp.mpf(10) ** -22 * (1 - z):
                return total


@pytest.mark.parametrize(("b", "g", "d"), [(2e4, 0.01, 1e-3), (2e4, 0.999999, 1e-3),
                                           (2e4, 3.0, 1e-3), (1e7, 0.5, 0.1)])
def test_hyp2f1_unit_hard_cases_against_exact_series(b, g, d):
    """Where mpmath's hyp2f1 gives up or scipy's is wrong: the defining series."""
    assert float(sbg.hyp2f1_unit(b, g, d)) == pytest.approx(float(_mp_series(b, g, d)), rel=2e-15)


def test_hyp2f1_unit_at_zero_discount():
    assert float(sbg.hyp2f1_unit(3.0, 2.5, 0.0)) == pytest.approx((3.0 + 2.5 - 1) / 1.5)
    assert np.isinf(sbg.hyp2f1_unit(3.0, 0.7, 0.0))
    with pytest.raises(InvalidParameterError, match="discount_rate"):
        sbg.hyp2f1_unit(3.0, 1.0, -0.1)


@pytest.mark.parametrize(("alpha", "beta"), [(0.704, 1.182), (0.668, 3.806), (2.0, 5.0)])
@pytest.mark.parametrize("d", [0.05, 0.1, 0.5])
def test_del_and_derl_against_explicit_discounted_sums(alpha, beta, d):
    # explicit sums of S(t) / (1 + d)^t, S(t) by the recurrence S(t + 1) = S(t) r(t + 1)
    with mp.workdps(30):
        z = 1 / (1 + mp.mpf(d))
        surv = [mp.mpf(1)]
        while surv[-1] * z ** (len(surv) - 1) > mp.mpf(10) ** -22 * (1 - z):
            t = len(surv)
            surv.append(surv[-1] * (beta + t - 1) / (mp.mpf(alpha) + beta + t - 1))
        del_ref = mp.fsum(s_t * z**t for t, s_t in enumerate(surv))
        assert float(sbg.discounted_expected_lifetime((alpha, beta), d)) == pytest.approx(
            float(del_ref), rel=1e-13
        )
        for renewals in (0, 1, 4, 30):
            n = renewals + 1
            # extend the curve far enough for this start
            while surv[-1] / surv[n - 1] * z ** (len(surv) - n) > mp.mpf(10) ** -22 * (1 - z):
                t = len(surv)
                surv.append(surv[-1] * (beta + t - 1) / (mp.mpf(alpha) + beta + t - 1))
            ref = mp.fsum(surv[t] / surv[n - 1] * z ** (t - n) for t in range(n, len(surv)))
            ours = float(sbg.discounted_expected_residual_lifetime((alpha, beta), d, renewals))
            assert ours == pytest.approx(float(ref), rel=1e-13)


def test_derl_at_zero_discount_is_residual_lifetime():
    # alpha > 1: (beta + n - 1) / (alpha - 1) from the closed form of E[T | T > n - 1]
    a, b = 2.5, 3.0
    for k in (0, 3):
        assert float(sbg.discounted_expected_residual_lifetime((a, b), 0.0, k)) == pytest.approx(
            (b + k) / (a - 1)
        )
    assert np.isinf(sbg.discounted_expected_residual_lifetime((0.7, 1.2), 0.0, 2))


# ---------------------------------------------------------------------------
# the paper: estimates, log-likelihoods, projections
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("cohort", ["regular", "high_end"])
def test_reproduces_fader_hardie_2007(cohort):
    model = ShiftedBetaGeometric().fit(_counts(cohort))
    pub = PUBLISHED[cohort]
    assert model.converged_
    assert round(model.params_["alpha"], 3) == pub["alpha"]
    assert round(model.params_["beta"], 3) == pub["beta"]
    assert round(model.log_likelihood_, 1) == pub["ll"]
    assert model.n_customers_ == 1000
    table = model.summary()
    assert np.all(table["std_error"] > 0)
    assert table.attrs["log_likelihood"] == pytest.approx(model.log_likelihood_)


# Relative errors (model - actual) / actual of the projection of years 8-12 from the fit to
# years 0-7, as measured (they are a property of the data and the published model, not
# tuning): regular -1.3%, -1.3%, -1.4%, -1.7%, -1.7%; high end -1.6%, -2.1%, -3.0%, -3.4%,
# -4.1%. The sBG under-projects both cohorts slightly and the gap widens with the horizon.
PROJECTION_BOUNDS = {"regular": 0.018, "high_end": 0.042}


@pytest.mark.parametrize("cohort", ["regular", "high_end"])
def test_projection_of_years_8_to_12(cohort):
    data = load_sbg_retention()
    actual = data[cohort].to_numpy()
    model = ShiftedBetaGeometric().fit(actual[:8])
    years = np.arange(8, 13)
    projected = model.expected_survivors(actual[0], years)
    # the paper's method: the closed-form survivor curve at the published (rounded) estimates
    pub = PUBLISHED[cohort]
    closed = actual[0] * np.array(
        [float(mp.beta(pub["alpha"], pub["beta"] + t) / mp.beta(pub["alpha"], pub["beta"]))
         for t in years]
    )
    np.testing.assert_allclose(projected, closed, rtol=2e-3)  # rounding of the published values
    rel = (projected - actual[8:]) / actual[8:]
    assert np.all(rel < 0)
    assert np.max(np.abs(rel)) < PROJECTION_BOUNDS[cohort]
    # the in-sample years are fitted closely too
    fitted = model.expected_survivors(actual[0], np.arange(8))
    assert np.max(np.abs(fitted - actual[:8]) / actual[:8]) < 0.03


# ---------------------------------------------------------------------------
# fitting: equivalent entry points, recovery from simulation
# ---------------------------------------------------------------------------
def test_fit_counts_equals_fit_lifetimes():
    counts = _counts("high_end")
    rows = sbg.counts_to_lifetimes(counts)
    a = ShiftedBetaGeometric().fit(counts)
    b = ShiftedBetaGeometric().fit_lifetimes(
        rows["period"], rows["churned"].astype(bool), weights=rows["customers"]
    )
    expanded = rows.loc[rows.index.repeat(rows["customers"])]
    c = ShiftedBetaGeometric().fit_lifetimes(expanded["period"], expanded["churned"])
    for other in (b, c):
        np.testing.assert_allclose(other.params_, a.params_, rtol=1e-7)
        assert other.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=1e-10)
    assert c.n_customers_ == 1000


def test_fit_accepts_series_list_and_time_unit():
    s = pd.Series(_counts("regular"))
    s.attrs["time_unit"] = "Y"
    m = ShiftedBetaGeometric().fit(s)
    assert m.time_unit_ == "Y"
    m2 = ShiftedBetaGeometric().fit(list(_counts("regular")), time_unit="Y")
    np.testing.assert_allclose(m.params_, m2.params_)


@pytest.mark.parametrize(
    ("alpha", "beta", "n_periods"),
    [(0.7, 1.2, 8), (0.67, 3.8, 12), (2.5, 6.0, 5), (0.3, 0.4, 20)],
)
def test_recovers_simulated_parameters_within_3_se(alpha, beta, n_periods):
    lives = simulate_sbg_lifetimes(20_000, alpha, beta, n_periods, random_state=2024)
    model = ShiftedBetaGeometric().fit_lifetimes(lives["period"], lives["churned"])
    table = model.summary()
    truth = np.array([alpha, beta])
    z = np.abs(table["estimate"].to_numpy() - truth) / table["std_error"].to_numpy()
    assert np.all(z < 3), (table, z)
    # the same cohort as survivor counts gives the same fit
    counts = [int((~((lives["churned"] == 1) & (lives["period"] <= t))).sum())
              for t in range(n_periods + 1)]
    other = ShiftedBetaGeometric().fit(counts)
    np.testing.assert_allclose(other.params_, model.params_, rtol=1e-6)


def test_standard_errors_match_simulation_spread():
    """The Hessian SEs describe the sampling spread of the estimates (50 cohorts)."""
    estimates = []
    for seed in range(50):
        lives = simulate_sbg_lifetimes(2000, 0.8, 2.0, 8, random_state=seed)
        estimates.append(
            ShiftedBetaGeometric().fit_lifetimes(lives["period"], lives["churned"]).params_
        )
    est = np.array(estimates)
    lives = simulate_sbg_lifetimes(2000, 0.8, 2.0, 8, random_state=999)
    se = ShiftedBetaGeometric().fit_lifetimes(lives["period"], lives["churned"]).summary()[
        "std_error"
    ].to_numpy()
    ratio = est.std(axis=0, ddof=1) / se
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


# ---------------------------------------------------------------------------
# errors for people
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ([1000, 631, 700], "never increase"),
        ([1000, -1], "whole numbers"),
        ([1000.5, 600], "whole numbers"),
        ([0, 0], "cohort size"),
        ([1000], "at least one later count"),
        ([[1000, 600], [1000, 700]], "one-dimensional"),
        (pd.DataFrame({"a": [10, 5], "b": [10, 6]}), "separately"),
    ],
)
def test_bad_counts_are_explained(counts, match):
    with pytest.raises(InvalidSummaryError, match=match):
        ShiftedBetaGeometric().fit(counts)


def test_bad_lifetimes_are_explained():
    with pytest.raises(InvalidSummaryError, match="churned"):
        ShiftedBetaGeometric().fit_lifetimes([1, 2, 3], [1, 2, 0])
    with pytest.raises(InvalidSummaryError, match="period >= 1"):
        ShiftedBetaGeometric().fit_lifetimes([0, 2, 3], [1, 1, 0])
    with pytest.raises(InvalidSummaryError, match="one flag per customer"):
        ShiftedBetaGeometric().fit_lifetimes([1, 2, 3], [1, 1])
    with pytest.raises(InvalidSummaryError, match="negative"):
        ShiftedBetaGeometric().fit_lifetimes([-1, 2, 3])


def test_unfitted_and_bad_arguments():
    with pytest.raises(NotFittedError, match="fit"):
        ShiftedBetaGeometric().survival(3)
    m = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        m.survival(1.5)
    with pytest.raises(InvalidParameterError, match=">= 1"):
        m.probability_churn(0)
    with pytest.raises(InvalidParameterError, match="cohort_size"):
        m.expected_survivors(-5, 3)
    with pytest.raises(InvalidParameterError, match="alpha"):
        sbg.survival((0.0, 1.0), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(m.discounted_expected_residual_lifetime(0.1, 3))


def test_save_load_round_trip(tmp_path):
    from clvmodels.models.io import load_model

    m = ShiftedBetaGeometric().fit(_counts("regular"), time_unit="Y")
    path = tmp_path / "sbg.json"
    m.save(path)
    back = load_model(path)
    assert isinstance(back, ShiftedBetaGeometric)
    np.testing.assert_allclose(back.params_, m.params_)
    np.testing.assert_allclose(back.covariance_, m.covariance_)
    assert back.time_unit_ == "Y"
    np.testing.assert_allclose(back.survival([3, 9]), m.survival([3, 9]))


def test_estimator_contract_basics():
    from sklearn.base import clone

    model = ShiftedBetaGeometric(n_starts=2)
    assert clone(model).get_params() == model.get_params()
    a = model.fit(_counts("regular")).params_.copy()
    pd.testing.assert_series_equal(a, model.fit(_counts("regular")).params_)
    assert model.get_params() == {"penalizer": 0.0, "n_starts": 2}
