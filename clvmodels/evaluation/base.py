"""The method protocol: what every predictor compared by :mod:`clvmodels.evaluation` implements.

A *method* is anything that, given the **calibration** summary of a set of
customers (and, if it needs them, their calibration transactions), predicts
for each customer the number of transactions and the revenue in a holdout
window of a given length. Formulas, probabilistic models, naive baselines and
machine-learning models are all compared through this one protocol.

The protocol (duck-typed; subclassing :class:`Method` is optional)
------------------------------------------------------------------
``name`` : str
    Short, unique label used in leaderboards and plots.
``display_name`` : str, optional
    The name people read in reports, printed leaderboards and plot legends
    ("BG/NBD + Gamma-Gamma"). Machine outputs (CSV columns, the result's
    ``method`` column) keep ``name``. Default (and without the attribute):
    the name the method is compared under.
``fitted_models`` : dict, optional
    After :meth:`fit`, the fitted model objects the method is made of, by
    role (``{"purchase": BGNBD(...), "spend": GammaGamma(...)}``); the
    harness keeps them in its fit records
    (``ComparisonResult.fits``). Default: empty.
``needs_transactions`` : bool, default False
    True when :meth:`fit` needs the calibration transaction log.
``fit(summary, transactions=None) -> self``
    Learn from the calibration period only. ``summary`` is indexed by
    customer id with the columns ``frequency``, ``recency``, ``T`` and
    ``monetary_value`` (see :func:`clvmodels.rfm_summary`) and the attrs
    ``time_unit`` and ``calibration_end``. ``transactions`` (only passed when
    ``needs_transactions`` is true) is the log with the columns
    ``customer_id``, ``date`` and ``amount``, restricted to dates up to and
    including ``summary.attrs["calibration_end"]``.
``predict(summary, horizon) -> DataFrame``
    Indexed like ``summary``, with the float columns ``transactions`` and
    ``revenue``: the expected number of transactions (transaction *days*, as
    in the summary's ``frequency``) and the expected revenue of each customer
    in the ``horizon`` time units (``summary.attrs["time_unit"]``) that follow
    ``summary.attrs["calibration_end"]``. Values are finite and >= 0.
``log_likelihood_holdout(summary, horizon, counts) -> array`` (optional)
    For probabilistic methods: the log-probability, per customer, that the
    customer makes exactly ``counts[i]`` transactions in the holdout window,
    given the calibration data. When present, the harness reports the summed
    holdout log-likelihood (:func:`clvmodels.evaluation.metrics.holdout_log_likelihood`).
    ``counts`` is a float array of whole numbers in the summary's row order.
    A method may instead provide ``probability_of_holdout_counts(summary,
    horizon, counts)`` returning the probabilities; they are logged for it.

**Holdout data is never passed to a method.** The harness strips the holdout
columns (:func:`calibration_only`) and truncates the log at
``calibration_end``. Methods defend themselves as well: the helpers
:func:`check_calibration_summary` and :func:`check_calibration_transactions`
raise a clear error when holdout columns, or transactions dated after
``calibration_end``, reach them.

Examples
--------
A user-defined method predicting that every customer repeats her calibration
mean spend once per ``horizon`` weeks (a toy), registered for the harness:

>>> import pandas as pd
>>> from clvmodels.evaluation import Method, register_method
>>> class OncePerHorizon(Method):
...     name = "once_per_horizon"
...     def fit(self, summary, transactions=None):
...         check_calibration_summary(summary, self.name)
...         return self
...     def predict(self, summary, horizon):
...         check_calibration_summary(summary, self.name)
...         n = pd.Series(1.0, index=summary.index)
...         return prediction_frame(summary, n, n * summary["monetary_value"])
>>> _ = register_method(OncePerHorizon)
>>> summary = pd.DataFrame({"frequency": [2, 0], "recency": [3.0, 0.0], "T": [5.0, 4.0],
...                         "monetary_value": [10.0, 0.0]}, index=pd.Index([7, 8], name="id"))
>>> summary.attrs = {"time_unit": "W", "calibration_end": pd.Timestamp("2024-01-31")}
>>> OncePerHorizon().fit(summary).predict(summary, 4.0)  # doctest: +NORMALIZE_WHITESPACE
    transactions  revenue
id
7            1.0     10.0
8            1.0      0.0
>>> from clvmodels.evaluation import unregister_method
>>> unregister_method("once_per_horizon")
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError, InvalidSummaryError, InvalidTransactionsError

__all__ = [
    "Method",
    "CALIBRATION_COLUMNS",
    "HOLDOUT_COLUMNS",
    "PREDICTION_COLUMNS",
    "calibration_only",
    "check_calibration_summary",
    "check_calibration_transactions",
    "check_horizon",
    "check_predictions",
    "prediction_frame",
]

#: Columns of a calibration summary a method may read.
CALIBRATION_COLUMNS = ("frequency", "recency", "T", "monetary_value")
#: Columns :func:`clvmodels.rfm_summary` adds for the holdout period; never shown to a method.
HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_value_holdout", "duration_holdout")
#: Columns of the frame ``predict`` returns.
PREDICTION_COLUMNS = ("transactions", "revenue")


class Method:
    """Optional base class of a method (the protocol is duck-typed; see the module docstring).

    It gives a readable ``repr`` (the class, its ``name`` and the public
    attributes set in ``__init__``) and default ``fit``/``predict`` that raise
    ``NotImplementedError``. Subclasses set ``name`` (class attribute or in
    ``__init__``) and ``needs_transactions``.
    """

    name: str = "method"
    needs_transactions: bool = False

    @property
    def display_name(self) -> str:
        """The name people read; by default :attr:`name`."""
        return self.name

    @property
    def fitted_models(self) -> dict:
        """The fitted model objects by role (none for a method without models)."""
        return {}

    def fit(self, summary: pd.DataFrame, transactions: pd.DataFrame | None = None) -> Method:
        raise NotImplementedError(
            f"{type(self).__name__} does not implement fit(summary, transactions=None)."
        )

    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        raise NotImplementedError(
            f"{type(self).__name__} does not implement predict(summary, horizon)."
        )

    def _repr_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and not k.endswith("_")
                and k != "name"}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._repr_params().items())
        return f"{type(self).__name__}({params}) [name={self.name!r}]"


def _where(method_name: str | None) -> str:
    return f"method {method_name!r}: " if method_name else ""


def check_calibration_summary(summary, method_name: str | None = None,
                              required=("frequency", "recency", "T")) -> pd.DataFrame:
    """Check that ``summary`` is a calibration summary a method may use; return it.

    Raises :class:`~clvmodels.errors.InvalidSummaryError` when it is not a
    DataFrame, lacks one of ``required``, lacks the ``time_unit`` or
    ``calibration_end`` attrs, or **carries holdout columns** (a method must
    never see holdout data: pass ``calibration_only(summary)``).
    """
    where = _where(method_name)
    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"{where}expected a customer summary DataFrame (clvmodels.rfm_summary), got "
            f"{type(summary).__name__}."
        )
    leaked = [c for c in summary.columns if c in HOLDOUT_COLUMNS or str(c).endswith("_holdout")]
    if leaked:
        raise InvalidSummaryError(
            f"{where}the summary passed to the method holds holdout columns {leaked}: a method "
            "may only see the calibration period. Pass "
            "clvmodels.evaluation.calibration_only(summary) instead."
        )
    missing = [c for c in required if c not in summary.columns]
    if missing:
        raise InvalidSummaryError(
            f"{where}the summary lacks the column(s) {missing} (columns: {list(summary.columns)}); "
            "build it with clvmodels.rfm_summary(log, amount='amount', calibration_end=...)."
        )
    missing_attrs = [a for a in ("time_unit", "calibration_end") if summary.attrs.get(a) is None]
    if missing_attrs:
        raise InvalidSummaryError(
            f"{where}summary.attrs lacks {missing_attrs}; clvmodels.rfm_summary sets them "
            "(set summary.attrs['time_unit'] = 'W' and summary.attrs['calibration_end'] = "
            "pd.Timestamp(...) on a hand-made summary)."
        )
    return summary


def calibration_only(summary: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``summary`` without its holdout columns: what a method may see.

    The columns in :data:`HOLDOUT_COLUMNS` (and any other column ending in
    ``_holdout``) are dropped and ``attrs["observation_end"]`` is set to None;
    the other attrs (``time_unit``, ``calibration_end``, ...) are kept.
    """
    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"expected a customer summary DataFrame, got {type(summary).__name__}."
        )
    drop = [c for c in summary.columns if c in HOLDOUT_COLUMNS or str(c).endswith("_holdout")]
    out = summary.drop(columns=drop)
    out.attrs = dict(summary.attrs)
    if "observation_end" in out.attrs:
        out.attrs["observation_end"] = None
    return out


