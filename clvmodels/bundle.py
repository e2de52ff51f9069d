"""A fitted purchase model and spend model in one JSON file (the batch job's model file).

``clvmodels fit`` writes, and ``clvmodels score`` reads, a *bundle*: the two
models' own saved descriptions (``model.to_dict()``, validated on load by
:func:`clvmodels.models.io.model_from_dict`) wrapped with the facts a later
scoring run needs: the time unit of the summary the models were fitted on, the
calibration cutoffs, the column names of the log and how it was summarised::

    {
      "format": "clvmodels-bundle",
      "format_version": 1,
      "package": "clvmodels", "package_version": "...", "created": "2026-...Z",
      "time_unit": "W",
      "calibration_end": "1997-09-30", "first_transaction": "1997-01-01",
      "observation_end": null,
      "data": {"customer_id": "...", "date": "...", "amount": "...", "monetary": "repeat",
               "refunds": "error", "n_customers": 2357, "n_rows": 6919},
      "purchase_model": {... BGNBD.to_dict() ...},
      "spend_model": {... GammaGamma.to_dict() ...} or null
    }

:func:`load_bundle` also accepts a single model file written by ``model.save``
(a purchase model, without spend model). Every problem raises
:class:`~clvmodels.errors.ModelFileError` naming the file and the field.

Examples
--------
>>> import os, tempfile
>>> from clvmodels.models.bgnbd import BGNBD
>>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W")
>>> bundle = ModelBundle(model, None, time_unit="W", calibration_end="1997-09-30")
>>> path = os.path.join(tempfile.mkdtemp(), "model.json")
>>> bundle.save(path)
>>> load_bundle(path).purchase_model.params_["a"]
np.float64(0.793)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field

import pandas as pd

from clvmodels._version import __version__
from clvmodels.errors import InvalidParameterError, ModelFileError

__all__ = ["ModelBundle", "load_bundle", "score_frame", "SCORE_COLUMNS", "BUNDLE_FORMAT",
           "BUNDLE_FORMAT_VERSION"]

BUNDLE_FORMAT = "clvmodels-bundle"
BUNDLE_FORMAT_VERSION = 1
_UNITS = ("D", "W", "M", "Y")
_DATE_FIELDS = ("calibration_end", "first_transaction", "observation_end")


def _date_text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date().isoformat()


@dataclass
class ModelBundle:
    """A purchase model, an optional spend model and the facts of the data they were fitted on.

    Parameters
    ----------
    purchase_model : fitted model with ``expected_purchases`` and ``probability_alive``
    spend_model : fitted :class:`~clvmodels.models.gamma_gamma.GammaGamma` or None
    time_unit : {"D", "W", "M", "Y"}
        Unit of the summary the models were fitted on (and of horizons and rates
        used with them).
    calibration_end, first_transaction, observation_end : date-like, optional
    data : dict
        Column names and summary options of the log, counts (JSON values).
    """

    purchase_model: object
    spend_model: object | None
    time_unit: str
    calibration_end: object = None
    first_transaction: object = None
    observation_end: object = None
    data: dict = field(default_factory=dict)
    package_version: str = __version__

    def to_dict(self) -> dict:
        """The JSON-ready description written by :meth:`save`."""
        return {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "package": "clvmodels",
            "package_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "time_unit": self.time_unit,
            **{k: _date_text(getattr(self, k)) for k in _DATE_FIELDS},
            "data": dict(self.data),
            "purchase_model": self.purchase_model.to_dict(),
            "spend_model": None if self.spend_model is None else self.spend_model.to_dict(),
        }

    def save(self, path) -> None:
        """Write the bundle as JSON, atomically (temporary file, then rename)."""
        from clvmodels.data.tables import atomic_path

        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


def bundle_from_dict(d, *, source: str = "the model bundle") -> ModelBundle:
    """Validate a bundle dictionary (or a single saved model) and build a :class:`ModelBundle`."""
    from clvmodels.models.io import model_from_dict

    def fail(what: str):
        raise ModelFileError(f"{source}: {what}")

    if not isinstance(d, dict):
        fail(f"expected a JSON object at the top level, got {type(d).__name__}.")
    if "format" not in d and "model_type" in d:  # a single model saved with model.save()
        model = model_from_dict(d, source=source)
        _check_purchase_model(model, fail)
        if model.time_unit_ is None:
            fail("the model records no time_unit; refit it on a summary from "
                 "clvmodels.rfm_summary (which records its unit).")
        return ModelBundle(model, None, time_unit=model.time_unit_,
                           package_version=d.get("package_version", "?"))
    if d.get("format") != BUNDLE_FORMAT:
        fail(f"format is {d.get('format')!r}, expected {BUNDLE_FORMAT!r}; is this a file "
             "written by 'clvmodels fit'?")
    version = d.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        fail(f"format_version must be a positive integer, got {version!r}.")
    if version > BUNDLE_FORMAT_VERSION:
        fail(f"format_version {version} is newer than this clvmodels understands "
             f"({BUNDLE_FORMAT_VERSION}); upgrade clvmodels (the file was written by "
             f"version {d.get('package_version', '?')}).")
    unit = d.get("time_unit")
    if unit not in _UNITS:
        fail(f"time_unit must be one of {list(_UNITS)}, got {unit!r}.")
    dates = {}
    for key in _DATE_FIELDS:
        value = d.get(key)
        if value is None:
            dates[key] = None
            continue
        try:
            dates[key] = pd.Timestamp(value) if isinstance(value, str) else None
        except (ValueError, TypeError):
            dates[key] = None
        if dates[key] is None or pd.isna(dates[key]):
            fail(f"{key} must be an ISO date (YYYY-MM-DD) or null, got {value!r}.")
    if dates["calibration_end"] is None:
        fail("calibration_end is missing; a bundle records the calibration cutoff.")
    data = d.get("data", {})
    if not isinstance(data, dict):
        fail(f"data must be an object, got {type(data).__name__}.")
    if not isinstance(d.get("purchase_model"), dict):
        fail("purchase_model must be a saved model (a JSON object).")
    purchase = model_from_dict(d["purchase_model"], source=f"{source} (purchase_model)")
    _check_purchase_model(purchase, fail)
    if purchase.time_unit_ is not None and purchase.time_unit_ != unit:
        fail(f"the purchase model's time_unit {purchase.time_unit_!r} differs from the "
             f"bundle's {unit!r}; the file was edited or assembled by hand.")
    if "spend_model" not in d:
        fail("the field spend_model is missing (write null for a bundle without a spend model); "
             "without it the scores would silently lack expected_spend and clv.")
    spend = d.get("spend_model")
    if spend is not None:
        if not isinstance(spend, dict):
            fail("spend_model must be a saved model (a JSON object) or null.")
        spend = model_from_dict(spend, source=f"{source} (spend_model)")
        if not hasattr(spend, "expected_spend"):
            fail(f"spend_model is a {_shown(spend)} model, which predicts no spend "
                 f"(expected {_names(kind='spend')}).")
    return ModelBundle(purchase, spend, time_unit=unit, data=data,
                       package_version=d.get("package_version", "?"), **dates)


def _shown(model) -> str:
    """The registry's display name of a model ("Gamma-Gamma"), else its class name."""
    from clvmodels.models.registry import display_name

    try:
        return display_name(model)
    except InvalidParameterError:
        return type(model).__name__


