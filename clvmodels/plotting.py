"""Diagnostic plots: how a model fits the calibration period and how methods do on the holdout.

Every plot function takes ``ax=None`` (a new figure when None), returns the
:class:`matplotlib.axes.Axes`, and imports matplotlib only when called. Each
has a companion returning the plotted numbers as a DataFrame (the ``*_table``
functions), which the HTML report reuses and tests check against.

======================================  ======================================
plot                                    table
======================================  ======================================
:func:`plot_frequency_histogram`        :func:`frequency_histogram_table`
:func:`plot_conditional_expectations`   :func:`conditional_expectations_table`
:func:`plot_cumulative_tracking`        :func:`tracking_table`
:func:`plot_incremental_tracking`       :func:`tracking_table`
(``forecast=`` band of both)            :func:`forecast_band_table`
:func:`plot_probability_alive_matrix`   :func:`probability_alive_table`
:func:`plot_expected_purchases_matrix`  :func:`expected_purchases_table`
:func:`plot_leaderboard`                :func:`leaderboard_table`
:func:`plot_gains`                      :func:`gains_table`
:func:`plot_pit_histogram`              :func:`clvmodels.evaluation.scores.pit_histogram`
:func:`plot_count_calibration`          :func:`clvmodels.evaluation.scores.calibration_table`
======================================  ======================================

The model plots accept any object with the methods they need (duck typing),
so they work for every model of :mod:`clvmodels.models` and for stand-ins:

* ``probability_of_purchases(n, t)``: P(X(t) = n) for a new customer
  (frequency histogram);
* ``expected_purchases_new_customer(t)``: expected repeat purchases in
  ``(0, t]`` of a new customer, or a plain callable ``f(t)`` (tracking);
* ``probability_alive(summary)`` and ``expected_purchases(summary, t)``
  (matrices), where ``summary`` has columns frequency, recency, T.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from clvmodels.models.bgnbd import BGNBD
>>> from clvmodels.plotting import plot_probability_alive_matrix
>>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> ax = plot_probability_alive_matrix(model, max_frequency=10, T=39)
>>> ax.get_xlabel()
'Recency (time units)'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvmodels._typing import DateLike
from clvmodels.data.summary import time_unit_days
from clvmodels.errors import InvalidParameterError, UnitMismatchError
from clvmodels.evaluation import metrics as _metrics

if TYPE_CHECKING:  # matplotlib and the models are imported only when a plot is drawn
    import matplotlib.axes


class PurchaseModel(Protocol):
    """What the plots use of a fitted purchase model (BG/NBD, Pareto/NBD, MBG/NBD, ...)."""

    def probability_alive(self, summary: pd.DataFrame | None = None) -> Any: ...

    def expected_purchases(self, summary: pd.DataFrame | None = None, t: float = 1.0) -> Any: ...

    def probability_of_purchases(self, n: Any, t: Any) -> Any: ...

    def expected_purchases_new_customer(self, t: Any) -> Any: ...

__all__ = [
    "frequency_histogram_table",
    "plot_frequency_histogram",
    "conditional_expectations_table",
    "plot_conditional_expectations",
    "tracking_table",
    "forecast_band_table",
    "plot_cumulative_tracking",
    "plot_incremental_tracking",
    "probability_alive_table",
    "plot_probability_alive_matrix",
    "expected_purchases_table",
    "plot_expected_purchases_matrix",
    "leaderboard_table",
    "plot_leaderboard",
    "gains_table",
    "plot_gains",
    "plot_pit_histogram",
    "plot_count_calibration",
]

_UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}


def _unit_name(time_unit: str | None) -> str:
    return _UNIT_NAMES.get(str(time_unit).upper(), "time units") if time_unit else "time units"


def _get_ax(ax: matplotlib.axes.Axes | None) -> matplotlib.axes.Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _model_label(model: object, label: str | None) -> str:
    """``label``, else the model's display name from the registry ("BG/NBD"), else "Model"."""
    if label is not None:
        return label
    from clvmodels.models.registry import display_name

    try:
        return display_name(model)
    except InvalidParameterError:  # a stand-in (a plain function, a user's class)
        return "Model"


def _check_unit(model: object, time_unit: str | None, where: str) -> None:
    fitted = getattr(model, "time_unit_", None)
    if fitted is not None and time_unit is not None and str(fitted) != str(time_unit).upper():
        raise UnitMismatchError(
            f"{where}: the model's time unit is {fitted!r} but the data's is {time_unit!r}; "
            "build the summary (or pass time_unit=) in the model's unit."
        )


# --- frequency histogram ---------------------------------------------------------------


