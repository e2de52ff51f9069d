"""The distributed engine: summarise, fit and score on Spark (``pip install clvmodels[spark]``).

The same job as the pandas path (:func:`clvmodels.rfm_summary`, ``Model().fit``,
:func:`~clvmodels.models.clv.customer_lifetime_value`), split the way the
design note says: **aggregate in the cluster, fit on the driver, score in the
cluster**::

    from clvmodels import spark as clvspark

    log = clvspark.read_transactions(spark, "s3://bucket/transactions/")   # or any DataFrame
    summary = clvspark.rfm_summary(log, amount="amount", calibration_end="2025-12-31")
    bundle = clvspark.fit(summary)                        # BG/NBD + Gamma-Gamma, a ModelBundle
    bundle.save("model.json")                             # the file 'clvmodels score' reads
    scores = clvspark.score(summary, bundle, horizon=52, discount_rate=0.0018)
    scores.write.parquet("s3://bucket/scores/")

What runs where
---------------
:func:`rfm_summary`
    Spark SQL only (no Python workers). One pass validates the log (the checks
    and messages of :func:`clvmodels.data.transactions.validate_transactions`),
    one shuffle by customer merges same-day transactions and builds one row per
    customer with the semantics of :func:`clvmodels.rfm_summary`: day
    granularity, ``frequency`` = repeat transaction days, ``recency`` and ``T``
    = whole-day differences divided by the unit's length in days (the same
    float64 division as pandas, so the values are *equal*, not close),
    ``monetary_value`` = mean value of the repeat days, holdout columns. The
    summary is cached; its time unit, cutoffs and counts travel in the
    columns' metadata (:func:`summary_attrs`), also through Parquet files.
:func:`aggregate_unique_rows`, :func:`fit`
    A ``groupBy`` in the cluster reduces the summary to its unique data rows
    with a customer count; only those rows reach the driver, where the model's
    own ``fit(rows, weights=...)`` runs the shared machinery of
    :mod:`clvmodels.models._fit`. Fitting unique rows with counts is the same
    computation as fitting every customer (the machinery compresses to the
    same sorted rows and weights), so the parameters equal the pandas path's.
:func:`score`
    ``mapInPandas``: each task rebuilds the fitted models from their JSON
    description (broadcast; no pickled estimator) and scores its customers with
    the same calls as ``clvmodels score``: expected purchases over the horizon,
    P(alive), expected spend and discounted CLV.

The bound on the driver's memory
--------------------------------
The purchase models (BG/NBD, Pareto/NBD, MBG/NBD) read ``(frequency, recency,
T)``, all whole numbers of days. With a calibration window of ``D`` days (first
transaction to ``calibration_end``), ``T`` takes at most ``D + 1`` values; for a
given ``T`` (in days) ``recency`` is 0 or ``1..T`` days, and a customer with
recency ``r`` days has ``frequency`` in ``1..r`` (repeat purchases fall on
distinct days), so the number of possible unique rows is::

    N(D) = sum_{t=0..D} (1 + t (t + 1) / 2) = (D + 1) + D (D + 1) (D + 2) / 6

whatever the number of customers: ``N(365) = 8.2 million``, ``N(730) = 65
million``. The time unit does not change it (a unit only rescales the same
day counts). Each row is held on the driver as three float64 columns and an
int64 count, 32 bytes (``8.2M`` rows = 260 MB), and the fit's working copies are
a few times that. Real logs fill a small corner of that space, since most
customers buy a few times: the 10M-transaction benchmark (3.6M customers, 545
days) has 378,773 rows of the possible 27 million. So a billion customers fit on a
driver that holds ``N(D)`` rows, and the cost of the fit is bounded by the
window, whatever the customer count. :data:`DEFAULT_MAX_DRIVER_ROWS` guards the
collect: more rows than that raise a clear error instead of exhausting the driver.

The Gamma-Gamma spend model reads ``(frequency, monetary_value)``, and a mean
transaction value is a continuous quantity: its unique rows are bounded by the
number of repeat customers, not by the window: the benchmark's 1,802,826 repeat
customers give as many rows (24 bytes each, 43 MB). Its likelihood has no exact
compression (``log(gamma + m x)`` couples the two columns). Beyond the guard, fit the spend
model on a sample of customers (``summary.sample(fraction, seed=...)``); that
is a choice with a sampling error, so it is never made silently.

Dates and time zones
--------------------
Date, timestamp, ISO string and ``YYYYMMDD`` (string or integer) columns are
accepted, as in :func:`clvmodels.rfm_summary`. A timestamp is floored to its
calendar day in the session time zone (``spark.sql.session.timeZone``), which is
the wall-clock day for timestamps made from naive pandas datetimes and for
``TIMESTAMP_NTZ`` columns. A string with a UTC offset is placed in the session
time zone, where pandas converts it to UTC: set the session time zone to UTC to
get identical days for such strings.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

try:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "clvmodels.spark needs pyspark; install it with pip install 'clvmodels[spark]'."
    ) from exc

from clvmodels.bundle import ModelBundle
from clvmodels.data.summary import MONETARY_CHOICES, time_unit_days, warn_left_out
from clvmodels.data.transactions import REFUND_POLICIES, to_timestamp
from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    UnitMismatchError,
)

__all__ = [
    "DEFAULT_MAX_DRIVER_ROWS",
    "aggregate_unique_rows",
    "fit",
    "fit_model",
    "read_transactions",
    "rfm_summary",
    "score",
    "summary_attrs",
    "to_pandas_summary",
    "unique_row_bound",
]

#: Most unique rows :func:`aggregate_unique_rows` brings to the driver (32 bytes each).
DEFAULT_MAX_DRIVER_ROWS = 20_000_000

#: Key of the column metadata holding the summary's facts (time unit, cutoffs, counts).
METADATA_KEY = "clvmodels"

_SHOWN = 5  # offending rows shown in an error message
_PURCHASE_COLUMNS = ("frequency", "recency", "T")
_SPEND_COLUMNS = ("frequency", "monetary_value")


def unique_row_bound(window_days: int) -> int:
    """Most distinct ``(frequency, recency, T)`` rows a summary can have.

    ``N(D) = (D + 1) + D (D + 1) (D + 2) / 6`` for a calibration window of ``D``
    days (from the first transaction to ``calibration_end``), whatever the
    number of customers and the time unit (see the module notes).

    Examples
    --------
    >>> unique_row_bound(0), unique_row_bound(1), unique_row_bound(2)
    (1, 3, 7)
    >>> f"{unique_row_bound(365):,}"
    '8,171,621'
    """
    d = int(window_days)
    if d < 0:
        raise InvalidParameterError(f"window_days must be >= 0, got {window_days!r}.")
    return (d + 1) + d * (d + 1) * (d + 2) // 6


# --------------------------------------------------------------------------- reading
def read_transactions(spark, path: str, columns: Sequence[str] | None = None,
                      format: str | None = None) -> DataFrame:
    """Read a transaction log into a Spark DataFrame.

    Parameters
    ----------
    spark : SparkSession
    path : str
        A Parquet or CSV file or directory (anything Spark reads).
    columns : sequence of str, optional
        Keep only these columns; a missing one raises
        :class:`~clvmodels.errors.InvalidTransactionsError` listing the columns
        the data has.
    format : {"parquet", "csv"}, optional
        Default: from the extension (``.csv``, ``.csv.gz``, ``.tsv`` are CSV,
        anything else Parquet). CSV is read with a header and every column as
        text, like :func:`clvmodels.data.transactions.read_transactions`: ids keep
        their leading zeros and the summary parses dates and amounts with clear
        errors.
    """
    text = str(path)
    if format is None:
        lower = text.lower().rstrip("/")
        format = "csv" if any(s in lower for s in (".csv", ".tsv", ".txt")) else "parquet"
    if format == "csv":
        sep = "\t" if ".tsv" in text.lower() else ","
        sdf = spark.read.csv(text, header=True, inferSchema=False, sep=sep)
    elif format == "parquet":
        sdf = spark.read.parquet(text)
    else:
        raise InvalidTransactionsError(f"format={format!r} is not 'parquet' or 'csv'.")
    if columns is not None:
        missing = [c for c in columns if c not in sdf.columns]
        if missing:
            raise InvalidTransactionsError(
                f"column(s) {missing} not found in {text!r}; it has columns {sdf.columns}. "
                "Name the right columns with the customer_id=, date=, amount= arguments."
            )
        sdf = sdf.select(*columns)
    return sdf


# --------------------------------------------------------------------------- validation
def _is_float(dtype) -> bool:
    return isinstance(dtype, (T.FloatType, T.DoubleType))


def _missing(column: str, dtype) -> Column:
    c = F.col(column)
    return (c.isNull() | F.isnan(c)) if _is_float(dtype) else c.isNull()


def _day_number(column: str, dtype) -> Column:
    """Days since 1970-01-01 (null where the value is missing or not a date)."""
    c = F.col(column)
    if isinstance(dtype, T.DateType):
        return F.unix_date(c)
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType)):
        return F.unix_date(F.to_date(c))
    compact = F.lit("yyyyMMdd")
    if isinstance(dtype, (T.IntegerType, T.LongType, T.ShortType)):
        return F.unix_date(F.to_date(F.try_to_timestamp(c.cast("string"), compact)))
    if isinstance(dtype, T.StringType):
        text = F.trim(c)
        parsed = F.coalesce(
            F.try_to_timestamp(text),
            F.when(text.rlike(r"^\d{8}$"), F.try_to_timestamp(text, compact)),
        )
        return F.unix_date(F.to_date(parsed))
    raise InvalidTransactionsError(
        f"column {column!r} has Spark type {dtype.simpleString()}, which is not a date; use a "
        "date, timestamp, ISO date string (YYYY-MM-DD) or YYYYMMDD column."
    )


def _amount_number(column: str, dtype) -> Column:
    c = F.col(column)
    if isinstance(dtype, T.StringType):
        return F.trim(c).try_cast("double")
    if isinstance(dtype, T.NumericType):
        return c.cast("double")
    raise InvalidTransactionsError(
        f"column {column!r} has Spark type {dtype.simpleString()}, which is not a number; "
        "amounts must be plain numbers."
    )


def _show_value(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return repr(value)


def _example_rows(sdf: DataFrame, condition: Column, columns: list[str]) -> str:
    rows = sdf.filter(condition).select(*columns).limit(_SHOWN).collect()
    shown = []
    for row in rows:
        shown.append("(" + ", ".join(f"{c}={_show_value(row[c])}" for c in columns) + ")")
    return "; ".join(shown)


def _problem(column: str, n: int, what: str, examples: str, fix: str) -> str:
    if n == 1:
        what = what.replace("are ", "is ", 1).replace("have ", "has ", 1)
    plural = "row" if n == 1 else "rows"
    return f"column {column!r}: {n} {plural} {what}, for example {examples}. {fix}"


def _read_with_active_session(path, customer_id, date, amount) -> DataFrame:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise InvalidTransactionsError(
            f"no active Spark session to read {os.fspath(path)!r}; start one, or read the log "
            "with clvmodels.spark.read_transactions(spark, path)."
        )
    columns = [customer_id, date] + ([amount] if amount is not None else [])
    return read_transactions(spark, os.fspath(path), columns=columns)


def _validate(sdf: DataFrame, customer_id: str, date: str, amount: str | None, refunds: str,
              cal: pd.Timestamp | None, obs: pd.Timestamp | None):
    """One pass over the log: every check of validate_transactions, and the day range.

    Returns ``(day_expr, amount_expr, facts)``; raises InvalidTransactionsError
    listing every problem (column, count, a few offending rows, fix).
    """
    if not isinstance(sdf, DataFrame):
        hint = (" For a pandas DataFrame use clvmodels.rfm_summary, or convert it with "
                "spark.createDataFrame(df).") if isinstance(sdf, pd.DataFrame) else ""
        raise InvalidTransactionsError(
            f"transactions must be a Spark DataFrame, got {type(sdf).__name__}.{hint}"
        )
    if refunds not in REFUND_POLICIES:
        raise InvalidTransactionsError(f"refunds={refunds!r} is not one of {REFUND_POLICIES}.")
    if cal is not None and obs is not None and cal > obs:
        raise InvalidTransactionsError(
            f"calibration_end ({cal.date()}) is after observation_end ({obs.date()}); "
            "the calibration period must end on or before the end of observation."
        )
    needed = [customer_id, date] + ([amount] if amount is not None else [])
    missing = [c for c in needed if c not in sdf.columns]
    if missing:
        raise InvalidTransactionsError(
            f"column(s) {missing} not found in the transactions; they have columns "
            f"{sdf.columns}. Pass the right names as customer_id=, date=, amount=."
        )
    types = {f.name: f.dataType for f in sdf.schema.fields}
    day = _day_number(date, types[date])
    value = _amount_number(amount, types[amount]) if amount is not None else None

    # (name, condition, column, what, fix); the fix texts are validate_transactions'
    checks = [
        ("id_missing", _missing(customer_id, types[customer_id]), customer_id,
         "have no customer id",
         "Every transaction needs a customer id; fill or remove these rows."),
        ("date_missing", F.col(date).isNull(), date, "have no date",
         "Every transaction needs a date; fill or remove these rows."),
        ("date_unparsable", F.col(date).isNotNull() & day.isNull(), date, "are not dates",
         "Use ISO dates (YYYY-MM-DD) or YYYYMMDD."),
    ]
    if obs is not None:
        checks.append((
            "date_late", day > F.lit(_day(obs)), date,
            f"are dated after observation_end ({obs.date()})",
            "Move observation_end to the last date of the log, or remove the later "
            "transactions before calling."))
    if value is not None:
        raw = F.col(amount)
        checks += [
            ("amount_missing", _missing(amount, types[amount]), amount, "have no amount",
             "Fill the amounts (0 for a free transaction) or remove these rows."),
            # text that Spark reads as NaN ("NaN") is no number either
            ("amount_not_number", raw.isNotNull() & (
                (value.isNull() | F.isnan(value)) if isinstance(types[amount], T.StringType)
                else value.isNull()), amount,
             "are not numbers",
             "Amounts must be plain numbers (no currency symbols or thousands separators)."),
            ("amount_infinite", value.isin(float("inf"), float("-inf")), amount,
             "are infinite", "Amounts must be finite numbers."),
            ("amount_negative", value < 0, amount, "are negative",
             "If these are refunds, pass refunds='net' to net them into the same day's "
             "total; otherwise correct them."),
        ]
    aggs = [F.count(F.lit(1)).alias("n_rows"), F.min(day).alias("day_min"),
            F.max(day).alias("day_max")]
    aggs += [F.sum(F.when(cond, 1).otherwise(0)).alias(name) for name, cond, *_ in checks]
    facts = sdf.agg(*aggs).collect()[0].asDict()
    if facts["n_rows"] == 0:
        raise InvalidTransactionsError(
            "the transaction log is empty (0 rows); there is nothing to summarise."
        )
    problems, notes = [], []
    for name, cond, column, what, fix in checks:
        n = int(facts[name] or 0)
        if not n:
            continue
        if name == "amount_negative" and refunds == "net":
            notes.append(f"{n} negative amounts netted into their customer-day totals "
                         "(refunds='net').")
            continue
        problems.append(_problem(column, n, what, _example_rows(sdf, cond, needed), fix))
    if problems:
        head = (f"the transaction log has {len(problems)} problem"
                f"{'s' if len(problems) > 1 else ''} (a Spark DataFrame has no row positions, "
                "so offending rows are shown by their values):")
        raise InvalidTransactionsError(head + "\n  - " + "\n  - ".join(problems),
                                       problems=problems)
    return day, value, facts, notes


def _day(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


def _date_of(day: int) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(int(day), "D"))


# --------------------------------------------------------------------------- summary
def rfm_summary(
    transactions: DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = None,
    *,
    calibration_end=None,
    observation_end=None,
    time_unit: str = "W",
    monetary: str = "repeat",
    refunds: str = "error",
    cache: bool = True,
) -> DataFrame:
    """One row per customer of a Spark transaction log, as :func:`clvmodels.rfm_summary` gives.

    Parameters
    ----------
    transactions : pyspark.sql.DataFrame or path
        One row per transaction (several rows per customer and day are allowed),
        or a Parquet/CSV path read with the active session (:func:`read_transactions`).
    customer_id, date, amount : str
        Column names; ``amount`` is optional (no monetary columns without it).
    calibration_end, observation_end : date-like, optional
        As in :func:`clvmodels.rfm_summary`: the last calibration day (default:
        the last transaction date) and the last holdout day (adds holdout columns;
        a later transaction is an error).
    time_unit : {"D", "W", "M", "Y"}
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    monetary : {"repeat", "all"}
        Mean value of the repeat days (default) or of all calibration days.
    refunds : {"error", "net"}
        Negative amounts are an error unless ``"net"``.
    cache : bool, default True
        Cache the summary (fit and score read it again); ``summary.unpersist()``
        frees it.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns: the customer id, ``frequency`` (long), ``recency``, ``T``,
        [``monetary_value``], and with ``observation_end``
        ``frequency_holdout`` (long), [``monetary_value_holdout``],
        ``duration_holdout`` (doubles). Rows are in no particular order. Each
        column's metadata holds what ``rfm_summary(...).attrs`` holds (read it
        with :func:`summary_attrs`).

    Raises
    ------
    InvalidTransactionsError
        Listing every problem of the log: missing columns, missing ids or dates,
        unparsable dates, dates after ``observation_end``, missing, non-numeric,
        infinite or (unless ``refunds="net"``) negative amounts, each with its count
        and a few offending rows.

    Warns
    -----
    ExcludedCustomersWarning
        Customers whose first purchase is after ``calibration_end``, and
        transaction days after it when there is no ``observation_end`` (counted,
        as by :func:`clvmodels.rfm_summary`).

    Notes
    -----
    Two Spark jobs run before this returns: the validation pass over the log
    and the counts of the summary (which also fills the cache). Merged day totals are
    sums of float64 amounts in Spark's order, so ``monetary_value`` can differ
    from pandas' in the last bits (1e-15 relative); the other columns are equal.
    """
    unit_days = time_unit_days(time_unit)
    time_unit = str(time_unit).upper()
    if monetary not in MONETARY_CHOICES:
        raise InvalidTransactionsError(f"monetary={monetary!r} is not one of {MONETARY_CHOICES}.")
    if isinstance(transactions, (str, os.PathLike)):
        transactions = _read_with_active_session(transactions, customer_id, date, amount)
    cal = to_timestamp(calibration_end, "calibration_end")
    obs = to_timestamp(observation_end, "observation_end")
    day, value, facts, notes = _validate(transactions, customer_id, date, amount, refunds,
                                         cal, obs)
    dmin, dmax = int(facts["day_min"]), int(facts["day_max"])
    cal_day = _day(cal) if cal is not None else dmax
    cal = _date_of(cal_day) if cal is None else cal
    obs_day = _day(obs) if obs is not None else None

    cols = [F.col(customer_id).alias("_c"), day.alias("_d")]
    if value is not None:
        cols.append(value.alias("_v"))
    # one shuffle by customer serves both aggregations (customer-day, then customer)
    base = transactions.select(*cols).repartition("_c")
    if value is not None:
        days = base.groupBy("_c", "_d").agg(F.sum("_v").alias("_v"))
    else:
        days = base.select("_c", "_d").distinct()
    d = F.col("_d")
    in_cal = d <= F.lit(cal_day)
    aggs = [
        F.min(d).alias("_first"),
        F.count(F.lit(1)).alias("_n_days"),
        F.sum(F.when(in_cal, 1).otherwise(0)).alias("_n_cal"),
        F.max(F.when(in_cal, d)).alias("_last_cal"),
    ]
    if value is not None:
        aggs += [F.sum(F.when(in_cal, F.col("_v")).otherwise(0.0)).alias("_cal_sum"),
                 F.min_by("_v", "_d").alias("_first_value")]
    if obs_day is not None:
        in_hold = (d > F.lit(cal_day)) & (d <= F.lit(obs_day))
        aggs.append(F.sum(F.when(in_hold, 1).otherwise(0)).alias("_f_hold"))
        if value is not None:
            aggs.append(F.sum(F.when(in_hold, F.col("_v")).otherwise(0.0)).alias("_h_sum"))
    per = days.groupBy("_c").agg(*aggs)

    frequency = F.col("_n_cal") - F.lit(1)
    out = {
        "frequency": frequency.cast("long"),
        # whole days, then one float64 division: the same operation as numpy's
        "recency": (F.col("_last_cal") - F.col("_first")).cast("double") / F.lit(unit_days),
        "T": (F.lit(cal_day) - F.col("_first")).cast("double") / F.lit(unit_days),
    }
    if value is not None:
        if monetary == "repeat":
            num, den = F.col("_cal_sum") - F.col("_first_value"), frequency
        else:
            num, den = F.col("_cal_sum"), F.col("_n_cal")
        out["monetary_value"] = F.when(den > 0, num / den.cast("double")).otherwise(F.lit(0.0))
    if obs_day is not None:
        f_hold = F.col("_f_hold")
        out["frequency_holdout"] = f_hold.cast("long")
        if value is not None:
            out["monetary_value_holdout"] = F.when(
                f_hold > 0, F.col("_h_sum") / f_hold.cast("double")).otherwise(F.lit(0.0))
        out["duration_holdout"] = F.lit((obs_day - cal_day) / unit_days)
    full = per.select(F.col("_c").alias(customer_id), "_n_cal", "_n_days",
                      *[c.alias(name) for name, c in out.items()])
    if cache:
        full = full.cache()
    counts = full.agg(
        F.count(F.lit(1)).alias("n_all"),
        F.sum(F.when(F.col("_n_cal") == 0, 1).otherwise(0)).alias("n_excluded"),
        F.sum(F.col("_n_days") - F.col("_n_cal")).alias("n_after"),
        F.sum("_n_days").alias("n_customer_days"),
    ).collect()[0]
    n_excluded = int(counts["n_excluded"] or 0)
    n_after = 0 if obs_day is not None else int(counts["n_after"] or 0)
    warn_left_out(n_excluded, n_after, cal, "summary_attrs(summary)['n_excluded_customers']")
    attrs = {
        "time_unit": time_unit,
        "time_unit_days": unit_days,
        "calibration_end": cal.date().isoformat(),
        "observation_end": None if obs is None else obs.date().isoformat(),
        "first_transaction": _date_of(dmin).date().isoformat(),
        "monetary": monetary if value is not None else None,
        "n_rows": int(facts["n_rows"]),
        "n_customer_days": int(counts["n_customer_days"] or 0),
        "n_excluded_customers": n_excluded,
        "n_transactions_after_calibration": n_after,
        "notes": notes,
        "customer_id": customer_id,
        "date": date,
        "amount": amount,
        "refunds": refunds,
        "n_customers": int(counts["n_all"] or 0) - n_excluded,
    }
    summary = full.filter(F.col("_n_cal") > 0)
    return _with_attrs(summary, [customer_id, *out], attrs)


def _with_attrs(sdf: DataFrame, columns: Iterable[str], attrs: dict) -> DataFrame:
    meta = {METADATA_KEY: json.dumps(attrs)}
    return sdf.select(*[F.col(c).alias(c, metadata=meta) for c in columns])


def summary_attrs(summary: DataFrame) -> dict:
    """The facts :func:`rfm_summary` recorded in the columns' metadata (``{}`` if none).

    The keys of ``clvmodels.rfm_summary(...).attrs`` (``time_unit``,
    ``calibration_end``, ``observation_end`` and ``first_transaction`` as
    Timestamps, ``n_excluded_customers``, ...) plus the column names of the
    log (``customer_id``, ``date``, ``amount``), ``refunds`` and ``n_customers``.
    """
    for field in summary.schema.fields:
        text = (field.metadata or {}).get(METADATA_KEY)
        if text:
            attrs = json.loads(text)
            for key in ("calibration_end", "observation_end", "first_transaction"):
                if attrs.get(key) is not None:
                    attrs[key] = pd.Timestamp(attrs[key])
            return attrs
    return {}


def _pandas_attrs(attrs: dict) -> dict:
    keys = ("time_unit", "time_unit_days", "calibration_end", "observation_end",
            "first_transaction", "monetary", "n_rows", "n_customer_days",
            "n_excluded_customers", "n_transactions_after_calibration", "notes")
    return {k: attrs[k] for k in keys if k in attrs}


def _to_pandas(sdf: DataFrame) -> pd.DataFrame:
    if hasattr(sdf, "toArrow"):  # pyspark >= 4.0: no Row objects, whatever the session's conf
        return sdf.toArrow().to_pandas()
    return sdf.toPandas()  # pragma: no cover - pyspark 3.5


def to_pandas_summary(summary: DataFrame, customer_id: str | None = None) -> pd.DataFrame:
    """Collect a (small) Spark summary as the pandas summary :func:`clvmodels.rfm_summary` returns.

    Indexed by customer id (sorted), with the same columns and ``attrs``.
    """
    attrs = summary_attrs(summary)
    customer_id = customer_id or attrs.get("customer_id") or "customer_id"
    if customer_id not in summary.columns:
        raise InvalidSummaryError(
            f"the summary has no customer id column {customer_id!r} (it has "
            f"{summary.columns}); pass customer_id=."
        )
    frame = _to_pandas(summary).set_index(customer_id).sort_index()
    frame.attrs = _pandas_attrs(attrs)
    return frame


# --------------------------------------------------------------------------- fitting
def aggregate_unique_rows(
    summary: DataFrame,
    columns: Sequence[str] = _PURCHASE_COLUMNS,
    *,
    count_column: str = "n_customers",
    max_rows: int = DEFAULT_MAX_DRIVER_ROWS,
) -> pd.DataFrame:
    """The unique rows of ``columns`` with the number of customers of each, on the driver.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        A customer summary (e.g. from :func:`rfm_summary`).
    columns : sequence of str
        The data columns of a model (``model._data_columns``).
    count_column : str
        Name of the count column.
    max_rows : int
        Refuse to collect more unique rows than this (see the module notes for
        the bound on ``(frequency, recency, T)``).

    Returns
    -------
    pandas.DataFrame
        The unique rows sorted by ``columns`` and ``count_column`` (int64);
        ``attrs`` as the pandas summary's. Fit a model on it with
        ``Model().fit(rows, weights=count_column)``.
    """
    columns = list(columns)
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise InvalidSummaryError(
            f"the summary is missing column(s) {missing} (it has {summary.columns}); build it "
            "with clvmodels.spark.rfm_summary (with amount= for monetary_value)."
        )
    if count_column in columns:
        raise InvalidParameterError(f"count_column={count_column!r} is one of the data columns.")
    limit = int(max_rows)
    attrs = summary_attrs(summary)
    grouped = summary.groupBy(*columns).agg(F.count(F.lit(1)).alias(count_column))
    if _row_bound(attrs, columns) <= limit:
        rows = _to_pandas(grouped)  # cannot exceed the limit: no LIMIT (it costs a few jobs)
    else:
        rows = _to_pandas(grouped.limit(limit + 1))
    if len(rows) > limit:
        raise InvalidSummaryError(
            f"the summary has more than max_rows={limit:,} unique {tuple(columns)} rows; "
            "collecting them could exhaust the driver's memory. Raise max_rows if the driver "
            "has room (32 bytes a row for three columns and a count), or fit on a sample of "
            "customers (summary.sample(fraction, seed=...))."
        )
    rows = rows.sort_values(columns, kind="stable", ignore_index=True)
    rows[count_column] = rows[count_column].astype(np.int64)
    rows.attrs = _pandas_attrs(attrs)
    return rows


def _row_bound(attrs: dict, columns: Sequence[str]) -> float:
    """Most unique rows the summary can have: its customer count, and N(D) for the histories."""
    bound = float(attrs["n_customers"]) if "n_customers" in attrs else math.inf
    start, end = attrs.get("first_transaction"), attrs.get("calibration_end")
    if set(columns) <= set(_PURCHASE_COLUMNS) and start is not None and end is not None:
        bound = min(bound, float(unique_row_bound(max(0, (end - start).days))))
    return bound


def _is_spend_model(model) -> bool:
    return tuple(getattr(model, "_data_columns", ())) == _SPEND_COLUMNS


def fit_model(summary: DataFrame, model, *, max_rows: int = DEFAULT_MAX_DRIVER_ROWS,
              time_unit: str | None = None):
    """Fit one model on a Spark summary: unique rows in the cluster, the fit on the driver.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        A customer summary from :func:`rfm_summary`.
    model : BaseModel
        An unfitted model with its hyperparameters, e.g. ``BGNBD()`` or
        ``GammaGamma()``; it is fitted in place and returned (scikit-learn's
        ``fit`` convention).
    max_rows : int
        See :func:`aggregate_unique_rows`.
    time_unit : str, optional
        The summary's time unit when its metadata has none (a summary not built
        by :func:`rfm_summary`); it must agree with the metadata otherwise.

    Returns
    -------
    model
        Fitted; the same parameters, log-likelihood, covariance and
        ``n_customers_`` as ``model.fit(pandas_summary)``. For a spend model
        (Gamma-Gamma) the customers without a repeat transaction of positive
        value are counted in the cluster and left out as with ``drop_invalid``
        (an :class:`~clvmodels.errors.ExcludedCustomersWarning` gives the
        count); with ``drop_invalid=False`` they are an error, as in pandas.
    """
    return _fit_one(summary, model, max_rows, _summary_unit(summary, time_unit), stacklevel=3)


def _fit_one(summary: DataFrame, model, max_rows: int, unit: str, stacklevel: int):
    columns = list(model._data_columns)
    rows = aggregate_unique_rows(summary, columns, count_column="_n", max_rows=max_rows)
    rows.attrs["time_unit"] = unit
    if not _is_spend_model(model):
        return model.fit(rows, weights="_n")
    x, m, n = rows["frequency"], rows["monetary_value"], rows["_n"]
    invalid = ((x <= 0) | (m <= 0)).to_numpy()
    n_invalid, n_total = int(n[invalid].sum()), int(n.sum())
    if n_invalid and not getattr(model, "drop_invalid", True):
        raise InvalidSummaryError(
            f"The Gamma-Gamma model is fitted on customers with at least one repeat "
            f"transaction of positive value, but {n_invalid} of {n_total} customers have "
            f"frequency == 0 or monetary_value <= 0. Fit on summary.filter('frequency > 0 AND "
            f"monetary_value > 0'), or pass drop_invalid=True to leave them out with a warning."
        )
    if n_invalid == n_total:
        raise InvalidSummaryError(
            f"All {n_total} customers have frequency == 0 or monetary_value <= 0: no customer "
            f"with a repeat transaction to fit the Gamma-Gamma model on."
        )
    valid = rows.loc[~invalid].reset_index(drop=True)
    valid.attrs = dict(rows.attrs)
    model.fit(valid, weights="_n")
    model.n_excluded_customers_ = n_invalid
    if hasattr(model, "fit_result_"):
        model.fit_result_.extra["n_excluded_customers"] = n_invalid
    if n_invalid:
        warnings.warn(
            f"{type(model).__name__} fit left out {n_invalid} of {n_total} customers with "
            f"frequency == 0 or monetary_value <= 0 (no repeat transaction of positive value to "
            f"average); fitted on the other {n_total - n_invalid}.",
            ExcludedCustomersWarning,
            stacklevel=stacklevel,
        )
    return model


def fit(summary: DataFrame, purchase_model=None, spend_model="auto", *,
        max_rows: int = DEFAULT_MAX_DRIVER_ROWS, time_unit: str | None = None) -> ModelBundle:
    """Fit a purchase model and a spend model on a Spark summary, as ``clvmodels fit`` does.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        From :func:`rfm_summary`.
    purchase_model : BaseModel, optional
        Unfitted purchase model (default ``BGNBD()``); ``ParetoNBD()`` and
        ``MBGNBD()`` work the same way.
    spend_model : BaseModel, None or "auto"
        ``"auto"`` (default): ``GammaGamma(drop_invalid=True)`` when the summary has
        ``monetary_value``, else None.
    max_rows : int
        Most unique rows brought to the driver per model (:func:`aggregate_unique_rows`).
    time_unit : str, optional
        For a summary without clvmodels metadata.

    Returns
    -------
    ModelBundle
        The fitted models with the summary's unit, cutoffs and counts: ``bundle.save(path)``
        writes the file ``clvmodels score`` reads, and :func:`score` takes it.

    Examples
    --------
    >>> bundle = fit(summary)                                  # doctest: +SKIP
    >>> bundle.purchase_model.params_                          # doctest: +SKIP
    """
    from clvmodels.models.bgnbd import BGNBD
    from clvmodels.models.gamma_gamma import GammaGamma

    attrs = summary_attrs(summary)
    unit = _summary_unit(summary, time_unit)
    calibration_end = attrs.get("calibration_end")
    if calibration_end is None:
        raise InvalidSummaryError(
            "the summary records no calibration_end (it was not built by "
            "clvmodels.spark.rfm_summary); a model bundle needs it. Build the summary with "
            "clvmodels.spark.rfm_summary, or fit with fit_model(summary, model) instead."
        )
    purchase = BGNBD() if purchase_model is None else purchase_model
    if isinstance(spend_model, str):
        if spend_model != "auto":
            raise InvalidParameterError(
                f"spend_model must be a model, None or 'auto', got {spend_model!r}.")
        spend_model = GammaGamma(drop_invalid=True) if "monetary_value" in summary.columns \
            else None
    _fit_one(summary, purchase, max_rows, unit, stacklevel=3)
    if spend_model is not None:
        _fit_one(summary, spend_model, max_rows, unit, stacklevel=3)
    data = {
        "engine": "spark",
        "customer_id": attrs.get("customer_id"), "date": attrs.get("date"),
        "amount": attrs.get("amount"), "monetary": attrs.get("monetary"),
        "refunds": attrs.get("refunds"),
        "n_customers": int(purchase.n_customers_), "n_rows": int(attrs.get("n_rows", 0)),
        "n_excluded_customers": int(attrs.get("n_excluded_customers", 0)),
    }
    return ModelBundle(purchase, spend_model, time_unit=unit, calibration_end=calibration_end,
                       first_transaction=attrs.get("first_transaction"),
                       observation_end=attrs.get("observation_end"), data=data)


def _summary_unit(summary: DataFrame, time_unit: str | None) -> str:
    recorded = summary_attrs(summary).get("time_unit")
    given = None if time_unit is None else str(time_unit).upper()
    if given is not None:
        time_unit_days(given)  # a clear error for an unknown unit
    if recorded is not None and given is not None and recorded != given:
        raise UnitMismatchError(
            f"time_unit={time_unit!r} differs from the summary's unit {recorded!r} (recorded by "
            "rfm_summary); drop time_unit= or rebuild the summary in that unit."
        )
    unit = recorded or given
    if unit is None:
        raise InvalidSummaryError(
            "the summary records no time unit (it was not built by clvmodels.spark.rfm_summary);"
            " pass time_unit= ('D', 'W', 'M' or 'Y')."
        )
    return unit


# --------------------------------------------------------------------------- scoring
def _score_frame(pdf: pd.DataFrame, purchase, spend, customer_id: str, unit: str,
                 settings: dict) -> pd.DataFrame:
    """Scores of one pandas batch of summary rows: the computation of ``clvmodels score``."""
    from clvmodels.bundle import score_frame

    frame = pdf.set_index(customer_id)
    frame.attrs = {"time_unit": unit}
    scores = score_frame(purchase, spend, frame, **settings)
    scores.insert(0, customer_id, pdf[customer_id].to_numpy())
    return scores.reset_index(drop=True)


def _rechunk(batches: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Concatenate Arrow batches (10,000 rows by default) into chunks of ``rows``."""
    buffer, size = [], 0
    for batch in batches:
        buffer.append(batch)
        size += len(batch)
        if size >= rows:
            yield pd.concat(buffer, ignore_index=True)
            buffer, size = [], 0
    if buffer:
        yield pd.concat(buffer, ignore_index=True)


