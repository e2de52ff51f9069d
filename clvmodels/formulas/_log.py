"""A transaction log reduced to one row per customer and day, for the formulas.

Validation is the data layer's (:func:`clvmodels.data.validate_transactions`):
every problem is collected and reported with column, rows and values. As in
:func:`clvmodels.rfm_summary`, all rows of a customer on one day are merged into
one transaction (values summed); the number of orders of that day is 1, or the
number of distinct ``order_id`` values when an order column is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvmodels._typing import DateLike
from clvmodels.data.transactions import to_timestamp, validate_transactions
from clvmodels.errors import InvalidParameterError, InvalidTransactionsError
from clvmodels.formulas import _checks

__all__ = ["CustomerDays", "customer_days", "month_number", "month_period", "unique_pairs"]


@dataclass
class CustomerDays:
    """One row per customer-day.

    Attributes
    ----------
    frame : DataFrame
        Columns ``code`` (dense customer code), ``day`` (int, days since
        1970-01-01), ``month`` (int, months since 1970-01), ``amount`` (when an
        amount column was given), ``cost`` (when cost or margin rate was given),
        ``orders`` (int). Sorted by code then day.
    customers : Index
        Customer ids; ``customers[code]`` is the id of a row.
    first_day, last_day : int
        First and last day of the log.
    observation_end : int
        Last day of observation (the argument, or the last day of the log).
    n_rows_after_observation_end : int
        Rows of the input dated after ``observation_end``, left out (an
        as-of date: the figures are those known on that day).
    """

    frame: pd.DataFrame
    customers: pd.Index
    first_day: int
    last_day: int
    observation_end: int
    n_rows_after_observation_end: int = 0

    @property
    def customer_id_name(self) -> str:
        return self.customers.name


def day_number(ts: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a timestamp (time of day dropped)."""
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


def month_number(day: ArrayLike) -> np.ndarray:
    """Months since 1970-01 of day numbers."""
    return (
        np.asarray(day, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
        .astype(np.int64)
    )


def month_period(month: ArrayLike) -> pd.PeriodIndex:
    """Monthly periods of month numbers."""
    month = np.atleast_1d(np.asarray(month, dtype=np.int64))
    return pd.PeriodIndex(month.astype("datetime64[M]"), freq="M")


def month_first_day(month: ArrayLike) -> np.ndarray:
    """Day number of the first day of months given as month numbers."""
    return np.asarray(month, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(
        np.int64
    )


def unique_pairs(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs of two integer arrays, sorted by a then b."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.size == 0:
        return a, b
    b0 = int(b.min())
    span = int(b.max()) - b0 + 1
    key = np.sort(a * span + (b - b0))  # a sort beats numpy's hash-based unique here
    key = key[np.r_[True, key[1:] != key[:-1]]]
    return key // span, key % span + b0


def customer_days(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    *,
    cost: str | None = None,
    margin_rate: float | None = None,
    order_id: str | None = None,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> CustomerDays:
    """Validate a log and merge it to customer-days (see the module docstring)."""
    if cost is not None and margin_rate is not None:
        raise InvalidParameterError(
            f"cost={cost!r} and margin_rate={margin_rate!r} were both given; pass either a "
            "cost-of-sales column or a margin rate, not both."
        )
    if (cost is not None or margin_rate is not None) and amount is None:
        raise InvalidParameterError(
            "a gross margin needs revenue: pass the amount column (amount=) with cost= or "
            "margin_rate=."
        )
    if margin_rate is not None:
        margin_rate = _checks.fraction("margin_rate", margin_rate, "0.3 for a 30% margin")
    obs = to_timestamp(observation_end, "observation_end")
    v = validate_transactions(transactions, customer_id, date, amount, refunds=refunds)
    cols: dict[str, object] = {"code": v.customer_codes, "day": v.day}
    if amount is not None:
        cols["amount"] = v.amount
    if cost is not None:
        vc = validate_transactions(transactions, customer_id, date, cost)
        cols["cost"] = vc.amount
    df = pd.DataFrame(cols)
    n_after = 0
    if obs is not None:
        keep = df["day"].to_numpy() <= day_number(obs)
        n_after = int((~keep).sum())
    if order_id is not None:
        if order_id not in transactions.columns:
            raise InvalidTransactionsError(
                f"order column {order_id!r} not found in the transactions; they have "
                f"columns {list(transactions.columns)}."
            )
        oid = transactions[order_id]
        if oid.isna().any():
            pos = np.flatnonzero(oid.isna().to_numpy())[:5].tolist()
            raise InvalidTransactionsError(
                f"column {order_id!r}: {int(oid.isna().sum())} rows have no order id "
                f"(rows {pos}...); fill them or leave order_id out to count one order per "
                "customer-day."
            )
        df["order"] = pd.factorize(oid)[0]
    if n_after:
        assert obs is not None  # rows fall after observation_end only when it is given
        df = df[keep]
        if df.empty:
            raise InvalidTransactionsError(
                f"every transaction is dated after observation_end ({obs.date()}); "
                "move observation_end later."
            )
    # One row per customer-day: a combined integer key, sorted by code then day.
    code = df["code"].to_numpy(dtype=np.int64)
    day = df["day"].to_numpy(dtype=np.int64)
    d0 = int(day.min())
    span = int(day.max()) - d0 + 1
    key = code * span + (day - d0)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    uk = sorted_key[first]
    inv = np.empty(len(key), dtype=np.int64)
    inv[order] = np.cumsum(first) - 1
    out = pd.DataFrame({"code": uk // span, "day": uk % span + d0})
    for col in ("amount", "cost"):
        if col in df.columns:
            out[col] = np.bincount(inv, weights=df[col].to_numpy(), minlength=len(uk))
    if order_id is not None:
        day_of_order, _ = unique_pairs(inv, df["order"].to_numpy())
        out["orders"] = np.bincount(day_of_order, minlength=len(uk))
    else:
        out["orders"] = 1
    if margin_rate is not None:
        out["cost"] = out["amount"] * (1.0 - margin_rate)
    out["month"] = month_number(out["day"].to_numpy())
    out["orders"] = out["orders"].astype(np.int64)
    first, last = int(out["day"].min()), int(out["day"].max())
    return CustomerDays(
        frame=out,
        customers=v.customers,
        first_day=first,
        last_day=last,
        observation_end=day_number(obs) if obs is not None else last,
        n_rows_after_observation_end=n_after,
    )
