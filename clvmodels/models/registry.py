"""The one list of models: key, class, display name and what each model supports.

Every layer that needs to know "which models exist" reads this table: the CLI's
``--model`` choices, the comparison harness's built-in methods, the validation
report's labels, plot legends and :func:`clvmodels.models.io.load_model`.
People read :attr:`ModelSpec.display_name` ("BG/NBD"); machine outputs (CSV
columns, JSON keys, method names) keep :attr:`ModelSpec.key` ("bgnbd").

Adding a model means one :class:`ModelSpec` line in :data:`_SPECS` (see
``CONTRIBUTING.md``). The class is named by module and attribute and imported
only when asked for, so reading the registry stays cheap (``clvmodels score``
pays for the models it uses, not for all of them).

Examples
--------
>>> from clvmodels.models.registry import get_spec, model_keys
>>> get_spec("paretonbd").display_name
'Pareto/NBD'
>>> model_keys(kind="purchase", forecast=True)
('bgnbd', 'mbgnbd', 'paretonbd', 'nbd', 'bgcnbd', 'mbgcnbd', 'ggomnbd')
>>> get_spec("bgnbd").model_class().__name__
'BGNBD'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from clvmodels.errors import InvalidParameterError

__all__ = [
    "ModelSpec",
    "display_name",
    "get_spec",
    "model_keys",
    "model_specs",
    "spec_for",
]

#: The kinds of model: what a model predicts and on what data.
KINDS = ("purchase", "discrete", "spend", "contractual")


@dataclass(frozen=True)
class ModelSpec:
    """One model: how to find it, how to call it, and what it can do.

    Attributes
    ----------
    key : str
        Machine name, used in CLI options, method names, file columns and
        saved files (``"bgnbd"``).
    module, class_name : str
        Where the class lives (imported on first use).
    display_name : str
        The name people read ("BG/NBD").
    kind : {"purchase", "discrete", "spend", "contractual"}
        ``purchase``: continuous-time repeat purchases and dropout on
        (frequency, recency, T); ``discrete``: the same on discrete
        opportunities (frequency, recency, n_periods); ``spend``: the value of a
        transaction; ``contractual``: retention of subscribers.
    covariates : bool
        Parameters depend on customer attributes.
    intervals : bool
        Its predictions take ``interval=`` (parameter-uncertainty intervals).
    conditional_pmf : bool
        It gives each customer's distribution of future counts
        (``conditional_log_probability_of_purchases``).
    forecast : bool
        :func:`clvmodels.forecast_customer_base` can simulate it.
    legacy_names : tuple of str
        Other names found in files written by earlier versions (the class name).
    engine : {"ml", "mcmc"}
        How it is fitted: ``ml``, the maximum-likelihood engine of
        :class:`~clvmodels.models._base.BaseModel` (``fit`` on the model's data
        columns, ``from_params``, standard errors, the shared contract test);
        ``mcmc``, its own sampler (posterior draws, R-hat and ESS; its own
        summary columns and contract tests, e.g. Pareto/GGG needs the sum of log
        inter-purchase times).
    """

    key: str
    module: str
    class_name: str
    display_name: str
    kind: str
    covariates: bool = False
    intervals: bool = True
    conditional_pmf: bool = False
    forecast: bool = False
    legacy_names: tuple[str, ...] = ()
    engine: str = "ml"

    def model_class(self) -> type:
        """The estimator class (imports its module)."""
        return getattr(importlib.import_module(self.module), self.class_name)

    def capabilities(self) -> dict[str, bool | str]:
        """What the model supports, as a dict (for tables and reports)."""
        return {
            "kind": self.kind,
            "covariates": self.covariates,
            "intervals": self.intervals,
            "conditional_pmf": self.conditional_pmf,
            "forecast": self.forecast,
            "engine": self.engine,
        }


_M = "clvmodels.models."
_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("bgnbd", _M + "bgnbd", "BGNBD", "BG/NBD", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("BGNBD",)),
    ModelSpec("mbgnbd", _M + "mbgnbd", "MBGNBD", "MBG/NBD", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("MBGNBD",)),
    ModelSpec("paretonbd", _M + "paretonbd", "ParetoNBD", "Pareto/NBD", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("ParetoNBD",)),
    ModelSpec("nbd", _M + "nbd", "NBD", "NBD", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("NBD",)),
    ModelSpec("bgcnbd", _M + "bgcnbd", "BGCNBD", "BG/CNBD-k", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("BGCNBD",)),
    ModelSpec("mbgcnbd", _M + "mbgcnbd", "MBGCNBD", "MBG/CNBD-k", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("MBGCNBD",)),
    ModelSpec("ggomnbd", _M + "ggomnbd", "GammaGompertzNBD", "Gamma-Gompertz/NBD", "purchase",
              conditional_pmf=True, forecast=True, legacy_names=("GammaGompertzNBD",)),
    # Bayesian (MCMC): predictions from posterior draws; no parameter-uncertainty
    # ``interval=`` (the draws are the uncertainty), no closed-form conditional PMF
    # (ParetoGGG.simulate_holdout_counts gives posterior predictive count draws), not
    # simulated by forecast_customer_base
    ModelSpec("paretoggg", _M + "paretoggg", "ParetoGGG", "Pareto/GGG", "purchase",
              intervals=False, engine="mcmc", legacy_names=("ParetoGGG",)),
    ModelSpec("bgbb", _M + "bgbb", "BGBB", "BG/BB", "discrete",
              legacy_names=("BGBB",)),
    ModelSpec("sbg", _M + "sbg", "ShiftedBetaGeometric", "sBG", "contractual",
              intervals=False, legacy_names=("ShiftedBetaGeometric",)),
    ModelSpec("gamma_gamma", _M + "gamma_gamma", "GammaGamma", "Gamma-Gamma", "spend",
              legacy_names=("GammaGamma",)),
    ModelSpec("bgnbd_covariates", _M + "covariates.bgnbd", "BGNBDCovariates",
              "BG/NBD with covariates", "purchase", covariates=True, conditional_pmf=True,
              legacy_names=("BGNBDCovariates",)),
    ModelSpec("paretonbd_covariates", _M + "covariates.paretonbd", "ParetoNBDCovariates",
              "Pareto/NBD with covariates", "purchase", covariates=True, conditional_pmf=True,
              legacy_names=("ParetoNBDCovariates",)),
)
_BY_KEY = {s.key: s for s in _SPECS}
_BY_NAME = {name: s for s in _SPECS for name in (s.key, *s.legacy_names)}


def model_specs() -> tuple[ModelSpec, ...]:
    """Every registered model, in a stable order."""
    return _SPECS


def model_keys(**capabilities) -> tuple[str, ...]:
    """Keys of the models whose spec matches every given capability.

    Parameters
    ----------
    **capabilities
        Attribute values to match, e.g. ``kind="purchase"``,
        ``covariates=False``, ``forecast=True``.
    """
    for name in capabilities:
        if name not in ModelSpec.__dataclass_fields__:
            raise InvalidParameterError(
                f"model_keys() got unknown capability {name!r}; the registry knows "
                f"{sorted(ModelSpec.__dataclass_fields__)}."
            )
    return tuple(
        s.key for s in _SPECS
        if all(getattr(s, name) == value for name, value in capabilities.items())
    )


def get_spec(name: str) -> ModelSpec:
    """The spec of a model by key (``"bgnbd"``) or by a name found in older files (``"BGNBD"``).

    Raises
    ------
    InvalidParameterError
        For an unknown name, listing the known keys.
    """
    spec = _BY_NAME.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidParameterError(
            f"unknown model {name!r}; the models are {sorted(_BY_KEY)}."
        )
    return spec


def spec_for(model) -> ModelSpec:
    """The spec of a model class or instance."""
    cls = model if isinstance(model, type) else type(model)
    for spec in _SPECS:
        if spec.class_name == cls.__name__ and spec.module == cls.__module__:
            return spec
    # a subclass of a registered model (e.g. a user's variant) answers as its parent
    for base in cls.__mro__[1:]:
        for spec in _SPECS:
            if spec.class_name == base.__name__ and spec.module == base.__module__:
                return spec
    raise InvalidParameterError(
        f"{cls.__name__} is not a registered model; add a ModelSpec to "
        "clvmodels/models/registry.py (see CONTRIBUTING.md)."
    )


def display_name(model) -> str:
    """The name people read for a model key, class or instance ("BG/NBD")."""
    if isinstance(model, str):
        return get_spec(model).display_name
    return spec_for(model).display_name
