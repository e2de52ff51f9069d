"""Draws from the NBD and the (M)BG/CNBD-k processes (the truth for recovery tests, benchmarks).

Each simulator follows its model's story literally and takes ``random_state`` (None, an
int or a ``numpy.random.Generator``): the same seed gives the same output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError

__all__ = ["simulate_cnbd_summary", "simulate_nbd_summary"]


def _check(n_customers, T, **params):
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)) or (
        n_customers < 0
    ):
        raise InvalidParameterError(f"n_customers must be a whole number >= 0, got "
                                    f"{n_customers!r}.")
    for name, value in params.items():
        if not (np.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name}={value!r} must be a positive finite number.")
    T = np.broadcast_to(np.asarray(T, dtype=float), (int(n_customers),)).copy()
    if np.any(~np.isfinite(T)) or np.any(T < 0):
        raise InvalidParameterError("T must be finite and >= 0 for every customer.")
    return int(n_customers), T


def simulate_nbd_summary(n_customers, r, alpha, T, random_state=None, time_unit="W"
                         ) -> pd.DataFrame:
    """Draw (frequency, recency, T) from the NBD: Poisson purchases at ``lambda ~ Gamma(r, alpha)``.

    ``x ~ Poisson(lambda T)`` and, given ``x``, the last purchase time is the maximum of
    ``x`` uniform times: ``T * Beta(x, 1)``.

    Examples
    --------
    >>> simulate_nbd_summary(3, 0.5, 5.0, 39, random_state=0).columns.tolist()
    ['frequency', 'recency', 'T']
    """
    n, T = _check(n_customers, T, r=r, alpha=alpha)
    rng = check_random_state(random_state)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    x = rng.poisson(lam * T)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], 1.0)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": recency, "T": T},
                       index=pd.RangeIndex(n, name="customer_id"))
    out.attrs = {"time_unit": time_unit, "true_params": {"r": r, "alpha": alpha}}
    return out


def simulate_cnbd_summary(n_customers, k, r, alpha, a, b, T, *, dropout_at_zero=False,
                          random_state=None, time_unit="W") -> pd.DataFrame:
    """Draw (frequency, recency, T, litt) from the BG/CNBD-k (or MBG/CNBD-k) process.

    Reutterer, Platzer & Schröder (2021): while alive a customer's gaps between purchases
    are Erlang-k with rate ``lambda`` (mean ``k / lambda``), ``lambda ~ Gamma(r, alpha)``;
    after each repeat purchase the customer drops out with probability ``p ~ Beta(a, b)``
    (``dropout_at_zero``: also right after the first purchase, the MBG/CNBD-k). The purchases
    are every ``k``-th event of a Poisson process of rate ``lambda`` started at the first
    purchase, which is how they are drawn: ``N ~ Poisson(lambda T)`` events at uniform times
    in ``(0, T]``, purchases at events ``k, 2k, ...``, up to the dropout. ``litt`` is the sum of
    the logarithms of the observed gaps (BTYDplus's ``elog2cbs``), the statistic of the
    event-log likelihood.

    Parameters
    ----------
    n_customers : int
    k : int >= 1
    r, alpha, a, b : float
    T : float or array
    dropout_at_zero : bool, default False
    random_state : None, int or Generator
    time_unit : str, default "W"

    Returns
    -------
    DataFrame
        Columns ``frequency``, ``recency``, ``T``, ``litt``; index ``customer_id``.

    Examples
    --------
    >>> s = simulate_cnbd_summary(4, 2, 0.8, 2.0, 0.8, 2.5, 52, random_state=0)
    >>> s.columns.tolist()
    ['frequency', 'recency', 'T', 'litt']
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k must be a whole number >= 1, got {k!r}.")
    n, T = _check(n_customers, T, r=r, alpha=alpha, a=a, b=b)
    rng = check_random_state(random_state)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    # repeat purchases made before dropping out if time were unlimited
    limit = rng.geometric(np.maximum(p, 1e-300)) - (1 if dropout_at_zero else 0)
    events = rng.poisson(lam * T)
    owner = np.repeat(np.arange(n), events)
    times = rng.random(owner.size) * T[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    first = np.cumsum(events) - events
    rank = np.arange(owner.size) - first[owner] + 1  # 1-based event number
    purchase = (rank % k == 0) & (rank // k <= limit[owner])
    p_owner, p_time = owner[purchase], times[purchase]
    x = np.bincount(p_owner, minlength=n)
    recency = np.zeros(n)
    recency[p_owner] = p_time  # sorted, so the last write is the last purchase
    previous = np.r_[0.0, p_time[:-1]]
    new_owner = np.r_[True, p_owner[1:] != p_owner[:-1]]
    previous[new_owner] = 0.0
    litt = np.bincount(p_owner, weights=np.log(p_time - previous), minlength=n)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": recency, "T": T,
                        "litt": litt}, index=pd.RangeIndex(n, name="customer_id"))
    out.attrs = {"time_unit": time_unit,
                 "true_params": {"k": int(k), "r": r, "alpha": alpha, "a": a, "b": b}}
    return out
