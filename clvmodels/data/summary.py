"""Transaction log -> per-customer summary (frequency, recency, T, monetary value).

The semantics are the literature's (Fader, Hardie & Lee 2005):

* the granularity is the **day**: all transactions of a customer on one day are
  merged into one transaction whose value is the sum of their values;
* ``frequency`` is the number of *repeat* transaction days in the calibration
  period (the first purchase is not counted);
* ``recency`` is the time from the first to the last calibration transaction
  (0 when ``frequency`` is 0);
* ``T`` is the time from the first transaction to ``calibration_end``;
* ``monetary_value`` is the mean value of the repeat transactions (0 when
  ``frequency`` is 0), the input of the Gamma-Gamma model; ``monetary="all"``
  gives the mean of all calibration transactions, first one included;
* with ``observation_end``, the holdout period is the days after
  ``calibration_end`` up to and including ``observation_end``:
  ``frequency_holdout`` (transaction days in it), ``monetary_value_holdout``
  (their mean value, 0 if none) and ``duration_holdout`` (its length).

Times are day differences divided by the length of the time unit, so that they
do not depend on calendar boundaries: ``"D"`` = 1 day, ``"W"`` = 7 days, ``"M"``
= 30.4375 days (365.25 / 12) and ``"Y"`` = 365.25 days. A transaction on
``calibration_end`` belongs to the calibration period.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from clvmodels.data.transactions import (
    _day,
    read_transactions,
    to_timestamp,
    validate_transactions,
)
from clvmodels.errors import ExcludedCustomersWarning, InvalidTransactionsError

__all__ = ["rfm_summary", "TIME_UNITS", "time_unit_days"]

TIME_UNITS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0, "Y": 365.25}
MONETARY_CHOICES = ("repeat", "all")


def time_unit_days(time_unit: str) -> float:
    """Length of a time unit in days; raises a clear error for an unknown unit."""
    key = str(time_unit).upper()
    if key not in TIME_UNITS:
        raise InvalidTransactionsError(
            f"time_unit={time_unit!r} is not one of {list(TIME_UNITS)} "
            "(D = day, W = 7 days, M = 30.4375 days, Y = 365.25 days)."
        )
    return TIME_UNITS[key]


def _merge_customer_days(key: np.ndarray, amount: np.ndarray | None):
    """Unique sorted keys and the summed amount of each (logs sorted already skip the sort)."""
    if len(key) > 1 and not bool(np.all(key[1:] >= key[:-1])):
        order = np.argsort(key)
        key = key[order]
        amount = amount[order] if amount is not None else None
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by the caller
        val = np.add.reduceat(amount, starts) if amount is not None else None
    return key[starts], val


def _check_finite_totals(values, cust, day, customers, what: str) -> None:
    """Refuse sums of finite amounts that overflow float64 (they would be written as inf)."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    pos = np.flatnonzero(bad)
    shown = ", ".join(
        f"customer {customers[cust[i]]!r} ({pd.Timestamp(np.datetime64(int(day[i]), 'D')).date()})"
        for i in pos[:5])
    raise InvalidTransactionsError(
        f"{what} overflows to infinity for {len(pos)} value(s): {shown}. The amounts are "
        "too large to add up in double precision (about 1.8e308); check their unit, or "
        "scale them (e.g. to thousands) before summarising.")


def warn_left_out(n_excluded: int, n_after: int, cal: pd.Timestamp, where: str,
                  stacklevel: int = 3) -> None:
    """The summary's warnings about what it leaves out (customers and days after the cutoff).

    Shared by :func:`rfm_summary` and the Spark engine, so both say the same thing;
    ``where`` names where the count of excluded customers can be read.
    """
    if n_excluded:
        warnings.warn(
            f"{n_excluded} customer(s) made their first purchase after calibration_end "
            f"({cal.date()}) and are not in the summary (see {where}); move "
            "calibration_end later to include them.",
            ExcludedCustomersWarning,
            stacklevel=stacklevel,
        )
    if n_after:
        warnings.warn(
            f"{n_after} transaction day(s) after calibration_end ({cal.date()}) are not in "
            "the summary; pass observation_end to get them as holdout columns.",
            ExcludedCustomersWarning,
            stacklevel=stacklevel,
        )


