"""Draw customer summaries and transaction logs from the models' processes.

Every function takes ``random_state`` (an int, a ``numpy.random.Generator`` or
None) and gives the same output for the same seed. The draws follow the
models' stories exactly, so they are the independent truth for parameter
recovery tests and the input of the benchmarks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError

__all__ = [
    "simulate_bgnbd_summary",
    "simulate_paretonbd_summary",
    "simulate_mbgnbd_summary",
    "simulate_bgbb_summary",
    "simulate_sbg_lifetimes",
    "simulate_gamma_gamma_spend",
    "simulate_transactions",
    "check_random_state",
]


def _positive(**kwargs):
    for name, value in kwargs.items():
        if not (np.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name}={value!r} must be a positive finite number.")


def _T_array(T, n_customers):
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    if np.any(~np.isfinite(T)) or np.any(T < 0):
        raise InvalidParameterError("T must be finite and non-negative for every customer.")
    return T


def simulate_bgnbd_summary(n_customers, r, alpha, a, b, T, random_state=None,
                           time_unit="W") -> pd.DataFrame:
    """Draw (frequency, recency, T) from the BG/NBD process.

    Each customer has a purchase rate ``lambda ~ Gamma(r, rate=alpha)`` and a
    dropout probability ``p ~ Beta(a, b)``; while alive, purchases follow a
    Poisson process; after each *repeat* purchase the customer drops out with
    probability ``p`` (Fader, Hardie & Lee 2005, assumptions i-v).

    The number of repeat purchases before dropout is ``D ~ Geometric(p)`` on
    {1, 2, ...}; the number of Poisson events in (0, T] is ``N ~ Poisson(lambda T)``;
    the observed frequency is ``x = min(N, D)`` and, given N events, the x-th
    event time is ``T * Beta(x, N - x + 1)`` (order statistics of uniforms).

    Parameters
    ----------
    n_customers : int
    r, alpha, a, b : float
        BG/NBD parameters.
    T : float or array of shape (n_customers,)
        Time each customer has been observed since the first purchase.
    random_state : int, Generator or None

    Returns
    -------
    DataFrame
        Columns frequency, recency, T; index ``customer_id`` 0..n-1; attrs
        ``time_unit`` and the true parameters.
    """
    _positive(r=r, alpha=alpha, a=a, b=b)
    rng = check_random_state(random_state)
    T = _T_array(T, n_customers)
    lam = rng.gamma(r, 1.0 / alpha, size=n_customers)
    p = rng.beta(a, b, size=n_customers)
    D = rng.geometric(np.clip(p, 1e-300, 1.0))
    N = rng.poisson(lam * T)
    x = np.minimum(N, D)
    recency = np.zeros(n_customers)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], N[has] - x[has] + 1)
    out = pd.DataFrame(
        {"frequency": x.astype(np.int64), "recency": recency, "T": T},
        index=pd.RangeIndex(n_customers, name="customer_id"),
    )
    out.attrs = {"time_unit": time_unit, "true_params": {"r": r, "alpha": alpha, "a": a, "b": b}}
    return out


def simulate_gamma_gamma_spend(frequency, p, q, gamma, random_state=None) -> np.ndarray:
    """Draw each customer's mean repeat-transaction value from the Gamma-Gamma model.

    ``nu ~ Gamma(q, rate=gamma)`` per customer, each transaction value
    ``z ~ Gamma(p, rate=nu)``; the mean of ``x`` values is ``Gamma(p x, rate=nu x)``.
    Customers with frequency 0 get 0 (no repeat transaction to average).
    """
    _positive(p=p, q=q, gamma=gamma)
    rng = check_random_state(random_state)
    x = np.asarray(frequency, dtype=np.int64)
    nu = rng.gamma(q, 1.0 / gamma, size=x.shape)
    out = np.zeros(x.shape)
    has = x > 0
    out[has] = rng.gamma(p * x[has], 1.0 / (nu[has] * x[has]))
    return out


def simulate_transactions(
    n_customers,
    r=0.243,
    alpha=4.414,
    a=0.793,
    b=2.426,
    *,
    spend=(6.25, 3.74, 15.44),
    start="1997-01-01",
    n_cohort_days=84,
    observation_days=546,
    time_unit_days=7.0,
    random_state=None,
) -> pd.DataFrame:
    """Draw a transaction log (customer_id, date, amount) from BG/NBD + Gamma-Gamma.

    Customers arrive uniformly over the first ``n_cohort_days`` days after
    ``start`` (their first purchase); each then buys following the BG/NBD
    process (rates per ``time_unit_days`` days) until ``start +
    observation_days``. Transaction values follow the Gamma-Gamma model with
    ``spend = (p, q, gamma)`` (the first purchase included). Defaults are the
    published CDNOW estimates, so 2,357 customers give a CDNOW-like log.

    Event times are truncated to days; two events of a customer on one day
    become two rows on that day (a summary merges them).

    Returns
    -------
    DataFrame
        Columns ``customer_id`` (int64), ``date`` (datetime64[s]) and ``amount``,
        sorted by customer then date.
    """
    _positive(r=r, alpha=alpha, a=a, b=b)
    rng = check_random_state(random_state)
    n = int(n_customers)
    first = rng.integers(0, n_cohort_days, size=n)
    horizon = (observation_days - first) / time_unit_days  # in time units
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    pdrop = rng.beta(a, b, size=n)
    D = rng.geometric(np.clip(pdrop, 1e-300, 1.0))
    N = rng.poisson(lam * horizon)
    k = np.minimum(N, D)  # repeat purchases actually made
    # Times of the first k of N uniform events on (0, horizon): draw all N, sort, keep k.
    total = int(N.sum())
    owner = np.repeat(np.arange(n), N)
    u = rng.random(total) * np.repeat(horizon, N)
    order = np.lexsort((u, owner))
    u = u[order]
    rank = np.arange(total) - np.repeat(np.cumsum(N) - N, N)
    keep = rank < np.repeat(k, N)
    owner, u = owner[keep], u[keep]
    cust = np.concatenate([np.arange(n), owner])
    day = np.concatenate([first, first[owner] + np.floor(u * time_unit_days).astype(np.int64)])
    day = np.minimum(day, observation_days - 1)
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    out = pd.DataFrame({
        "customer_id": cust.astype(np.int64),
        "date": (np.datetime64(pd.Timestamp(start).date(), "D") + day).astype("datetime64[s]"),
    })
    if spend is not None:
        p, q, g = spend
        _positive(p=p, q=q, gamma=g)
        nu = rng.gamma(q, 1.0 / g, size=n)
        out["amount"] = rng.gamma(p, 1.0 / nu[cust])
    return out


# Simulators of the other models live beside their authors' code; one import point here.
from clvmodels.data._simulate_family import (  # noqa: E402
    simulate_bgbb_summary,
    simulate_mbgnbd_summary,
    simulate_sbg_lifetimes,
)
from clvmodels.data._simulate_paretonbd import simulate_paretonbd_summary  # noqa: E402
