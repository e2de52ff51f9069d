"""Adapters that turn the probabilistic models and the formulas into harness methods.

A probabilistic method is a purchase model (BG/NBD, Pareto/NBD, MBG/NBD)
paired with the Gamma-Gamma spend model:

* ``transactions`` = the model's conditional expected number of purchases in
  the horizon, given each customer's (frequency, recency, T);
* ``revenue`` = ``transactions`` x the Gamma-Gamma conditional expected spend
  per transaction (the population mean for customers without a repeat
  purchase). This is the product of two expectations, exact under the
  Gamma-Gamma assumption that spend is independent of the purchase process
  (the fitted spend model reports a check of that assumption).

The formulas' per-customer predictors (:mod:`clvmodels.formulas.predictors`)
already implement the protocol and are registered as they are.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd

from clvmodels.errors import ExcludedCustomersWarning, InvalidParameterError
from clvmodels.evaluation.base import (
    Method,
    check_calibration_summary,
    check_horizon,
    prediction_frame,
)
from clvmodels.evaluation.registry import available_methods, register_method
from clvmodels.models.registry import get_spec, model_keys

__all__ = [
    "CovariateModelMethod",
    "ModelMethod",
    "covariate_model_keys",
    "purchase_model_keys",
    "register_builtin_methods",
]


def purchase_model_keys() -> tuple[str, ...]:
    """Registry keys of the purchase models :class:`ModelMethod` takes (no covariates)."""
    return model_keys(kind="purchase", covariates=False, engine="ml")


def covariate_model_keys() -> tuple[str, ...]:
    """Registry keys of the purchase models with covariates :class:`CovariateModelMethod` takes."""
    return model_keys(kind="purchase", covariates=True, engine="ml")


def _model_class(name: str):
    if name not in purchase_model_keys():
        raise InvalidParameterError(
            f"unknown purchase model {name!r}; choose one of {sorted(purchase_model_keys())}."
        )
    return get_spec(name).model_class()


def _covariate_key(name: str) -> str:
    """The registry key of the covariate version of ``name`` ("bgnbd" or "bgnbd_covariates")."""
    keys = covariate_model_keys()
    for key in (name, f"{name}_covariates"):
        if key in keys:
            return key
    bases = sorted(k.removesuffix("_covariates") for k in keys)
    raise InvalidParameterError(
        f"model {name!r} has no covariate version; choose one of {bases}."
    )


def _spend_display(spend_model) -> str:
    """How the spend half of a model method reads: " + Gamma-Gamma" or " (own mean spend)"."""
    if spend_model is None:
        return " (own mean spend)"
    if spend_model in model_keys(kind="spend"):
        return f" + {get_spec(spend_model).display_name}"
    return f" + {spend_model}"


class ModelMethod(Method):
    """A purchase model plus the Gamma-Gamma spend model, as a harness method.

    Parameters
    ----------
    model : {"bgnbd", "paretonbd", "mbgnbd"}
        The purchase model.
    spend_model : {"gamma_gamma", None}
        A spend model of the registry (``model_keys(kind="spend")``).
        ``None`` predicts revenue with each customer's own calibration mean
        spend (population mean for customers without a repeat purchase).
    penalizer : float
        L2 penalty on the log-parameters of the purchase model (0 = plain MLE).

    Attributes
    ----------
    purchase_model_, spend_model_ : fitted models
    """

    needs_transactions = False

    def __init__(self, model: str = "bgnbd", spend_model: str | None = "gamma_gamma",
                 penalizer: float = 0.0):
        self.model = model
        self.spend_model = spend_model
        self.penalizer = penalizer

    @property
    def name(self) -> str:
        suffix = "" if self.spend_model == "gamma_gamma" else "+own_spend"
        return f"{self.model}{suffix}"

    @property
    def display_name(self) -> str:
        """The models' names from the registry, e.g. "BG/NBD + Gamma-Gamma"."""
        model = (get_spec(self.model).display_name if self.model in purchase_model_keys()
                 else str(self.model))
        return model + _spend_display(self.spend_model)

    @property
    def fitted_models(self) -> dict:
        """``{"purchase": model, "spend": model}`` once fitted (no spend entry without one)."""
        out = {}
        if getattr(self, "purchase_model_", None) is not None:
            out["purchase"] = self.purchase_model_
        if getattr(self, "spend_model_", None) is not None:
            out["spend"] = self.spend_model_
        return out

    def fit(self, summary, transactions=None):
        check_calibration_summary(summary, self.name)
        cls = _model_class(self.model)
        self.purchase_model_ = cls(penalizer=self.penalizer).fit(summary)
        self.spend_model_ = self._fit_spend_model(summary)
        return self

    def _fit_spend_model(self, summary):
        """The spend model (Gamma-Gamma) on the calibration summary (None without one)."""
        spend_keys = model_keys(kind="spend")
        if self.spend_model is not None and self.spend_model not in spend_keys:
            raise InvalidParameterError(
                f"spend_model={self.spend_model!r}: use "
                f"{' or '.join(repr(k) for k in spend_keys)} or None."
            )
        if self.spend_model is not None and "monetary_value" in summary.columns:
            cls = get_spec(self.spend_model).model_class()
            with warnings.catch_warnings():
                # frequency-0 customers cannot inform a spend model: leaving them out of the
                # spend model's fit is the model's definition, not a loss of data.
                warnings.simplefilter("ignore", ExcludedCustomersWarning)
                return cls(drop_invalid=True).fit(summary)
        return None

    def _spend(self, summary) -> np.ndarray:
        if self.spend_model_ is not None:
            return self.spend_model_.expected_spend(summary).to_numpy(dtype=float)
        if "monetary_value" not in summary.columns:
            return np.zeros(len(summary))
        mv = summary["monetary_value"].to_numpy(dtype=float)
        repeat = summary["frequency"].to_numpy() > 0
        fill = mv[repeat].mean() if repeat.any() else 0.0
        return np.where(repeat, mv, fill)

    def predict(self, summary, horizon):
        check_calibration_summary(summary, self.name)
        horizon = check_horizon(horizon, self.name)
        if not hasattr(self, "purchase_model_"):
            from clvmodels.errors import NotFittedError

            raise NotFittedError(f"method {self.name!r} is not fitted; call fit(summary) first.")
        tx = self.purchase_model_.expected_purchases(summary, t=horizon).to_numpy(dtype=float)
        return prediction_frame(summary, tx, tx * self._spend(summary))

    @property
    def log_likelihood_holdout(self):
        """The optional protocol hook, present when the fitted purchase model has a
        conditional distribution of future counts: per-customer
        log P(X(T, T + horizon) = count | calibration data); otherwise None."""
        model = getattr(self, "purchase_model_", None)
        hook = getattr(model, "conditional_log_probability_of_purchases", None)
        if hook is None:
            return None
        return lambda summary, horizon, counts: hook(summary, counts, horizon)


