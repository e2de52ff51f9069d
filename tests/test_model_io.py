"""Saving and loading models: versioned JSON, strict validation, atomic writes, no pickle."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from clvmodels._version import __version__
from clvmodels.data.simulate import simulate_bgnbd_summary
from clvmodels.errors import ModelFileError
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.io import load_model, model_from_dict


@pytest.fixture(scope="module")
def fitted():
    s = simulate_bgnbd_summary(2000, 0.3, 4.0, 0.8, 2.5, T=39.0, random_state=0)
    return BGNBD(penalizer=0.0, n_starts=2).fit(s)


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.json"
    fitted.save(path)
    return path


def _edit(path, change):
    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(d))
    return path


def test_file_is_plain_versioned_json(saved, fitted):
    d = json.loads(saved.read_text())
    assert d["format_version"] == 1
    assert d["model_type"] == "BGNBD"
    assert d["package_version"] == __version__
    assert d["params"] == {k: float(v) for k, v in fitted.params_.items()}
    assert d["hyperparameters"] == {"penalizer": 0.0, "n_starts": 2}
    assert d["time_unit"] == "W"
    assert d["fit_info"]["n_starts"] == 2
    assert len(d["covariance"]) == 4
    assert "NaN" not in saved.read_text()  # strict JSON


def test_round_trip_is_exact(saved, fitted):
    loaded = load_model(saved)
    np.testing.assert_array_equal(loaded.params_.to_numpy(), fitted.params_.to_numpy())
    np.testing.assert_array_equal(loaded.covariance_.to_numpy(), fitted.covariance_.to_numpy())
    assert loaded.log_likelihood_ == fitted.log_likelihood_
    assert loaded.converged_ is True and loaded.n_customers_ == 2000
    assert loaded.get_params() == fitted.get_params()
    s = simulate_bgnbd_summary(50, 0.3, 4.0, 0.8, 2.5, T=20.0, random_state=1)
    np.testing.assert_array_equal(
        loaded.expected_purchases(s, t=10).to_numpy(), fitted.expected_purchases(s, t=10).to_numpy()
    )


def test_from_params_model_round_trips_with_null_covariance(tmp_path):
    model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W")
    model.save(tmp_path / "m.json")
    d = json.loads((tmp_path / "m.json").read_text())
    assert d["covariance"] is None and d["log_likelihood"] is None
    loaded = load_model(tmp_path / "m.json")
    assert np.isnan(loaded.log_likelihood_) and loaded.converged_ is None
    assert loaded.params_["alpha"] == 4.414


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("params"), "required field 'params' is missing"),
        (lambda d: d.update(format_version=99), "format_version 99 is newer"),
        (lambda d: d.update(format_version="1"), "format_version must be an integer"),
        (lambda d: d.update(model_type="Nope"), "unknown model type 'Nope'"),
        (lambda d: d.update(param_names=["r", "alpha", "a", "c"]), "param_names"),
        (lambda d: d["params"].pop("b"), "exactly the keys"),
        (lambda d: d["params"].update(a=-0.5), "parameter a must be a finite positive"),
        (lambda d: d["params"].update(a="big"), "parameter a must be a finite positive"),
        (lambda d: d["covariance"][0].__setitem__(1, 123.0), "covariance is not symmetric"),
        (lambda d: d["covariance"].pop(), "covariance must be a 4x4"),
        (lambda d: d.update(time_unit="fortnight"), "time_unit must be one of"),
        (
            lambda d: d["hyperparameters"].update(speed=3),
            r"unknown hyperparameter\(s\) \['speed'\]",
        ),
        (lambda d: d["hyperparameters"].update(n_starts=0), "n_starts must be a positive"),
        (lambda d: d.update(converged="yes"), "converged must be"),
    ],
)
def test_invalid_files_are_refused_with_the_reason(saved, change, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(_edit(saved, change))


def test_nan_written_by_hand_is_refused(saved):
    saved.write_text(
        saved.read_text().replace('"log_likelihood": -', '"log_likelihood": NaN, "x": -')
    )
    with pytest.raises(ModelFileError, match="log_likelihood must be a finite number"):
        load_model(saved)


def test_unreadable_files(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read model file"):
        load_model(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON.*line 1"):
        load_model(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="JSON object"):
        load_model(tmp_path / "list.json")


def test_save_is_atomic_and_leaves_no_temporary_files(fitted, tmp_path):
    path = tmp_path / "model.json"
    path.write_text("previous content")
    fitted.save(path)
    assert json.loads(path.read_text())["model_type"] == "BGNBD"
    assert os.listdir(tmp_path) == ["model.json"]


def test_unserialisable_hyperparameter_keeps_the_old_file(fitted, tmp_path):
    path = tmp_path / "model.json"
    fitted.save(path)
    before = path.read_text()
    broken = BGNBD.from_params(r=1.0, alpha=1.0, a=1.0, b=1.0)
    broken.penalizer = object()  # not JSON: refused before anything is written
    with pytest.raises(ModelFileError, match="penalizer"):
        broken.save(path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["model.json"]


def test_model_from_dict_accepts_to_dict(fitted):
    rebuilt = model_from_dict(fitted.to_dict())
    assert rebuilt.params_.equals(fitted.params_)


def test_load_finds_models_of_other_modules(tmp_path):
    from clvmodels.models.sbg import ShiftedBetaGeometric

    model = ShiftedBetaGeometric.from_params(alpha=0.7, beta=1.2)
    model.save(tmp_path / "sbg.json")
    assert type(load_model(tmp_path / "sbg.json")) is ShiftedBetaGeometric
