"""Checking a model's parameter argument: one helper for every model's pure functions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clvmodels.errors import InvalidParameterError

__all__ = ["unpack_params"]


def unpack_params(params, names: tuple[str, ...], model: str) -> tuple[float, ...]:
    """``params`` (a mapping, a Series or a sequence in ``names`` order) as checked floats.

    Every parameter must be finite and > 0; the error names the model, the
    parameter and the value.
    """
    if isinstance(params, Mapping) or (hasattr(params, "index") and hasattr(params, "loc")):
        missing = [name for name in names if name not in params]
        if missing:
            raise InvalidParameterError(
                f"{model} params need the keys {names}; missing {missing}."
            )
        values = [params[name] for name in names]
    else:
        values = list(np.asarray(params, dtype=float).reshape(-1))
        if len(values) != len(names):
            raise InvalidParameterError(
                f"{model} takes {len(names)} parameters ({', '.join(names)}): give "
                f"{len(names)} numbers, got {len(values)}."
            )
    out = tuple(float(v) for v in values)
    for name, v in zip(names, out, strict=True):
        if not (np.isfinite(v) and v > 0):
            raise InvalidParameterError(
                f"{model} parameter {name} must be finite and > 0, got {v!r}."
            )
    return out
