"""Transaction log -> discrete-period summary (the BG/BB model's data).

In a discrete-time setting (Fader, Hardie & Shang 2010) transactions can only
happen at distinct opportunities: a charity's annual appeal, a monthly
event. :func:`discrete_summary` maps every transaction to its calendar period
(year, month or week) and treats each period as one opportunity, however
many transactions fall in it. For each customer:

* period 0 is the period of the first transaction (the acquisition);
* ``n_periods`` is the number of opportunities after it up to the last
  calibration period (the one containing ``calibration_end``);
* ``frequency`` is the number of those opportunities with at least one
  transaction (repeat periods);
* ``recency`` is the index of the last such opportunity (1 = the period after
  the first one), 0 when ``frequency`` is 0.

So ``0 <= frequency <= recency <= n_periods`` always.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from clvmodels.data.transactions import read_transactions, to_timestamp, validate_transactions
from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidTransactionsError,
    StatisticalWarning,
)

__all__ = ["discrete_summary", "PERIODS"]

#: The periods an opportunity can be: calendar years, calendar months, weeks Monday-Sunday.
PERIODS = {"Y": "calendar year", "M": "calendar month", "W": "week (Monday to Sunday)"}

_EPOCH = pd.Timestamp("1970-01-01")


def _period_of_day(day: np.ndarray, period: str) -> np.ndarray:
    """Period number (years, months or weeks since 1970) of day numbers (days since 1970-01-01)."""
    day = np.asarray(day, dtype=np.int64)
    if period == "Y":
        return day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    if period == "M":
        return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    # 1970-01-01 was a Thursday: day + 3 counts from Monday 1969-12-29
    return np.floor_divide(day + 3, 7)


def _period_label(number: int, period: str) -> pd.Period:
    if period == "Y":
        return pd.Period(year=1970 + number, freq="Y")
    if period == "M":
        return pd.Period(year=1970 + number // 12, month=number % 12 + 1, freq="M")
    monday = _EPOCH + pd.Timedelta(days=7 * number - 3)
    return pd.Period(monday, freq="W-SUN")


def _day_number(ts: pd.Timestamp) -> int:
    return int((ts - _EPOCH).days)


def _is_period_end(day: int, period: str) -> bool:
    return bool(_period_of_day(np.array([day + 1]), period)[0] != _period_of_day(
        np.array([day]), period)[0])


def discrete_summary(
    transactions,
    customer_id: str = "customer_id",
    date: str = "date",
    *,
    period: str = "Y",
    calibration_end=None,
    first_period=None,
    observation_end=None,
    compress: bool = False,
) -> pd.DataFrame:
    """Summarise a transaction log into discrete opportunities (BG/BB data).

    Parameters
    ----------
    transactions : DataFrame or path
        One row per transaction (CSV or Parquet path accepted).
    customer_id, date : str
        Column names.
    period : {"Y", "M", "W"}, default "Y"
        What one transaction opportunity is: a calendar year, a calendar
        month, or a week from Monday to Sunday.
    calibration_end : date-like, optional
        Last day of the calibration data; the period containing it is the last
        calibration opportunity. Default: the date of the last transaction.
        Transactions after it are left out (with a warning) unless
        ``observation_end`` is given. Best at the end of a period: otherwise
        the last opportunity is only partly observed, and a warning says so.
    first_period : date-like, optional
        Restrict the summary to one acquisition cohort: the customers whose
        first transaction falls in the period containing this date (e.g.
        ``"1995"`` with yearly periods). The others are left out with an
        :class:`~clvmodels.errors.ExcludedCustomersWarning`. Default: every
        customer, each with their own period 0 (so ``n_periods`` differs
        between cohorts, which the BG/BB likelihood handles).
    observation_end : date-like, optional
        Last day of a holdout; adds ``frequency_holdout`` (holdout periods
        with a transaction) and ``n_periods_holdout`` (number of holdout
        periods: those after the last calibration period up to the one
        containing ``observation_end``).
    compress : bool, default False
        Return one row per distinct data pattern with a ``weights`` column
        (number of customers), the compact "recency/frequency table" of the
        BG/BB paper, instead of one row per customer.

    Returns
    -------
    DataFrame
        Indexed by customer id (``compress=False``) with int64 columns
        ``frequency``, ``recency``, ``n_periods`` [, ``frequency_holdout``,
        ``n_periods_holdout``]; or, with ``compress=True``, those columns plus
        ``weights`` on a RangeIndex, sorted. ``attrs`` holds ``time_unit``
        (= ``period``), ``period``, ``calibration_end``, ``observation_end``,
        ``last_calibration_period`` (a ``pandas.Period``), ``first_period``,
        ``n_excluded_customers`` and ``n_transactions_after_calibration``.

    Raises
    ------
    InvalidTransactionsError
        For an unknown ``period``, a bad log, or cutoffs in the wrong order.

    Warns
    -----
    ExcludedCustomersWarning
        Customers whose first transaction is after ``calibration_end`` or
        outside ``first_period``; transactions after ``calibration_end``
        without ``observation_end``.
    StatisticalWarning
        ``calibration_end`` (or ``observation_end``) in the middle of a period.

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": [1, 1, 1, 2, 3, 3],
    ...                     "date": ["1995-03-01", "1996-05-01", "1996-07-01",
    ...                              "1995-06-01", "1995-01-10", "1998-02-02"]})
    >>> discrete_summary(log, calibration_end="1998-12-31")  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency  n_periods
    customer_id
    1                    1        1          3
    2                    0        0          3
    3                    1        3          3
    >>> discrete_summary(log, calibration_end="1998-12-31", compress=True)
       frequency  recency  n_periods  weights
    0          0        0          3        1
    1          1        1          3        1
    2          1        3          3        1
    """
    key = str(period).upper()
    if key not in PERIODS:
        raise InvalidTransactionsError(
            f"period={period!r} is not one of {list(PERIODS)} "
            "(Y = calendar year, M = calendar month, W = week Monday-Sunday)."
        )
    if isinstance(transactions, (str, os.PathLike)):
        transactions = read_transactions(transactions, columns=[customer_id, date])
    v = validate_transactions(
        transactions, customer_id, date,
        calibration_end=calibration_end, observation_end=observation_end,
    )
    cal = to_timestamp(calibration_end, "calibration_end")
    obs = to_timestamp(observation_end, "observation_end")
    cohort = to_timestamp(first_period, "first_period")

    day = v.day
    cal_day = _day_number(cal) if cal is not None else int(day.max())
    if cal is None:
        cal = _EPOCH + pd.Timedelta(days=cal_day)
    obs_day = _day_number(obs) if obs is not None else None
    for name, cutoff_day, given in (("calibration_end", cal_day, calibration_end is not None),
                                    ("observation_end", obs_day, obs is not None)):
        if given and not _is_period_end(cutoff_day, key):
            label = _period_label(int(_period_of_day(np.array([cutoff_day]), key)[0]), key)
            warnings.warn(
                f"{name} ({(_EPOCH + pd.Timedelta(days=cutoff_day)).date()}) is not the last day "
                f"of its {PERIODS[key]} ({label}); that period counts as a full opportunity "
                "although it is only partly observed, which biases frequency down. Use the "
                "last day of a period.",
                StatisticalWarning,
                stacklevel=2,
            )

    per = _period_of_day(day, key)
    cal_period = int(_period_of_day(np.array([cal_day]), key)[0])
    obs_period = None if obs_day is None else int(_period_of_day(np.array([obs_day]), key)[0])

    # one row per customer-period, sorted by customer then period
    pmin = int(per.min())
    span = int(per.max()) - pmin + 1
    pair = np.unique(v.customer_codes * span + (per - pmin))
    cust = pair // span
    pper = pair % span + pmin
    # a customer-period is in calibration when it has a transaction on or before calibration_end
    last_day = np.full(pair.shape[0], np.iinfo(np.int64).min)
    pair_of_row = np.searchsorted(pair, v.customer_codes * span + (per - pmin))
    in_cal_row = day <= cal_day
    np.maximum.at(last_day, pair_of_row, np.where(in_cal_row, day, np.iinfo(np.int64).min))
    first_day = np.full(pair.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first_day, pair_of_row, day)
    pair_in_cal = last_day > np.iinfo(np.int64).min
    starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
    customers_codes = cust[starts]
    first_of_customer = pper[starts]  # periods are sorted within a customer
    first_day_of_customer = first_day[starts]
    owner = np.repeat(np.arange(starts.shape[0]), np.diff(np.r_[starts, pair.shape[0]]))

    keep = first_day_of_customer <= cal_day
    n_late = int((~keep).sum())
    n_outside_cohort = 0
    cohort_label = None
    if cohort is not None:
        cohort_period = int(_period_of_day(np.array([_day_number(cohort)]), key)[0])
        cohort_label = _period_label(cohort_period, key)
        in_cohort = first_of_customer == cohort_period
        n_outside_cohort = int((keep & ~in_cohort).sum())
        keep &= in_cohort

    rel = pper - first_of_customer[owner]
    repeat_cal = pair_in_cal & (rel > 0)
    frequency = np.bincount(owner, weights=repeat_cal, minlength=starts.shape[0]).astype(np.int64)
    recency = np.zeros(starts.shape[0], dtype=np.int64)
    np.maximum.at(recency, owner[repeat_cal], rel[repeat_cal])
    data = {
        "frequency": frequency,
        "recency": recency,
        "n_periods": (cal_period - first_of_customer).astype(np.int64),
    }
    n_after = 0
    if obs_period is not None:
        hold = (pper > cal_period) & (pper <= obs_period)
        data["frequency_holdout"] = np.bincount(
            owner, weights=hold, minlength=starts.shape[0]
        ).astype(np.int64)
        data["n_periods_holdout"] = np.full(starts.shape[0], obs_period - cal_period, np.int64)
        # transactions after calibration_end but inside the last calibration period are in
        # neither part
        n_after = int(np.sum((day > cal_day) & (per == cal_period)))
    else:
        n_after = int(np.sum(day > cal_day))

    index = v.customers[customers_codes]
    summary = pd.DataFrame(data, index=index).loc[keep]
    summary.index.name = v.customer_id_name
    if n_late:
        warnings.warn(
            f"{n_late} customer(s) made their first transaction after calibration_end "
            f"({cal.date()}) and are not in the summary; move calibration_end later to include "
            "them.",
            ExcludedCustomersWarning,
            stacklevel=2,
        )
    if n_outside_cohort:
        warnings.warn(
            f"{n_outside_cohort} customer(s) were acquired outside first_period "
            f"({cohort_label}) and are not in the summary (first_period keeps one cohort; "
            "pass first_period=None for all customers).",
            ExcludedCustomersWarning,
            stacklevel=2,
        )
    if n_after:
        why = (
            "they fall in the last calibration period after calibration_end, so in neither the "
            "calibration nor the holdout part" if obs_period is not None
            else "pass observation_end to get them as holdout columns"
        )
        warnings.warn(
            f"{n_after} transaction(s) after calibration_end ({cal.date()}) are not in the "
            f"summary; {why}.",
            ExcludedCustomersWarning,
            stacklevel=2,
        )
    attrs = {
        "time_unit": key,
        "period": key,
        "calibration_end": cal,
        "observation_end": obs,
        "last_calibration_period": _period_label(cal_period, key),
        "first_period": cohort_label,
        "n_excluded_customers": n_late + n_outside_cohort,
        "n_transactions_after_calibration": n_after,
        "n_rows": v.n_rows,
    }
    if compress:
        columns = list(summary.columns)
        summary = (
            summary.groupby(columns, sort=True).size().rename("weights").astype(np.int64)
            .reset_index()
        )
    summary.attrs = attrs
    return summary
