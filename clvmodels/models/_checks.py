"""Checks shared by every model: fitted-ness, customer summaries, customer arrays, weights.

:func:`validate_data` checks a summary against a model class's declarative rules (the
estimators call it); :func:`customer_arrays`, :func:`weights_array` and
:func:`horizon_array` check the arrays the models' pure functions take. Each condition
raises one exception class wherever it is found: bad customer data (``recency > T``, a
negative or non-finite value) is an :class:`~clvmodels.errors.InvalidCustomerDataError`
from the estimators and from the pure functions alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import (
    InvalidCustomerDataError,
    InvalidParameterError,
    InvalidSummaryError,
    NotFittedError,
)

__all__ = [
    "check_is_fitted",
    "customer_arrays",
    "finite_array",
    "horizon_array",
    "validate_data",
    "weights_array",
]

_SHOW = 5  # rows shown in an error message




def check_is_fitted(model: Any, method: str) -> None:
    """Raise :class:`~clvmodels.errors.NotFittedError` unless ``model`` has parameters.

    Parameters
    ----------
    model : BaseModel
    method : str
        Name of the method the user called (used in the message).
    """
    if not hasattr(model, "params_"):
        name = type(model).__name__
        raise NotFittedError(
            f"This {name} has no parameters yet, so {method}() cannot run. Call "
            f"{name}().fit(summary) first, or build it from known values with "
            f"{name}.from_params({', '.join(f'{p}=...' for p in model._param_names)})."
        )


def _describe_rows(index: pd.Index, positions: np.ndarray, values: dict[str, np.ndarray]) -> str:
    shown = []
    for i in positions[:_SHOW]:
        parts = ", ".join(f"{name}={_fmt(col[i])}" for name, col in values.items())
        shown.append(f"{index.name or 'row'} {index[i]!r}: {parts}")
    return "; ".join(shown)


def _fmt(value: Any) -> str:
    value = float(value)
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def _name(model) -> str:
    return model.__name__ if isinstance(model, type) else type(model).__name__


def validate_data(
    model: Any,
    summary: pd.DataFrame | Mapping | None,
    columns: Mapping[str, Any],
    *,
    context: str = "fit",
) -> tuple[dict[str, np.ndarray], pd.Index]:
    """Check a customer summary (or arrays) against a model's declared data columns.

    All problems are collected and reported together in one
    :class:`~clvmodels.errors.InvalidSummaryError` naming the column, the
    first rows and their values, the count of bad rows, and the fix.

    Parameters
    ----------
    model : BaseModel or its class
        Supplies ``_data_columns`` and the declarative rules.
    summary : DataFrame or mapping, optional
        Holds the columns by name.
    columns : mapping
        Arrays passed by keyword (used when ``summary`` is None, or to
        override one of its columns).
    context : str
        Name of the calling method, for messages.

    Returns
    -------
    data : dict of str -> float ndarray
    index : Index
        The summary's index (customer ids) or a RangeIndex.
    """
    needed = model._data_columns
    unknown = [c for c in columns if c not in needed]
    if unknown:
        raise InvalidSummaryError(
            f"{context}() got unknown data argument(s) {unknown}; {_name(model)} "
            f"uses the columns {list(needed)}."
        )
    if summary is None and not columns:
        raise InvalidSummaryError(
            f"{context}() needs data: pass a customer summary DataFrame with columns "
            f"{list(needed)} "
            f"(for example from clvmodels.rfm_summary) or the arrays by keyword, "
            f"{context}({', '.join(f'{c}=...' for c in needed)})."
        )
    if summary is not None and not isinstance(summary, (pd.DataFrame, Mapping)):
        raise InvalidSummaryError(
            f"{context}() expects a pandas DataFrame (the customer summary) with columns "
            f"{list(needed)}, got {type(summary).__name__}. Pass arrays by keyword instead: "
            f"{context}({', '.join(f'{c}=...' for c in needed)})."
        )
    source: dict[str, Any] = {}
    missing = []
    for c in needed:
        if c in columns:
            source[c] = columns[c]
        elif summary is not None and c in summary:
            source[c] = summary[c]
        else:
            missing.append(c)
    if missing:
        have = list(summary.columns) if isinstance(summary, pd.DataFrame) else sorted(columns)
        raise InvalidSummaryError(
            f"The customer summary is missing column(s) {missing} needed by {context}() "
            f"(it has {have}). Build the summary with clvmodels.rfm_summary, rename your columns "
            f"to {list(needed)}, or pass the arrays by keyword."
        )

    arrays: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for c in needed:
        raw = source[c]
        try:
            arr = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            problems.append(
                f"column '{c}' is not numeric (dtype {getattr(raw, 'dtype', type(raw).__name__)}); "
                "convert it with pd.to_numeric."
            )
            continue
        if arr.ndim == 0 or (arr.ndim == 2 and 1 in arr.shape):  # one customer; a column vector
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            problems.append(f"column '{c}' must be one-dimensional, got shape {arr.shape}.")
            continue
        arrays[c] = arr
    if problems:
        raise InvalidSummaryError("Invalid customer summary: " + " ".join(problems))

    lengths = {c: a.shape[0] for c, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidSummaryError(
            f"The data columns have different lengths {lengths}; "
            "pass one value per customer in each."
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise InvalidSummaryError(
            f"{context}() got an empty customer summary (0 rows); nothing to use."
        )
    if isinstance(summary, pd.DataFrame) and len(summary) == n:
        index = summary.index
    else:
        index = pd.RangeIndex(n, name="customer")

    def report(mask: np.ndarray, what: str, cols: list[str], fix: str) -> None:
        positions = np.flatnonzero(mask)
        if positions.size:
            shown = _describe_rows(index, positions, {k: arrays[k] for k in cols})
            problems.append(f"{what} in {positions.size} of {n} rows (first: {shown}). {fix}")

    for c, a in arrays.items():
        bad = ~np.isfinite(a)
        report(
            bad,
            f"column '{c}' is missing (NaN) or infinite",
            [c],
            "Drop or fill these customers before fitting.",
        )
        finite = ~bad
        if c in model._positive_columns:
            report(
                finite & (a <= 0),
                f"column '{c}' must be > 0 but is not",
                [c],
                f"'{c}' is a count or duration that cannot be zero or negative here.",
            )
        else:
            report(
                finite & (a < 0),
                f"column '{c}' is negative",
                [c],
                f"'{c}' is a count or a time since the first purchase and cannot be negative.",
            )
        if c in model._integer_columns:
            report(
                finite & (a != np.round(a)),
                f"column '{c}' is not a whole number",
                [c],
                f"'{c}' counts repeat purchases; round it or recompute it with "
                "clvmodels.rfm_summary.",
            )
    for c, upper in model._bounded_by.items():
        if c in arrays and upper in arrays:
            a, b = arrays[c], arrays[upper]
            report(
                a > b + 1e-9 * np.maximum(1.0, np.abs(b)),
                f"column '{c}' exceeds column '{upper}'",
                [c, upper],
                f"'{c}' cannot be larger than '{upper}' (the last repeat purchase happens "
                "within the "
                "observation window); check that both use the same time unit, or recompute the "
                "summary with clvmodels.rfm_summary.",
            )
    for c, other in model._zero_implies_zero.items():
        if c in arrays and other in arrays:
            report(
                (arrays[c] == 0) & (arrays[other] > 0),
                f"'{c}' is 0 but '{other}' is > 0",
                [c, other],
                f"a customer without repeat purchases has '{other}' = 0 by definition; the summary "
                "was probably built with another convention (e.g. recency measured to the end of "
                "the period); recompute it with clvmodels.rfm_summary.",
            )
    extra = model._check_data(arrays, index) if not isinstance(model, type) else []
    problems.extend(extra or [])
    if problems:
        raise InvalidCustomerDataError(
            f"Invalid customer summary for {context}(): " + " | ".join(problems)
        )
    return arrays, index


def finite_array(values, name: str) -> np.ndarray:
    """``values`` as a float array, every value finite, else InvalidCustomerDataError naming it."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidCustomerDataError(
            f"{name} is not numeric ({type(values).__name__}); give numbers, one per customer."
        ) from None
    if not np.all(np.isfinite(arr)):
        flat = arr.ravel()
        bad = np.flatnonzero(~np.isfinite(flat))
        raise InvalidCustomerDataError(
            f"{name} has {bad.size} non-finite value(s) (first at position {bad[0]}: "
            f"{flat[bad[0]]}); remove or fill them."
        )
    return arr