def rfm_summary(
    transactions,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = None,
    *,
    calibration_end=None,
    observation_end=None,
    time_unit: str = "W",
    monetary: str = "repeat",
    refunds: str = "error",
) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer.

    Parameters
    ----------
    transactions : DataFrame or path
        The log, or a path to a CSV or Parquet file holding it.
    customer_id, date, amount : str
        Column names; ``amount`` is optional (no monetary columns without it).
    calibration_end : date-like, optional
        Last day of the calibration period (inclusive). Defaults to the last
        transaction date.
    observation_end : date-like, optional
        Last day of the holdout period (inclusive). When given, holdout columns
        are added; a transaction after it is an error.
    time_unit : {"D", "W", "M", "Y"}
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    monetary : {"repeat", "all"}
        ``"repeat"`` (default, the Gamma-Gamma convention): mean value of the
        repeat transactions, 0 for customers without one. ``"all"``: mean value
        of all calibration transactions including the first.
    refunds : {"error", "net"}
        Negative amounts are an error unless ``"net"``, which nets them into
        the day's total.

    Returns
    -------
    DataFrame
        Indexed by customer id (sorted), columns ``frequency``, ``recency``,
        ``T``, [``monetary_value``], and with ``observation_end``
        ``frequency_holdout``, [``monetary_value_holdout``], ``duration_holdout``.
        ``attrs`` records ``time_unit``, ``calibration_end``,
        ``observation_end``, ``n_excluded_customers`` (customers whose first
        purchase is after ``calibration_end``), ``n_transactions_after_calibration``
        (when there is no holdout), ``monetary`` and the input row count.

    Warns
    -----
    ExcludedCustomersWarning
        When customers first buy after ``calibration_end`` (they cannot be in a
        calibration summary), or when transactions after ``calibration_end``
        are left out because no ``observation_end`` was given.

    Examples
    --------
    >>> import clvmodels
    >>> log = clvmodels.datasets.load_cdnow_transactions()
    >>> s = clvmodels.rfm_summary(log, amount="amount", calibration_end="1997-09-30",
    ...                           observation_end="1998-06-30", time_unit="W")
    >>> len(s), int(s["frequency"].sum()), int(s["frequency_holdout"].sum())
    (2357, 2457, 1882)
    """
    unit_days = time_unit_days(time_unit)
    time_unit = str(time_unit).upper()
    if monetary not in MONETARY_CHOICES:
        raise InvalidTransactionsError(
            f"monetary={monetary!r} is not one of {MONETARY_CHOICES}."
        )
    if isinstance(transactions, (str, os.PathLike)):
        cols = [customer_id, date] + ([amount] if amount is not None else [])
        transactions = read_transactions(transactions, columns=cols)

    v = validate_transactions(
        transactions, customer_id, date, amount,
        calibration_end=calibration_end, observation_end=observation_end, refunds=refunds,
    )
    cal = to_timestamp(calibration_end, "calibration_end")
    obs = to_timestamp(observation_end, "observation_end")

    day = v.day
    dmin = int(day.min())
    dmax = int(day.max())
    cal_day = _day(cal) if cal is not None else dmax
    if cal is None:
        cal = pd.Timestamp(np.datetime64(cal_day, "D"))
    obs_day = _day(obs) if obs is not None else None

    # One row per customer-day: sort on a combined integer key.
    span = dmax - dmin + 1
    key = v.customer_codes * span
    key += day
    key -= dmin
    # the per-row arrays are no longer needed: free them before the merge (memory peak)
    amount = v.amount
    v.customer_codes = v.day = v.amount = day = None
    uk, val = _merge_customer_days(key, amount)
    del key, amount
    cust, dday = np.divmod(uk, span)
    dday += dmin
    if val is not None:
        _check_finite_totals(val, cust, dday, v.customers, "a customer-day's total")
    starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
    first_day = dday[starts]

    in_cal = dday <= cal_day
    n_cal = np.add.reduceat(in_cal, starts, dtype=np.int64)
    keep = n_cal > 0
    n_excluded = int((~keep).sum())

    last_cal_day = dday[starts + np.maximum(n_cal, 1) - 1]
    frequency = n_cal - 1
    data = {
        "frequency": frequency,
        "recency": (last_cal_day - first_day) / unit_days,
        "T": (cal_day - first_day) / unit_days,
    }
    if val is not None:
        with np.errstate(over="ignore", invalid="ignore"):  # refused below
            cal_sum = np.add.reduceat(np.where(in_cal, val, 0.0), starts)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite totals: refused below
            if monetary == "repeat":
                num, den = cal_sum - val[starts], frequency
            else:
                num, den = cal_sum, n_cal
        with np.errstate(invalid="ignore", divide="ignore"):
            data["monetary_value"] = np.where(den > 0, num / np.maximum(den, 1), 0.0)

    n_after = 0
    if obs_day is not None:
        in_hold = (dday > cal_day) & (dday <= obs_day)
        f_hold = np.add.reduceat(in_hold, starts, dtype=np.int64)
        data["frequency_holdout"] = f_hold
        if val is not None:
            with np.errstate(over="ignore", invalid="ignore"):  # refused below
                h_sum = np.add.reduceat(np.where(in_hold, val, 0.0), starts)
            data["monetary_value_holdout"] = np.where(
                f_hold > 0, h_sum / np.maximum(f_hold, 1), 0.0
            )
        data["duration_holdout"] = np.full(len(starts), (obs_day - cal_day) / unit_days)
    else:
        n_after = int((~in_cal).sum())

    for col in ("monetary_value", "monetary_value_holdout"):
        if col in data:
            _check_finite_totals(data[col], cust[starts], first_day, v.customers,
                                 f"the {col} (a customer's summed amounts)")
    index = v.customers[cust[starts]]
    summary = pd.DataFrame(data, index=index)
    if n_excluded:
        summary = summary.loc[keep]
    warn_left_out(n_excluded, n_after, cal, "summary.attrs['n_excluded_customers']")
    summary.index.name = v.customer_id_name
    summary.attrs = {
        "time_unit": time_unit,
        "time_unit_days": unit_days,
        "calibration_end": cal,
        "observation_end": obs,
        "first_transaction": pd.Timestamp(np.datetime64(dmin, "D")),
        "monetary": monetary if val is not None else None,
        "n_rows": v.n_rows,
        "n_customer_days": int(len(uk)),
        "n_excluded_customers": n_excluded,
        "n_transactions_after_calibration": n_after,
        "notes": list(v.notes),
    }
    return summary
