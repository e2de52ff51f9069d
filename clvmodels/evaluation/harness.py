"""The comparison harness: every method scored on a holdout period, on the same customers.

:func:`compare` summarises a transaction log at a calibration cutoff, fits each
method on the calibration period only (holdout columns are stripped, the log is
truncated at the cutoff), predicts each customer's transactions and revenue in
the holdout window, and scores the predictions against what the customers
actually did (:mod:`clvmodels.evaluation.metrics`). With ``cutoffs`` or
``n_splits`` it repeats this over several calibration cutoffs (rolling-origin
backtesting, the holdout window keeping its length), so a validator sees the
spread of each metric rather than one split.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clvmodels.data import parse_dates
from clvmodels.data.summary import rfm_summary, time_unit_days
from clvmodels.data.transactions import read_transactions, to_timestamp, validate_transactions
from clvmodels.errors import CLVError, ExcludedCustomersWarning, InvalidParameterError
from clvmodels.evaluation.base import calibration_only, check_predictions
from clvmodels.evaluation.metrics import (
    METRICS,
    conditional_expectations,
    holdout_actuals,
    holdout_log_likelihood,
    score_predictions,
)
from clvmodels.evaluation.registry import available_methods, get_method

__all__ = ["compare", "ComparisonResult", "FitRecord", "DEFAULT_METHODS", "backtest_cutoffs"]

#: The methods compared when none are named: every model, formula and baseline.
DEFAULT_METHODS = None  # resolved at call time to every registered method


@dataclass(frozen=True)
class FitRecord:
    """One fit the harness made: a method at a calibration cutoff.

    Attributes
    ----------
    cutoff : Timestamp
        The calibration end of the split.
    method : str
        The name the method is compared under (the result's ``method`` column).
    display_name : str
        The name people read ("BG/NBD + Gamma-Gamma"), as in
        ``ComparisonResult.display_names``.
    models : dict
        The fitted model objects the method is made of, by role
        (``{"purchase": ..., "spend": ...}``; the method's ``fitted_models``),
        empty for a method without models or a fit that failed.
    warnings : tuple of warnings.WarningMessage
        The warnings shown while this method was fitted at this cutoff, in the
        order they were raised (``w.category``, ``w.message``, ``w.filename``,
        ``w.lineno``). Which are shown follows the caller's warning filters;
        run under ``warnings.simplefilter("always")`` to see every one.
    fit_seconds : float
        Wall time of ``fit`` (NaN when the method could not be built).
    fitted : object
        The fitted method object (None when it could not be built).
    n_customers : int
        Customers in the split's calibration summary.
    error : str or None
        ``"ExceptionType: message"`` when the method failed at this cutoff
        (in ``fit`` or afterwards); its scores are then missing.
    """

    cutoff: pd.Timestamp
    method: str
    display_name: str
    models: dict
    warnings: tuple
    fit_seconds: float
    fitted: object = None
    n_customers: int = 0
    error: str | None = None


@dataclass
class ComparisonResult:
    """What :func:`compare` found.

    Attributes
    ----------
    leaderboard : DataFrame
        Tidy: one row per (method, metric) with ``value`` on the main split
        and, with backtesting, ``value_mean``, ``value_std``, ``value_min``,
        ``value_max`` and ``n_cutoffs`` across cutoffs; ``better`` says whether
        higher or lower is better.
    predictions : DataFrame
        Long format, one row per (method, customer): ``transactions``,
        ``revenue`` (predicted), ``actual_transactions``, ``actual_revenue``
        and the calibration ``frequency``.
    backtest : DataFrame
        One row per (cutoff, method, metric) with ``value``.
    summary : DataFrame
        The customer summary of the main split, holdout columns included.
    methods : dict
        The fitted method objects of the main split, by name.
    failures : dict
        ``{(cutoff, method): message}`` for methods that raised.
    timings : DataFrame
        Fit and predict seconds per method on the main split.
    settings : dict
        Cutoffs, horizon, time unit and seed: enough to reproduce the run.
    fits : list of FitRecord
        Every fit the harness made, one record per (cutoff, method), in the
        order made: the fitted models, the warnings of that fit and its time.
    display_names : dict
        ``{method: the name people read}`` ("bgnbd" -> "BG/NBD + Gamma-Gamma"),
        distinct across methods; tables for people use these, files keep the
        names.
    """

    leaderboard: pd.DataFrame
    predictions: pd.DataFrame
    backtest: pd.DataFrame
    summary: pd.DataFrame
    methods: dict
    failures: dict = field(default_factory=dict)
    timings: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)
    fits: list = field(default_factory=list)
    holdout_daily: pd.Series | None = None
    display_names: dict = field(default_factory=dict)

    def fit_record(self, method: str, cutoff=None) -> FitRecord:
        """The record of ``method``'s fit at ``cutoff`` (default: the main split's)."""
        when = (self.settings.get("calibration_end") if cutoff is None
                else to_timestamp(cutoff, "cutoff"))
        for record in self.fits:
            if record.method == method and record.cutoff == when:
                return record
        raise InvalidParameterError(
            f"no fit of method {method!r} at cutoff {when}; fitted methods: "
            f"{sorted({r.method for r in self.fits})}, cutoffs: "
            f"{sorted({str(r.cutoff.date()) for r in self.fits})}."
        )

    def display_name(self, method: str) -> str:
        """The name people read for ``method`` (the name itself when unknown)."""
        return self.display_names.get(method, method)

    def table(self, statistic: str = "value") -> pd.DataFrame:
        """The leaderboard as a wide table: methods x metrics (``statistic`` column)."""
        return self.leaderboard.pivot(index="method", columns="metric", values=statistic)

    def ranking(self, metric: str = "revenue_mae") -> pd.DataFrame:
        """Methods sorted best first by ``metric`` (main split, with backtest spread)."""
        if metric not in METRICS:
            raise InvalidParameterError(f"unknown metric {metric!r}; choose from {list(METRICS)}.")
        rows = self.leaderboard[self.leaderboard["metric"] == metric].set_index("method")
        better = METRICS[metric]["better"]
        key = {"higher": lambda v: -v, "lower": lambda v: v, "zero": np.abs}[better]
        return rows.sort_values("value", key=key).drop(columns="metric")

    def conditional_expectations(self, method: str, max_frequency: int = 7) -> pd.DataFrame:
        """Mean actual vs predicted holdout transactions by calibration frequency (0..7+)."""
        p = self.predictions[self.predictions["method"] == method]
        if p.empty:
            raise InvalidParameterError(
                f"no predictions for method {method!r}; methods: {sorted(self.methods)}."
            )
        return conditional_expectations(p["frequency"], p["actual_transactions"],
                                        p["transactions"], max_frequency=max_frequency)

    def tracking(self, period_days: float | None = None) -> pd.DataFrame:
        """Per-period tracking of the holdout's total transactions, for every method that
        can forecast per period (those with a purchase model; covariate models, whose
        attributes are the method's and not the summary's, are left out).

        Parameters
        ----------
        period_days : float, optional
            Length of a period in days; default one time unit of the comparison (a week
            for ``time_unit="W"``). The last period may be shorter.

        Returns
        -------
        DataFrame
            Long: one row per (method, period) with the columns of
            :func:`clvmodels.evaluation.scores.tracking_error` plus ``method`` and
            ``period_end`` (days after the calibration end); ``attrs["summary"]`` holds
            each method's ``mae``, ``rmse``, ``mape`` and ``final_cumulative_error_pct``.
        """
        from clvmodels.data.summary import time_unit_days
        from clvmodels.evaluation.scores import tracking_error
        from clvmodels.models.clv import expected_purchase_curve

        if self.holdout_daily is None:
            raise InvalidParameterError("this comparison kept no daily holdout transactions.")
        unit_days = time_unit_days(self.settings["time_unit"])
        step = unit_days if period_days is None else float(period_days)
        if not (step > 0):
            raise InvalidParameterError(f"period_days must be > 0, got {period_days!r}.")
        n_days = len(self.holdout_daily)
        ends = np.arange(step, n_days + step - 1e-9, step)
        ends[-1] = min(ends[-1], n_days)
        cumulative = np.cumsum(self.holdout_daily.to_numpy(dtype=float))
        actual = np.diff(np.r_[0.0, cumulative[np.ceil(ends).astype(int) - 1]])
        cal = self.settings["calibration_end"]
        summary = self.summary[["frequency", "recency", "T"]].copy()
        summary.attrs = dict(self.summary.attrs)
        rows, summaries = [], {}
        for record in self.fits:
            if record.cutoff != cal or "purchase" not in record.models:
                continue
            model = record.models["purchase"]
            if getattr(model, "covariate_columns", None):
                continue  # its covariates are the method's, not in the summary
            curve = expected_purchase_curve(model, summary, ends / unit_days)
            predicted = np.diff(np.r_[0.0, curve.sum(axis=0)])
            table = tracking_error(predicted, actual)
            summaries[record.method] = dict(table.attrs)
            table.insert(0, "period_end", ends)
            table.insert(0, "method", record.method)
            rows.append(table)
        out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        out.attrs = {"summary": pd.DataFrame.from_dict(summaries, orient="index")}
        return out

    def verdict(self, *, n_boot: int = 200, level: float = 0.9, random_state=0,
                progress: bool = False, decisions: dict | None = None) -> pd.DataFrame:
        """Which method to use for each decision, with the margin's interval and significance.

        See :func:`clvmodels.evaluation.verdict.comparison_verdict`: a paired bootstrap
        over customers of the main split (``n_boot`` resamples, seeded), and across
        backtest cutoffs the share of first places and a Diebold-Mariano test.
        Computed once per argument set and kept.
        """
        from clvmodels.evaluation.verdict import comparison_verdict

        key = (n_boot, level, random_state, None if decisions is None else tuple(decisions))
        cache = self.__dict__.setdefault("_verdicts", {})
        if key not in cache:
            cache[key] = comparison_verdict(self, decisions=decisions, n_boot=n_boot,
                                            level=level, random_state=random_state,
                                            progress=progress)
        return cache[key]


def backtest_cutoffs(calibration_end, n_splits: int, step_days: int) -> list[pd.Timestamp]:
    """``n_splits`` calibration cutoffs ending at ``calibration_end``, ``step_days`` apart."""
    end = to_timestamp(calibration_end, "calibration_end")
    return [end - pd.Timedelta(days=int(step_days) * k) for k in range(n_splits - 1, -1, -1)]


def _resolve_methods(methods) -> list:
    if methods is None:
        names = available_methods()
        return [(n, None) for n in names]
    out = []
    for m in methods:
        if isinstance(m, str):
            out.append((m, None))
        elif hasattr(m, "fit") and hasattr(m, "predict"):
            out.append((getattr(m, "label", None) or getattr(m, "name", type(m).__name__), m))
        else:
            raise InvalidParameterError(
                f"methods must be registered names or objects with fit/predict, got {m!r}."
            )
    names = [n for n, _ in out]
    known = set(available_methods())
    unknown = [n for n, t in out if t is None and n not in known]
    if unknown:
        raise InvalidParameterError(
            f"unknown method(s) {unknown}; registered: {sorted(known)} (add your own with "
            "clvmodels.evaluation.register_method, or pass a method object)."
        )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InvalidParameterError(f"method names must be unique; repeated: {dup}.")
    return out


def _display_name(method, name: str) -> str:
    """What a person reads for a method compared as ``name``.

    The method's ``display_name`` when it has one of its own; the comparison
    name when it has none or only echoes its ``name`` (a method registered
    under another name must not take the name of its class's default).
    """
    shown = getattr(method, "display_name", None)
    if not isinstance(shown, str) or not shown.strip():
        return name
    if shown == getattr(method, "name", None) and shown != name:
        return name
    return shown


def _display_names(resolved) -> dict:
    """``{name: display name}``, made distinct: a display name already taken by an earlier
    method gets the method's name in brackets ("BG/NBD + Gamma-Gamma [mine]")."""
    shown = {}
    for name, template in resolved:
        try:
            method = template if template is not None else get_method(name)
            shown[name] = _display_name(method, name)
        except (CLVError, TypeError, ValueError, AttributeError):
            shown[name] = name  # the fit will report what is wrong with the method
    out, taken = {}, set(resolved_name for resolved_name, _ in resolved)
    for name, display in shown.items():
        if display in out.values() or (display != name and display in taken):
            display = f"{display} [{name}]"
        out[name] = display
    return out


@contextlib.contextmanager
def _recorded_warnings():
    """Collect the warnings shown in the block, passing each on to the caller as usual.

    The caller's filters decide what is shown (nothing is forced to
    "always" and nothing is emitted twice): each shown warning is appended
    to the yielded list and handed to the ``warnings.showwarning`` in place
    when the block started (the console, the CLI's handler, or an enclosing
    ``catch_warnings(record=True)``).
    """
    caught: list[warnings.WarningMessage] = []
    with warnings.catch_warnings():
        passed_on = warnings.showwarning

        def record(message, category, filename, lineno, file=None, line=None):
            caught.append(warnings.WarningMessage(message, category, filename, lineno, file,
                                                  line))
            passed_on(message, category, filename, lineno, file, line)

        warnings.showwarning = record
        yield caught


def _new_method(name, template, random_state):
    if template is None:
        method = get_method(name)
    else:
        try:
            from sklearn.base import clone

            method = clone(template)
        except (TypeError, ValueError, AttributeError):
            import copy

            method = copy.deepcopy(template)
    if hasattr(method, "get_params") and "random_state" in method.get_params(deep=False):
        method.set_params(random_state=random_state)
    return method


def compare(
    transactions,
    methods=None,
    *,
    calibration_end,
    observation_end,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    time_unit: str = "W",
    cutoffs=None,
    n_splits: int | None = None,
    step_days: int | None = None,
    progress: bool = False,
    random_state: int = 0,
    errors: str = "warn",
    refunds: str = "error",
) -> ComparisonResult:
    """Score every method against the holdout period, on the same customers.

    Parameters
    ----------
    transactions : DataFrame or path
        The transaction log (CSV/Parquet path accepted).
    methods : list of str or method objects, optional
        Registered names (see :func:`clvmodels.evaluation.available_methods`)
        or objects following the method protocol. Default: every registered
        method (models with Gamma-Gamma, formulas, naive and ML baselines).
    calibration_end, observation_end : date-like
        The main split: calibration up to ``calibration_end`` (inclusive), the
        holdout window after it up to ``observation_end``.
    customer_id, date, amount : str
        Column names of the log.
    time_unit : {"D", "W", "M", "Y"}
        Unit of the summaries and the horizon.
    cutoffs : list of date-like, optional
        Backtest calibration cutoffs; each is scored with a holdout window of
        the main split's length (``observation_end - calibration_end``), and
        must leave that window inside the log.
    n_splits : int, optional
        Instead of ``cutoffs``: this many cutoffs ending at ``calibration_end``,
        ``step_days`` apart (default: the holdout length / ``n_splits``).
    progress : bool
        Show a progress bar (tqdm) over cutoffs and methods.
    random_state : int
        Seed given to every method that takes one (the ML baseline).
    errors : {"warn", "raise"}
        A method that raises is recorded in ``failures`` with a warning
        (default) or stops the comparison.

    Returns
    -------
    ComparisonResult

    Examples
    --------
    >>> import clvmodels
    >>> log = clvmodels.datasets.load_cdnow_transactions()
    >>> res = clvmodels.compare(log, ["bgnbd", "own_rate"], calibration_end="1997-09-30",
    ...                         observation_end="1998-06-30")
    >>> sorted(res.table().index)
    ['bgnbd', 'own_rate']
    """
    if errors not in ("warn", "raise"):
        raise InvalidParameterError(f"errors={errors!r}: use 'warn' or 'raise'.")
    if amount is None:
        raise InvalidParameterError(
            "compare needs amount= (the revenue column of the log): every method is scored "
            "on the holdout's transactions and revenue.")
    if step_days is not None and (isinstance(step_days, bool)
                                  or not isinstance(step_days, int | np.integer)
                                  or step_days < 1):
        raise InvalidParameterError(
            f"step_days={step_days!r}: the days between backtest cutoffs must be a whole "
            "number >= 1.")
    if isinstance(transactions, (str, bytes)) or hasattr(transactions, "__fspath__"):
        transactions = read_transactions(transactions, columns=[customer_id, date, amount])
    cal = to_timestamp(calibration_end, "calibration_end")
    obs = to_timestamp(observation_end, "observation_end")
    if cal is None or obs is None:
        raise InvalidParameterError("compare needs both calibration_end and observation_end.")
    if obs <= cal:
        raise InvalidParameterError(
            f"observation_end ({obs.date()}) must be after calibration_end ({cal.date()}): "
            "the holdout window would be empty."
        )
    # Validate once, on the whole log (every problem reported with its rows).
    validate_transactions(transactions, customer_id, date, amount,
                          observation_end=obs, refunds=refunds)
    log = pd.DataFrame({
        "customer_id": transactions[customer_id].to_numpy(),
        "date": _as_dates(transactions[date]),
        "amount": pd.to_numeric(transactions[amount]).to_numpy(dtype=float),
    })
    holdout_days = (obs - cal).days
    unit_days = time_unit_days(time_unit)
    horizon = holdout_days / unit_days

    if cutoffs is not None and n_splits is not None:
        raise InvalidParameterError("pass cutoffs or n_splits, not both.")
    if n_splits is not None:
        if int(n_splits) < 1:
            raise InvalidParameterError(f"n_splits must be >= 1, got {n_splits!r}.")
        step = step_days if step_days is not None else max(1, holdout_days // int(n_splits))
        cutoff_list = backtest_cutoffs(cal, int(n_splits), step)
    elif cutoffs is not None:
        cutoff_list = sorted({to_timestamp(c, "cutoffs") for c in cutoffs})
    else:
        cutoff_list = [cal]
    if cal not in cutoff_list:
        cutoff_list = sorted([*cutoff_list, cal])
    first_day = log["date"].min()
    for c in cutoff_list:
        if c + pd.Timedelta(days=holdout_days) > obs:
            raise InvalidParameterError(
                f"backtest cutoff {c.date()} + the holdout window ({holdout_days} days) ends "
                f"after observation_end ({obs.date()}); use cutoffs on or before {cal.date()}."
            )
        if c <= first_day:
            raise InvalidParameterError(
                f"backtest cutoff {c.date()} is on or before the first transaction "
                f"({first_day.date()}): there is no calibration period."
            )

    resolved = _resolve_methods(methods)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cutoff_list) * len(resolved), desc="compare", unit="fit")

    display_names = _display_names(resolved)
    backtest_rows, failures, fits = [], {}, []
    main = None
    try:
        for c in cutoff_list:
            split = _run_split(log, c, c + pd.Timedelta(days=holdout_days), time_unit, horizon,
                               resolved, random_state, errors, failures, bar, fits,
                               display_names)
            for name, scores in split["scores"].items():
                for metric, value in scores.items():
                    backtest_rows.append({"cutoff": c, "method": name, "metric": metric,
                                          "value": float(value)})
            if c == cal:
                main = split
    finally:
        if bar is not None:
            bar.close()

    backtest = pd.DataFrame(backtest_rows, columns=["cutoff", "method", "metric", "value"])
    leaderboard = _leaderboard(backtest, cal, len(cutoff_list))
    timings = pd.DataFrame(main["timings"]).T if main["timings"] else pd.DataFrame()
    settings = {
        "calibration_end": cal, "observation_end": obs, "time_unit": time_unit,
        "horizon": horizon, "cutoffs": cutoff_list, "random_state": random_state,
        "methods": [n for n, _ in resolved], "n_customers": len(main["summary"]),
    }
    return ComparisonResult(
        leaderboard=leaderboard, predictions=main["predictions"], backtest=backtest,
        summary=main["summary"], methods=main["fitted"], failures=failures, timings=timings,
        settings=settings, fits=fits, display_names=display_names,
        holdout_daily=_holdout_daily(log, main["summary"].index, cal, holdout_days),
    )


def _holdout_daily(log: pd.DataFrame, customers: pd.Index, cal, holdout_days: int) -> pd.Series:
    """Transactions (distinct customer-days) of the calibration customers per holdout day."""
    day = (pd.to_datetime(log["date"]).dt.normalize() - cal.normalize()).dt.days.to_numpy()
    keep = (day >= 1) & (day <= holdout_days) & log["customer_id"].isin(customers).to_numpy()
    pairs = pd.DataFrame({"c": log["customer_id"].to_numpy()[keep], "d": day[keep]})
    counts = pairs.drop_duplicates().groupby("d").size()
    return counts.reindex(pd.RangeIndex(1, holdout_days + 1, name="holdout_day"),
                          fill_value=0).rename("transactions")


def _as_dates(values: pd.Series) -> np.ndarray:
    return parse_dates(values).to_numpy().astype("datetime64[D]").astype("datetime64[s]")


def _run_split(log, cal, obs, time_unit, horizon, resolved, random_state, errors, failures, bar,
               fits, display_names):
    window = log[log["date"] <= obs]
    with warnings.catch_warnings():
        # Later arrivals are out of an early split by construction; attrs count them.
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        summary = rfm_summary(window, amount="amount", calibration_end=cal,
                              observation_end=obs, time_unit=time_unit)
    cal_summary = calibration_only(summary)
    actual = holdout_actuals(summary)
    cal_log = window[window["date"] <= cal]
    cal_log = cal_log[cal_log["customer_id"].isin(summary.index)]
    scores, preds, fitted, timings = {}, [], {}, {}
    for name, template in resolved:
        method, caught, fit_seconds, fit_done = None, [], float("nan"), False
        try:
            method = _new_method(name, template, random_state)
            with _recorded_warnings() as caught:
                t0 = time.perf_counter()
                try:
                    if getattr(method, "needs_transactions", False):
                        method.fit(cal_summary, cal_log)
                    else:
                        method.fit(cal_summary)
                    fit_done = True
                finally:
                    fit_seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            p = check_predictions(method.predict(cal_summary, horizon), cal_summary, name)
            t2 = time.perf_counter()
            ll = holdout_log_likelihood(method, cal_summary, horizon, actual["transactions"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=Warning)
                scores[name] = score_predictions(p, actual, log_likelihood=ll)
        except (CLVError, ArithmeticError, np.linalg.LinAlgError) as exc:
            fits.append(_fit_record(cal, name, display_names, method if fit_done else None,
                                    caught, fit_seconds, len(cal_summary), exc))
            if errors == "raise":
                raise
            failures[(cal, name)] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"method {name!r} failed at cutoff {cal.date()}: {exc}",
                          RuntimeWarning, stacklevel=3)
            continue
        finally:
            if bar is not None:
                bar.update(1)
        fits.append(_fit_record(cal, name, display_names, method, caught, fit_seconds,
                                len(cal_summary)))
        fitted[name] = method
        timings[name] = {"fit_s": fit_seconds, "predict_s": t2 - t1}
        preds.append(pd.DataFrame({
            "customer_id": cal_summary.index.to_numpy(),
            "method": name,
            "transactions": p["transactions"].to_numpy(),
            "revenue": p["revenue"].to_numpy(),
            "actual_transactions": actual["transactions"].to_numpy(),
            "actual_revenue": actual["revenue"].to_numpy(),
            "frequency": cal_summary["frequency"].to_numpy(),
        }))
    predictions = (pd.concat(preds, ignore_index=True) if preds else
                   pd.DataFrame(columns=["customer_id", "method", "transactions", "revenue",
                                         "actual_transactions", "actual_revenue", "frequency"]))
    return {"summary": summary, "scores": scores, "predictions": predictions,
            "fitted": fitted, "timings": timings}


def _fit_record(cal, name, display_names, method, caught, fit_seconds, n_customers,
                exc=None) -> FitRecord:
    """The record of one fit; ``method`` is None when it could not be built or fitted."""
    models = {}
    if method is not None:
        try:
            models = dict(getattr(method, "fitted_models", None) or {})
        except (CLVError, AttributeError):  # a hook that needs a finished fit
            models = {}
    return FitRecord(
        cutoff=cal, method=name, display_name=display_names.get(name, name), models=models,
        warnings=tuple(caught), fit_seconds=float(fit_seconds), fitted=method,
        n_customers=int(n_customers),
        error=None if exc is None else f"{type(exc).__name__}: {exc}",
    )


def _leaderboard(backtest: pd.DataFrame, cal, n_cutoffs: int) -> pd.DataFrame:
    main = backtest[backtest["cutoff"] == cal].drop(columns="cutoff")
    if n_cutoffs > 1:
        spread = (backtest.groupby(["method", "metric"])["value"]
                  .agg(value_mean="mean", value_std="std", value_min="min", value_max="max",
                       n_cutoffs="count")
                  .reset_index())
        main = main.merge(spread, on=["method", "metric"], how="left")
    main = main.copy()
    main["better"] = main["metric"].map(lambda m: METRICS.get(m, {}).get("better", ""))
    order = {m: i for i, m in enumerate(METRICS)}
    main["_o"] = main["metric"].map(lambda m: order.get(m, len(order)))
    return main.sort_values(["_o", "method"]).drop(columns="_o").reset_index(drop=True)
