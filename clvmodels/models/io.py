"""Reading saved models back (the JSON written by ``BaseModel.save``).

:func:`load_model` validates the whole file before building anything: the
format version, the model type (a key or class name of
:mod:`clvmodels.models.registry`), parameter names, parameter values in their
domains (finite and positive for the usual log-transformed parameters), a
finite symmetric covariance of the right shape, the time unit and the
hyperparameters. Every problem raises :class:`~clvmodels.errors.ModelFileError`
saying what is wrong and where. There is no pickle anywhere.

Examples
--------
>>> import os, tempfile
>>> from clvmodels.models.bgnbd import BGNBD
>>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W")
>>> path = os.path.join(tempfile.mkdtemp(), "bgnbd.json")
>>> model.save(path)
>>> load_model(path).params_["alpha"]
np.float64(4.414)
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from clvmodels.errors import InvalidParameterError, ModelFileError
from clvmodels.models._base import FORMAT_VERSION, BaseModel
from clvmodels.models._fit import get_transform
from clvmodels.models.registry import get_spec, model_specs

__all__ = ["load_model", "model_from_dict"]

_KNOWN_UNITS = {"D", "W", "M", "Y"}


def _find_model_class(model_type: str) -> type[BaseModel]:
    """The class of a saved model, by its registry key or the class name older files carry."""
    try:
        spec = get_spec(model_type)
    except InvalidParameterError:
        known = sorted(s.class_name for s in model_specs())
        raise ModelFileError(
            f"unknown model type {model_type!r}; this version of clvmodels knows "
            f"{known}. The file may come from a newer clvmodels."
        ) from None
    return spec.model_class()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def model_from_dict(d: dict, *, source: str = "the model description") -> BaseModel:
    """Validate a saved-model dictionary and build the model.

    Parameters
    ----------
    d : dict
        As produced by ``model.to_dict()``.
    source : str
        Where ``d`` came from (used in messages).

    Returns
    -------
    BaseModel
    """

    def fail(what: str):
        raise ModelFileError(f"{source}: {what}")

    if not isinstance(d, dict):
        fail(f"expected a JSON object at the top level, got {type(d).__name__}.")
    for key in ("format_version", "model_type", "params", "param_names", "hyperparameters"):
        if key not in d:
            fail(f"required field {key!r} is missing; is this a clvmodels model file?")
    version = d["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        fail(f"format_version must be an integer, got {version!r}.")
    if version > FORMAT_VERSION:
        fail(
            f"format_version {version} is newer than this clvmodels understands "
            f"({FORMAT_VERSION}); "
            f"upgrade clvmodels (the file was written by version {d.get('package_version', '?')})."
        )
    if version < 1:
        fail(f"format_version {version} is not valid (versions start at 1).")
    if not isinstance(d["model_type"], str):
        fail(f"model_type must be a string, got {d['model_type']!r}.")
    cls = _find_model_class(d["model_type"])
    names = list(cls._param_names)
    k = len(names)

    if d["param_names"] != names:
        fail(f"param_names {d['param_names']!r} do not match {cls.__name__}'s parameters {names}.")
    params = d["params"]
    if not isinstance(params, dict) or sorted(params) != sorted(names):
        got = sorted(params) if isinstance(params, dict) else params
        fail(f"params must be an object with exactly the keys {names}, got {got!r}.")
    transform_of = getattr(cls, "_transform_of", None)  # an MCMC model keeps positive params
    for p in names:
        v = params[p]
        transform = transform_of(p) if transform_of is not None else get_transform("log")
        if not _is_number(v) or not bool(transform.in_domain(np.float64(v))):
            what = {"> 0": "positive number", "real": "number"}.get(
                transform.domain, f"number {transform.domain}")
            fail(f"parameter {p} must be a finite {what}, got {v!r}.")

    for key in ("covariance", "covariance_log"):
        cov = d.get(key)
        if cov is None:
            continue
        if (
            not isinstance(cov, list)
            or len(cov) != k
            or not all(isinstance(row, list) and len(row) == k for row in cov)
            or not all(_is_number(v) for row in cov for v in row)
        ):
            fail(f"{key} must be a {k}x{k} array of numbers (or null), got {cov!r}.")
        m = np.array(cov, dtype=float)
        if not np.all(np.isfinite(m)):
            fail(f"{key} has non-finite entries.")
        scale = max(float(np.max(np.abs(m))), 1e-300)
        if np.max(np.abs(m - m.T)) > 1e-12 * scale:
            fail(f"{key} is not symmetric (largest asymmetry {np.max(np.abs(m - m.T)):.3g}).")
        if np.any(np.diag(m) < 0):
            fail(f"{key} has negative variances on its diagonal {np.diag(m).tolist()}.")

    ll = d.get("log_likelihood")
    if ll is not None and (not _is_number(ll) or not math.isfinite(ll)):
        fail(f"log_likelihood must be a finite number or null, got {ll!r}.")
    n = d.get("n_customers", 0)
    if not _is_number(n) or n < 0:
        fail(f"n_customers must be a number >= 0, got {n!r}.")
    converged = d.get("converged")
    if converged is not None and not isinstance(converged, bool):
        fail(f"converged must be true, false or null, got {converged!r}.")
    unit = d.get("time_unit")
    if unit is not None and unit not in _KNOWN_UNITS:
        fail(f"time_unit must be one of {sorted(_KNOWN_UNITS)} or null, got {unit!r}.")
    info = d.get("fit_info", {})
    if not isinstance(info, dict):
        fail(f"fit_info must be an object, got {type(info).__name__}.")

    hyper = d["hyperparameters"]
    if not isinstance(hyper, dict):
        fail(f"hyperparameters must be an object, got {type(hyper).__name__}.")
    valid = set(cls().get_params(deep=False))
    unknown = sorted(set(hyper) - valid)
    if unknown:
        fail(f"unknown hyperparameter(s) {unknown} for {cls.__name__} (valid: {sorted(valid)}).")
    try:
        model = cls._from_dict(d)
        model._check_hyperparameters()
    except ModelFileError:
        raise
    except (TypeError, ValueError) as exc:
        fail(f"cannot rebuild {cls.__name__}: {exc}")
    return model


def load_model(path: str | os.PathLike) -> BaseModel:
    """Load a model saved with ``model.save(path)``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    BaseModel
        An instance of the saved model's class, ready to predict.

    Raises
    ------
    ModelFileError
        When the file is missing, not JSON, of an unknown version or model
        type, or fails validation; the message says what is wrong.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path!r}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise ModelFileError(
            f"model file {path!r} is not UTF-8 text (byte at offset {exc.start}); give the "
            "JSON file written by model.save().") from None
    try:
        d = json.loads(text)
    except RecursionError:
        raise ModelFileError(f"{path!r} nests JSON too deeply to be a model file; give the "
                             "file written by model.save().") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{path!r} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "was it written by model.save()?"
        ) from None
    return model_from_dict(d, source=repr(path))
