"""Discounted customer lifetime value: a purchase model combined with a spend model.

For a customer with history ``(x, t_x, T)`` (a row of an RFM summary), the
expected discounted value of their purchases over the next ``H`` periods is
(Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer
base analysis", JMR 42(4), section "Computing CLV", in discrete time)::

    CLV = margin * E[Z | x, mbar] * sum_{k=1..K} [E[X(t_k) | x, t_x, T] - E[X(t_{k-1}) | x, t_x, T]]
                                                 / (1 + d)^(t_k)

where ``E[X(t) | ...]`` is the purchase model's conditional expected number of
purchases in ``(T, T + t]`` (``X(t_0) = X(0) = 0``), ``E[Z | ...]`` the spend
model's expected value per transaction, ``d`` the discount rate per time unit,
and the steps ``t_k = min(k s, H)`` for ``k = 1..K = ceil(H / s)`` with ``s =
periods_per_step`` (all in the summary's time unit). Purchases made during a step
are discounted as if they happened at its end. With ``d = 0`` the sum telescopes
to ``E[X(H) | ...]``.

The purchases and the spend multiply because the Gamma-Gamma model assumes
spend per transaction independent of the purchase process.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from clvmodels.errors import CLVError, InvalidParameterError, InvalidSummaryError, UnitMismatchError

__all__ = ["customer_lifetime_value", "convert_discount_rate", "expected_purchase_curve",
           "step_times"]

# Summary columns a purchase model may read; recency is the only one the
# conditional-on-alive expectation does not depend on (see _factorized_curves).
_HISTORY_COLUMNS = ("frequency", "recency", "T", "n_periods")
_METHODS = ("auto", "exact", "factorized")
#: Most discounting steps of one CLV computation (time is linear in the step count).
MAX_STEPS = 10_000


def step_times(horizon: float, periods_per_step: float = 1) -> np.ndarray:
    """Ends of the discounting steps ``t_k = min(k s, H)``, ``k = 1..ceil(H / s)``.

    A ratio ``H / s`` within ``1e-9`` of an integer is treated as that integer,
    so that ``H = 12 * 4.345`` with ``s = 4.345`` gives 12 steps.

    Examples
    --------
    >>> step_times(3)
    array([1., 2., 3.])
    >>> step_times(10, periods_per_step=4)
    array([ 4.,  8., 10.])
    """
    horizon = _positive_number(horizon, "horizon")
    step = _positive_number(periods_per_step, "periods_per_step")
    ratio = horizon / step
    if not ratio <= MAX_STEPS * (1 + 1e-9):
        suggest = horizon / MAX_STEPS
        raise InvalidParameterError(
            f"horizon {horizon:g} in steps of {step:g} is {ratio:,.0f} discounting steps, more "
            f"than the {MAX_STEPS:,} clvmodels evaluates (each step is one evaluation of every "
            f"distinct history: time grows with the step count). Use longer steps, "
            f"periods_per_step >= {suggest:.6g} (CLI: --periods-per-step), or a shorter horizon."
        )
    n_steps = max(1, math.ceil(ratio - 1e-9 * max(1.0, ratio)))
    times = np.minimum(np.arange(1, n_steps + 1, dtype=float) * step, horizon)
    times[-1] = horizon
    return times


def convert_discount_rate(rate: float, from_unit: str, to_unit: str) -> float:
    """Convert a compound discount rate between time units: ``(1 + rate)^(len_to / len_from) - 1``.

    Units as in :func:`clvmodels.rfm_summary`: ``"D"`` = 1 day, ``"W"`` = 7
    days, ``"M"`` = 30.4375 days, ``"Y"`` = 365.25 days.

    Examples
    --------
    >>> round(convert_discount_rate(0.10, "Y", "W"), 6)  # 10% a year, per week
    0.001828
    """
    from clvmodels.data.summary import time_unit_days

    rate = float(rate)
    if not (np.isfinite(rate) and rate > -1.0):
        raise InvalidParameterError(f"a discount rate must be finite and > -1; got {rate!r}.")
    return float(np.expm1(np.log1p(rate) * time_unit_days(to_unit) / time_unit_days(from_unit)))


def _positive_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a positive number; got {value!r}.")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise InvalidParameterError(f"{name} must be finite and > 0; got {value!r}.")
    return value


def _resolve_time_unit(purchase_model, summary: pd.DataFrame, time_unit):
    sources = {
        "the time_unit argument": time_unit,
        "summary.attrs['time_unit']": summary.attrs.get("time_unit"),
        "the purchase model's time_unit_": getattr(purchase_model, "time_unit_", None),
    }
    known = {name: str(unit).upper() for name, unit in sources.items() if unit is not None}
    if len(set(known.values())) > 1:
        listed = ", ".join(f"{name} = {unit!r}" for name, unit in known.items())
        raise UnitMismatchError(
            f"Time units disagree: {listed}. The horizon, the discount rate and the model's "
            f"rates must all be per the same period. Build the summary with the model's unit "
            f"(rfm_summary(..., time_unit=...)) or refit the model on this summary, and give "
            f"horizon and discount_rate per that unit (see convert_discount_rate)."
        )
    return next(iter(known.values()), None)


def _expected_purchases(purchase_model, frame: pd.DataFrame, t) -> np.ndarray:
    """The purchase model's conditional expected purchases in (T, T + t], as floats in row order.

    ``t`` is a number or an array with one horizon per row of ``frame``.
    """
    out = purchase_model.expected_purchases(frame, t)
    if isinstance(out, pd.Series | pd.DataFrame) and out.index.is_unique and frame.index.is_unique:
        out = out.reindex(frame.index)
    # a copy: pandas may hand out a read-only view, and callers fill some rows in place
    values = np.array(out, dtype=float).reshape(-1)
    if values.shape[0] != len(frame):
        raise CLVError(
            f"purchase_model.expected_purchases returned {values.shape[0]} values for "
            f"{len(frame)} customers."
        )
    bad = ~np.isfinite(values)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        t_first = float(np.broadcast_to(np.asarray(t, dtype=float), values.shape)[first])
        raise CLVError(
            f"purchase_model.expected_purchases returned {int(bad.sum())} non-finite value(s) "
            f"(first at t = {t_first:g} for the row {frame.iloc[first].to_dict()}); check the "
            f"model's parameters and the summary."
        )
    return values


#: Rows x steps evaluated per call of the purchase model (bounds the memory of one call).
_CHUNK_CELLS = 2_000_000


def _cumulative_curve(purchase_model, frame: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """``E[X(t_k)]`` for every row of ``frame`` and step ``k``, shape ``(len(frame), K)``.

    The models' prediction functions broadcast an array of horizons against the
    histories, so each row is repeated once per step and the whole curve comes from one
    call per chunk of rows (no Python loop over customers or steps). A purchase model
    that only takes a scalar horizon is called once per step instead.
    """
    n, k = len(frame), len(times)
    if n == 0:
        return np.zeros((0, k))
    if k == 1:
        return _expected_purchases(purchase_model, frame, float(times[0]))[:, None]
    out = np.empty((n, k))
    rows_per_chunk = max(1, _CHUNK_CELLS // k)
    attrs = dict(frame.attrs)
    for start in range(0, n, rows_per_chunk):
        rows = np.arange(start, min(n, start + rows_per_chunk))
        stacked = _sub_frame(frame, np.repeat(rows, k), attrs)
        horizons = np.tile(times, rows.size)
        try:
            values = _expected_purchases(purchase_model, stacked, horizons)
        except CLVError:
            raise
        except (TypeError, ValueError):
            # this model takes one horizon per call: call it once per step
            sub = _sub_frame(frame, rows, attrs)
            values = np.column_stack(
                [_expected_purchases(purchase_model, sub, float(t)) for t in times]).ravel()
        out[rows] = values.reshape(rows.size, k)
    return out


def expected_purchase_curve(purchase_model, summary: pd.DataFrame, times) -> np.ndarray:
    """Expected cumulative purchases ``E[X_i(t_k)]`` of every customer at every time ``t_k``.

    Parameters
    ----------
    purchase_model : fitted purchase model
    summary : DataFrame
        Columns frequency, recency, T (and the model's other columns).
    times : array_like
        Increasing horizons in the model's unit.

    Returns
    -------
    ndarray of shape (len(summary), len(times))
        Distinct histories are evaluated once.
    """
    times = np.asarray(times, dtype=float).reshape(-1)
    cols = ["frequency", "recency", "T"]
    extra = [c for c in getattr(purchase_model, "covariate_columns", []) or [] if c in summary]
    codes, first = _unique_rows(summary, cols + extra)
    uniq = _sub_frame(summary, first, dict(summary.attrs))
    return _cumulative_curve(purchase_model, uniq, times)[codes]


def _history_frame(summary: pd.DataFrame, purchase_model=None) -> tuple[pd.DataFrame, list]:
    cols = [c for c in _HISTORY_COLUMNS if c in summary.columns]
    # a model with covariates predicts from each customer's covariate columns too
    cols += [c for c in getattr(purchase_model, "covariate_columns", []) or []
             if c in summary.columns and c not in cols]
    if "frequency" not in cols:
        raise InvalidSummaryError(
            f"the summary has no 'frequency' column (columns: {list(summary.columns)}); "
            f"build it with clvmodels.rfm_summary."
        )
    return summary[cols], cols


def _unique_rows(frame: pd.DataFrame, cols: list[str]):
    """Codes of each row's unique combination of ``cols`` and one representative row per code."""
    codes = frame.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(codes.max()) + 1 if codes.size else 0
    first = np.full(n_groups, codes.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(codes.size, dtype=np.int64))
    return codes, first


def _sub_frame(frame: pd.DataFrame, rows: np.ndarray, attrs: dict) -> pd.DataFrame:
    sub = frame.iloc[rows].reset_index(drop=True)
    sub.attrs = dict(attrs)
    return sub


def _exact_sums(purchase_model, frame: pd.DataFrame, times, discount) -> tuple:
    """Discounted and undiscounted sums of the per-step expected purchases of each row."""
    curve = _cumulative_curve(purchase_model, frame, times)
    steps = np.diff(curve, axis=1, prepend=0.0)
    return steps @ discount, curve[:, -1].copy()


def _factorized_sums(purchase_model, frame, cols, attrs, times, discount):
    """Discounted sums using ``E[X(t) | x, t_x, T] = P(alive | x, t_x, T) g(t; x, T)``.

    In every model whose purchases, while alive, follow a process whose
    likelihood depends on the history only through ``(x, T)`` (Poisson in
    BG/NBD, MBG/NBD and Pareto/NBD; Bernoulli in BG/BB) and whose dropout is
    memoryless, the posterior given "alive at T" depends on ``(x, T)`` only, so
    the ratio ``E[X(t)] / E[X(H)]`` is the same for all customers sharing
    ``(x, T)`` whatever their recency. One representative per ``(x, T)`` gives
    the whole curve; each customer then needs only ``E[X(H)]``.

    Returns the sums and a boolean mask of rows for which the ratio was
    undefined (the representative's ``E[X(H)]`` is 0); the caller computes those
    exactly.
    """
    group_cols = [c for c in cols if c != "recency"]
    codes, first = _unique_rows(frame, group_cols)
    reps = _sub_frame(frame, first, attrs)
    rep_sum, rep_total = _exact_sums(purchase_model, reps, times, discount)
    ok = rep_total > 0
    weight = np.divide(rep_sum, rep_total, out=np.zeros_like(rep_sum), where=ok)
    total = _expected_purchases(purchase_model, frame, float(times[-1]))
    return weight[codes] * total, total, ~ok[codes]


def _purchase_sums(purchase_model, summary, times, discount, method):
    """``(sum_k dE_k v_k, E[X(H)])`` per customer of ``summary``, compressed to unique histories."""
    frame, cols = _history_frame(summary, purchase_model)
    attrs = dict(summary.attrs)
    codes, first = _unique_rows(frame, cols)
    uniq = _sub_frame(frame, first, attrs)
    use_factorized = method != "exact" and "recency" in cols and len(times) > 1
    if use_factorized and method == "auto":
        use_factorized = _factorization_holds(purchase_model, uniq, cols, attrs, times, discount)
    if use_factorized:
        disc, total, redo = _factorized_sums(purchase_model, uniq, cols, attrs, times, discount)
        if np.any(redo):
            rows = np.flatnonzero(redo)
            disc[rows], total[rows] = _exact_sums(
                purchase_model, _sub_frame(uniq, rows, attrs), times, discount)
    else:
        disc, total = _exact_sums(purchase_model, uniq, times, discount)
    return disc[codes], total[codes]


def _factorization_holds(purchase_model, uniq, cols, attrs, times, discount, n_check=200) -> bool:
    """Check the factorisation of :func:`_factorized_sums` on up to ``n_check`` histories.

    Compares both routes on histories that share ``(x, T)`` with another history
    of a different recency (the only case where the shortcut matters), to 1e-9
    relative. A purchase model that does not factorise fails this and is
    scored exactly.
    """
    group_cols = [c for c in cols if c != "recency"]
    codes, first = _unique_rows(uniq, group_cols)
    not_rep = np.ones(len(uniq), dtype=bool)
    not_rep[first] = False
    candidates = np.flatnonzero(not_rep)
    if candidates.size == 0:
        return True  # every (x, T) has one recency: the shortcut saves nothing and costs nothing
    n_pick = min(n_check, candidates.size)
    pick = candidates[np.linspace(0, candidates.size - 1, n_pick).astype(np.int64)]
    rows = np.unique(np.concatenate([pick, first[codes[pick]]]))
    sample = _sub_frame(uniq, rows, attrs)
    exact, _ = _exact_sums(purchase_model, sample, times, discount)
    fact, _, redo = _factorized_sums(purchase_model, sample, cols, attrs, times, discount)
    keep = ~redo
    return bool(np.allclose(fact[keep], exact[keep], rtol=1e-9, atol=1e-12 * max(
        1.0, float(np.max(np.abs(exact), initial=0.0)))))


def _spend_values(spend_model, spend, summary: pd.DataFrame) -> np.ndarray:
    if spend_model is not None and spend is not None:
        raise InvalidParameterError(
            "give either spend_model or spend=, not both (spend= is a constant or per-customer "
            "value per transaction used when there is no spend model)."
        )
    source = spend if spend_model is None else spend_model
    if source is None:
        raise InvalidParameterError(
            "no spend: give a fitted spend model (e.g. GammaGamma) or spend= (a number, or a "
            "Series of value per transaction by customer)."
        )
    if isinstance(source, numbers.Real) and not isinstance(source, bool):
        values = np.full(len(summary), float(source))
    elif isinstance(source, pd.Series):
        missing = ~summary.index.isin(source.index)
        if missing.any():
            raise InvalidParameterError(
                f"spend has no value for {int(missing.sum())} customer(s) of the summary "
                f"(first: {summary.index[missing][0]!r}); give one value per customer."
            )
        values = source.reindex(summary.index).to_numpy(dtype=float)
    elif hasattr(source, "expected_spend"):
        out = source.expected_spend(summary)
        if isinstance(out, pd.Series) and out.index.is_unique and summary.index.is_unique:
            out = out.reindex(summary.index)
        values = np.asarray(out, dtype=float).reshape(-1)
    else:
        values = np.asarray(source, dtype=float).reshape(-1)
    if values.shape[0] != len(summary):
        raise InvalidParameterError(
            f"spend has {values.shape[0]} values for {len(summary)} customers."
        )
    bad = ~np.isfinite(values) | (values < 0)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            f"spend per transaction must be finite and >= 0; {int(bad.sum())} value(s) are not "
            f"(first: customer {summary.index[first]!r}, value {values[first]!r})."
        )
    return values