def _max_frequency(max_frequency: int) -> int:
    if int(max_frequency) != max_frequency or max_frequency < 1:
        raise InvalidParameterError(
            f"max_frequency must be an integer >= 1, got {max_frequency!r}."
        )
    return int(max_frequency)


def frequency_histogram_table(
    model: PurchaseModel, summary: pd.DataFrame, max_frequency: int = 7,
) -> pd.DataFrame:
    r"""Customers by calibration repeat transactions: actual count vs the model's expectation.

    The model's expected number of customers with ``n`` repeat transactions
    is :math:`\sum_i P(X(T_i) = n)`, the probability that a new customer
    makes ``n`` repeat purchases in her own observation time ``T_i``
    (Fader, Hardie & Lee 2005, figure 2). The last group pools ``n >=
    max_frequency`` (its expectation is the remainder, the customer count
    minus the other groups). A customer with ``T = 0`` makes 0 purchases.

    Parameters
    ----------
    model : object
        Has ``probability_of_purchases(n, t)`` (P(X(t) = n), vectorised).
    summary : DataFrame
        Calibration summary: columns ``frequency`` and ``T``.
    max_frequency : int, default 7

    Returns
    -------
    DataFrame
        Index ``"0"``, ..., ``"7+"`` (name ``frequency``), columns ``actual``
        and ``model`` (numbers of customers).
    """
    m = _max_frequency(max_frequency)
    _check_unit(model, summary.attrs.get("time_unit"), "frequency_histogram_table")
    x = summary["frequency"].to_numpy()
    T = summary["T"].to_numpy(dtype=float)
    actual = np.bincount(np.minimum(x.astype(np.int64), m), minlength=m + 1).astype(float)
    uT, counts = np.unique(T, return_counts=True)
    expected = np.zeros(m + 1)
    positive = uT > 0
    expected[0] += counts[~positive].sum()  # no time, no purchase
    if positive.any():
        n = np.arange(m)[:, None]
        p = np.asarray(model.probability_of_purchases(n, uT[positive][None, :]), dtype=float)
        p = np.broadcast_to(p, (m, int(positive.sum())))
        expected[:m] += p @ counts[positive]
    expected[m] = len(T) - expected[:m].sum()
    labels = [str(i) for i in range(m)] + [f"{m}+"]
    return pd.DataFrame({"actual": actual, "model": expected},
                        index=pd.Index(labels, name="frequency"))


def plot_frequency_histogram(
    model: PurchaseModel, summary: pd.DataFrame, max_frequency: int = 7,
    ax: matplotlib.axes.Axes | None = None, label: str | None = None,
) -> matplotlib.axes.Axes:
    """Bar chart of :func:`frequency_histogram_table`: actual vs model customers per repeat count.

    Two bar groups (``ax.containers``): actual, then model, labelled ``label``
    (default: the model's display name, e.g. "BG/NBD", or "Model" for a
    stand-in the model registry does not know).
    """
    table = frequency_histogram_table(model, summary, max_frequency)
    ax = _get_ax(ax)
    pos = np.arange(len(table))
    width = 0.4
    ax.bar(pos - width / 2, table["actual"], width, label="Actual")
    ax.bar(pos + width / 2, table["model"], width, label=_model_label(model, label))
    ax.set_xticks(pos, table.index)
    ax.set_xlabel("Repeat transactions in the calibration period")
    ax.set_ylabel("Customers")
    ax.set_title("Frequency of repeat transactions")
    ax.legend()
    return ax


# --- conditional expectations ------------------------------------------------------------


def _named_predictions(
    predicted: pd.DataFrame | Mapping[str, ArrayLike] | ArrayLike, default: str = "predicted",
) -> dict:
    if isinstance(predicted, pd.DataFrame):
        return {str(c): predicted[c] for c in predicted.columns}
    if isinstance(predicted, dict):
        return dict(predicted)
    return {default: predicted}


def conditional_expectations_table(
    frequency: ArrayLike, actual: ArrayLike,
    predicted: pd.DataFrame | Mapping[str, ArrayLike] | ArrayLike, max_frequency: int = 7,
) -> pd.DataFrame:
    """Mean holdout transactions by calibration frequency: actual and one column per method.

    ``predicted`` is one array/Series (column ``predicted``), a dict
    ``{method name: predictions}`` or a DataFrame with one column per method.
    See :func:`clvmodels.evaluation.metrics.conditional_expectations` for
    the grouping (0, 1, ..., 7+).

    Returns
    -------
    DataFrame
        Index ``frequency`` labels, columns ``n_customers``, ``actual`` and
        one per method.
    """
    named = _named_predictions(predicted)
    if not named:
        raise InvalidParameterError("predicted holds no method.")
    out = None
    for name, values in named.items():
        t = _metrics.conditional_expectations(frequency, actual, values, max_frequency)
        if out is None:
            out = t[["n_customers", "actual"]].copy()
        out[name] = t["predicted"]
    return out


