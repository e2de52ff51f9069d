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

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

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

__all__ = ["compare", "ComparisonResult", "DEFAULT_METHODS", "backtest_cutoffs"]

#: The methods compared when none are named: every model, formula and baseline.
DEFAULT_METHODS = None  # resolved at call time to every registered method


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
    """

    leaderboard: pd.DataFrame
    predictions: pd.DataFrame
    backtest: pd.DataFrame
    summary: pd.DataFrame
    methods: dict
    failures: dict = field(default_factory=dict)
    timings: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)

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

    backtest_rows, failures = [], {}
    main = None
    try:
        for c in cutoff_list:
            split = _run_split(log, c, c + pd.Timedelta(days=holdout_days), time_unit, horizon,
                               resolved, random_state, errors, failures, bar)
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
        settings=settings,
    )


def _as_dates(values: pd.Series) -> np.ndarray:
    from clvmodels.data.transactions import _parse_dates

    return _parse_dates(values).to_numpy().astype("datetime64[D]").astype("datetime64[s]")


def _run_split(log, cal, obs, time_unit, horizon, resolved, random_state, errors, failures, bar):
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
        try:
            method = _new_method(name, template, random_state)
            t0 = time.perf_counter()
            if getattr(method, "needs_transactions", False):
                method.fit(cal_summary, cal_log)
            else:
                method.fit(cal_summary)
            t1 = time.perf_counter()
            p = check_predictions(method.predict(cal_summary, horizon), cal_summary, name)
            t2 = time.perf_counter()
            ll = holdout_log_likelihood(method, cal_summary, horizon, actual["transactions"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=Warning)
                scores[name] = score_predictions(p, actual, log_likelihood=ll)
        except (CLVError, ArithmeticError, np.linalg.LinAlgError) as exc:
            if errors == "raise":
                raise
            failures[(cal, name)] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"method {name!r} failed at cutoff {cal.date()}: {exc}",
                          RuntimeWarning, stacklevel=3)
            continue
        finally:
            if bar is not None:
                bar.update(1)
        fitted[name] = method
        timings[name] = {"fit_s": t1 - t0, "predict_s": t2 - t1}
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
