r"""Customer retention rate (CRR), churn rate and average customer lifetime.

Over a period that starts with ``S`` customers, gains ``N`` new customers and
ends with ``E`` customers, the customers kept from the start are ``E - N``::

    CRR      = (E - N) / S                (x 100 for a percentage)
    churn    = 1 - CRR = (S - (E - N)) / S
    lifetime = 1 / churn                  (in periods: the mean of a geometric lifetime)

Source example: a year starts with 20 customers, gains 5 in the first quarter
and loses 1, so ``E = 24`` and ``CRR = (24 - 5) / 20 = 95%``.

Erratum. One article writes the fraction upside down, ``100 x 20 / (24 - 5)``,
which would give 105% (a retention above 100% is impossible), while printing
the right 95%. The standard form ``(E - N) / S`` is implemented here.

The module also carries the retention benchmarks by industry that the same
article publishes (:data:`INDUSTRY_RETENTION_BENCHMARKS`), as reference data.
"""

from __future__ import annotations

import math

import pandas as pd

from clvmodels.errors import InvalidParameterError
from clvmodels.formulas import _checks

__all__ = [
    "retention_rate",
    "churn_rate",
    "average_lifetime",
    "convert_retention_rate",
    "INDUSTRY_RETENTION_BENCHMARKS",
    "retention_benchmarks",
    "compare_to_benchmarks",
]

#: Customer retention rates by industry published in the source article (as
#: fractions; the article does not state the period, read them as annual).
INDUSTRY_RETENTION_BENCHMARKS: dict[str, float] = {
    "retail": 0.63,
    "banks": 0.75,
    "telecom": 0.78,
    "IT": 0.81,
    "insurance": 0.83,
    "professional services": 0.84,
    "media": 0.84,
}


def _kept(
    customers_end: float, new_customers: float, customers_start: float
) -> tuple[float, float]:
    """Validated (customers kept from the start, customers at the start)."""
    end = _checks.count("customers_end", customers_end, "customers at the end of the period")
    new = _checks.count("new_customers", new_customers, "customers won during the period")
    start = _checks.count(
        "customers_start", customers_start, "customers at the start of the period"
    )
    if start == 0:
        raise InvalidParameterError(
            "customers_start=0: retention is the share of the customers at the start of "
            "the period still there at the end, so it needs at least one customer at the "
            "start; choose a period that starts with customers."
        )
    kept = end - new
    if kept < 0:
        raise InvalidParameterError(
            f"new_customers={new_customers!r} is more than customers_end={customers_end!r}: "
            "the customers at the end include the new ones, so new_customers cannot exceed "
            "customers_end; check that customers_end counts every customer at the end."
        )
    if kept > start:
        raise InvalidParameterError(
            f"customers_end - new_customers = {kept:g} is more than "
            f"customers_start={customers_start!r}: more customers kept than there were. "
            "Count every customer won in the period (reactivated ones too) in "
            "new_customers, or check that the counts are not swapped (pass them by "
            "name: customers_start=, customers_end=, new_customers=)."
        )
    return kept, start


def retention_rate(customers_end: float, new_customers: float, customers_start: float) -> float:
    r"""Customer retention rate (CRR) of a period, as a fraction.

    .. math:: \mathrm{CRR} = \frac{E - N}{S}

    with :math:`E` customers at the end of the period, :math:`N` new customers
    won during it and :math:`S` customers at the start. Multiply by 100 for the
    percentage the articles print.

    Parameters
    ----------
    customers_end : float
        Customers at the end of the period (E), >= 0, new ones included.
    new_customers : float
        Customers won during the period (N), 0 <= N <= E. Customers who come
        back after having lapsed count as won, see
        :func:`clvmodels.formulas.inputs.monthly_inputs`.
    customers_start : float
        Customers at the start of the period (S), > 0.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    InvalidParameterError
        For a negative count, no customer at the start, more new customers than
        customers at the end, or more customers kept than there were at the start.

    Notes
    -----
    Erratum: one source article writes :math:`100 \times S / (E - N)` (the
    fraction inverted), which gives 105% on its own example, while printing
    the correct 95%.

    Examples
    --------
    Start the year with 20 customers, gain 5 in the first quarter and lose 1:

    >>> retention_rate(customers_end=24, new_customers=5, customers_start=20)
    0.95
    """
    kept, start = _kept(customers_end, new_customers, customers_start)
    return kept / start


