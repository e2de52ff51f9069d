"""Type aliases shared by the annotated modules (checked by mypy, see pyproject.toml)."""

from __future__ import annotations

import datetime

import numpy as np

#: A date: an ISO string, a ``datetime.date``/``datetime.datetime``/``pandas.Timestamp``, or
#: a ``numpy.datetime64``.
DateLike = str | datetime.date | np.datetime64

__all__ = ["DateLike"]
