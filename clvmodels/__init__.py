"""clvmodels: customer lifetime value, from practitioners' formulas to buy-till-you-die models.

The public API is re-exported here; see the README for a tour.

* Data: :func:`rfm_summary`, :func:`validate_transactions`, :mod:`clvmodels.datasets`,
  :mod:`clvmodels.data.simulate`.
* Formulas: :mod:`clvmodels.formulas`.
* Models: :class:`BGNBD`, :class:`GammaGamma` (and the rest of :mod:`clvmodels.models`),
  :func:`customer_lifetime_value`, :func:`load_model`.
* Comparison: :func:`compare`, :mod:`clvmodels.evaluation`, :mod:`clvmodels.plotting`.
"""

from clvmodels import datasets, errors, formulas, plotting, report
from clvmodels._version import __version__
from clvmodels.data import (
    discrete_summary,
    read_transactions,
    rfm_summary,
    validate_transactions,
)
from clvmodels.evaluation.harness import ComparisonResult, compare
from clvmodels.evaluation.registry import available_methods, register_method
from clvmodels.models import (
    BGBB,
    BGNBD,
    MBGNBD,
    GammaGamma,
    ParetoNBD,
    ShiftedBetaGeometric,
    customer_lifetime_value,
    load_model,
)
from clvmodels.report import validation_report

__all__ = [
    "__version__",
    "datasets",
    "errors",
    "formulas",
    "plotting",
    "report",
    "validation_report",
    "read_transactions",
    "rfm_summary",
    "discrete_summary",
    "validate_transactions",
    "BGNBD",
    "BGBB",
    "GammaGamma",
    "MBGNBD",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "customer_lifetime_value",
    "load_model",
    "compare",
    "ComparisonResult",
    "available_methods",
    "register_method",
]