def customer_lifetime_value(
    purchase_model,
    spend_model,
    summary: pd.DataFrame,
    horizon: float,
    discount_rate: float,
    time_unit: str | None = None,
    margin: float = 1.0,
    periods_per_step: float = 1,
    *,
    spend=None,
    components: bool = False,
    method: str = "auto",
    interval: float | None = None,
    interval_method: str = "asymptotic",
    n_draws: int = 1000,
    n_boot: int = 200,
    random_state=None,
    progress: bool = False,
    fit_summary: pd.DataFrame | None = None,
):
    """Expected discounted value of each customer's purchases over the next ``horizon`` periods.

    ::

        CLV_i = margin * spend_i * sum_{k=1..K} [E_i[X(t_k)] - E_i[X(t_{k-1})]] / (1 + d)^(t_k)

    with ``E_i[X(t)] = purchase_model.expected_purchases(summary, t)`` (expected
    purchases in the ``t`` periods after the end of calibration, given the
    customer's history), ``spend_i = spend_model.expected_spend(summary)``,
    ``t_0 = 0``, ``t_k = min(k s, H)`` and ``K = ceil(H / s)`` with ``s =
    periods_per_step``; purchases in a step are discounted at its end (Fader,
    Hardie & Lee 2005, JMR 42(4), in discrete time). With ``discount_rate = 0``
    this is ``margin * spend_i * E_i[X(H)]``.

    Parameters
    ----------
    purchase_model : fitted model with ``expected_purchases(summary, t)``
        BG/NBD, Pareto/NBD, ... (its ``time_unit_``, if any, is checked). It is
        called on the distinct histories only, with the summary's
        ``frequency``, ``recency``, ``T`` (and ``n_periods``) columns, and ``t``
        either a number or an array of one horizon per row.
    spend_model : fitted model with ``expected_spend(summary)``, a number, or None
        Expected value per transaction (e.g. :class:`~clvmodels.models.gamma_gamma.GammaGamma`,
        which gives customers without repeat purchases the population mean). With
        None, give ``spend=``.
    summary : DataFrame
        Customer summary (``clvmodels.rfm_summary``) indexed by customer.
    horizon : float
        Length of the projection, in time units (e.g. 52 for a year in weeks).
    discount_rate : float
        Discount rate per time unit, ``>= 0`` (see :func:`convert_discount_rate`
        to turn an annual rate into a weekly one).
    time_unit : str, optional
        Unit of ``horizon``, ``discount_rate`` and ``periods_per_step``; defaults to
        ``summary.attrs["time_unit"]``. It must agree with the summary's and the
        purchase model's units.
    margin : float
        Profit margin applied to the spend (1.0 = revenue), ``>= 0``.
    periods_per_step : float
        Time units per discounting step (e.g. ``4.345`` weeks for monthly steps).
        The discount rate stays per time unit: a monthly rate ``m`` on a weekly
        summary is ``discount_rate = (1 + m)^(1 / 4.345) - 1``.
    spend : float, Series or array, optional
        Value per transaction when ``spend_model`` is None.
    components : bool
        Return a DataFrame with ``expected_purchases`` (undiscounted, over the
        horizon), ``discounted_purchases``, ``expected_spend`` and ``clv``
        instead of the Series.
    method : {"auto", "exact", "factorized"}
        How the purchase curve is computed. ``"exact"`` calls
        ``expected_purchases`` once per step on the unique histories.
        ``"factorized"`` uses ``E[X(t) | x, t_x, T] = P(alive | x, t_x, T) g(t; x,
        T)``, exact for the buy-till-you-die models (BG/NBD, MBG/NBD,
        Pareto/NBD, BG/BB), and evaluates the whole curve only once per distinct
        ``(x, T)``: the cost is then about one call over all customers. ``"auto"``
        (default) checks that identity on a sample and falls back to
        ``"exact"`` when a model does not satisfy it.
    interval : float in (0, 1), optional
        Also return a parameter-uncertainty interval at this level (e.g. 0.9):
        the percentiles of the CLV over joint draws of the purchase model's and
        the spend model's parameters, drawn independently (the models are fitted
        separately and the Gamma-Gamma model assumes spend independent of the
        purchase process). It covers the estimation uncertainty of the
        parameters only, not the customer's own purchase and spend randomness;
        a ``spend=`` constant or Series is taken as known. See
        :mod:`clvmodels.models.uncertainty`.
    interval_method : {"asymptotic", "bootstrap"}, default "asymptotic"
        How parameters are drawn (``method`` names the purchase-curve
        computation here): normal draws of each model's log-parameters from its
        covariance, or a bootstrap over customers of each model (needs
        ``fit_summary``).
    n_draws, n_boot : int, default 1000, 200
        Parameter draws (asymptotic) or resamples (bootstrap) of each model.
    random_state : None, int or numpy Generator
        Seeds the draws (purchase model first, then spend model).
    progress : bool, default False
        Progress bar of the bootstrap refits.
    fit_summary : DataFrame, optional
        The calibration summary both models were fitted on (bootstrap only).

    Returns
    -------
    Series named ``"clv"`` indexed like ``summary`` (DataFrame with ``components=True``).
    With ``interval``, a DataFrame with ``clv``, ``clv_lower`` and ``clv_upper``
    (after the components when ``components=True``); the ``clv`` column equals
    the result without ``interval``.

    Raises
    ------
    UnitMismatchError
        If ``time_unit``, ``summary.attrs["time_unit"]`` and the model's
        ``time_unit_`` disagree.
    InvalidParameterError
        For a non-positive horizon or step, a negative discount rate or margin,
        or missing/invalid spend.

    Examples
    --------
    >>> import pandas as pd
    >>> class Steady:  # a purchase model with one purchase per period
    ...     time_unit_ = "W"
    ...     def expected_purchases(self, summary, t):
    ...         return pd.Series(float(t), index=summary.index)
    >>> summary = pd.DataFrame({"frequency": [1, 0], "recency": [2.0, 0.0], "T": [5.0, 5.0]})
    >>> summary.attrs["time_unit"] = "W"
    >>> customer_lifetime_value(Steady(), 10.0, summary, horizon=2, discount_rate=0.0).tolist()
    [20.0, 20.0]
    >>> clv = customer_lifetime_value(Steady(), 10.0, summary, 2, 0.1)  # 10/1.1 + 10/1.21
    >>> round(float(clv.iloc[0]), 6)
    17.355372
    """
    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"summary must be a DataFrame (clvmodels.rfm_summary); got {type(summary).__name__}."
        )
    if method not in _METHODS:
        raise InvalidParameterError(f"method must be one of {_METHODS}; got {method!r}.")
    _resolve_time_unit(purchase_model, summary, time_unit)
    times = step_times(horizon, periods_per_step)
    rate = float(discount_rate) if isinstance(discount_rate, numbers.Real) else np.nan
    if not (np.isfinite(rate) and rate >= 0):
        raise InvalidParameterError(
            f"discount_rate must be a finite rate per time unit >= 0; got {discount_rate!r}."
        )
    margin_value = float(margin) if isinstance(margin, numbers.Real) else np.nan
    if not (np.isfinite(margin_value) and margin_value >= 0):
        raise InvalidParameterError(f"margin must be finite and >= 0; got {margin!r}.")
    if isinstance(spend_model, numbers.Real) and not isinstance(spend_model, bool):
        spend_model, spend = None, spend_model
    spend_values = _spend_values(spend_model, spend, summary)
    discount = np.exp(-times * np.log1p(rate))
    if len(summary) == 0:
        disc = total = np.zeros(0)
    else:
        disc, total = _purchase_sums(purchase_model, summary, times, discount, method)
    with np.errstate(over="ignore", invalid="ignore"):
        clv = margin_value * spend_values * disc
    if not np.all(np.isfinite(clv)):
        first = int(np.flatnonzero(~np.isfinite(clv))[0])
        raise InvalidParameterError(
            f"the CLV of {int((~np.isfinite(clv)).sum())} customer(s) overflows (first: "
            f"customer {summary.index[first]!r}: margin {margin_value:g} x spend "
            f"{spend_values[first]:g} x discounted purchases {disc[first]:g}); check margin "
            "(a fraction, 1.0 = revenue) and the amounts' scale.")
    if interval is None:
        if not components:
            return pd.Series(clv, index=summary.index, name="clv")
        return pd.DataFrame(
            {"expected_purchases": total, "discounted_purchases": disc,
             "expected_spend": spend_values, "clv": clv},
            index=summary.index,
        )
    lower, upper, attrs = _clv_interval(
        purchase_model, spend_model, summary, times, discount, margin_value, spend_values,
        clv, method, interval=interval, interval_method=interval_method, n_draws=n_draws,
        n_boot=n_boot, random_state=random_state, progress=progress, fit_summary=fit_summary,
    )
    columns = {"clv": clv, "clv_lower": lower, "clv_upper": upper}
    if components:
        columns = {"expected_purchases": total, "discounted_purchases": disc,
                   "expected_spend": spend_values, **columns}
    out = pd.DataFrame(columns, index=summary.index)
    out.attrs = attrs
    return out