def _check_number(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number; got {value!r}.")
    v = float(value)
    if not math.isfinite(v) or v < minimum or (strict and v == minimum):
        sign = ">" if strict else ">="
        raise InvalidParameterError(f"{name} must be finite and {sign} {minimum:g}; got {value!r}.")
    return v


def score(
    summary: DataFrame,
    model,
    spend_model=None,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    periods_per_step: float = 1.0,
    customer_id: str | None = None,
    rows_per_batch: int = 200_000,
) -> DataFrame:
    """Score every customer of a Spark summary in the cluster (``mapInPandas``).

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        From :func:`rfm_summary` (same time unit as the model).
    model : ModelBundle or fitted purchase model
        A bundle from :func:`fit` or :func:`clvmodels.bundle.load_bundle`
        (its spend model is used), or a fitted purchase model with
        ``spend_model`` given separately (or None: purchases and P(alive) only).
    spend_model : fitted GammaGamma, optional
        Only with a purchase model.
    horizon : float
        Length of the projection in the summary's time unit (e.g. 52 weeks).
    discount_rate : float, default 0
        Per time unit (see :func:`clvmodels.models.clv.convert_discount_rate`).
    margin, periods_per_step : float
        As in :func:`clvmodels.models.clv.customer_lifetime_value`.
    customer_id : str, optional
        The id column (default: the one recorded by :func:`rfm_summary`).
    rows_per_batch : int
        Customers scored per pandas call inside a task (bounds a task's memory).

    Returns
    -------
    pyspark.sql.DataFrame
        The customer id and ``expected_purchases`` (over the horizon,
        undiscounted), ``probability_alive``, and with a spend model
        ``expected_spend`` and ``clv``: the columns of ``clvmodels score``,
        equal to them. Lazy: nothing runs until it is written or collected.

    Notes
    -----
    The models travel to the executors as their JSON description (``to_dict``,
    a few kB, broadcast once) and are rebuilt there with
    :func:`clvmodels.bundle.bundle_from_dict`, so executors need clvmodels
    installed and no fitted object is pickled. Bad arguments (horizon, rate,
    margin, a unit mismatch) raise on the driver before any task starts: the
    scoring function runs once on the driver on a one-customer frame first.
    The scoring columns are shuffled once by ``(frequency, T)`` and sorted
    within partitions, so that customers sharing a purchase curve are scored in
    the same pandas call.
    """
    from clvmodels.bundle import bundle_from_dict

    if isinstance(model, ModelBundle):
        if spend_model is not None:
            raise InvalidParameterError(
                "give spend_model only with a purchase model; a ModelBundle brings its own.")
        bundle = model
    else:
        unit = getattr(model, "time_unit_", None)
        if unit is None:
            unit = summary_attrs(summary).get("time_unit")
        bundle = ModelBundle(model, spend_model, time_unit=unit,
                             calibration_end=summary_attrs(summary).get("calibration_end"))
    attrs = summary_attrs(summary)
    unit = attrs.get("time_unit")
    if unit is not None and bundle.time_unit is not None and unit != bundle.time_unit:
        raise UnitMismatchError(
            f"the summary is in time unit {unit!r} but the model in {bundle.time_unit!r}, so "
            f"its rates and times do not match; rebuild the summary with "
            f"time_unit={bundle.time_unit!r}."
        )
    unit = unit or bundle.time_unit
    if unit is None:
        raise InvalidSummaryError(
            "neither the summary nor the model records a time unit; build the summary with "
            "clvmodels.spark.rfm_summary.")
    customer_id = customer_id or attrs.get("customer_id") or "customer_id"
    purchase, spend = bundle.purchase_model, bundle.spend_model
    needed = [customer_id, *_PURCHASE_COLUMNS] + (["monetary_value"] if spend else [])
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise InvalidSummaryError(
            f"the summary lacks the column(s) {missing} needed to score (it has "
            f"{summary.columns}); build it with clvmodels.spark.rfm_summary"
            f"{' with amount=' if 'monetary_value' in missing else ''}, or pass customer_id=."
        )
    settings = {
        "horizon": _check_number(horizon, "horizon", strict=True),
        "discount_rate": _check_number(discount_rate, "discount_rate"),
        "margin": _check_number(margin, "margin"),
        "periods_per_step": _check_number(periods_per_step, "periods_per_step", strict=True),
    }
    rows_per_batch = int(_check_number(rows_per_batch, "rows_per_batch", 1.0))
    # every argument check of the scoring path, on the driver, before a task starts
    probe = pd.DataFrame({customer_id: [0], "frequency": [0], "recency": [0.0], "T": [1.0],
                          "monetary_value": [0.0]})
    _score_frame(probe, purchase, spend, customer_id, unit, settings)

    payload = json.dumps(bundle.to_dict(), allow_nan=False)
    shipped = _broadcast(summary, payload)
    id_field = summary.schema[customer_id]
    fields = [T.StructField(customer_id, id_field.dataType, id_field.nullable)]
    names = ["expected_purchases", "probability_alive"]
    if spend is not None:
        names += ["expected_spend", "clv"]
    fields += [T.StructField(n, T.DoubleType(), False) for n in names]
    schema = T.StructType(fields)

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        text = shipped.value if hasattr(shipped, "value") else shipped
        rebuilt = bundle_from_dict(json.loads(text), source="the broadcast model bundle")
        for chunk in _rechunk(batches, rows_per_batch):
            yield _score_frame(chunk, rebuilt.purchase_model, rebuilt.spend_model,
                               customer_id, unit, settings)

    # Customers sharing (frequency, T) go to one task, next to each other: the CLV's
    # purchase curve is computed once per distinct (frequency, T) in a call (see
    # customer_lifetime_value, method "factorized"), so spreading them over every task
    # would repeat that work in each (10x slower at 3.6M customers).
    ordered = (summary.select(*needed).repartition("frequency", "T")
               .sortWithinPartitions("frequency", "T"))
    return ordered.mapInPandas(score_partition, schema)


def _broadcast(summary: DataFrame, payload: str):
    """A broadcast variable holding ``payload`` (the JSON text itself under Spark Connect)."""
    try:
        context = summary.sparkSession.sparkContext
    except Exception:  # Spark Connect has no SparkContext
        return payload
    return context.broadcast(payload)