class CovariateModelMethod(ModelMethod):
    """A purchase model with time-invariant covariates (plus Gamma-Gamma), as a harness method.

    Compare it with the same model without covariates by passing both to
    :func:`clvmodels.compare`, e.g. ``compare(log, ["bgnbd",
    CovariateModelMethod("bgnbd", covariates=attributes,
    purchase_covariates=["channel"])], ...)``.

    Parameters
    ----------
    model : {"bgnbd", "paretonbd"}
    covariates : DataFrame or callable
        Customer attributes indexed by customer id (joined to the summary at
        fit and predict), or ``f(transactions) -> DataFrame`` computing them
        from the calibration log (then the harness passes the log, truncated
        at the cutoff, so derived covariates never see the holdout).
    purchase_covariates, dropout_covariates, reference
        As for :class:`~clvmodels.models.covariates.BGNBDCovariates`.
    spend_model, penalizer
        As for :class:`ModelMethod`.
    label : str, optional
        Name in the leaderboard (default ``"<model>+covariates"``).
    """

    def __init__(self, model: str = "bgnbd", covariates=None, purchase_covariates=None,
                 dropout_covariates=None, reference=None,
                 spend_model: str | None = "gamma_gamma", penalizer: float = 0.0,
                 label: str | None = None):
        super().__init__(model=model, spend_model=spend_model, penalizer=penalizer)
        self.covariates = covariates
        self.purchase_covariates = purchase_covariates
        self.dropout_covariates = dropout_covariates
        self.reference = reference
        self.label = label

    @property
    def name(self) -> str:
        return self.label or f"{self.model}+covariates"

    @property
    def display_name(self) -> str:
        """``label`` when given, else e.g. "BG/NBD with covariates + Gamma-Gamma"."""
        if self.label:
            return self.label
        keys = covariate_model_keys()
        key = next((k for k in (self.model, f"{self.model}_covariates") if k in keys), None)
        model = get_spec(key).display_name if key else f"{self.model} with covariates"
        return model + _spend_display(self.spend_model)

    @property
    def needs_transactions(self) -> bool:
        return callable(self.covariates)

    def _with_covariates(self, summary, transactions=None):
        table = self.covariates
        if callable(table):
            table = getattr(self, "covariates_", None)
            if table is None or transactions is not None:
                from clvmodels.evaluation.base import check_calibration_transactions

                log = check_calibration_transactions(
                    transactions, summary.attrs["calibration_end"], self.name)
                table = self.covariates(log)
            self.covariates_ = table
        if not isinstance(table, pd.DataFrame):
            raise InvalidParameterError(
                f"method {self.name!r}: covariates must be a DataFrame indexed by customer id "
                f"(or a function of the calibration log returning one), got {type(table).__name__}."
            )
        cols = list(dict.fromkeys((self.purchase_covariates or [])
                                  + (self.dropout_covariates or [])))
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise InvalidParameterError(
                f"method {self.name!r}: the covariates table lacks {missing} "
                f"(columns: {list(table.columns)})."
            )
        frame = summary.drop(columns=[c for c in cols if c in summary.columns])
        frame = frame.join(table[cols], how="left")
        frame.attrs = dict(summary.attrs)
        return frame

    def fit(self, summary, transactions=None):
        check_calibration_summary(summary, self.name)
        cls = get_spec(_covariate_key(self.model)).model_class()
        frame = self._with_covariates(summary, transactions)
        self.purchase_model_ = cls(
            purchase_covariates=self.purchase_covariates,
            dropout_covariates=self.dropout_covariates, reference=self.reference,
            penalizer=self.penalizer,
        ).fit(frame)
        self.spend_model_ = self._fit_spend_model(summary)
        return self

    def predict(self, summary, horizon):
        check_calibration_summary(summary, self.name)
        horizon = check_horizon(horizon, self.name)
        if not hasattr(self, "purchase_model_"):
            from clvmodels.errors import NotFittedError

            raise NotFittedError(f"method {self.name!r} is not fitted; call fit(summary) first.")
        frame = self._with_covariates(summary)
        tx = self.purchase_model_.expected_purchases(frame, t=horizon).to_numpy(dtype=float)
        return prediction_frame(summary, tx, tx * self._spend(summary))

    @property
    def log_likelihood_holdout(self):
        """Per-customer holdout log-probabilities at each customer's own parameters."""
        model = getattr(self, "purchase_model_", None)
        if model is None:
            return None
        return lambda summary, horizon, counts: model.conditional_log_probability_of_purchases(
            self._with_covariates(summary), counts, horizon)


def _model_factory(model: str):
    def factory(**kwargs):
        return ModelMethod(model=model, **kwargs)

    factory.__name__ = model
    return factory


def register_builtin_methods() -> None:
    """Register the model adapters and the formula predictors (idempotent)."""
    known = set(available_methods())
    for model in purchase_model_keys():
        try:
            get_spec(model).model_class()
        except (ImportError, AttributeError):  # a model not shipped in this version
            continue
        if model not in known:
            register_method(_model_factory(model), name=model)
    from sklearn.base import clone

    from clvmodels.formulas import predictors

    # Each formula under its plain name (its default variant), and every other named
    # variant (how a base-level figure is spread over customers) under its label.
    defaults = set()
    for obj in vars(predictors).values():
        if (isinstance(obj, type) and obj.__module__ == predictors.__name__
                and not obj.__name__.startswith("_") and isinstance(getattr(obj, "name", None), str)
                and hasattr(obj, "predict")):
            defaults.add(obj().label)
            if obj.name not in known:
                register_method(obj, name=obj.name)
                known.add(obj.name)
    for variant in predictors.formula_predictor_variants():
        if variant.label not in defaults and variant.label not in known:
            register_method(functools.partial(clone, variant), name=variant.label)
            known.add(variant.label)