def plot_conditional_expectations(
    frequency: ArrayLike, actual: ArrayLike,
    predicted: pd.DataFrame | Mapping[str, ArrayLike] | ArrayLike, max_frequency: int = 7,
    ax: matplotlib.axes.Axes | None = None,
) -> matplotlib.axes.Axes:
    """Line chart of :func:`conditional_expectations_table` (Fader, Hardie & Lee 2005, figure 4).

    One line for the actual holdout means, then one per method, against the
    calibration repeat-transaction groups.
    """
    table = conditional_expectations_table(frequency, actual, predicted, max_frequency)
    ax = _get_ax(ax)
    pos = np.arange(len(table))
    ax.plot(pos, table["actual"], marker="o", color="black", label="Actual")
    for name in table.columns[2:]:
        ax.plot(pos, table[name], marker="s", linestyle="--", label=str(name))
    ax.set_xticks(pos, table.index)
    ax.set_xlabel("Repeat transactions in the calibration period")
    ax.set_ylabel("Mean transactions in the holdout period")
    ax.set_title("Conditional expectations")
    ax.legend()
    return ax


# --- tracking plots ----------------------------------------------------------------------


def _new_customer_curve(
    model: PurchaseModel | Callable[[float], ArrayLike],
) -> Callable[[float], ArrayLike]:
    curve = getattr(model, "expected_purchases_new_customer", None)
    if callable(curve):
        return curve
    if callable(model):
        return model
    raise InvalidParameterError(
        f"model must be a callable f(t) or have expected_purchases_new_customer(t); got {model!r}."
    )


def tracking_table(
    transactions: pd.DataFrame, model: PurchaseModel | Callable[[float], ArrayLike],
    calibration_end: DateLike, observation_end: DateLike | None = None, *, time_unit: str = "W",
    period: float = 1.0, customer_id: str = "customer_id", date: str = "date",
) -> pd.DataFrame:
    r"""Repeat transactions per period, actual vs model, over calibration and holdout.

    The cohort is the customers whose first purchase is on or before
    ``calibration_end``. Time runs from the first transaction of the log
    (day 0), in periods of ``period`` time units. For the period ending on
    day ``d``:

    * ``actual``: the cohort's repeat transaction days in the period (the
      first purchase of each customer is not counted, several transactions
      on one day are one, as in :func:`clvmodels.rfm_summary`);
    * ``cumulative_model`` :math:`= \sum_i E[X(d - d_i)]`, with :math:`d_i`
      the day of customer *i*'s first purchase and :math:`E[X(t)]` the
      expected repeat purchases of a new customer in ``(0, t]`` (Fader,
      Hardie & Lee 2005, figure 3); ``model`` is its increment.

    Parameters
    ----------
    transactions : DataFrame
        The whole log (calibration and holdout rows).
    model : object or callable
        ``model.expected_purchases_new_customer(t)`` or a callable ``f(t)``
        (vectorised over ``t`` in ``time_unit``).
    calibration_end, observation_end : date-like
        End of the calibration period (the cohort, the cutoff line) and of
        the plotted time (default: the last transaction).
    time_unit : {"D", "W", "M", "Y"}, default "W"
    period : float, default 1
        Length of a period in time units (1 week by default).
    customer_id, date : str
        Column names of the log.

    Returns
    -------
    DataFrame
        One row per period: ``period_end`` (date of its last day), ``time``
        (its end, in time units since day 0), ``holdout`` (True when it ends
        after ``calibration_end``), ``actual``, ``model``,
        ``cumulative_actual``, ``cumulative_model``. ``attrs`` holds
        ``calibration_time`` (the cutoff in time units since day 0), the
        ``time_unit`` and ``start`` (day 0).
    """
    unit_days = time_unit_days(time_unit)
    _check_unit(model, time_unit, "tracking_table")
    curve = _new_customer_curve(model)
    if not isinstance(period, int | float) or not (np.isfinite(period) and period > 0):
        raise InvalidParameterError(
            f"period must be a positive number of time units, got {period!r}."
        )
    dates = pd.to_datetime(transactions[date]).dt.normalize()
    start = dates.min()
    day = ((dates - start).dt.days).to_numpy(dtype=np.int64)
    cal_day = (pd.Timestamp(calibration_end).normalize() - start).days
    end_day = int(day.max()) if observation_end is None else (
        pd.Timestamp(observation_end).normalize() - start).days
    if cal_day < 0 or end_day < cal_day:
        raise InvalidParameterError(
            f"need first transaction ({start.date()}) <= calibration_end <= observation_end; got "
            f"calibration_end={calibration_end!r}, observation_end={observation_end!r}."
        )
    # one row per customer-day, first day per customer
    cust = pd.factorize(transactions[customer_id])[0]
    pairs = np.unique(np.c_[cust, day], axis=0)  # sorted by customer then day
    first_day = np.full(cust.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_day, pairs[:, 0], pairs[:, 1])
    in_cohort = first_day[pairs[:, 0]] <= cal_day
    repeat_days = pairs[in_cohort & (pairs[:, 1] > first_day[pairs[:, 0]]), 1]
    repeat_days = repeat_days[repeat_days <= end_day]

    period_days = period * unit_days
    n_periods = int(np.ceil((end_day + 1) / period_days - 1e-9))
    # last day of each period (days since day 0); the last period may be cut at end_day
    ends = np.ceil(np.arange(1, n_periods + 1) * period_days - 1e-9).astype(np.int64) - 1
    ends = np.minimum(ends, end_day)
    cum_actual = np.searchsorted(np.sort(repeat_days), ends, side="right").astype(float)

    cohort_first = first_day[first_day <= cal_day]
    u0, counts = np.unique(cohort_first, return_counts=True)
    age = (ends[:, None] - u0[None, :]) / unit_days  # time units since first purchase
    values = np.zeros(age.shape)
    pos = age > 0
    if pos.any():
        values[pos] = np.asarray(curve(age[pos]), dtype=float).reshape(-1)
    cum_model = values @ counts
    out = pd.DataFrame({
        "period_end": start + pd.to_timedelta(ends, unit="D"),
        "time": (ends + 1) / unit_days,
        "holdout": ends > cal_day,
        "actual": np.diff(cum_actual, prepend=0.0),
        "model": np.diff(cum_model, prepend=0.0),
        "cumulative_actual": cum_actual,
        "cumulative_model": cum_model,
    }, index=pd.RangeIndex(1, n_periods + 1, name="period"))
    out.attrs = {"calibration_time": (cal_day + 1) / unit_days, "time_unit": str(time_unit).upper(),
                 "start": start}
    return out


