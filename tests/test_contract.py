"""The contract every model in clvmodels.models must pass (like scikit-learn's estimator checks).

ONE list of model cases, ``CASES``, and check functions parametrised over it: each
(case, check) pair is a named pytest case (``test_contract[BGNBD-check_clone]``).

Adding a model is a 5-line change: append a ``ModelCase`` to ``CASES``::

    ModelCase(
        "ParetoNBD", ParetoNBD, {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7},
        simulate=lambda n, p, seed: simulate_paretonbd_summary(n, **p, T=_cohorts(n, seed),
                                                              random_state=seed),
        columns=("frequency", "recency", "T"),
    ),

* ``simulate(n, params, seed)`` returns a DataFrame with the model's data ``columns``
  (one row per customer, reproducible from ``seed``);
* ``fit(model, frame, weights)`` is only needed when the model is not fitted with
  ``model.fit(frame, weights=weights)`` (see the sBG case);
* ``n`` is the number of simulated customers used by the checks (recovery uses 5x).

The checks: the registry's capabilities match what the class does; predictions keep
the summary's index and are finite; intervals bracket the estimate; the conditional
PMF sums to 1; the forecast's simulation matches the closed-form expectation (or is
refused by models the registry does not let it simulate); fit returns self;
sklearn.base.clone and get/set_params work and ``__init__`` stores nothing else;
unfitted use raises NotFittedError naming the method; fitting twice (same or fresh
instance) gives identical results; compressed rows with counts as weights give the
estimates of the expanded rows; save/load round trip is identical to 1e-12; bad input
is refused with a message naming the column; from_params gives a usable model;
simulated parameters are recovered within 3 standard errors.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from clvmodels.data._simulate_cnbd import simulate_cnbd_summary, simulate_nbd_summary
from clvmodels.data._simulate_family import (
    simulate_bgbb_summary,
    simulate_mbgnbd_summary,
    simulate_sbg_lifetimes,
)
from clvmodels.data._simulate_ggom import simulate_ggomnbd_summary
from clvmodels.data._simulate_paretonbd import simulate_paretonbd_summary
from clvmodels.data.simulate import simulate_bgnbd_summary, simulate_gamma_gamma_spend
from clvmodels.errors import CLVError, InvalidParameterError, ModelFileError, NotFittedError
from clvmodels.models.bgbb import BGBB
from clvmodels.models.bgcnbd import BGCNBD
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.covariates import BGNBDCovariates, ParetoNBDCovariates
from clvmodels.models.forecast import simulate_customer_base
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.ggomnbd import GammaGompertzNBD
from clvmodels.models.io import load_model
from clvmodels.models.mbgcnbd import MBGCNBD
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.nbd import NBD
from clvmodels.models.paretonbd import ParetoNBD
from clvmodels.models.registry import spec_for
from clvmodels.models.sbg import ShiftedBetaGeometric


def _default_fit(model, frame, weights=None):
    return model.fit(frame, weights=weights)


@dataclass(frozen=True)
class ModelCase:
    name: str
    model: type
    params: dict[str, float]
    simulate: Callable[[int, dict, int], pd.DataFrame]
    columns: tuple[str, ...]
    fit: Callable = _default_fit
    n: int = 3000

    def __repr__(self) -> str:  # the pytest id
        return self.name


def _cohorts(n, seed):
    """T spread over 52 weekly cohorts, recency at day resolution (as rfm_summary gives)."""
    return np.random.default_rng(seed).integers(1, 53, n).astype(float)


def _daily(frame):
    frame = frame.copy()
    frame["recency"] = np.floor(frame["recency"] * 7) / 7
    return frame


def _without_litt(frame):
    """The summary columns only: the profile over k then uses the summary likelihood."""
    return frame[["frequency", "recency", "T"]]


def _gamma_gamma_data(n, p, seed):
    s = simulate_bgnbd_summary(3 * n, 0.5, 3.0, 0.8, 2.5, T=39.0, random_state=seed)
    s = s[s["frequency"] > 0].iloc[:n].copy()
    s["monetary_value"] = simulate_gamma_gamma_spend(s["frequency"], **p, random_state=seed)
    return s[["frequency", "monetary_value"]]


def _sbg_fit(model, frame, weights=None):
    return model.fit_lifetimes(frame["period"], frame["churned"], weights=weights)


CASES = [
    ModelCase(
        "BGNBD", BGNBD, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        simulate=lambda n, p, seed: _daily(
            simulate_bgnbd_summary(n, **p, T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "ParetoNBD", ParetoNBD, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
        simulate=lambda n, p, seed: _daily(
            simulate_paretonbd_summary(n, **p, T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "GammaGompertzNBD", GammaGompertzNBD,
        {"r": 1.0, "alpha": 6.0, "b": 0.08, "s": 1.5, "beta": 4.0},
        simulate=lambda n, p, seed: _daily(
            simulate_ggomnbd_summary(n, **p, T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "BGNBDCovariates", BGNBDCovariates,
        {"r": 0.243, "alpha0": 4.414, "a0": 0.793, "b0": 2.426},
        simulate=lambda n, p, seed: _daily(simulate_bgnbd_summary(
            n, p["r"], p["alpha0"], p["a0"], p["b0"], T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "ParetoNBDCovariates", ParetoNBDCovariates,
        {"r": 0.553, "alpha0": 10.578, "s": 0.606, "beta0": 11.669},
        simulate=lambda n, p, seed: _daily(simulate_paretonbd_summary(
            n, p["r"], p["alpha0"], p["s"], p["beta0"], T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "MBGNBD", MBGNBD, {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5},
        simulate=lambda n, p, seed: _daily(
            simulate_mbgnbd_summary(n, **p, T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "NBD", NBD, {"r": 0.5, "alpha": 5.0},
        simulate=lambda n, p, seed: _daily(
            simulate_nbd_summary(n, **p, T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "BGCNBD", BGCNBD, {"k": 2, "r": 0.8, "alpha": 2.0, "a": 0.8, "b": 2.5},
        simulate=lambda n, p, seed: _without_litt(
            simulate_cnbd_summary(n, **p, T=_cohorts(n, seed), random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "MBGCNBD", MBGCNBD, {"k": 2, "r": 0.8, "alpha": 2.0, "a": 0.8, "b": 2.5},
        simulate=lambda n, p, seed: _without_litt(simulate_cnbd_summary(
            n, **p, T=_cohorts(n, seed), dropout_at_zero=True, random_state=seed)),
        columns=("frequency", "recency", "T"),
    ),
    ModelCase(
        "BGBB", BGBB, {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783},
        simulate=lambda n, p, seed: simulate_bgbb_summary(n, **p, n_periods=6,
                                                          random_state=seed),
        columns=("frequency", "recency", "n_periods"),
    ),
    ModelCase(
        "ShiftedBetaGeometric", ShiftedBetaGeometric, {"alpha": 0.704, "beta": 1.182},
        simulate=lambda n, p, seed: simulate_sbg_lifetimes(n, **p, n_periods=8,
                                                           random_state=seed),
        columns=("period", "churned"),
        fit=_sbg_fit,
    ),
    ModelCase(
        "GammaGamma", GammaGamma, {"p": 6.25, "q": 3.74, "gamma": 15.44},
        simulate=_gamma_gamma_data,
        columns=("frequency", "monetary_value"),
    ),
]  # fmt: skip


# ---------------------------------------------------------------------------- checks
def _fitted(case, seed=0, model=None):
    frame = case.simulate(case.n, case.params, seed)
    model = case.model() if model is None else model
    return case.fit(model, frame), frame


def check_fit_returns_self(case):
    model = case.model()
    assert case.fit(model, case.simulate(case.n, case.params, 0)) is model
    assert list(model.params_.index) == list(case.params)
    assert np.isfinite(model.log_likelihood_)
    assert model.converged_


def check_init_stores_only_parameters_and_clone_works(case):
    model = case.model()
    assert set(vars(model)) == set(model.get_params(deep=False))
    model.set_params(penalizer=0.01, n_starts=2)
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    fitted, _ = _fitted(case)
    fresh = clone(fitted)
    assert not hasattr(fresh, "params_")
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(no_such_parameter=1)


def check_unfitted_use_raises(case):
    model = case.model()
    with pytest.raises(NotFittedError, match=r"summary\(\)"):
        model.summary()
    with pytest.raises(NotFittedError, match=r"save\(\)"):
        model.save("unused.json")
    with pytest.raises(AttributeError):  # NotFittedError is also an AttributeError
        _ = model.aic


def check_fit_twice_identical_and_deterministic(case):
    frame = case.simulate(case.n, case.params, 1)
    model = case.model()
    first = case.fit(model, frame).params_.copy()
    cov = model.covariance_.copy()
    second = case.fit(model, frame).params_
    pd.testing.assert_series_equal(first, second, check_exact=True)
    pd.testing.assert_frame_equal(cov, model.covariance_, check_exact=True)
    fresh = case.fit(case.model(), frame)
    pd.testing.assert_series_equal(first, fresh.params_, check_exact=True)
    assert fresh.log_likelihood_ == model.log_likelihood_


def check_compressed_rows_equal_expanded_rows(case):
    frame = case.simulate(case.n, case.params, 2)
    rng = np.random.default_rng(2)
    expanded = frame.iloc[rng.integers(0, len(frame), 2 * len(frame))]  # duplicates for sure
    expanded = expanded.reset_index(drop=True)
    counts = expanded.groupby(list(case.columns), sort=False).size()
    compressed = counts.index.to_frame(index=False)
    plain = case.fit(case.model(), expanded)
    weighted = case.fit(case.model(), compressed, weights=counts.to_numpy())
    np.testing.assert_allclose(weighted.params_, plain.params_, rtol=1e-9)
    assert weighted.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-12)
    assert weighted.n_customers_ == plain.n_customers_ == len(expanded)


def check_save_load_round_trip(case, tmp_path):
    model, _ = _fitted(case)
    path = tmp_path / f"{case.name}.json"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_allclose(loaded.params_, model.params_, rtol=1e-12, atol=0)
    np.testing.assert_allclose(loaded.covariance_, model.covariance_, rtol=1e-12, atol=0)
    assert loaded.log_likelihood_ == pytest.approx(model.log_likelihood_, rel=1e-12)
    assert loaded.time_unit_ == model.time_unit_
    assert loaded.n_customers_ == model.n_customers_
    pd.testing.assert_frame_equal(loaded.summary(), model.summary(), rtol=1e-12)
    # a tampered file is refused with a reason
    data = json.loads(path.read_text())
    first = next(iter(case.params))
    data["params"][first] = -1.0
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=first):
        load_model(path)


def check_bad_input_refused_with_column_named(case):
    frame = case.simulate(case.n, case.params, 3)
    for column in case.columns:
        bad = frame.copy()
        bad[column] = bad[column].astype(float)
        bad.iloc[0, bad.columns.get_loc(column)] = np.nan
        with pytest.raises(CLVError, match=column):
            case.fit(case.model(), bad)
        bad = frame.copy()
        bad[column] = bad[column].astype(float)
        bad.iloc[0, bad.columns.get_loc(column)] = -3.0
        with pytest.raises(CLVError, match=column):
            case.fit(case.model(), bad)


def check_from_params(case):
    model = case.model.from_params(**case.params)
    assert list(model.params_.index) == list(case.params)
    np.testing.assert_array_equal(model.params_.to_numpy(), list(case.params.values()))
    assert model.summary()["std_error"].isna().all()
    with pytest.raises(CLVError):
        case.model.from_params(**{**case.params, next(iter(case.params)): -1.0})
    with pytest.raises(CLVError):
        case.model.from_params(**dict(list(case.params.items())[1:]))


def check_recovers_simulated_parameters(case):
    frame = case.simulate(5 * case.n, case.params, 4)
    table = case.fit(case.model(), frame).summary()
    truth = pd.Series(case.params, dtype=float)
    # a whole-number parameter chosen on a grid (the k of BG/CNBD-k) has no standard
    # error: it must then be recovered exactly
    exact = table["std_error"].isna()
    assert (table.loc[exact, "estimate"] == truth[exact]).all(), table
    z = (table["estimate"] - truth)[~exact] / table["std_error"][~exact]
    assert (z.abs() < 3).all(), table


#: Per-customer predictions by kind of model: (method, keyword arguments).
PREDICTIONS = {
    "purchase": [("expected_purchases", {"t": 10.0}), ("probability_alive", {})],
    "discrete": [("expected_purchases", {"t": 5}), ("probability_alive", {"t": 1})],
    "spend": [("expected_spend", {})],
}


def _customers(frame, n=60):
    small = frame.iloc[:n].copy()
    small.index = pd.Index([f"c{i}" for i in range(len(small))], name="customer_id")
    return small


def check_registry_capabilities_match_the_class(case):
    spec = spec_for(case.model)
    assert spec.model_class() is case.model
    if spec.conditional_pmf:
        assert hasattr(case.model, "conditional_log_probability_of_purchases")
    if spec.forecast:
        assert getattr(case.model, "_simulate_alive_purchases", None) is not None
    if spec.intervals:
        for method, _ in PREDICTIONS[spec.kind]:
            assert "interval" in inspect.signature(getattr(case.model, method)).parameters


def check_predictions_keep_the_index_and_are_finite(case):
    spec = spec_for(case.model)
    model, frame = _fitted(case)
    if spec.kind == "contractual":
        t = np.arange(1, 9)
        survival = np.asarray(model.survival(t))
        assert survival.shape == t.shape and np.all(np.isfinite(survival))
        assert np.all(np.diff(survival) <= 0) and 0 < survival[-1] <= survival[0] <= 1
        return
    small = _customers(frame)
    for method, kwargs in PREDICTIONS[spec.kind]:
        out = getattr(model, method)(small, **kwargs)
        assert isinstance(out, pd.Series) and out.name == method
        assert out.index.equals(small.index)
        assert np.all(np.isfinite(out.to_numpy())) and np.all(out.to_numpy() >= 0)


def check_intervals_bracket_the_estimate(case):
    spec = spec_for(case.model)
    if not spec.intervals:
        return
    model, frame = _fitted(case)
    small = _customers(frame, 20)
    for method, kwargs in PREDICTIONS[spec.kind]:
        plain = getattr(model, method)(small, **kwargs)
        table = getattr(model, method)(small, **kwargs, interval=0.9, n_draws=40,
                                       random_state=0)
        assert list(table.columns) == [method, f"{method}_lower", f"{method}_upper"]
        assert table.index.equals(small.index)
        np.testing.assert_allclose(table[method], plain, rtol=1e-12)
        slack = 1e-9 * np.abs(plain.to_numpy()) + 1e-12
        assert np.all(table[f"{method}_lower"] <= plain + slack)
        assert np.all(plain <= table[f"{method}_upper"] + slack)


def check_conditional_pmf_sums_to_one(case):
    if not spec_for(case.model).conditional_pmf:
        return
    model, frame = _fitted(case)
    small = _customers(frame, 6)
    counts = np.arange(400)
    rows = small.loc[np.repeat(small.index, counts.size)]
    logp = model.conditional_log_probability_of_purchases(rows, np.tile(counts, len(small)),
                                                          8.0)
    total = np.exp(logp).reshape(len(small), counts.size).sum(axis=1)
    np.testing.assert_allclose(total, 1.0, rtol=1e-8)
    # and its mean is the model's conditional expectation
    mean = (np.exp(logp).reshape(len(small), counts.size) * counts).sum(axis=1)
    np.testing.assert_allclose(mean, model.expected_purchases(small, t=8.0), rtol=1e-6)


def check_forecast_simulation_matches_the_expectation(case):
    spec = spec_for(case.model)
    model, frame = _fitted(case)
    small = _customers(frame, 400)
    if spec.kind not in ("purchase", "discrete"):
        return
    if not spec.forecast:
        with pytest.raises(InvalidParameterError, match="forecast_customer_base"):
            simulate_customer_base(model, small, [5.0, 10.0], n_sims=5, random_state=0)
        return
    sims = simulate_customer_base(model, small, [5.0, 10.0], n_sims=400,
                                  parameter_uncertainty=False, random_state=0)
    again = simulate_customer_base(model, small, [5.0, 10.0], n_sims=400,
                                   parameter_uncertainty=False, random_state=0)
    np.testing.assert_array_equal(sims["transactions"], again["transactions"])
    total = sims["transactions"].sum(axis=1)
    expected = model.expected_purchases(small, t=10.0).sum()
    se = total.std(ddof=1) / np.sqrt(total.size)
    assert abs(total.mean() - expected) < 5 * se, (total.mean(), expected, se)


CHECKS = [
    check_registry_capabilities_match_the_class,
    check_predictions_keep_the_index_and_are_finite,
    check_intervals_bracket_the_estimate,
    check_conditional_pmf_sums_to_one,
    check_forecast_simulation_matches_the_expectation,
    check_fit_returns_self,
    check_init_stores_only_parameters_and_clone_works,
    check_unfitted_use_raises,
    check_fit_twice_identical_and_deterministic,
    check_compressed_rows_equal_expanded_rows,
    check_save_load_round_trip,
    check_bad_input_refused_with_column_named,
    check_from_params,
    check_recovers_simulated_parameters,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_contract(case, check, tmp_path, recwarn):
    if check is check_save_load_round_trip:
        check(case, tmp_path)
    else:
        check(case)


def test_every_registered_model_has_a_case():
    from clvmodels.models.registry import model_specs

    # models fitted by MCMC (engine="mcmc", e.g. Pareto/GGG) have their own contract
    # tests (tests/test_paretoggg.py): the maximum-likelihood checks do not apply
    classes = {spec.model_class() for spec in model_specs() if spec.engine == "ml"}
    assert classes <= {case.model for case in CASES}