def customer_arrays(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast ``(x, t_x, T)`` to float arrays and check ``x >= 0``, ``0 <= t_x <= T``.

    The check of the continuous-time purchase models' pure functions (BG/NBD, MBG/NBD,
    Pareto/NBD and their covariate versions).

    Raises
    ------
    InvalidCustomerDataError
        Naming each violated condition, how many rows break it and the first of them.
    """
    x = finite_array(frequency, "frequency")
    tx = finite_array(recency, "recency")
    T = finite_array(T, "T")
    try:
        x, tx, T = np.broadcast_arrays(x, tx, T)
    except ValueError as exc:
        raise InvalidCustomerDataError(
            f"frequency, recency and T have incompatible shapes {x.shape}, {tx.shape}, {T.shape}; "
            "give one value per customer."
        ) from exc
    problems = []
    for mask, text in (
        (x < 0, "frequency < 0"),
        (tx < 0, "recency < 0"),
        (tx > T, "recency > T"),
    ):
        if np.any(mask):
            pos = np.flatnonzero(mask.ravel())
            first = pos[0]
            problems.append(
                f"{pos.size} row(s) with {text} (first at position {first}: frequency="
                f"{x.ravel()[first]:g}, recency={tx.ravel()[first]:g}, T={T.ravel()[first]:g})"
            )
    if problems:
        raise InvalidCustomerDataError(
            "Invalid customer data: " + "; ".join(problems) + ". recency is the time from the "
            "first to the last purchase and T the time from the first purchase to the end of "
            "the calibration period, so 0 <= recency <= T; build the summary with rfm_summary."
        )
    return x, tx, T


def weights_array(weights, shape, *, summary=None, require_positive_total: bool = False
                  ) -> np.ndarray | None:
    """Customer weights (counts of customers per row) as a float array of ``shape``, or None.

    The one weights check of the package: the estimators (``fit(..., weights=)``) and the
    pure log-likelihoods call it.

    Parameters
    ----------
    weights : None, str or array_like
        A column name of ``summary``, or one weight per row.
    shape : int or tuple of int
        The data's shape.
    summary : DataFrame, optional
        Where a column name is looked up.
    require_positive_total : bool, default False
        Refuse weights that sum to zero (nothing to fit).

    Raises
    ------
    InvalidSummaryError
        For a missing column, a wrong length, negative or non-finite weights.
    """
    if weights is None:
        return None
    if isinstance(weights, str):
        if summary is None or weights not in summary:
            raise InvalidSummaryError(
                f"weights={weights!r} names a column that the summary does not have."
            )
        weights = summary[weights]
    w = np.asarray(weights, dtype=float)
    n = int(np.prod(shape))
    if w.size != n:
        raise InvalidSummaryError(
            f"weights has {w.size} values but the data have {n} rows; "
            "give one weight (customer count) per row."
        )
    w = w.reshape(shape)
    flat = w.ravel()
    bad = np.flatnonzero(~np.isfinite(flat) | (flat < 0))
    if bad.size:
        raise InvalidSummaryError(
            f"weights must be finite and >= 0 (counts of customers per row); {bad.size} are "
            f"not (first rows {bad[:_SHOW].tolist()}, values {flat[bad[:_SHOW]].tolist()})."
        )
    if require_positive_total and flat.sum() <= 0:
        raise InvalidSummaryError("weights sum to zero: no customer to fit.")
    return w


def horizon_array(t) -> np.ndarray:
    """A horizon (or several) as a float array; finite and >= 0, else InvalidParameterError."""
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InvalidParameterError(f"the horizon t must be finite and >= 0, got {t!r}.")
    return t