def forecast_band_table(table: pd.DataFrame, forecast: pd.DataFrame,
                        which: str = "cumulative") -> pd.DataFrame:
    """The forward forecast band drawn by the tracking plots, on their time axis.

    Parameters
    ----------
    table : DataFrame
        A :func:`tracking_table` (gives the end of calibration on the plot's
        axis and, for the cumulative plot, the actual cumulative transactions
        there).
    forecast : DataFrame
        :func:`clvmodels.models.forecast.forecast_customer_base` of the same
        cohort, in the same time unit.
    which : {"cumulative", "incremental"}

    Returns
    -------
    DataFrame
        Columns ``time`` (on the tracking axis), ``expected``, ``lower``,
        ``upper``. Cumulative: starts at the end of calibration with the actual
        cumulative count there, then adds the forecast's cumulative columns.
        Incremental: the forecast per period rescaled to transactions per
        tracking period (``value * tracking period / forecast period``), plotted
        at each forecast period's end.
    """
    if which not in ("cumulative", "incremental"):
        raise InvalidParameterError(f"which must be 'cumulative' or 'incremental', got {which!r}.")
    needed = ["start", "end", "expected_transactions", "transactions_lower",
              "transactions_upper", "cumulative_expected_transactions",
              "cumulative_transactions_lower", "cumulative_transactions_upper"]
    missing = [c for c in needed if c not in getattr(forecast, "columns", [])]
    if missing:
        raise InvalidParameterError(
            f"forecast must be a table from clvmodels.models.forecast.forecast_customer_base; "
            f"it lacks {missing}."
        )
    unit = forecast.attrs.get("time_unit")
    if unit is not None and str(unit).upper() != table.attrs["time_unit"]:
        raise UnitMismatchError(
            f"the forecast is in time unit {unit!r} but the tracking table in "
            f"{table.attrs['time_unit']!r}; use the same time unit for both."
        )
    cal = float(table.attrs["calibration_time"])
    ends = cal + forecast["end"].to_numpy(dtype=float)
    if which == "cumulative":
        calibration_rows = table[~table["holdout"]]
        base = float(calibration_rows["cumulative_actual"].iloc[-1]) if len(
            calibration_rows) else 0.0
        return pd.DataFrame({
            "time": np.r_[cal, ends],
            "expected": base + np.r_[0.0, forecast["cumulative_expected_transactions"]],
            "lower": base + np.r_[0.0, forecast["cumulative_transactions_lower"]],
            "upper": base + np.r_[0.0, forecast["cumulative_transactions_upper"]],
        })
    widths = (forecast["end"] - forecast["start"]).to_numpy(dtype=float)
    tracking_period = float(np.diff(np.r_[0.0, table["time"].to_numpy(dtype=float)])[0])
    scale = tracking_period / widths
    return pd.DataFrame({
        "time": ends,
        "expected": forecast["expected_transactions"].to_numpy(dtype=float) * scale,
        "lower": forecast["transactions_lower"].to_numpy(dtype=float) * scale,
        "upper": forecast["transactions_upper"].to_numpy(dtype=float) * scale,
    })


