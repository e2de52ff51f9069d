"""Argument checks shared by the formula calculators.

Every check raises :class:`~clvmodels.errors.InvalidParameterError` with a
message that names the argument, shows the value, says what is wrong and how to
fix it; every check returns the value as a Python ``float``.
"""

from __future__ import annotations

import math
import numbers

from clvmodels.errors import InvalidParameterError

__all__ = ["number", "count", "positive", "fraction", "rate_above_minus_one"]


def number(name: str, value: object, hint: str = "") -> float:
    """A finite real number (``bool`` and ``None`` are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(
            f"{name}={value!r} is not a number; pass a finite real number"
            + (f" ({hint})" if hint else "") + "."
        )
    out = float(value)
    if not math.isfinite(out):
        raise InvalidParameterError(
            f"{name}={value!r} is not finite; pass a finite real number"
            + (f" ({hint})" if hint else "") + "."
        )
    return out


def count(name: str, value: object, hint: str = "") -> float:
    """A non-negative finite number (a count of customers, orders, ...)."""
    out = number(name, value, hint)
    if out < 0:
        raise InvalidParameterError(
            f"{name}={value!r} is negative; a count cannot be negative"
            + (f" ({hint})" if hint else "") + "."
        )
    return out


def positive(name: str, value: object, hint: str = "") -> float:
    """A strictly positive finite number (a divisor)."""
    out = number(name, value, hint)
    if out <= 0:
        raise InvalidParameterError(
            f"{name}={value!r} must be greater than 0"
            + (f": {hint}" if hint else "") + "."
        )
    return out


def non_negative(name: str, value: object, hint: str = "") -> float:
    """A non-negative finite number (an amount of money, a cost)."""
    out = number(name, value, hint)
    if out < 0:
        raise InvalidParameterError(
            f"{name}={value!r} is negative; it must be 0 or more"
            + (f" ({hint})" if hint else "") + "."
        )
    return out


def fraction(name: str, value: object, hint: str = "") -> float:
    """A number in [0, 1]; the message suggests dividing by 100 when it looks like a percent."""
    out = number(name, value, hint)
    if not 0.0 <= out <= 1.0:
        percent = (
            f" It looks like a percentage: pass {out / 100:g} for {out:g}%."
            if 1.0 < out <= 100.0 else ""
        )
        raise InvalidParameterError(
            f"{name}={value!r} is outside [0, 1]; pass it as a fraction"
            + (f" ({hint})" if hint else "") + "." + percent
        )
    return out


def rate_above_minus_one(name: str, value: object, hint: str = "") -> float:
    """A rate of return r > -1 (so that the discount factor 1 / (1 + r) is positive)."""
    out = number(name, value, hint)
    if out <= -1.0:
        raise InvalidParameterError(
            f"{name}={value!r} must be greater than -1 (the discount factor 1 / (1 + rate) "
            "must be positive); pass the rate per period as a fraction, e.g. 0.1 for 10%."
        )
    if out >= 1.0 and out <= 100.0 and float(out).is_integer():
        # 10 for 10% is a classic slip; a per-period rate of 1000% is rarely meant.
        raise InvalidParameterError(
            f"{name}={value!r} is a rate of {out * 100:g}% per period; pass it as a "
            f"fraction (e.g. {out / 100:g} for {out:g}%)."
        )
    return out
