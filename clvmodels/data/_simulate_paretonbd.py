"""Draw customer summaries from the Pareto/NBD process (re-exported by the data layer)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError

__all__ = ["simulate_paretonbd_summary"]


def simulate_paretonbd_summary(n_customers, r, alpha, s, beta, T, random_state=None,
                               time_unit="W") -> pd.DataFrame:
    """Draw (frequency, recency, T) from the Pareto/NBD process.

    Each customer has a purchase rate ``lambda ~ Gamma(r, rate=alpha)`` and a
    dropout rate ``mu ~ Gamma(s, rate=beta)``; the lifetime after the first
    purchase is ``tau ~ Exponential(mu)``; while alive, repeat purchases follow
    a Poisson process of rate ``lambda`` (Schmittlein, Morrison & Colombo 1987,
    assumptions i-v).

    With ``L = min(tau, T)`` the time alive within the observation window, the
    frequency is ``x ~ Poisson(lambda L)`` and, given ``x > 0``, the last
    purchase time (the maximum of ``x`` uniform times on ``(0, L)``) is
    ``L * Beta(x, 1)``.

    Parameters
    ----------
    n_customers : int
    r, alpha, s, beta : float
        Pareto/NBD parameters (> 0).
    T : float or array of shape (n_customers,)
        Time each customer has been observed since the first purchase.
    random_state : int, Generator or None
    time_unit : str, default "W"
        Recorded in ``attrs`` (the unit of ``T`` and of the rates).

    Returns
    -------
    DataFrame
        Columns frequency (int64), recency, T; index ``customer_id`` 0..n-1;
        attrs ``time_unit`` and ``true_params``.

    Examples
    --------
    >>> df = simulate_paretonbd_summary(1000, 0.553, 10.578, 0.606, 11.669, T=39.0, random_state=1)
    >>> df.shape, bool((df["recency"] <= df["T"]).all())
    ((1000, 3), True)
    """
    for name, value in (("r", r), ("alpha", alpha), ("s", s), ("beta", beta)):
        if not (np.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name}={value!r} must be a positive finite number.")
    n = int(n_customers)
    if n < 0 or n != n_customers:
        raise InvalidParameterError(
            f"n_customers must be a whole number >= 0, got {n_customers!r}."
        )
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if np.any(~np.isfinite(T)) or np.any(T < 0):
        raise InvalidParameterError("T must be finite and non-negative for every customer.")
    rng = check_random_state(random_state)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    # mu can underflow to 0 for tiny s: such a customer never drops out within any finite T
    lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    alive_for = np.minimum(lifetime, T)
    x = rng.poisson(lam * alive_for)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = alive_for[has] * rng.beta(x[has], 1.0)
    out = pd.DataFrame(
        {"frequency": x.astype(np.int64), "recency": recency, "T": T},
        index=pd.RangeIndex(n, name="customer_id"),
    )
    out.attrs = {"time_unit": time_unit,
                 "true_params": {"r": r, "alpha": alpha, "s": s, "beta": beta}}
    return out
