"""Pareto/GGG (Platzer & Reutterer 2016): the closed forms against mpmath, the sampler's
kernels against their target distributions, the posterior against the simulation's truth,
the MCMC diagnostics against known effective sample sizes, and the contract checks that
apply to a model fitted by MCMC rather than by the maximum-likelihood engine (fit returns
self, seeded reproducibility, clone, unfitted use refused, predictions keep the index, bad
input refused naming the column, save/load as versioned JSON).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from clvmodels.errors import (
    InvalidCustomerDataError,
    InvalidSummaryError,
    ModelFileError,
    NotFittedError,
    StatisticalWarning,
)
from clvmodels.models._mcmc import ess, ess_bulk, rhat, slice_sample
from clvmodels.models.io import load_model
from clvmodels.models.paretoggg import (
    PARAM_NAMES,
    ParetoGGG,
    _dead_mass,
    _draw_dead_gap,
    _log_lik,
    _simulate_counts,
    log_gamma_sf,
    pggg_summary,
    probability_alive_given_latent,
    simulate_paretoggg,
)
from clvmodels.models.registry import get_spec, spec_for

# ../shared/data beside the repository (a git worktree one level deeper looks one higher)
_ROOT = Path(__file__).resolve().parents[1]
GROCERY = next((p for p in (_ROOT.parent / "shared" / "data" / "grocery_elog.csv",
                            _ROOT.parent.parent / "shared" / "data" / "grocery_elog.csv")
                if p.exists()), _ROOT.parent / "shared" / "data" / "grocery_elog.csv")
TRUTH = {"t": 4.0, "gamma": 2.0, "r": 3.0, "alpha": 10.0, "s": 0.8, "beta": 12.0}


def _simulated(n=150, seed=3):
    T = np.random.default_rng(seed).uniform(20.0, 52.0, n)
    return simulate_paretoggg(n, **TRUTH, T=T, T_holdout=20.0, random_state=seed)


def _quick_fit(data, seed=0, **kwargs):
    options = {"n_chains": 2, "n_draws": 30, "n_burnin": 20, "random_state": seed, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # chains this short do not mix
        return ParetoGGG(**options).fit(data)


@pytest.fixture(scope="module")
def fitted():
    data = _simulated()
    return _quick_fit(data), data


# --- closed forms against mpmath ---------------------------------------------------------

def _mp_dead_mass(mu, k, b, w):
    f = lambda u: mu * mp.exp(-mu * u) * mp.gammainc(k, b * u, mp.inf, regularized=True)  # noqa: E731
    return mp.quad(f, [0, w / 8, w / 2, w])


@pytest.mark.parametrize("k", [0.3, 1.0, 2.5, 10.0, 50.0])
@pytest.mark.parametrize("b", [0.05, 20.0])
def test_dead_mass_matches_mpmath_quadrature(k, b):
    """Both branches: the closed form and (mu w small) the series."""
    mp.mp.dps = 20
    for mu in (1e-7, 0.02, 5.0):
        for w in (0.01, 30.0, 200.0):
            got = _dead_mass(np.array([mu]), np.array([k]), np.array([b]), np.array([w]))[0][0]
            ref = float(_mp_dead_mass(mu, k, b, w))
            # the closed form is exact to ~1e-16 absolute, the series to 1e-15 relative
            assert abs(got - ref) <= 1e-9 * ref + 1e-15, (mu, w, got, ref)


@pytest.mark.parametrize("a,x", [(1.0, 2.0), (3.0, 2.0), (1.0, 2000.0), (5.0, 800.0),
                                 (50.0, 3000.0), (0.5, 1e4), (10.0, 1e-3)])
def test_log_gamma_sf_matches_mpmath_including_where_it_underflows(a, x):
    mp.mp.dps = 40
    ref = float(mp.log(mp.gammainc(a, x, mp.inf, regularized=True)))
    assert log_gamma_sf(a, x) == pytest.approx(ref, rel=1e-12, abs=1e-13)


def test_probability_alive_at_k_1_is_pareto_nbd_individual_closed_form():
    lam, mu = np.array([0.3, 1.5, 0.05]), np.array([0.05, 0.01, 0.2])
    tx, T = np.array([10.0, 3.0, 40.0]), np.array([20.0, 52.0, 41.0])
    expected = 1.0 / (1.0 + mu / (lam + mu) * np.expm1((lam + mu) * (T - tx)))
    got = probability_alive_given_latent([2, 5, 1], tx, T, 1.0, lam, mu)
    np.testing.assert_allclose(got, expected, rtol=1e-11)


def test_probability_alive_and_likelihood_match_an_integral_over_the_lifetime():
    """eq. 5 of the paper, integrated over tau ~ Exp(mu) with mpmath, for k != 1."""
    mp.mp.dps = 30
    for x, tx, T, litt, k, lam, mu in [(3, 20.0, 52.0, 1.2, 2.5, 0.2, 0.03),
                                       (10, 48.0, 52.0, 14.0, 6.0, 0.25, 0.1),
                                       (1, 2.0, 30.0, np.log(2.0), 0.7, 1.1, 0.5)]:
        b = k * lam

        def gaps(x=x, litt=litt, k=k, b=b, tx=tx):
            return mp.exp(x * (k * mp.log(b) - mp.loggamma(k)) + (k - 1) * litt - b * tx)

        def sf(d, k=k, b=b):
            return mp.gammainc(k, b * d, mp.inf, regularized=True)

        alive = mp.exp(-mu * T) * sf(T - tx)
        dead = mp.quad(lambda tau, mu=mu, tx=tx: mu * mp.exp(-mu * tau) * sf(tau - tx),
                       [tx, (tx + T) / 2, T])
        ref_ll = float(mp.log(gaps() * (alive + dead)))
        got = _log_lik(np.array([k]), np.array([lam]), np.array([mu]), np.array([float(x)]),
                       np.array([tx]), np.array([litt]), np.array([T - tx]))[0]
        assert got == pytest.approx(ref_ll, rel=1e-10)
        p = probability_alive_given_latent(x, tx, T, k, lam, mu)
        assert p == pytest.approx(float(alive / (alive + dead)), rel=1e-10)


# --- the sampler's kernels against their targets ---------------------------------------

def test_dead_lifetime_draws_follow_their_density():
    """tau - t_x given death before T: density mu e^(-mu u) Q(k, b u) on (0, w]."""
    rng = np.random.default_rng(0)
    n = 4000
    k, b, mu, w = (np.full(n, v) for v in (3.0, 0.6, 0.05, 30.0))
    u = _draw_dead_gap(k, b, mu, w, rng)
    total = _dead_mass(mu[:1], k[:1], b[:1], w[:1])[0][0]

    def cdf(v):
        v = np.asarray(v, dtype=float)
        return _dead_mass(np.full(v.shape, 0.05), np.full(v.shape, 3.0), np.full(v.shape, 0.6),
                          v)[0] / total

    assert stats.kstest(u, cdf).pvalue > 1e-3


def test_slice_sampler_leaves_a_gamma_target_invariant():
    rng = np.random.default_rng(1)
    shape = np.array([0.5, 2.0, 8.0])[np.arange(6000) % 3]
    v = np.log(rng.gamma(shape))                   # start at the target: log of Gamma(shape)

    def f(vals, idx):
        return shape[idx] * vals - np.exp(vals)

    fv = f(v, np.arange(v.size))
    for _ in range(5):
        v, fv = slice_sample(f, v, fv, rng)
    for a in (0.5, 2.0, 8.0):
        sample = np.exp(v[shape == a])
        assert stats.kstest(sample, stats.gamma(a).cdf).pvalue > 1e-3


def test_holdout_counts_for_poisson_purchasing_and_against_brute_force():
    rng = np.random.default_rng(2)
    n = 20000
    # k = 1: memoryless, N(t) ~ Poisson(lambda t) for a customer alive throughout
    counts = _simulate_counts(np.ones(n), np.full(n, 0.4), np.full(n, np.inf), np.full(n, 10.0),
                              np.full(n, 30.0), 25.0, rng)
    assert counts.mean() == pytest.approx(10.0, abs=4 * np.sqrt(10.0 / n))
    # k = 3: brute force, renewal process from t_x conditioned on no purchase in (t_x, T]
    k, lam, tx, T, t, tau = 3.0, 0.5, 10.0, 14.0, 12.0, 20.0
    got = _simulate_counts(np.full(n, k), np.full(n, lam), np.full(n, tau), np.full(n, tx),
                           np.full(n, T), t, rng)
    brute = []
    while len(brute) < n:
        now = tx + rng.gamma(k, 1 / (k * lam), 4 * n)
        keep = now > T
        now = now[keep]
        c = np.zeros(now.size)
        cur = now.copy()
        while True:
            inside = cur < min(tau, T + t)
            if not inside.any():
                break
            c += inside
            cur = np.where(inside, cur + rng.gamma(k, 1 / (k * lam), cur.size), cur)
        brute.extend(c.tolist())
    brute = np.array(brute[:n])
    se = np.sqrt(got.var() / n + brute.var() / n)
    assert abs(got.mean() - brute.mean()) < 4 * se


# --- diagnostics against known effective sample sizes -------------------------------------

def test_rhat_and_ess_against_known_values():
    rng = np.random.default_rng(3)
    iid = rng.normal(size=(4, 2000))
    assert rhat(iid) < 1.01
    assert ess(iid) == pytest.approx(8000, rel=0.15)
    assert ess_bulk(iid) == pytest.approx(8000, rel=0.15)
    # AR(1) with rho = 0.8: ESS = N (1 - rho) / (1 + rho)
    rho, n = 0.8, 20000
    z = rng.normal(size=(4, n))
    ar = np.empty_like(z)
    ar[:, 0] = z[:, 0] / np.sqrt(1 - rho ** 2)
    for i in range(1, n):
        ar[:, i] = rho * ar[:, i - 1] + z[:, i]
    assert ess(ar) == pytest.approx(4 * n * (1 - rho) / (1 + rho), rel=0.2)
    # one chain of four shifted by 2 sd: split R-hat about sqrt(1 + 8/7 * 3/16 * 4) = 1.36
    shifted = iid + np.array([0.0, 0.0, 0.0, 2.0])[:, None]
    assert rhat(shifted) > 1.25


# --- data ----------------------------------------------------------------------------------

def test_summary_from_a_small_log_by_hand():
    log = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b", "c"],
                        "date": ["2020-01-01", "2020-01-08", "2020-01-08", "2020-01-22",
                                 "2020-01-05", "2020-02-10"]})
    s = pggg_summary(log, calibration_end="2020-01-29", observation_end="2020-02-26")
    assert list(s.index) == ["a", "b"]                  # c first bought after the cut-off
    assert s.loc["a", ["frequency", "recency", "T"]].tolist() == [2.0, 3.0, 4.0]
    assert s.loc["a", "log_gap_sum"] == pytest.approx(np.log(1.0) + np.log(2.0))
    assert s.loc["b", ["frequency", "recency", "log_gap_sum"]].tolist() == [0.0, 0.0, 0.0]
    assert s.loc["b", "T"] == pytest.approx(24 / 7)
    assert s["frequency_holdout"].tolist() == [0.0, 0.0]
    assert s.attrs["time_unit"] == "W"


@pytest.mark.skipif(not GROCERY.exists(), reason="needs ../shared/data/grocery_elog.csv")
def test_grocery_summary_matches_btydplus_elog2cbs():
    """BTYDplus HowTo vignette, head(cbs) of elog2cbs(groceryElog, T.cal = "2006-12-31")."""
    log = pd.read_csv(GROCERY)
    s = pggg_summary(log, customer_id="cust", date="date", calibration_end="2006-12-31",
                     observation_end="2007-12-30")
    assert len(s) == 1525
    head = s.loc[[1, 2, 3, 4, 5, 6]]
    assert head["frequency"].tolist() == [0, 1, 19, 0, 2, 5]
    np.testing.assert_allclose(head["recency"], [0, 50.28571, 48.57143, 0, 40.42857, 47.57143],
                               atol=5e-6)
    assert head["frequency_holdout"].tolist() == [0, 0, 14, 0, 3, 6]
    # Jensen: mean log gap <= log mean gap, for every customer with repeat purchases
    rep = s[s.frequency > 0]
    assert np.all(rep.log_gap_sum <= rep.frequency * np.log(rep.recency / rep.frequency) + 1e-9)


# --- contract-like checks for an MCMC model ------------------------------------------------

def test_registry_entry():
    spec = get_spec("paretoggg")
    assert spec.model_class() is ParetoGGG and spec_for(ParetoGGG()) is spec
    assert spec.display_name == "Pareto/GGG" and spec.engine == "mcmc"
    assert not spec.intervals and not spec.conditional_pmf and not spec.forecast


def test_fit_returns_self_and_keeps_the_draws(fitted):
    model, data = fitted
    assert isinstance(model, ParetoGGG)
    assert set(model.posterior_) == set(PARAM_NAMES)
    assert all(v.shape == (2, 30) for v in model.posterior_.values())
    assert model.latent_["k"].shape == (60, len(data))
    assert np.all(np.isfinite(model.latent_["tau"])) and np.all(model.latent_["mu"] > 0)
    table = model.summary()
    assert list(table.index) == list(PARAM_NAMES)
    assert {"mean", "sd", "q5", "median", "q95", "r_hat", "ess_bulk"} <= set(table.columns)
    assert np.all(table["q5"] <= table["median"]) and np.all(table["median"] <= table["q95"])
    assert set(model.diagnostics()) >= {"max_r_hat", "min_ess_bulk", "converged"}


def test_seeded_fits_are_identical_and_seeds_matter():
    data = _simulated(60, seed=5)
    a = _quick_fit(data, seed=11, n_draws=10, n_burnin=5)
    b = _quick_fit(data, seed=11, n_draws=10, n_burnin=5)
    c = _quick_fit(data, seed=12, n_draws=10, n_burnin=5)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(a.posterior_[name], b.posterior_[name])
    assert not np.array_equal(a.posterior_["r"], c.posterior_["r"])
    # the chains differ from each other
    assert not np.array_equal(a.posterior_["r"][0], a.posterior_["r"][1])


def test_clone_and_unfitted_use(fitted):
    model, data = fitted
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "posterior_")
    for method, args in (("probability_alive", (data,)), ("expected_purchases", (data, 5.0)),
                         ("summary", ())):
        with pytest.raises(NotFittedError, match=method):
            getattr(ParetoGGG(), method)(*args)


def test_predictions_keep_the_index_and_are_sane(fitted):
    model, data = fitted
    small = data.iloc[:25].copy()
    small.index = pd.Index([f"c{i}" for i in range(25)], name="customer_id")
    palive = model.probability_alive(small)
    exp = model.expected_purchases(small, t=10.0)
    for out, name in ((palive, "probability_alive"), (exp, "expected_purchases")):
        assert isinstance(out, pd.Series) and out.name == name and out.index.equals(small.index)
        assert np.all(np.isfinite(out)) and np.all(out >= 0)
    assert np.all(palive <= 1)
    draws = model.simulate_holdout_counts(small, 10.0)
    assert draws.shape == (60, 25) and np.all(draws == np.round(draws))
    np.testing.assert_allclose(draws.mean(axis=0), exp)
    # the fitted customers (found by their labels) get their stored draws
    np.testing.assert_allclose(model.probability_alive(data.iloc[:25]),
                               model.latent_["palive"][:, :25].mean(axis=0), rtol=1e-12)
    # customers the model was not fitted on are sampled given the population draws
    other = _simulated(40, seed=9)
    out = model.probability_alive(other, random_state=1)
    assert out.index.equals(other.index) and np.all((out >= 0) & (out <= 1))
    np.testing.assert_array_equal(out, model.probability_alive(other, random_state=1))


def test_bad_input_is_refused_naming_the_column(fitted):
    _, data = fitted
    with pytest.raises(InvalidSummaryError, match="log_gap_sum"):
        ParetoGGG().fit(data.drop(columns="log_gap_sum"))
    with pytest.raises(InvalidCustomerDataError, match="recency"):
        ParetoGGG().fit(frequency=[1, 2], recency=[5.0, 1.0], T=[4.0, 3.0])
    bad = data.copy()
    bad.loc[bad.index[bad.frequency > 0][0], "log_gap_sum"] = 1e3
    with pytest.raises(InvalidCustomerDataError, match="log_gap_sum"):
        ParetoGGG().fit(bad)
    with pytest.raises(ValueError, match="n_draws"):
        ParetoGGG(n_draws=0).fit(data)


def test_save_and_load_as_versioned_json(fitted, tmp_path):
    model, data = fitted
    path = tmp_path / "pggg.json"
    model.save(path)
    saved = json.loads(path.read_text())
    assert saved["format_version"] == 1 and saved["model_type"] == "paretoggg"
    for loaded in (load_model(path), ParetoGGG.load(path)):
        assert isinstance(loaded, ParetoGGG)
        for name in PARAM_NAMES:
            np.testing.assert_array_equal(loaded.posterior_[name], model.posterior_[name])
        pd.testing.assert_frame_equal(loaded.summary(), model.summary(), check_exact=False,
                                      rtol=1e-12)
        # no customer draws are saved: they are sampled again given the population draws
        p_loaded = loaded.probability_alive(data, random_state=0)
        assert np.mean(np.abs(p_loaded - model.probability_alive(data))) < 0.05
    saved["format_version"] = 99
    path.write_text(json.dumps(saved))
    with pytest.raises(ModelFileError, match="format_version"):
        load_model(path)


# --- the posterior covers the simulation's truth -----------------------------------------

def _coverage(seed, n=300, n_draws=300, n_burnin=300):
    T = np.random.default_rng(seed).uniform(20.0, 52.0, n)
    data = simulate_paretoggg(n, **TRUTH, T=T, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        model = ParetoGGG(n_chains=2, n_draws=n_draws, n_burnin=n_burnin,
                          random_state=seed).fit(data)
    table = model.summary()
    covered = {p: bool(table.loc[p, "q5"] <= v <= table.loc[p, "q95"]) for p, v in TRUTH.items()}
    return covered, table


def test_posterior_covers_the_truth_one_seed():
    covered, table = _coverage(21, n=200, n_draws=150, n_burnin=150)
    assert sum(covered.values()) >= 5, table
    assert table["r_hat"].max() < 1.2, table


@pytest.mark.slow
def test_posterior_90_percent_intervals_cover_the_truth_over_seeds():
    """3 seeds x 6 parameters: 90% intervals should miss about 2 of 18 (at most 4 here,
    P(more than 4 misses) = 1.7% for independent intervals), with R-hat < 1.05."""
    results = [_coverage(seed, n_draws=1000, n_burnin=500) for seed in (1, 2, 3)]
    hits = sum(sum(c.values()) for c, _ in results)
    assert hits >= 14, [t for _, t in results]
    assert max(t["r_hat"].max() for _, t in results) < 1.05, [t for _, t in results]


# --- groceryElog against BTYDplus's HowTo vignette ---------------------------------------

# BTYDplus "HowTo" vignette, section Pareto/GGG: pggg.mcmc.DrawParameters(cbs) on
# elog2cbs(groceryElog, T.cal = "2006-12-31"): median population estimates, the mean over
# customers of the individual medians, the 2007 holdout MAE (Pareto/NBD: 1.513515) and
# the first six customers' E[holdout purchases] and P(alive), printed to 2-3 decimals.
BTYDPLUS = {"t": 1.671, "gamma": 0.368, "r": 0.942, "alpha": 5.150, "s": 0.435, "beta": 4.610}
BTYDPLUS_LATENT = {"k": 3.889, "lambda": 0.159, "mu": 0.064, "tau": 69.440}
BTYDPLUS_HEAD_X_STAR = [0.08, 0.96, 15.45, 0.11, 2.21, 4.57]
BTYDPLUS_HEAD_PALIVE = [0.10, 0.97, 0.87, 0.10, 0.93, 0.98]


@pytest.mark.slow
@pytest.mark.skipif(not GROCERY.exists(), reason="needs ../shared/data/grocery_elog.csv")
def test_grocery_estimates_and_holdout_match_btydplus():
    """A short run (2 x (100 + 150) sweeps; the full run is benchmarks/bench_paretoggg.py).

    Tolerances are MCMC noise: each population median within 3 posterior standard
    deviations of BTYDplus's (its own median of 100 thinned draws is noisy too); the
    customer-level means within 10%; the holdout MAE within 0.03 of 1.3895 (the
    simulated holdout counts average over 300 draws per customer); the first six
    customers within 0.1 (P(alive)) and 0.4 purchases (E[holdout]).
    """
    log = pd.read_csv(GROCERY)
    summary = pggg_summary(log, customer_id="cust", date="date", calibration_end="2006-12-31",
                           observation_end="2007-12-30")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        model = ParetoGGG(n_chains=2, n_draws=150, n_burnin=100, random_state=1).fit(summary)
    table = model.summary()
    for p, ref in BTYDPLUS.items():
        assert abs(table.loc[p, "median"] - ref) < 3 * table.loc[p, "sd"], table
    for p, ref in BTYDPLUS_LATENT.items():
        got = np.mean(np.median(model.latent_[p], axis=0))
        assert got == pytest.approx(ref, rel=0.10), p
    x_star = model.expected_purchases(summary, t=52.0)
    mae = np.mean(np.abs(summary["frequency_holdout"] - x_star))
    assert abs(mae - 1.389548) < 0.03 and mae < 1.513515
    np.testing.assert_allclose(model.probability_alive(summary).iloc[:6], BTYDPLUS_HEAD_PALIVE,
                               atol=0.1)
    np.testing.assert_allclose(x_star.iloc[:6], BTYDPLUS_HEAD_X_STAR, atol=0.4)