def check_calibration_transactions(transactions, calibration_end, method_name: str | None = None,
                                   columns=("customer_id", "date", "amount")) -> pd.DataFrame:
    """Check a calibration log; raise if any transaction is dated after ``calibration_end``.

    Returns the log with ``date`` parsed to datetimes (a copy when it had to
    be converted). This is the guard against holdout leakage for methods that
    read transactions: a row dated after the cutoff raises
    :class:`~clvmodels.errors.InvalidTransactionsError` naming the rows.
    """
    where = _where(method_name)
    if transactions is None:
        raise InvalidTransactionsError(
            f"{where}this method needs the calibration transactions (needs_transactions = True); "
            "call fit(summary, transactions=log) with the log truncated at calibration_end."
        )
    if not isinstance(transactions, pd.DataFrame):
        raise InvalidTransactionsError(
            f"{where}transactions must be a DataFrame, got {type(transactions).__name__}."
        )
    missing = [c for c in columns if c not in transactions.columns]
    if missing:
        raise InvalidTransactionsError(
            f"{where}the transaction log lacks the column(s) {missing} "
            f"(columns: {list(transactions.columns)})."
        )
    date_col = columns[1]
    dates = transactions[date_col]
    if not pd.api.types.is_datetime64_dtype(dates):  # the reading layer's date policy
        from clvmodels.data.reading import parse_dates

        parsed = parse_dates(dates)[0]
        bad = parsed.isna().to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InvalidTransactionsError(
                f"{where}column {date_col!r} of the log does not parse as dates: "
                f"{int(bad.sum())} value(s), first at row {first} ({dates.iloc[first]!r}); "
                "use full ISO dates (YYYY-MM-DD) or YYYYMMDD.")
        dates = parsed
        transactions = transactions.assign(**{date_col: dates})
    cutoff = pd.Timestamp(calibration_end)
    # A transaction on calibration_end (any time of that day) belongs to calibration.
    after = (dates.dt.normalize() > cutoff.normalize()).to_numpy()
    if after.any():
        rows = np.flatnonzero(after)
        shown = ", ".join(f"{int(r)} ({dates.iloc[r].date()})" for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise InvalidTransactionsError(
            f"{where}{len(rows)} transaction(s) are dated after calibration_end "
            f"({cutoff.date()}): rows {shown}{more}. A method may only see the calibration "
            f"period (holdout leakage); pass log[log[{date_col!r}] <= calibration_end]."
        )
    return transactions


def check_horizon(horizon, method_name: str | None = None) -> float:
    """``horizon`` as a float; it must be finite and > 0."""
    try:
        value = float(horizon)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{_where(method_name)}horizon must be a number of time units, got {horizon!r}."
        ) from exc
    if not (np.isfinite(value) and value > 0):
        raise InvalidParameterError(
            f"{_where(method_name)}horizon must be finite and > 0 (time units after "
            f"calibration_end), got {horizon!r}."
        )
    return value