def _plot_tracking(
    table: pd.DataFrame, which: str, ax: matplotlib.axes.Axes | None, label: str,
    forecast: pd.DataFrame | None = None, forecast_label: str = "Forecast",
) -> matplotlib.axes.Axes:
    ax = _get_ax(ax)
    prefix = "cumulative_" if which == "cumulative" else ""
    ax.plot(table["time"], table[prefix + "actual"], color="black", label="Actual")
    ax.plot(table["time"], table[prefix + "model"], linestyle="--", label=label)
    if forecast is not None:
        band = forecast_band_table(table, forecast, which)
        level = forecast.attrs.get("interval")
        shown = f"{forecast_label} ({level:.0%} interval)" if level else forecast_label
        line = ax.plot(band["time"], band["expected"], linestyle="-.", label=shown)[0]
        ax.fill_between(band["time"], band["lower"], band["upper"], color=line.get_color(),
                        alpha=0.2, linewidth=0)
    ax.axvline(table.attrs["calibration_time"], color="grey", linestyle=":",
               label="End of calibration")
    unit = _unit_name(table.attrs["time_unit"])
    ax.set_xlabel(f"Time since {table.attrs['start'].date()} ({unit})")
    what = "Cumulative repeat transactions" if prefix else "Repeat transactions per period"
    ax.set_ylabel(what)
    ax.set_title(f"Tracking: {what.lower()}")
    ax.legend()
    return ax


def plot_cumulative_tracking(
    transactions: pd.DataFrame, model: PurchaseModel | Callable[[float], ArrayLike],
    calibration_end: DateLike, observation_end: DateLike | None = None, *,
    ax: matplotlib.axes.Axes | None = None, label: str | None = None,
    forecast: pd.DataFrame | None = None, forecast_label: str = "Forecast", **kwargs: Any,
) -> matplotlib.axes.Axes:
    """Cumulative repeat transactions, actual vs model, with the end of calibration marked.

    Three lines: actual, model (``label``; default the model's display name,
    e.g. "BG/NBD", or "Model" for a stand-in), and a vertical line at
    ``calibration_end``. ``kwargs`` go to :func:`tracking_table`.

    With ``forecast`` (a table of
    :func:`clvmodels.models.forecast.forecast_customer_base` for the customers
    of the calibration period, same time unit), also the forecast's expected
    cumulative transactions from the end of calibration on, starting from the
    actual count there, with its interval as a shaded band (see
    :func:`forecast_band_table`). Without it the plot is unchanged.
    """
    table = tracking_table(transactions, model, calibration_end, observation_end, **kwargs)
    return _plot_tracking(table, "cumulative", ax, _model_label(model, label), forecast,
                          forecast_label)


def plot_incremental_tracking(
    transactions: pd.DataFrame, model: PurchaseModel | Callable[[float], ArrayLike],
    calibration_end: DateLike, observation_end: DateLike | None = None, *,
    ax: matplotlib.axes.Axes | None = None, label: str | None = None,
    forecast: pd.DataFrame | None = None, forecast_label: str = "Forecast", **kwargs: Any,
) -> matplotlib.axes.Axes:
    """Repeat transactions per period (weekly by default), actual vs model, cutoff marked.

    Three lines: actual, model (``label``; default the model's display name,
    e.g. "BG/NBD", or "Model" for a stand-in), and a vertical line at
    ``calibration_end``. ``kwargs`` go to :func:`tracking_table`.

    With ``forecast`` (see :func:`plot_cumulative_tracking`), also the
    forecast per period after the end of calibration with its interval band,
    rescaled to transactions per tracking period.
    """
    table = tracking_table(transactions, model, calibration_end, observation_end, **kwargs)
    return _plot_tracking(table, "incremental", ax, _model_label(model, label), forecast,
                          forecast_label)


# --- matrices over (frequency, recency) --------------------------------------------------