# --------------------------------------------------------------------------- intervals
def _draws_matrix(model, quantity, data: dict, draws: np.ndarray, n_threads=None,
                  **kwargs) -> np.ndarray:
    """``model``'s ``quantity`` at every draw and row: array (n_draws, n_rows)."""
    from clvmodels.models.uncertainty import map_draw_chunks

    n = next(iter(data.values())).shape[0]
    out = np.empty((draws.shape[0], n))

    def store(rows, values):
        out[:, rows] = values

    map_draw_chunks(model, quantity, data, draws, store, n_threads=n_threads, **kwargs)
    return out


def _draw_discounted_sums(model, data: dict, draws, times, discount, n_threads=None):
    """Per draw and row: ``sum_k (E[X(t_k)] - E[X(t_{k-1})]) v_k`` and ``E[X(H)]``."""
    previous = 0.0
    disc = 0.0
    for t_k, v_k in zip(times, discount, strict=True):
        current = _draws_matrix(model, "expected_purchases", data, draws, n_threads=n_threads,
                                t=float(t_k))
        disc = disc + (current - previous) * v_k
        previous = current
    return disc, previous


def _needs_model(model, role: str):
    if not hasattr(model, "_predict_with_params") or not hasattr(model, "params_"):
        raise InvalidParameterError(
            f"interval= needs a fitted clvmodels model as the {role} (its parameters are "
            f"drawn); got {type(model).__name__}."
        )