def prediction_frame(summary: pd.DataFrame, transactions, revenue) -> pd.DataFrame:
    """A ``predict`` result: columns ``transactions`` and ``revenue``, indexed like ``summary``."""
    def values(x):
        if isinstance(x, pd.Series):
            x = x.reindex(summary.index) if x.index.is_unique else x
        arr = np.asarray(x, dtype=float)
        return np.broadcast_to(arr, (len(summary),)).copy() if arr.ndim == 0 else arr.reshape(-1)

    return pd.DataFrame(
        {"transactions": values(transactions), "revenue": values(revenue)}, index=summary.index
    )


def check_predictions(predictions, summary: pd.DataFrame,
                      method_name: str | None = None) -> pd.DataFrame:
    """Check what a method's ``predict`` returned; return it as a float DataFrame.

    It must be a DataFrame with the columns ``transactions`` and ``revenue``,
    indexed by exactly the summary's customers (reordered to the summary's
    order if needed), with finite, non-negative values.
    """
    where = _where(method_name)
    if not isinstance(predictions, pd.DataFrame):
        raise InvalidSummaryError(
            f"{where}predict must return a DataFrame with columns {list(PREDICTION_COLUMNS)}, "
            f"got {type(predictions).__name__}."
        )
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise InvalidSummaryError(
            f"{where}the predictions lack the column(s) {missing} "
            f"(columns: {list(predictions.columns)})."
        )
    if not predictions.index.equals(summary.index):
        if (len(predictions) != len(summary) or not predictions.index.is_unique
                or not predictions.index.sort_values().equals(summary.index.sort_values())):
            extra = predictions.index.difference(summary.index)[:5].tolist()
            lost = summary.index.difference(predictions.index)[:5].tolist()
            raise InvalidSummaryError(
                f"{where}the predictions must be indexed by the summary's customers: "
                f"{len(predictions)} rows for {len(summary)} customers (missing e.g. {lost}, "
                f"unexpected e.g. {extra})."
            )
        predictions = predictions.reindex(summary.index)
    out = predictions[list(PREDICTION_COLUMNS)].astype(float)
    for col in PREDICTION_COLUMNS:
        v = out[col].to_numpy()
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InvalidSummaryError(
                f"{where}{int(bad.sum())} predicted {col!r} value(s) are negative or not finite "
                f"(first: customer {out.index[first]!r} = {v[first]!r})."
            )
    return out