def _grid(
    summary: pd.DataFrame | None, max_frequency: int | None, max_recency: float | None,
    T: float | None,
) -> tuple[np.ndarray, np.ndarray, float]:
    if summary is not None:
        if max_frequency is None:
            max_frequency = int(summary["frequency"].max())
        if T is None:
            T = float(summary["T"].max())
    if max_frequency is None or T is None:
        raise InvalidParameterError(
            "give a summary, or max_frequency and T (the grid's customer age)."
        )
    if max_recency is None:
        max_recency = T
    if not (0 < max_recency <= T):
        raise InvalidParameterError(f"need 0 < max_recency <= T, got {max_recency!r} and {T!r}.")
    frequency = np.arange(int(max_frequency) + 1)
    recency = np.arange(int(np.floor(max_recency)) + 1, dtype=float)
    return frequency, recency, float(T)


def _matrix(
    values_of: Callable[[pd.DataFrame], ArrayLike], model: PurchaseModel,
    summary: pd.DataFrame | None, max_frequency: int | None, max_recency: float | None,
    T: float | None, name: str,
) -> pd.DataFrame:
    frequency, recency, T = _grid(summary, max_frequency, max_recency, T)
    if summary is not None:
        _check_unit(model, summary.attrs.get("time_unit"), name)
    f, r = np.meshgrid(frequency, recency, indexing="ij")
    possible = (f > 0) | (r == 0)  # no repeat purchase means recency 0
    frame = pd.DataFrame({"frequency": f[possible], "recency": r[possible], "T": T})
    values = np.full(f.shape, np.nan)
    values[possible] = np.asarray(values_of(frame), dtype=float).reshape(-1)
    out = pd.DataFrame(values, index=pd.Index(frequency, name="frequency"),
                       columns=pd.Index(recency, name="recency"))
    out.attrs = {"T": T, "time_unit": getattr(model, "time_unit_", None)
                 or (summary.attrs.get("time_unit") if summary is not None else None)}
    return out


def probability_alive_table(
    model: PurchaseModel, summary: pd.DataFrame | None = None, *, max_frequency: int | None = None,
    max_recency: float | None = None, T: float | None = None,
) -> pd.DataFrame:
    """P(alive) over a grid of frequency (rows) and recency (columns) for customers of age ``T``.

    Frequency runs over ``0..max_frequency`` and recency over whole time
    units ``0..max_recency``; defaults from ``summary`` (largest frequency,
    largest ``T``; ``max_recency = T``). Cells with frequency 0 and recency >
    0 cannot occur (no repeat purchase means recency 0) and are NaN, left
    blank in the plot. Calls ``model.probability_alive(frame)``.
    """
    return _matrix(lambda fr: model.probability_alive(fr), model, summary, max_frequency,
                   max_recency, T, "probability_alive_table")


def expected_purchases_table(
    model: PurchaseModel, summary: pd.DataFrame | None = None, t: float = 1.0, *,
    max_frequency: int | None = None, max_recency: float | None = None, T: float | None = None,
) -> pd.DataFrame:
    """Expected purchases in the next ``t`` time units over a (frequency, recency) grid.

    Same grid and conventions as :func:`probability_alive_table`; calls
    ``model.expected_purchases(frame, t)``.
    """
    return _matrix(lambda fr: model.expected_purchases(fr, t), model, summary, max_frequency,
                   max_recency, T, "expected_purchases_table")


def _plot_matrix(
    table: pd.DataFrame, ax: matplotlib.axes.Axes | None, title: str, cmap: str,
) -> matplotlib.axes.Axes:
    ax = _get_ax(ax)
    rec = table.columns.to_numpy(dtype=float)
    freq = table.index.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(table.to_numpy()), origin="lower", aspect="auto",
                      cmap=cmap, interpolation="nearest",
                      extent=(rec[0] - 0.5, rec[-1] + 0.5, freq[0] - 0.5, freq[-1] + 0.5))
    ax.figure.colorbar(image, ax=ax)
    ax.set_xlabel(f"Recency ({_unit_name(table.attrs.get('time_unit'))})")
    ax.set_ylabel("Frequency (repeat transactions)")
    ax.set_title(title)
    return ax


def plot_probability_alive_matrix(
    model: PurchaseModel, summary: pd.DataFrame | None = None, *, max_frequency: int | None = None,
    max_recency: float | None = None, T: float | None = None,
    ax: matplotlib.axes.Axes | None = None, cmap: str = "viridis",
) -> matplotlib.axes.Axes:
    """Heatmap of :func:`probability_alive_table` with a colour bar."""
    table = probability_alive_table(model, summary, max_frequency=max_frequency,
                                    max_recency=max_recency, T=T)
    unit = _unit_name(table.attrs.get("time_unit"))
    title = f"Probability alive, customers of age T = {table.attrs['T']:.4g} {unit}"
    return _plot_matrix(table, ax, title, cmap)