def _names(**capabilities) -> str:
    """The display names of the registry's models with these capabilities, "A, B or C"."""
    from clvmodels.models.registry import get_spec, model_keys

    names = [get_spec(k).display_name for k in model_keys(**capabilities)]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _check_purchase_model(model, fail) -> None:
    """A model 'clvmodels score' can score from a frequency/recency/T summary.

    The registry's maximum-likelihood purchase models without covariates (BG/BB needs
    n_periods, covariate models their covariates, an MCMC model its own summary).
    """
    for method in ("expected_purchases", "probability_alive"):
        if not hasattr(model, method):
            fail(f"{_shown(model)} is not a purchase model (it has no {method}); "
                 f"expected {_names(kind='purchase', covariates=False, engine='ml')}.")
    from clvmodels.models.registry import spec_for

    try:
        spec = spec_for(model)
    except InvalidParameterError:
        spec = None
    if spec is None or spec.kind != "purchase" or spec.covariates or spec.engine != "ml":
        fail(f"the purchase model is a {type(model).__name__} ({_shown(model)}), which "
             "'clvmodels score' cannot score from a frequency/recency/T summary; a model file "
             f"holds one of {_names(kind='purchase', covariates=False, engine='ml')} (score "
             "other models with the Python API).")


def load_bundle(path) -> ModelBundle:
    """Read and validate a model file written by ``clvmodels fit`` (or ``model.save``).

    Raises
    ------
    ModelFileError
        When the file is unreadable, not JSON, of an unknown format or version,
        or any field fails validation; the message names the file and field.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ModelFileError(f"cannot read model file {path!r}: {reason}.") from None
    try:
        d = json.loads(text)
    except RecursionError:
        raise ModelFileError(f"model file {path!r} nests JSON too deeply to be a model file; "
                             "give the file written by 'clvmodels fit'.") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"model file {path!r} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); give the file written by 'clvmodels fit'."
        ) from None
    return bundle_from_dict(d, source=f"model file {path!r}")


#: Columns of a score table, in order (the last two only with a spend model).
SCORE_COLUMNS = ("expected_purchases", "probability_alive", "expected_spend", "clv")


def score_frame(purchase_model, spend_model, summary: pd.DataFrame, *, horizon: float,
                discount_rate: float = 0.0, margin: float = 1.0,
                periods_per_step: float = 1.0) -> pd.DataFrame:
    """The scores of ``clvmodels score`` for the customers of a summary.

    ``expected_purchases`` over ``horizon``, ``probability_alive`` and, with a spend
    model, ``expected_spend`` and the discounted ``clv``
    (:func:`~clvmodels.models.clv.customer_lifetime_value`). The one computation the
    command line and the Spark engine's ``mapInPandas`` tasks share, so their files agree.

    Returns
    -------
    DataFrame
        Indexed like ``summary``, with the columns of :data:`SCORE_COLUMNS`.
    """
    from clvmodels.models.clv import customer_lifetime_value, step_times

    alive = purchase_model.probability_alive(summary).to_numpy(dtype=float)
    if spend_model is not None:
        parts = customer_lifetime_value(
            purchase_model, spend_model, summary, horizon=horizon,
            discount_rate=discount_rate, margin=margin, periods_per_step=periods_per_step,
            components=True)
        columns = {
            "expected_purchases": parts["expected_purchases"].to_numpy(dtype=float),
            "probability_alive": alive,
            "expected_spend": parts["expected_spend"].to_numpy(dtype=float),
            "clv": parts["clv"].to_numpy(dtype=float),
        }
    else:
        step_times(horizon, periods_per_step)  # the same checks as with a spend model
        expected = purchase_model.expected_purchases(summary, t=horizon)
        columns = {"expected_purchases": expected.to_numpy(dtype=float),
                   "probability_alive": alive}
    return pd.DataFrame(columns, index=summary.index)
