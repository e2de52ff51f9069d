"""clvmodels: customer lifetime value, from practitioners' formulas to buy-till-you-die models.

The public API is re-exported here; see the README for a tour.

* Data: :func:`rfm_summary`, :func:`validate_transactions`, :mod:`clvmodels.datasets`,
  :mod:`clvmodels.data.simulate`.
* Formulas: :mod:`clvmodels.formulas`.
* Models: :class:`BGNBD`, :class:`GammaGamma` (and the rest of :mod:`clvmodels.models`),
  :func:`customer_lifetime_value`, :func:`load_model`.
* The sales funnel (conversion, forecast, lead value): :mod:`clvmodels.funnel`.
* Comparison: :func:`compare`, :mod:`clvmodels.evaluation`, :mod:`clvmodels.plotting`.

Names are imported on first use (PEP 562), so that ``import clvmodels`` and the
command line do not pay for scikit-learn, matplotlib or the formulas until they are
needed: a batch ``clvmodels score`` starts in a fraction of the time.
"""

from __future__ import annotations

import importlib

from clvmodels._version import __version__

# public name -> module that defines it (None: the name is the submodule itself)
_EXPORTS: dict[str, str | None] = {
    "datasets": None,
    "errors": None,
    "formulas": None,
    "funnel": None,
    "plotting": None,
    "report": None,
    "models": None,
    "data": None,
    "evaluation": None,
    "validation_report": "clvmodels.report",
    "read_transactions": "clvmodels.data",
    "rfm_summary": "clvmodels.data",
    "discrete_summary": "clvmodels.data",
    "validate_transactions": "clvmodels.data",
    "BGNBD": "clvmodels.models",
    "BGBB": "clvmodels.models",
    "GammaGamma": "clvmodels.models",
    "FitResult": "clvmodels.models",
    "GammaGompertzNBD": "clvmodels.models",
    "MBGNBD": "clvmodels.models",
    "NBD": "clvmodels.models",
    "BGCNBD": "clvmodels.models",
    "MBGCNBD": "clvmodels.models",
    "ParetoNBD": "clvmodels.models",
    "ParetoGGG": "clvmodels.models",
    "ShiftedBetaGeometric": "clvmodels.models",
    "customer_lifetime_value": "clvmodels.models",
    "convert_discount_rate": "clvmodels.models",
    "BGNBDCovariates": "clvmodels.models",
    "ParetoNBDCovariates": "clvmodels.models",
    "likelihood_ratio_test": "clvmodels.models",
    "forecast_customer_base": "clvmodels.models",
    "simulate_customer_base": "clvmodels.models",
    "load_model": "clvmodels.models",
    "compare": "clvmodels.evaluation.harness",
    "ComparisonResult": "clvmodels.evaluation.harness",
    "available_methods": "clvmodels.evaluation.registry",
    "register_method": "clvmodels.evaluation.registry",
}

__all__ = ["__version__", *(k for k in _EXPORTS if k not in {"models", "data", "evaluation"})]


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'clvmodels' has no attribute {name!r}") from None
    value = (
        importlib.import_module(f"clvmodels.{name}")
        if module is None
        else getattr(importlib.import_module(module), name)
    )
    globals()[name] = value  # cache: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