def plot_expected_purchases_matrix(
    model: PurchaseModel, summary: pd.DataFrame | None = None, t: float = 1.0, *,
    max_frequency: int | None = None, max_recency: float | None = None, T: float | None = None,
    ax: matplotlib.axes.Axes | None = None, cmap: str = "viridis",
) -> matplotlib.axes.Axes:
    """Heatmap of :func:`expected_purchases_table` with a colour bar."""
    table = expected_purchases_table(model, summary, t, max_frequency=max_frequency,
                                     max_recency=max_recency, T=T)
    unit = _unit_name(table.attrs.get("time_unit"))
    return _plot_matrix(table, ax, f"Expected purchases in the next {t:g} {unit}", cmap)


# --- leaderboard -------------------------------------------------------------------------


def leaderboard_table(leaderboard: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """One metric of a tidy leaderboard, one row per method, best first.

    ``leaderboard`` has columns ``method``, ``metric``, ``value`` and
    optionally ``value_std`` (spread across backtest cutoffs). Several rows
    per method (one per cutoff, say) are averaged, and their standard
    deviation (ddof 1) becomes ``value_std``. ``metric`` may be omitted when
    the leaderboard holds a single metric. Methods are sorted best first by
    the metric's direction (:func:`clvmodels.evaluation.metrics.metric_direction`:
    lowest error, highest capture, bias closest to 0).

    Returns
    -------
    DataFrame
        Index ``method``, columns ``value`` and ``value_std`` (NaN without
        a spread).
    """
    missing = [c for c in ("method", "metric", "value") if c not in leaderboard.columns]
    if missing:
        raise InvalidParameterError(
            f"the leaderboard lacks the column(s) {missing} (columns: "
            f"{list(leaderboard.columns)}); it must be tidy: method, metric, value[, value_std]."
        )
    metrics = pd.unique(leaderboard["metric"])
    if metric is None:
        if len(metrics) != 1:
            raise InvalidParameterError(f"choose a metric: one of {sorted(map(str, metrics))}.")
        metric = metrics[0]
    rows = leaderboard[leaderboard["metric"] == metric]
    if rows.empty:
        raise InvalidParameterError(
            f"no rows for metric {metric!r}; the leaderboard has {sorted(map(str, metrics))}."
        )
    grouped = rows.groupby("method", sort=False)
    out = pd.DataFrame({"value": grouped["value"].mean()})
    n = grouped["value"].size()
    std = grouped["value"].std(ddof=1)  # NaN for a single row
    if "value_std" in rows.columns:
        std = std.where(n > 1, grouped["value_std"].first())
    out["value_std"] = std.astype(float)
    direction = _metrics.metric_direction(str(metric))
    key = out["value"].abs() if direction == "zero" else out["value"]
    order = np.argsort(-key.to_numpy() if direction == "higher" else key.to_numpy(), kind="stable")
    out = out.iloc[order]
    out.attrs = {"metric": str(metric), "better": direction}
    return out


def plot_leaderboard(
    leaderboard: pd.DataFrame, metric: str | None = None, ax: matplotlib.axes.Axes | None = None, *,
    labels: dict | None = None,
) -> matplotlib.axes.Axes:
    """Horizontal bar chart of one metric per method, best on top, with backtest error bars.

    One bar per method (``ax.containers[0]``); error bars (one standard
    deviation across cutoffs) when :func:`leaderboard_table` has a spread.
    ``labels`` maps a method to the name shown on its bar, e.g.
    :attr:`ComparisonResult.display_names <clvmodels.evaluation.ComparisonResult>`
    ("bgnbd" -> "BG/NBD + Gamma-Gamma"); methods not in it show their name.
    """
    table = leaderboard_table(leaderboard, metric)
    if labels:
        table.index = pd.Index([labels.get(m, m) for m in table.index], name=table.index.name)
    ax = _get_ax(ax)
    pos = np.arange(len(table))[::-1]  # best on top
    std = table["value_std"].to_numpy()
    xerr = std if np.isfinite(std).any() else None
    if xerr is not None:
        xerr = np.nan_to_num(xerr, nan=0.0)
    ax.barh(pos, table["value"], xerr=xerr, capsize=3 if xerr is not None else 0)
    ax.set_yticks(pos, table.index)
    better = {"lower": "lower is better", "higher": "higher is better",
              "zero": "closer to 0 is better"}[table.attrs["better"]]
    ax.set_xlabel(f"{table.attrs['metric']} ({better})")
    ax.set_ylabel("Method")
    ax.set_title(f"Leaderboard: {table.attrs['metric']}")
    if table.attrs["better"] == "zero":
        ax.axvline(0.0, color="black", linewidth=0.8)
    return ax


# --- gains / lift ------------------------------------------------------------------------


def gains_table(
    actual: ArrayLike, predictions: pd.DataFrame | Mapping[str, ArrayLike], *, perfect: bool = True,
) -> pd.DataFrame:
    """Gains curves of several methods, tidy: method, share_of_customers, share_of_actual.

    ``predictions`` is a dict ``{method name: predicted values}`` or a
    DataFrame with one column per method, aligned with ``actual``; see
    :func:`clvmodels.evaluation.metrics.gains_curve` (ties share slots pro
    rata). With ``perfect``, the curve of the ranking by the actual values
    is added as method ``"perfect"``.
    """
    named = _named_predictions(predictions, default="method")
    if perfect:
        named["perfect"] = actual
    parts = []
    for name, values in named.items():
        g = _metrics.gains_curve(actual, values)
        g.insert(0, "method", name)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def plot_gains(
    actual: ArrayLike, predictions: pd.DataFrame | Mapping[str, ArrayLike],
    ax: matplotlib.axes.Axes | None = None, *, kind: str = "gains", perfect: bool = True,
) -> matplotlib.axes.Axes:
    """Gains (cumulative share of actual value vs share of customers) or lift curves per method.

    ``kind="gains"``: one line per method, the perfect ranking (dotted, with
    ``perfect``) and the random ranking (the diagonal). ``kind="lift"``: the
    gains divided by the share of customers, with the random level 1.
    """
    if kind not in ("gains", "lift"):
        raise InvalidParameterError(f"kind must be 'gains' or 'lift', got {kind!r}.")
    table = gains_table(actual, predictions, perfect=perfect)
    ax = _get_ax(ax)
    for name, g in table.groupby("method", sort=False):
        x = g["share_of_customers"].to_numpy()
        y = g["share_of_actual"].to_numpy()
        if kind == "lift":
            keep = x > 0
            x, y = x[keep], y[keep] / x[keep]
        style: dict[str, Any] = {"linestyle": ":", "color": "black"} if name == "perfect" else {}
        ax.plot(x, y, label=str(name), **style)
    if kind == "gains":
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="random")
        ax.set_ylabel("Share of actual holdout value")
    else:
        ax.axhline(1.0, color="grey", linestyle="--", label="random")
        ax.set_ylabel("Lift (share of value / share of customers)")
    ax.set_xlabel("Share of customers, ranked by prediction")
    ax.set_title("Gains curve" if kind == "gains" else "Lift curve")
    ax.legend()
    return ax


