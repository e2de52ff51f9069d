r"""Cohort CLV: average value per customer of each acquisition cohort, by age.

Customers are grouped by the calendar month of their first purchase (their
*cohort*). For each cohort and each month of age (0 = the month of the first
purchase, 1 = the next calendar month, ...), the cohort table holds the
cohort's revenue in that month divided by the number of customers the cohort
started with, summed over the ages so far::

    table[c, a] = sum_{k <= a} revenue of cohort c in month c + k / size of cohort c

Read along a row, it is the cohort's cumulative revenue per customer, the
cohort's historical CLV at each age; down a column it compares cohorts at the
same age. Plot it with :func:`clvmodels.formulas.plots.plot_cohort_heatmap` and
:func:`clvmodels.formulas.plots.plot_cohort_curves`.

Cells a cohort has not lived through yet are NaN. Only complete calendar months
are shown: when the observation ends mid-month, that month is left out so that
it does not look like a drop (``attrs["last_month"]`` says which month is last).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clvmodels._typing import DateLike
from clvmodels.errors import ExcludedCustomersWarning, InvalidParameterError
from clvmodels.formulas import _log

__all__ = ["cohort_table", "cohort_clv", "COHORT_VALUES"]

#: What a cohort table can hold: per cohort customer, revenue, gross margin or
#: transactions (cumulative by default), or the share of the cohort active.
COHORT_VALUES = ("revenue", "gross_margin", "transactions", "active")


def _last_complete_month(end_day: int) -> int:
    month = int(_log.month_number(end_day))
    next_first = int(_log.month_first_day(month + 1))
    return month if end_day == next_first - 1 else month - 1


def _cohort_cells(cd: _log.CustomerDays) -> tuple[pd.DataFrame, pd.Series, int]:
    """Per (cohort, age) sums and counts, cohort sizes, last complete month number."""
    f = cd.frame
    first_month = f.groupby("code", sort=False)["month"].transform("min").to_numpy()
    cells = pd.DataFrame({
        "cohort": first_month,
        "age": f["month"].to_numpy() - first_month,
        "code": f["code"].to_numpy(),
        "transactions": np.ones(len(f), dtype=np.int64),
    })
    if "amount" in f.columns:
        cells["revenue"] = f["amount"].to_numpy()
    if "cost" in f.columns:
        cells["gross_margin"] = f["amount"].to_numpy() - f["cost"].to_numpy()
    sums = [c for c in ("revenue", "gross_margin", "transactions") if c in cells.columns]
    g = cells.groupby(["cohort", "age"], sort=True)
    agg = g[sums].sum()
    agg["active"] = g["code"].nunique()
    sizes = cells.drop_duplicates("code").groupby("cohort").size()
    return agg, sizes, _last_complete_month(cd.observation_end)


def cohort_table(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    *,
    value: str = "revenue",
    cumulative: bool | None = None,
    cost: str | None = None,
    margin_rate: float | None = None,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> pd.DataFrame:
    """The cohort table: value per cohort customer by cohort and month of age.

    Parameters
    ----------
    transactions : DataFrame
        The log, one row per purchase.
    customer_id, date, amount : str
        Column names (``amount`` may be None for ``value="transactions"`` or
        ``"active"``).
    value : {"revenue", "gross_margin", "transactions", "active"}
        What each cell holds, per customer the cohort started with: revenue,
        gross margin (needs ``cost`` or ``margin_rate``), transactions (one
        per customer-day), or the share of the cohort who bought in that month.
    cumulative : bool, optional
        Sum over the ages so far (the cohort CLV curve). Default True, except
        for ``"active"`` (a share of customers cannot be summed).
    cost, margin_rate
        For ``value="gross_margin"``: a cost-of-sales column or a margin rate.
    observation_end : date-like, optional
        As-of date (default: the last date of the log); later rows are left
        out, and so is a month it cuts.
    refunds : {"error", "net"}

    Returns
    -------
    DataFrame
        Indexed by ``cohort`` (monthly Period of the first purchase), one
        column per age in months (``months_since_first_purchase``, from 0),
        NaN where the cohort has not reached that age. ``attrs``:
        ``cohort_size`` (dict cohort -> customers), ``value``, ``cumulative``,
        ``last_month``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 3, 3],
    ...     "date": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-01-20",
    ...                             "2024-02-01", "2024-03-31"]),
    ...     "amount": [10.0, 20.0, 30.0, 40.0, 50.0]})
    >>> cohort_table(log)
    months_since_first_purchase     0     1     2
    cohort
    2024-01                      20.0  30.0  30.0
    2024-02                      40.0  90.0   NaN
    """
    if value not in COHORT_VALUES:
        raise InvalidParameterError(
            f"value={value!r} is not one of {COHORT_VALUES}."
        )
    if cumulative is None:
        cumulative = value != "active"
    if cumulative and value == "active":
        raise InvalidParameterError(
            "value='active' is a share of the cohort active in each month and cannot be "
            "cumulated; pass cumulative=False (or leave it out)."
        )
    if value in ("revenue", "gross_margin") and amount is None:
        raise InvalidParameterError(f"value={value!r} needs the amount column (amount=).")
    if value == "gross_margin" and cost is None and margin_rate is None:
        raise InvalidParameterError(
            "value='gross_margin' needs a cost-of-sales column (cost=) or a margin rate "
            "(margin_rate=)."
        )
    cd = _log.customer_days(
        transactions, customer_id, date, amount, cost=cost, margin_rate=margin_rate,
        observation_end=observation_end, refunds=refunds,
    )
    agg, sizes, last = _cohort_cells(cd)
    cohorts = np.arange(int(sizes.index.min()), int(sizes.index.max()) + 1)
    max_age = max(int(last - cohorts[0]), 0)
    ages = np.arange(max_age + 1)
    table = (
        agg[value].unstack("age").reindex(index=cohorts, columns=ages).fillna(0.0)
        .astype(float)
    )
    size = sizes.reindex(cohorts).fillna(0).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = table.to_numpy() / size[:, None]
    if cumulative:
        values = np.cumsum(values, axis=1)
    observed = cohorts[:, None] + ages[None, :] <= last
    values = np.where(observed & (size[:, None] > 0), values, np.nan)
    out = pd.DataFrame(values, index=_log.month_period(cohorts), columns=pd.Index(
        ages, name="months_since_first_purchase"))
    out.index.name = "cohort"
    out = out.loc[size > 0]
    out.attrs = {
        "cohort_size": {str(p): int(n) for p, n in zip(
            out.index, sizes.reindex(cohorts).dropna().astype(int), strict=True)},
        "value": value,
        "cumulative": bool(cumulative),
        "last_month": str(_log.month_period(last)[0]),
        "n_rows_after_observation_end": cd.n_rows_after_observation_end,
    }
    return out


def cohort_clv(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    *,
    months: int = 12,
    value: str = "revenue",
    cost: str | None = None,
    margin_rate: float | None = None,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> pd.Series:
    """Cohort CLV: each cohort's cumulative value per customer over its first ``months`` months.

    Parameters
    ----------
    transactions, customer_id, date, amount, value, cost, margin_rate, observation_end, refunds
        As in :func:`cohort_table` (``value`` is ``"revenue"`` or ``"gross_margin"``).
    months : int, default 12
        Age span: months 0 to ``months - 1`` since the first purchase.

    Returns
    -------
    Series
        Indexed by cohort, for the cohorts observed that long.
        ``attrs["weighted_mean"]``: the mean over those cohorts weighted by
        their sizes (the CLV of an average customer acquired then).

    Warns
    -----
    ExcludedCustomersWarning
        Naming the cohorts left out because they are younger than ``months``.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> clv = cohort_clv(load_cdnow_transactions(), months=12)
    >>> clv.round(2).tolist()
    [86.31, 88.25, 92.07]
    """
    if value not in ("revenue", "gross_margin"):
        raise InvalidParameterError(
            f"value={value!r}: cohort CLV is a revenue or a gross margin."
        )
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise InvalidParameterError(f"months={months!r} must be a whole number >= 1.")
    table = cohort_table(
        transactions, customer_id, date, amount, value=value, cumulative=True, cost=cost,
        margin_rate=margin_rate, observation_end=observation_end, refunds=refunds,
    )
    if months > table.shape[1]:
        raise InvalidParameterError(
            f"months={months} is longer than the log: the oldest cohort is observed for "
            f"{table.shape[1]} complete month(s); use months <= {table.shape[1]}."
        )
    col = table[months - 1]
    kept = col.dropna()
    left_out = [str(p) for p in col.index[col.isna()]]
    if left_out:
        warnings.warn(
            f"{len(left_out)} cohort(s) are younger than {months} months and left out: "
            f"{', '.join(left_out[:6])}{' ...' if len(left_out) > 6 else ''}.",
            ExcludedCustomersWarning,
            stacklevel=2,
        )
    size = pd.Series({p: table.attrs["cohort_size"][str(p)] for p in kept.index}, dtype=float)
    kept = kept.rename("cohort_clv")
    kept.attrs = {
        "months": months,
        "value": value,
        "weighted_mean": float(np.average(kept.to_numpy(), weights=size.to_numpy())),
        "cohort_size": {str(p): int(size[p]) for p in kept.index},
    }
    return kept
