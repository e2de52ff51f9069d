"""``random_state`` handling shared by every simulator (and anything else that draws)."""

from __future__ import annotations

import numpy as np

from clvmodels.errors import InvalidParameterError

__all__ = ["check_random_state"]


def check_random_state(random_state) -> np.random.Generator:
    """Turn None, an int or a Generator into a ``numpy.random.Generator``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise InvalidParameterError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
    )
