"""Draws from the BG/BB, shifted-beta-geometric and MBG/NBD processes.

Each simulator follows its model's story literally, so it is the
independent truth for parameter-recovery tests and the input of the
benchmarks. Every one takes ``random_state`` (None, an int or a
``numpy.random.Generator``) and gives the same output for the same seed.
The lead re-exports them from :mod:`clvmodels.data.simulate`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError

__all__ = ["simulate_bgbb_summary", "simulate_sbg_lifetimes", "simulate_mbgnbd_summary"]


def _positive(**kwargs) -> None:
    for name, value in kwargs.items():
        try:
            ok = np.isfinite(value) and value > 0
        except TypeError:
            ok = False
        if not ok:
            raise InvalidParameterError(f"{name}={value!r} must be a positive finite number.")


def _n_customers(n_customers) -> int:
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)) or (
        n_customers < 0
    ):
        raise InvalidParameterError(
            f"n_customers must be a whole number >= 0, got {n_customers!r}."
        )
    return int(n_customers)


def _whole_periods(n_periods, n_customers: int, name: str = "n_periods") -> np.ndarray:
    arr = np.broadcast_to(np.asarray(n_periods, dtype=float), (n_customers,))
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise InvalidParameterError(
            f"{name} must be a whole number >= 0 (or one per customer), got {n_periods!r}."
        )
    return arr.astype(np.int64)


def _geometric(rng, p) -> np.ndarray:
    """Number of trials up to and including the first success (1, 2, ...); p may be tiny."""
    p = np.clip(p, 1e-300, 1.0)
    return rng.geometric(p)


def simulate_bgbb_summary(
    n_customers, alpha, beta, gamma, delta, n_periods, random_state=None
) -> pd.DataFrame:
    """Draw (frequency, recency, n_periods) from the BG/BB process.

    Fader, Hardie & Shang (2010), assumptions: while alive, a customer
    transacts at each opportunity with probability ``p``; at the start of each
    opportunity (after the first purchase) an alive customer becomes inactive
    for good with probability ``theta``; ``p ~ Beta(alpha, beta)`` and
    ``theta ~ Beta(gamma, delta)`` across customers. So a customer is alive
    at opportunity ``t`` with probability ``(1 - theta)^t``.

    Drawn exactly and vectorised: the number of opportunities ``A`` at which
    the customer is alive is ``min(G - 1, n)`` with ``G ~ Geometric(theta)``;
    scanning those ``A`` opportunities backwards, the number of trailing
    opportunities without a transaction is ``F ~ Geometric(p) - 1``; if ``F >=
    A`` there is no repeat transaction, else ``recency = A - F`` and
    ``frequency = 1 + Binomial(A - F - 1, p)`` (the earlier opportunities are
    independent Bernoulli trials).

    Parameters
    ----------
    n_customers : int
    alpha, beta, gamma, delta : float
        BG/BB parameters (> 0).
    n_periods : int or array of int
        Transaction opportunities after the first purchase (one value, or one
        per customer).
    random_state : None, int or Generator

    Returns
    -------
    DataFrame
        Columns ``frequency``, ``recency``, ``n_periods`` (int64), index
        ``customer_id`` 0..n-1; ``attrs["true_params"]`` holds the parameters.

    Examples
    --------
    >>> s = simulate_bgbb_summary(5, 1.2, 0.75, 0.66, 2.78, 6, random_state=1)
    >>> s.columns.tolist(), bool((s["frequency"] <= s["recency"]).all())
    (['frequency', 'recency', 'n_periods'], True)
    """
    n = _n_customers(n_customers)
    _positive(alpha=alpha, beta=beta, gamma=gamma, delta=delta)
    rng = check_random_state(random_state)
    n_per = _whole_periods(n_periods, n)
    p = rng.beta(alpha, beta, size=n)
    theta = rng.beta(gamma, delta, size=n)
    alive = np.minimum(_geometric(rng, theta) - 1, n_per)
    trailing = _geometric(rng, p) - 1
    has = trailing < alive
    recency = np.where(has, alive - trailing, 0)
    earlier = np.where(has, alive - trailing - 1, 0)
    frequency = np.where(has, 1 + rng.binomial(earlier, p), 0)
    out = pd.DataFrame(
        {
            "frequency": frequency.astype(np.int64),
            "recency": recency.astype(np.int64),
            "n_periods": n_per.astype(np.int64),
        },
        index=pd.RangeIndex(n, name="customer_id"),
    )
    out.attrs = {
        "true_params": {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta},
    }
    return out


def simulate_sbg_lifetimes(n_customers, alpha, beta, n_periods, random_state=None) -> pd.DataFrame:
    """Draw right-censored lifetimes from the shifted-beta-geometric process.

    Fader & Hardie (2007): each customer's churn probability is ``theta ~
    Beta(alpha, beta)``; at the end of each period they leave with
    probability ``theta``, so their lifetime (periods paid for) is ``T ~
    Geometric(theta)`` on 1, 2, .... Observed over ``n_periods`` periods, a
    customer with ``T <= n_periods`` churned in period ``T``; the others are
    still active after ``n_periods`` periods (censored).

    Parameters
    ----------
    n_customers : int
    alpha, beta : float
        sBG parameters (> 0).
    n_periods : int or array of int
        Periods observed (one value, or one per customer).
    random_state : None, int or Generator

    Returns
    -------
    DataFrame
        Columns ``period`` (the churn period, or ``n_periods`` when censored)
        and ``churned`` (1 observed, 0 censored), int64; index ``customer_id``.
        The cohort's survivor count at the start of period ``t <= n_periods``
        is the number of customers not churned by then,
        ``(~((df["churned"] == 1) & (df["period"] <= t))).sum()``.

    Examples
    --------
    >>> lives = simulate_sbg_lifetimes(4, 0.7, 1.2, 8, random_state=3)
    >>> lives.columns.tolist()
    ['period', 'churned']
    """
    n = _n_customers(n_customers)
    _positive(alpha=alpha, beta=beta)
    rng = check_random_state(random_state)
    n_per = _whole_periods(n_periods, n)
    theta = rng.beta(alpha, beta, size=n)
    lifetime = _geometric(rng, theta)
    churned = lifetime <= n_per
    out = pd.DataFrame(
        {
            "period": np.where(churned, lifetime, n_per).astype(np.int64),
            "churned": churned.astype(np.int64),
        },
        index=pd.RangeIndex(n, name="customer_id"),
    )
    out.attrs = {"true_params": {"alpha": alpha, "beta": beta}}
    return out


def simulate_mbgnbd_summary(
    n_customers, r, alpha, a, b, T, random_state=None, time_unit="W"
) -> pd.DataFrame:
    """Draw (frequency, recency, T) from the MBG/NBD process.

    Batislam, Denizel & Filiztekin (2007): like the BG/NBD (purchase rate
    ``lambda ~ Gamma(r, rate=alpha)``, Poisson purchases while alive, dropout
    probability ``p ~ Beta(a, b)``), except that a customer may also drop out
    right at time 0, before any repeat purchase. The number of repeat
    purchases a customer would make before dropping out if time were
    unlimited is therefore ``D ~ Geometric(p) - 1`` on 0, 1, ... (BG/NBD: on
    1, 2, ...). With ``N ~ Poisson(lambda T)`` purchase opportunities in ``(0,
    T]``, ``frequency = min(N, D)`` and, given ``N``, the time of the
    ``x``-th of them is ``T * Beta(x, N - x + 1)`` (uniform order statistics).

    Parameters
    ----------
    n_customers : int
    r, alpha, a, b : float
        MBG/NBD parameters (> 0).
    T : float or array of float
        Time since each customer's first purchase.
    random_state : None, int or Generator
    time_unit : str, default "W"
        Recorded in ``attrs["time_unit"]``.

    Returns
    -------
    DataFrame
        Columns ``frequency`` (int64), ``recency``, ``T``; index
        ``customer_id``; attrs ``time_unit`` and ``true_params``.

    Examples
    --------
    >>> s = simulate_mbgnbd_summary(3, 0.25, 4.0, 0.8, 2.5, 39, random_state=0)
    >>> s.columns.tolist()
    ['frequency', 'recency', 'T']
    """
    n = _n_customers(n_customers)
    _positive(r=r, alpha=alpha, a=a, b=b)
    rng = check_random_state(random_state)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(~np.isfinite(T)) or np.any(T < 0):
        raise InvalidParameterError("T must be finite and >= 0 for every customer.")
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    before_dropout = _geometric(rng, p) - 1
    events = rng.poisson(lam * T)
    x = np.minimum(events, before_dropout)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], events[has] - x[has] + 1)
    out = pd.DataFrame(
        {"frequency": x.astype(np.int64), "recency": recency, "T": T},
        index=pd.RangeIndex(n, name="customer_id"),
    )
    out.attrs = {"time_unit": time_unit, "true_params": {"r": r, "alpha": alpha, "a": a, "b": b}}
    return out
