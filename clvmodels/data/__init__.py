"""The data layer: read and validate transaction logs, summarise them, simulate them."""

from clvmodels.data.discrete import discrete_summary
from clvmodels.data.summary import TIME_UNITS, rfm_summary, time_unit_days
from clvmodels.data.transactions import parse_dates, read_transactions, validate_transactions

__all__ = [
    "rfm_summary",
    "discrete_summary",
    "read_transactions",
    "validate_transactions",
    "parse_dates",
    "TIME_UNITS",
    "time_unit_days",
]
