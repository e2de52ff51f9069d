"""Naive baselines: the bar every method must clear.

Each implements the method protocol of :mod:`clvmodels.evaluation.base` and
reads only the calibration columns ``frequency``, ``recency`` (unused), ``T``
and ``monetary_value`` of the summary:

* :class:`Zero` predicts nothing: 0 transactions, 0 revenue. Its MAE is the
  mean actual value, a floor any useful method beats on MAE for sparse data.
* :class:`OwnRate` extrapolates each customer's own repeat-purchase rate,
  ``frequency / T`` per time unit, over the horizon; revenue at the
  customer's own mean repeat spend.
* :class:`PopulationRate` gives every customer the pooled rate of the
  calibration customers, ``sum(frequency) / sum(T)``, and the pooled mean
  repeat spend.

"Transactions" are transaction days, as the summary's ``frequency`` counts
them, and ``monetary_value`` is the summary's mean spend (by default the mean
of the *repeat* transactions, 0 for customers without one; see
:func:`clvmodels.rfm_summary`).

Examples
--------
>>> import pandas as pd
>>> from clvmodels.evaluation.baselines import OwnRate, PopulationRate
>>> s = pd.DataFrame({"frequency": [4, 0], "recency": [6.0, 0.0], "T": [8.0, 2.0],
...                   "monetary_value": [10.0, 0.0]})
>>> s.attrs = {"time_unit": "W", "calibration_end": pd.Timestamp("2024-03-01")}
>>> OwnRate().fit(s).predict(s, horizon=4)
   transactions  revenue
0           2.0     20.0
1           0.0      0.0
>>> PopulationRate().fit(s).predict(s, horizon=4)        # rate 4 / 10 per week
   transactions  revenue
0           1.6     16.0
1           1.6     16.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidSummaryError, NotFittedError
from clvmodels.evaluation.base import (
    Method,
    check_calibration_summary,
    check_horizon,
    prediction_frame,
)
from clvmodels.evaluation.registry import register_method

__all__ = ["Zero", "OwnRate", "PopulationRate"]


def _column(summary: pd.DataFrame, name: str, method: str) -> np.ndarray:
    v = summary[name].to_numpy(dtype=float)
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidSummaryError(
            f"method {method!r}: column {name!r} must be finite and >= 0; "
            f"{int(bad.sum())} bad value(s), first customer {summary.index[first]!r} = "
            f"{v[first]!r}."
        )
    return v


def _spend(summary: pd.DataFrame, method: str) -> np.ndarray:
    if "monetary_value" not in summary.columns:
        raise InvalidSummaryError(
            f"method {method!r} predicts revenue from the column 'monetary_value', which the "
            "summary lacks; build it with clvmodels.rfm_summary(log, amount='amount', ...)."
        )
    return _column(summary, "monetary_value", method)


class Zero(Method):
    """Predict 0 transactions and 0 revenue for every customer.

    The "nobody comes back" baseline. Its ranking is uninformative (all
    tied), so its rank metrics are those of a random ranking (Spearman 0,
    Gini 0, top-10% capture 10%; see :mod:`clvmodels.evaluation.metrics`).
    """

    name = "zero"

    def fit(self, summary: pd.DataFrame, transactions=None) -> Zero:
        check_calibration_summary(summary, self.name, required=())
        self.fitted_ = True
        return self

    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        check_calibration_summary(summary, self.name, required=())
        check_horizon(horizon, self.name)
        return prediction_frame(summary, 0.0, 0.0)


class OwnRate(Method):
    r"""Each customer's own past repeat-purchase rate, extrapolated over the horizon.

    .. math::

        \hat X_i(h) = \frac{x_i}{T_i}\, h, \qquad
        \widehat{\text{revenue}}_i(h) = \hat X_i(h)\, m_i

    with :math:`x_i` the calibration repeat transactions (``frequency``),
    :math:`T_i` the time from the first purchase to ``calibration_end`` (the
    rate counts time *since the first purchase*, which is not a repeat
    purchase), :math:`h` the horizon and :math:`m_i` the summary's
    ``monetary_value`` (mean repeat spend). A customer with ``T = 0`` (first
    purchase on the cutoff day) has no observed rate and gets 0, as does a
    customer without repeat purchases. It ignores recency: a customer who
    stopped buying long ago keeps her old rate, the weakness the
    buy-till-you-die models address.
    """

    name = "own_rate"

    def fit(self, summary: pd.DataFrame, transactions=None) -> OwnRate:
        check_calibration_summary(summary, self.name)
        self.fitted_ = True
        return self

    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        check_calibration_summary(summary, self.name)
        h = check_horizon(horizon, self.name)
        x = _column(summary, "frequency", self.name)
        T = _column(summary, "T", self.name)
        rate = np.divide(x, T, out=np.zeros_like(x), where=T > 0)
        n = rate * h
        return prediction_frame(summary, n, n * _spend(summary, self.name))


class PopulationRate(Method):
    r"""The pooled repeat-purchase rate of the calibration customers, the same for everybody.

    .. math::

        \hat\lambda = \frac{\sum_i x_i}{\sum_i T_i}, \qquad
        \hat X_i(h) = \hat\lambda\, h, \qquad
        \widehat{\text{revenue}}_i(h) = \hat X_i(h)\, \bar m, \quad
        \bar m = \frac{\sum_i x_i m_i}{\sum_i x_i}

    :math:`\hat\lambda` is the maximum-likelihood rate of a Poisson process
    common to all customers (pooled, so customers with a short ``T`` do not
    dominate as they would in a mean of individual rates) and :math:`\bar m`
    the mean spend of all calibration repeat transactions. Both are learned
    in :meth:`fit` (attributes ``rate_`` and ``spend_``). With no repeat
    transaction at all, both are 0.
    """

    name = "population_rate"

    def fit(self, summary: pd.DataFrame, transactions=None) -> PopulationRate:
        check_calibration_summary(summary, self.name)
        x = _column(summary, "frequency", self.name)
        T = _column(summary, "T", self.name)
        total_T = float(T.sum())
        self.rate_ = float(x.sum()) / total_T if total_T > 0 else 0.0
        if "monetary_value" in summary.columns and x.sum() > 0:
            m = _spend(summary, self.name)
            self.spend_ = float(np.sum(x * m) / x.sum())
        else:
            self.spend_ = 0.0
        self.time_unit_ = summary.attrs["time_unit"]
        return self

    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        if not hasattr(self, "rate_"):
            raise NotFittedError(f"method {self.name!r}: call fit(summary) before predict.")
        check_calibration_summary(summary, self.name, required=())
        h = check_horizon(horizon, self.name)
        unit = summary.attrs["time_unit"]
        if str(unit) != str(self.time_unit_):
            raise InvalidSummaryError(
                f"method {self.name!r} was fitted on a summary in time unit {self.time_unit_!r} "
                f"but predicts on one in {unit!r}; use one unit for both."
            )
        n = self.rate_ * h
        return prediction_frame(summary, n, n * self.spend_)


for _cls in (Zero, OwnRate, PopulationRate):
    register_method(_cls, overwrite=True)
