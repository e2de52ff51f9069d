"""Design matrices of the covariate models: encoding and the checks of covariate columns.

Numeric columns are used as they are; categorical columns (strings, booleans,
pandas ``category``) are one-hot encoded against a reference level (the first
in sorted order, or the one given). :func:`_learn_encoding` learns the kind,
levels and reference of each column from the fitting data; :func:`_encode`
builds the design matrix of new data from it. Missing values, unseen levels,
constant columns and (with :func:`_check_rank`) linearly dependent columns
raise :class:`~clvmodels.errors.InvalidSummaryError` naming the column and the
rows. The small array helpers shared by the per-model modules live here too.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError, InvalidSummaryError
from clvmodels.models._checks import _SHOW, customer_arrays


def _at(v, index):
    """``v[index]`` for a per-row array, ``v`` itself for a scalar."""
    return v[index] if np.ndim(v) else v




def _design(Z, n) -> np.ndarray:
    if Z is None:
        return np.zeros((n, 0))
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2 or Z.shape[0] != n:
        raise InvalidParameterError(
            f"a design matrix must have one row per customer ({n}), got shape {Z.shape}."
        )
    if not np.all(np.isfinite(Z)):
        raise InvalidParameterError("design matrices must be finite (no NaN or infinity).")
    return Z


def _split_params(params, k_p: int, k_d: int, model: str):
    p = np.asarray(params, dtype=float).reshape(-1)
    if p.shape[0] != 4 + k_p + k_d:
        raise InvalidParameterError(
            f"{model} with {k_p} purchase and {k_d} dropout covariate column(s) takes "
            f"{4 + k_p + k_d} parameters (4 of the model, then the purchase coefficients, then "
            f"the dropout coefficients), got {p.shape[0]}."
        )
    base, gp, gd = p[:4], p[4:4 + k_p], p[4 + k_p:]
    if not (np.all(np.isfinite(base)) and np.all(base > 0)):
        raise InvalidParameterError(f"{model} parameters must be finite and > 0, got {base}.")
    if not np.all(np.isfinite(p[4:])):
        raise InvalidParameterError(f"{model} coefficients must be finite, got {p[4:]}.")
    return base, gp, gd




def _summary_arrays(frequency, recency, T, weights, check):
    x, tx, T_ = (np.ravel(v).astype(float) for v in check(frequency, recency, T))
    if weights is None:
        w = np.ones(x.shape)
    else:
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InvalidParameterError(
                f"weights must be {x.shape[0]} finite numbers >= 0 (one per customer)."
            )
    return x, tx, T_, w




def _public_inputs(params, frequency, recency, T, purchase_design, dropout_design, weights,
                   model: str):
    """What the public likelihood functions check and split: arrays, designs, parameters.

    Returns ``(x, t_x, T, w), (Zp, Zd), (base, gamma_p, gamma_d)``.
    """
    x, tx, T_, w = _summary_arrays(frequency, recency, T, weights, customer_arrays)
    Zp, Zd = _design(purchase_design, x.size), _design(dropout_design, x.size)
    return (x, tx, T_, w), (Zp, Zd), _split_params(params, Zp.shape[1], Zd.shape[1], model)


def _pattern_codes(Z: np.ndarray) -> np.ndarray:
    if Z.shape[1] == 0:
        return np.zeros(Z.shape[0])
    return np.unique(Z, axis=0, return_inverse=True)[1].reshape(-1).astype(float)


# ===========================================================================
# predictions with per-customer parameters
# ===========================================================================
def _rows(*arrays):
    out = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in arrays))
    return [np.ravel(v) for v in out]




def _pattern_of(*params):
    """Codes of the distinct parameter combinations of the rows."""
    return pd.factorize(pd.MultiIndex.from_arrays(
        [np.broadcast_to(v, np.shape(params[0])) for v in params]))[0].astype(float)




def _describe(index: pd.Index, positions: np.ndarray, column: str, values) -> str:
    shown = ", ".join(
        f"{index[i]!r} ({column}={values[i]!r})" for i in positions[:_SHOW]
    )
    more = f" and {positions.size - _SHOW} more" if positions.size > _SHOW else ""
    return f"{index.name or 'row'} {shown}{more}"


def _sorted_levels(values) -> list:
    levels = list(pd.unique(values))
    try:
        return sorted(levels)
    except TypeError:  # mixed types: sort by their text
        return sorted(levels, key=str)


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def _learn_encoding(frame: Mapping, names: list[str], reference: Mapping | None,
                    index: pd.Index) -> dict[str, dict]:
    """Kind, levels and reference level of each covariate column, from the fitting data."""
    reference = dict(reference or {})
    encoding = {}
    for name in names:
        col = pd.Series(frame[name]).reset_index(drop=True)
        _check_missing(col, name, index, "fit")
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if name in reference:
                raise InvalidParameterError(
                    f"reference={{{name!r}: {reference[name]!r}}}: column {name!r} is numeric and "
                    "used as it is; a reference level applies to categorical columns only "
                    "(convert it with .astype(str) to treat its values as levels)."
                )
            values = col.to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise InvalidSummaryError(
                    f"covariate column {name!r} is infinite in {bad.size} row(s): "
                    f"{_describe(index, bad, name, values)}. Replace these values."
                )
            if np.all(values == values[0]):
                raise InvalidSummaryError(
                    f"covariate column {name!r} has the same value ({values[0]!r}) for every "
                    "customer, so its coefficient cannot be told apart from the model's scale "
                    "parameter; drop it from the covariates."
                )
            encoding[name] = {"kind": "numeric", "levels": None, "reference": None}
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            present = set(col.dropna().unique())
            levels = [c for c in col.cat.categories if c in present]
        else:
            levels = _sorted_levels(col.to_numpy(dtype=object))
        levels = [_python(v) for v in levels]
        if len(levels) < 2:
            raise InvalidSummaryError(
                f"covariate column {name!r} has a single level ({levels[0]!r}) in the data, so "
                "it cannot explain differences between customers; drop it from the covariates."
            )
        ref = levels[0]
        if name in reference:
            ref = reference[name]
            if ref not in levels:
                raise InvalidParameterError(
                    f"reference level {ref!r} of column {name!r} does not occur in the data; "
                    f"its levels are {levels}."
                )
        encoding[name] = {"kind": "categorical", "levels": levels, "reference": _python(ref)}
    return encoding


def _check_missing(col: pd.Series, name: str, index: pd.Index, context: str) -> None:
    missing = np.flatnonzero(col.isna().to_numpy())
    if missing.size:
        raise InvalidSummaryError(
            f"{context}(): covariate column {name!r} is missing (NaN/None) for "
            f"{missing.size} of {len(col)} customers: "
            f"{_describe(index, missing, name, col.to_numpy())}."
            " Fill these values (e.g. with an explicit 'unknown' level) or drop the customers."
        )


def _column_labels(name: str, spec: dict) -> list[str]:
    if spec["kind"] == "numeric":
        return [name]
    return [f"{name}[{lvl}]" for lvl in spec["levels"] if lvl != spec["reference"]]


def _encode(frame: Mapping, names: list[str], encoding: dict, index: pd.Index,
            context: str) -> np.ndarray:
    """The design matrix of ``names`` (no intercept), as learned in ``encoding``."""
    n = len(index)
    blocks = []
    for name in names:
        spec = encoding[name]
        col = pd.Series(frame[name]).reset_index(drop=True)
        if len(col) != n:
            raise InvalidSummaryError(
                f"{context}(): covariate column {name!r} has {len(col)} values but the summary "
                f"has {n} customers."
            )
        _check_missing(col, name, index, context)
        if spec["kind"] == "numeric":
            try:
                values = col.to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise InvalidSummaryError(
                    f"{context}(): covariate column {name!r} was numeric when the model was "
                    f"fitted but holds non-numeric values here (dtype {col.dtype}); convert it "
                    "with pd.to_numeric."
                ) from None
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise InvalidSummaryError(
                    f"{context}(): covariate column {name!r} is infinite for "
                    f"{_describe(index, bad, name, values)}."
                )
            blocks.append(values[:, None])
            continue
        levels = spec["levels"]
        raw = col.to_numpy(dtype=object)
        codes = pd.Index(levels, dtype=object).get_indexer(pd.Index(raw, dtype=object))
        unknown = np.flatnonzero(codes < 0)
        if unknown.size:
            new = list(dict.fromkeys(_python(v) for v in raw[unknown]))[:_SHOW]
            raise InvalidSummaryError(
                f"{context}(): covariate column {name!r} has level(s) {new} that the model did "
                f"not see in fitting (known levels {levels}), in {unknown.size} row(s): "
                f"{_describe(index, unknown, name, raw)}. The model has no coefficient for them: "
                "map them to a known level or refit with these customers."
            )
        kept = [j for j, lvl in enumerate(levels) if lvl != spec["reference"]]
        blocks.append((codes[:, None] == np.asarray(kept)[None, :]).astype(float))
    if not blocks:
        return np.zeros((n, 0))
    return np.hstack(blocks)


def _check_rank(Z: np.ndarray, labels: list[str], process: str) -> None:
    """Raise when the columns and an intercept are linearly dependent (unidentified)."""
    if Z.shape[1] == 0:
        return
    X = np.column_stack([np.ones(Z.shape[0]), Z])
    X = X / np.maximum(np.abs(X).max(axis=0), 1e-300)
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        v = vt[-1]
        involved = [(["(intercept)"] + labels)[j] for j in np.flatnonzero(np.abs(v) > 1e-6)]
        raise InvalidSummaryError(
            f"the {process} covariate columns are linearly dependent (with the model's scale "
            f"parameter as intercept): {involved} combine to a constant, so their coefficients "
            "are not identified. Drop one of them (e.g. a numeric copy of a categorical column, "
            "or two columns that coincide in these data)."
        )


