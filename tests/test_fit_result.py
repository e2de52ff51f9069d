"""One typed record of every fit (FitResult on model.fit_result_), its text rendering, old files.

The record is checked against what it summarises (the model's public
attributes, AIC/BIC from their definitions, the warnings the fit issued as
pytest saw them); the text against the numbers of ``summary()``; files written
by the version before the transforms (``tests/data/previous_version``) against
their own contents.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.simulate import simulate_bgnbd_summary
from clvmodels.errors import ConvergenceWarning, HessianWarning
from clvmodels.models import BGNBD, BGNBDCovariates, GammaGamma, ParetoNBDCovariates
from clvmodels.models._fit import IDENTITY, LOG, FitResult
from clvmodels.models.covariates import simulate_summary
from clvmodels.models.io import load_model, model_from_dict

OLD = Path(__file__).parent / "data" / "previous_version"


@pytest.fixture(scope="module")
def bgnbd_fit():
    summary = simulate_bgnbd_summary(600, r=0.25, alpha=4.0, a=0.8, b=2.5,
                                     T=np.linspace(20, 52, 600), random_state=3)
    summary.attrs["time_unit"] = "W"
    return summary, BGNBD().fit(summary)


@pytest.fixture(scope="module")
def covariate_fit():
    truth = BGNBDCovariates.from_params(
        r=0.5, alpha0=5.0, a0=0.8, b0=2.5, purchase_covariates=["channel"],
        dropout_covariates=["channel"], levels={"channel": ["shop", "web"]},
        coefficients={"purchase:channel[web]": 0.7, "dropout:channel[web]": -0.5})
    summary = simulate_summary(truth, pd.DataFrame({"channel": np.repeat(["shop", "web"], 600)}),
                               T=39.0, random_state=4)
    model = BGNBDCovariates(purchase_covariates=["channel"], dropout_covariates=["channel"])
    return summary, model.fit(summary)


# --------------------------------------------------------------------------- the record
def test_the_fit_result_holds_what_the_model_shows(bgnbd_fit):
    summary, model = bgnbd_fit
    result = model.fit_result_
    assert isinstance(result, FitResult)
    np.testing.assert_array_equal(result.params, model.params_.to_numpy())
    assert result.param_names == tuple(model.params_.index)
    np.testing.assert_array_equal(result.covariance, model.covariance_.to_numpy())
    np.testing.assert_array_equal(result.covariance_transformed, model._covariance_log)
    assert result.log_likelihood == model.log_likelihood_
    assert result.converged is model.converged_ is True
    assert result.n_customers == model.n_customers_ == len(summary)
    k, n, ll = 4, len(summary), model.log_likelihood_
    assert result.aic == pytest.approx(2 * k - 2 * ll, rel=1e-14) == model.aic
    assert result.bic == pytest.approx(k * math.log(n) - 2 * ll, rel=1e-14) == model.bic
    assert result.transforms == (LOG,) * 4 and result.hessian_ok
    assert result.n_starts == len(result.start_log_likelihoods) == 3
    assert max(result.start_log_likelihoods) <= ll + 1e-6
    assert 0 < result.n_unique <= n and result.gradient_norm < 1e-5
    assert result.warnings == []
    # the compatibility view reads the record, key by key
    info = model.fit_info_
    assert info["n_unique_rows"] == result.n_unique and info["message"] == result.message
    assert info["start_log_likelihoods"] == result.start_log_likelihoods
    assert set(info) == {"message", "n_iterations", "n_evaluations", "gradient_norm",
                         "n_starts", "start_log_likelihoods", "n_unique_rows", "hessian_ok",
                         "at_bound", "penalizer"}


def test_the_warnings_of_a_fit_are_kept_on_the_record():
    # one repeat purchase among five customers: the dropout process is not identified
    summary = pd.DataFrame({"frequency": [0, 0, 0, 1, 0], "recency": [0, 0, 0, 4.0, 0],
                            "T": [10.0, 12.0, 9.0, 11.0, 10.0]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = BGNBD(n_starts=1).fit(summary)
    issued = [(w.category, str(w.message)) for w in caught
              if issubclass(w.category, (ConvergenceWarning, HessianWarning))]
    assert issued  # the data are degenerate: the fit says so
    assert [(w.category, w.message) for w in model.fit_result_.warnings] == issued
    assert not model.fit_result_.hessian_ok
    text = model.summary_text()
    assert f"{issued[0][0].__name__}: {issued[0][1]}" in text
    assert "no standard errors" in text


def test_a_covariate_fit_records_its_transforms_and_the_restricted_fit(covariate_fit):
    summary, model = covariate_fit
    result = model.fit_result_
    assert result.transforms == (LOG,) * 4 + (IDENTITY,) * 2
    assert result.param_names[4:] == ("purchase:channel[web]", "dropout:channel[web]")
    restricted = BGNBD().fit(summary)
    assert result.extra["log_likelihood_without_covariates"] == pytest.approx(
        restricted.log_likelihood_, abs=1e-6)
    # natural covariance: J V J^T, J = diag(theta for the parameters, 1 for coefficients)
    theta = result.params
    x = np.r_[np.log(theta[:4]), theta[4:]]
    h = 1e-6
    jac = np.diag(np.r_[(np.exp(x[:4] + h) - np.exp(x[:4] - h)) / (2 * h), np.ones(2)])
    np.testing.assert_allclose(model.covariance_.to_numpy(),
                               jac @ model._covariance_log @ jac.T, rtol=1e-7)


def test_given_parameters_have_a_record_too():
    model = BGNBD.from_params(r=0.2, alpha=4.0, a=0.8, b=2.4, time_unit="W")
    result = model.fit_result_
    assert not result.fitted and result.converged is None and math.isnan(result.log_likelihood)
    assert dict(model.fit_info_) == {"message": "parameters given by from_params, not fitted"}


# --------------------------------------------------------------------------- the text
def _cells(table: pd.DataFrame) -> list[str]:
    return [f"{v:.6g}" for v in table.to_numpy().ravel() if np.isfinite(v)]


@pytest.mark.parametrize("which", ["bgnbd", "covariates"])
def test_summary_text_shows_the_numbers_of_summary(which, bgnbd_fit, covariate_fit):
    _, model = bgnbd_fit if which == "bgnbd" else covariate_fit
    text = model.summary_text()
    table = model.summary()
    for cell in _cells(table):
        assert cell in text
    for name in table.index:
        assert name in text
    title = "BG/NBD" if which == "bgnbd" else "BG/NBD with covariates"
    assert text.splitlines()[0].strip() == f"{title} results"
    header = "\n".join(text.splitlines()[:7])
    for label, value in (("Log-likelihood:", f"{model.log_likelihood_:.6g}"),
                         ("AIC:", f"{model.aic:.6g}"), ("BIC:", f"{model.bic:.6g}"),
                         ("Customers:", str(model.n_customers_)),
                         ("Converged:", "True")):
        line = next(x for x in header.splitlines() if label in x)
        assert line.split(label, 1)[1].split()[0] == value, label
    assert str(model) == text
    if which == "covariates":
        assert "z_value" in text and "p_value" in text
        assert "Wald intervals" in text and "log scale" in text
    else:
        assert "Time unit:" in header and " W" in header


def test_summary_text_at_another_level_and_before_fitting(bgnbd_fit):
    _, model = bgnbd_fit
    text = model.summary_text(alpha=0.1)
    assert "[0.05" in text and "0.95]" in text
    for cell in _cells(model.summary(alpha=0.1)):
        assert cell in text
    assert str(BGNBD(penalizer=0.1)) == repr(BGNBD(penalizer=0.1)) == "BGNBD(penalizer=0.1)"


# --------------------------------------------------------------------------- save / load
def test_a_saved_model_keeps_its_record(tmp_path, covariate_fit):
    _, model = covariate_fit
    path = tmp_path / "m.json"
    model.save(path)
    back = load_model(path)
    a, b = model.fit_result_, back.fit_result_
    for name in ("param_names", "converged", "message", "n_iterations", "n_evaluations",
                 "n_starts", "start_log_likelihoods", "n_unique", "at_bound", "hessian_ok",
                 "penalizer", "transforms", "extra", "gradient_norm", "log_likelihood"):
        assert getattr(a, name) == getattr(b, name), name
    assert back.summary_text() == model.summary_text()


def test_files_of_the_previous_version_load_unchanged():
    """Files written before the transforms (same layout): they load, their numbers are the
    file's, and saving them again writes the same fields."""
    for name in ("bgnbd_covariates", "gamma_gamma", "bgnbd_from_params"):
        d = json.loads((OLD / f"{name}.json").read_text())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = load_model(OLD / f"{name}.json")
        again = model.to_dict()
        for key in set(d) - {"package_version"}:
            assert again[key] == d[key], (name, key)
        block = d.get("covariates")
        names = block["names"] if block else d["param_names"]
        values = [d["params"].get(n, block and block["coefficients"].get(n)) for n in names]
        np.testing.assert_array_equal(model.params_.to_numpy(), values)
        if d["converged"] is None:
            assert model.converged_ is None and not model.fit_result_.fitted
            continue
        cov = np.array(block["covariance"] if block else d["covariance"])
        table = model.summary()
        np.testing.assert_allclose(table["std_error"], np.sqrt(np.diag(cov)), rtol=1e-15)
        assert model.fit_info_["n_unique_rows"] == d["fit_info"]["n_unique_rows"]
        if block:
            real = table.iloc[4:]
            np.testing.assert_allclose(real["z_value"], real["estimate"] / real["std_error"])
            assert isinstance(model, BGNBDCovariates)
        else:
            assert isinstance(model, GammaGamma)
            assert model.fit_info_["independence_correlation"] == pytest.approx(
                d["fit_info"]["independence_correlation"], rel=1e-15)


def test_a_file_without_its_covariates_section_is_refused():
    d = json.loads((OLD / "bgnbd_covariates.json").read_text())
    del d["covariates"]
    from clvmodels.errors import ModelFileError

    with pytest.raises(ModelFileError, match="'covariates' section"):
        model_from_dict(d)
    assert ParetoNBDCovariates._extra_params_section == "covariates"
