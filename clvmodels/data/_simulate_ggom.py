"""Draw customer summaries from the Gamma-Gompertz/NBD process."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError

__all__ = ["simulate_ggomnbd_summary"]


def simulate_ggomnbd_summary(n_customers, r, alpha, b, s, beta, T, random_state=None,
                             time_unit="W") -> pd.DataFrame:
    """Draw (frequency, recency, T) from the Gamma-Gompertz/NBD process.

    Each customer has a purchase rate ``lambda ~ Gamma(r, rate=alpha)`` and a lifetime
    parameter ``eta ~ Gamma(s, rate=beta)``; the lifetime after the first purchase is
    Gompertz, ``P(tau > t) = exp(-eta (e^{bt} - 1))``, drawn as ``tau = log1p(E / eta) /
    b`` with ``E`` standard exponential (Bemmaor & Glady 2012, eq. 1); while alive,
    repeat purchases follow a Poisson process of rate ``lambda``.

    With ``L = min(tau, T)``, the frequency is ``x ~ Poisson(lambda L)`` and, given
    ``x > 0``, the last purchase time is ``L * Beta(x, 1)``.

    Parameters
    ----------
    n_customers : int
    r, alpha, b, s, beta : float
        Gamma-Gompertz/NBD parameters (> 0).
    T : float or array of shape (n_customers,)
        Time each customer has been observed since the first purchase.
    random_state : int, Generator or None
    time_unit : str, default "W"

    Returns
    -------
    DataFrame
        Columns frequency (int64), recency, T; index ``customer_id``; attrs
        ``time_unit`` and ``true_params``.

    Examples
    --------
    >>> df = simulate_ggomnbd_summary(1000, 0.55, 10.6, 0.05, 0.6, 1.5, T=39.0, random_state=1)
    >>> df.shape, bool((df["recency"] <= df["T"]).all())
    ((1000, 3), True)
    """
    params = {"r": r, "alpha": alpha, "b": b, "s": s, "beta": beta}
    for name, value in params.items():
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
    eta = rng.gamma(s, 1.0 / beta, size=n)
    with np.errstate(divide="ignore", over="ignore"):
        lifetime = np.log1p(rng.exponential(1.0, size=n) / eta) / b
    alive_for = np.minimum(lifetime, T)
    x = rng.poisson(lam * alive_for)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = alive_for[has] * rng.beta(x[has], 1.0)
    out = pd.DataFrame(
        {"frequency": x.astype(np.int64), "recency": recency, "T": T},
        index=pd.RangeIndex(n, name="customer_id"),
    )
    out.attrs = {"time_unit": time_unit, "true_params": params}
    return out