def churn_rate(customers_start: float, customers_end: float, new_customers: float = 0) -> float:
    r"""Churn rate of a period: the share of the customers at the start who left.

    .. math:: \mathrm{churn} = \frac{S - (E - N)}{S} = 1 - \mathrm{CRR}

    With no new customers (the predictive-CLV article's case) this is
    :math:`(S - E) / S`.

    Parameters
    ----------
    customers_start : float
        Customers at the start of the period (S), > 0.
    customers_end : float
        Customers at the end (E), new ones included.
    new_customers : float, default 0
        Customers won during the period (N).

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    The predictive-CLV article: 200 customers at the start, 150 at the end.

    >>> churn_rate(customers_start=200, customers_end=150)
    0.25
    >>> round(churn_rate(20, 24, new_customers=5), 10)
    0.05
    """
    kept, start = _kept(customers_end, new_customers, customers_start)
    return (start - kept) / start


def average_lifetime(churn_rate: float) -> float:
    r"""Average customer lifetime, in periods: ``1 / churn``.

    If each customer leaves at the end of each period with probability
    ``churn`` independently of the past, the number of periods a customer stays
    (counting the current one) is geometric with mean :math:`1 / \mathrm{churn}`.

    Parameters
    ----------
    churn_rate : float
        Churn per period, in (0, 1].

    Returns
    -------
    float
        In periods (months for a monthly churn rate).

    Raises
    ------
    InvalidParameterError
        If churn is 0 (the lifetime would be infinite) or outside [0, 1].

    Examples
    --------
    >>> average_lifetime(0.25)
    4.0
    """
    churn = _checks.fraction("churn_rate", churn_rate, "churn per period, 0.25 for 25%")
    if churn == 0:
        raise InvalidParameterError(
            "churn_rate=0 gives an infinite average lifetime (nobody ever leaves); "
            "measure churn over a longer period or pass the lifetime directly."
        )
    return 1.0 / churn


def convert_retention_rate(retention_rate: float, from_months: float, to_months: float) -> float:
    r"""Convert a retention rate between period lengths, assuming a constant hazard.

    .. math:: R_{to} = R_{from}^{\,to / from}

    A monthly retention of 0.9 is an annual retention of :math:`0.9^{12} = 0.282`.

    Parameters
    ----------
    retention_rate : float
        Retention over ``from_months`` months, in [0, 1].
    from_months, to_months : float
        Period lengths in months, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> round(convert_retention_rate(0.9, from_months=1, to_months=12), 4)
    0.2824
    >>> round(convert_retention_rate(0.63, from_months=12, to_months=1), 4)
    0.9622
    """
    r = _checks.fraction("retention_rate", retention_rate, "0.9 for 90%")
    a = _checks.positive("from_months", from_months, "length of the period of retention_rate")
    b = _checks.positive("to_months", to_months, "length of the period wanted")
    if r == 0:
        return 0.0
    return math.exp(math.log(r) * b / a)


def retention_benchmarks() -> pd.DataFrame:
    """The industry retention benchmarks of the source article, as a table.

    Returns
    -------
    DataFrame
        Indexed by ``industry``, column ``retention_rate`` (fraction), sorted
        from lowest to highest, with the period left unstated by the source.

    Examples
    --------
    >>> float(retention_benchmarks().loc["retail", "retention_rate"])
    0.63
    """
    s = pd.Series(INDUSTRY_RETENTION_BENCHMARKS, name="retention_rate", dtype=float)
    s.index.name = "industry"
    out = s.sort_values(kind="stable").to_frame()
    out.attrs["source"] = (
        "customer-retention article cited in issue 5; period not stated (read as annual)"
    )
    return out


def compare_to_benchmarks(retention_rate: float) -> pd.DataFrame:
    """Set a retention rate against the industry benchmarks.

    Parameters
    ----------
    retention_rate : float
        Your retention rate over the benchmarks' period, in [0, 1]. Convert a
        monthly rate first with :func:`convert_retention_rate`.

    Returns
    -------
    DataFrame
        The benchmark table with columns ``retention_rate``, ``yours`` and
        ``difference`` (yours minus benchmark, in fraction points).

    Examples
    --------
    >>> round(float(compare_to_benchmarks(0.8).loc["banks", "difference"]), 2)
    0.05
    """
    r = _checks.fraction("retention_rate", retention_rate, "0.8 for 80%")
    out = retention_benchmarks()
    out["yours"] = r
    out["difference"] = r - out["retention_rate"]
    return out