def _clv_interval(purchase_model, spend_model, summary, times, discount, margin, spend_values,
                  clv, method, *, interval, interval_method, n_draws, n_boot, random_state,
                  progress, fit_summary):
    """Percentiles of the CLV over independent draws of both models' parameters.

    The customers are compressed to unique histories (the purchase model's prediction
    columns) and, separately, unique spend rows; each distinct (history, spend) pair is
    evaluated once per draw, in chunks. The discounted purchase sum of a history uses the
    same route as the point estimate: with the (x, T) factorisation, the per-step curve
    is computed per draw on one history per (x, T) (the one with the largest recency)
    and scaled by each history's ``E[X(H)]``; otherwise every step is evaluated.
    """
    from clvmodels.data._random import check_random_state
    from clvmodels.models._fit import compress
    from clvmodels.models.uncertainty import (
        CHUNK_CELLS,
        COVERS,
        N_THREADS,
        check_interval,
        parameter_draws,
        percentiles,
    )

    level = check_interval(interval)
    _needs_model(purchase_model, "purchase model")
    rng = check_random_state(random_state)
    options = dict(n_draws=n_draws, n_boot=n_boot, random_state=rng, progress=progress,
                   fit_summary=fit_summary)
    p_draws = parameter_draws(purchase_model, interval_method, **options)
    p_draws = np.vstack([purchase_model.params_.to_numpy(dtype=float)[None, :], p_draws])
    has_spend_model = spend_model is not None
    if has_spend_model:
        _needs_model(spend_model, "spend model")
        s_draws = parameter_draws(spend_model, interval_method, **options)
        s_draws = np.vstack([spend_model.params_.to_numpy(dtype=float)[None, :], s_draws])
        n = min(p_draws.shape[0], s_draws.shape[0])  # bootstrap failures may differ
        p_draws, s_draws = p_draws[:n], s_draws[:n]
    n_total = p_draws.shape[0]

    # unique histories and unique spend rows, then unique (history, spend) pairs
    hdata, _ = purchase_model._interval_data(summary, "customer_lifetime_value")
    hpack = compress(list(hdata.values()))
    hu = dict(zip(hdata, hpack.columns, strict=True))
    if has_spend_model:
        sdata, _ = spend_model._interval_data(summary, "customer_lifetime_value")
        spack = compress(list(sdata.values()))
        su = dict(zip(sdata, spack.columns, strict=True))
        s_inverse = spack.inverse
    else:
        spack = compress([spend_values])
        su = {"spend": spack.columns[0]}
        s_inverse = spack.inverse
    pairs = compress([hpack.inverse.astype(float), s_inverse.astype(float)])
    pair_h = pairs.columns[0].astype(np.intp)
    pair_s = pairs.columns[1].astype(np.intp)
    first = np.empty(pairs.n_unique, dtype=np.intp)
    first[pairs.inverse[::-1]] = np.arange(pairs.inverse.size - 1, -1, -1, dtype=np.intp)
    point = clv[first]

    # route of the point estimate: factorised through one history per (x, T)?
    frame = pd.DataFrame(hu)
    frame.attrs = dict(summary.attrs)
    cols = [c for c in _HISTORY_COLUMNS if c in frame.columns]
    # a model with covariates takes its histories here in encoded form (its
    # _interval_data), which its public methods do not read: evaluate every step
    has_covariates = bool(getattr(purchase_model, "covariate_columns", None))
    factorized = (method != "exact" and "recency" in cols and len(times) > 1
                  and not has_covariates)
    if factorized and method == "auto":
        factorized = _factorization_holds(purchase_model, frame, cols, frame.attrs, times,
                                          discount)
    if factorized:
        group = compress([hu[c] for c in hu if c != "recency"])
        # one history per (x, T): the one with the largest recency (the most alive)
        order = np.lexsort((-hu["recency"], group.inverse))
        chosen = order[np.r_[0, np.flatnonzero(np.diff(group.inverse[order])) + 1]]
        reps = {c: v[chosen] for c, v in hu.items()}
        rep_disc, rep_total = _draw_discounted_sums(purchase_model, reps, p_draws, times,
                                                    discount)
        if np.any(rep_total <= 0):
            raise CLVError(
                "customer_lifetime_value(interval=...): the expected purchases over the horizon "
                "are 0 at some parameter draw for a representative history, so the purchase "
                "curve cannot be scaled; use method='exact'."
            )
        weight = rep_disc / rep_total  # (n_draws, n_groups)

    probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    lower = np.empty(pairs.n_unique)
    upper = np.empty(pairs.n_unique)
    def work(rows):
        h_codes, h_idx = np.unique(pair_h[rows], return_inverse=True)
        s_codes, s_idx = np.unique(pair_s[rows], return_inverse=True)
        hchunk = {c: v[h_codes] for c, v in hu.items()}
        if factorized:
            total_h = _draws_matrix(purchase_model, "expected_purchases", hchunk, p_draws,
                                    n_threads=1, t=float(times[-1]))
            disc_h = total_h * weight[:, group.inverse[h_codes]]
        else:
            disc_h, _ = _draw_discounted_sums(purchase_model, hchunk, p_draws, times, discount,
                                              n_threads=1)
        if has_spend_model:
            spend_s = spend_model._predict_with_params(
                "expected_spend", s_draws, {c: v[s_codes] for c, v in su.items()})
        else:
            spend_s = np.broadcast_to(su["spend"][s_codes], (n_total, s_codes.size))
        values = margin * np.take(spend_s, s_idx, axis=1) * np.take(disc_h, h_idx, axis=1)
        if np.isnan(values).any():
            raise CLVError(
                "customer_lifetime_value(interval=...): the CLV is NaN at some parameter draw; "
                "check both models' fits (model.summary())."
            )
        ref = point[rows]
        scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
        if not np.allclose(values[0], ref, rtol=1e-7, atol=1e-10 * scale):
            raise CLVError(
                "internal check failed: the CLV recomputed at the estimates differs from the "
                "point estimate; the models' _predict_with_params and their methods disagree."
            )
        lower[rows], upper[rows] = percentiles(values[1:], probs)

    per_chunk = max(1, CHUNK_CELLS // n_total)
    chunks = [slice(a, min(pairs.n_unique, a + per_chunk))
              for a in range(0, pairs.n_unique, per_chunk)]
    if N_THREADS == 1 or len(chunks) == 1:
        for rows in chunks:
            work(rows)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
            list(pool.map(work, chunks))
    attrs = {
        "interval": level,
        "method": interval_method,
        "n_draws": int(n_total - 1),
        "n_unique_rows": int(pairs.n_unique),
        "covers": COVERS + (
            "; purchase and spend models drawn independently" if has_spend_model
            else "; spend taken as known"),
    }
    return lower[pairs.inverse], upper[pairs.inverse], attrs
