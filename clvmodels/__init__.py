"""clvmodels: customer lifetime value, from practitioners' formulas to buy-till-you-die models.

The public API is re-exported here; see the README for a tour.
"""

from clvmodels import datasets, errors
from clvmodels._version import __version__
from clvmodels.data import read_transactions, rfm_summary, validate_transactions

__all__ = [
    "__version__",
    "datasets",
    "errors",
    "read_transactions",
    "rfm_summary",
    "validate_transactions",
]