def plot_pit_histogram(pit: pd.DataFrame | dict[str, pd.DataFrame], ax: Any = None) -> Any:
    """PIT histogram(s) of predicted count distributions, with the calibrated level.

    ``pit`` is the table of :func:`clvmodels.evaluation.scores.pit_histogram` (columns
    ``lower``, ``upper``, ``mass``) or a dict of them by method; a calibrated forecast
    has every bar at ``1 / bins`` (the dashed line), a U shape means too narrow
    distributions, a hump too wide ones.
    """
    tables = pit if isinstance(pit, dict) else {"": pit}
    ax = _get_ax(ax)
    n = max(len(tables), 1)
    for i, (name, table) in enumerate(tables.items()):
        width = (table["upper"] - table["lower"]).to_numpy()
        left = table["lower"].to_numpy() + i * width / n
        ax.bar(left, table["mass"].to_numpy() / width, width=width / n, align="edge",
               label=str(name) or None, alpha=0.8)
    ax.axhline(1.0, color="grey", linestyle="--", label="calibrated")
    ax.set_xlabel("Probability integral transform")
    ax.set_ylabel("Density")
    ax.set_title("PIT histogram of holdout counts")
    ax.legend()
    return ax


def plot_count_calibration(table: pd.DataFrame, ax: Any = None, *,
                           label: str = "predicted") -> Any:
    """Predicted vs actual number of customers by holdout count (0, 1, ..., k+).

    ``table`` is :func:`clvmodels.evaluation.scores.calibration_table`.
    """
    ax = _get_ax(ax)
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["actual"].to_numpy(), width=0.4, label="actual")
    ax.bar(x + 0.2, table["predicted"].to_numpy(), width=0.4, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(table["count"].astype(str).tolist())
    ax.set_xlabel("Holdout transactions")
    ax.set_ylabel("Customers")
    ax.set_title("Predicted vs actual distribution of holdout counts")
    ax.legend()
    return ax
