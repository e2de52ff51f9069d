"""Special functions and log-space helpers shared by several models (no model's maths here).

Log-gamma ratios and log-beta without cancellation, ``log(1 - e^v)``, the negative
binomial tail in log space, the mixing of an "alive" and a "dead" part of a conditional
PMF, and the argument handling of conditional PMFs. Model modules import these; this
module imports no model.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, gammaln

from clvmodels.errors import InvalidParameterError

__all__ = [
    "combine_alive_dead",
    "counts_and_horizon",
    "log1mexp",
    "log_beta",
    "log_gamma_ratio",
    "log_nb_tail",
    "unique_rows",
]

# below this, betainc's value is replaced by the log of its hypergeometric series
_TINY_TAIL = 1e-280
_SERIES_MAX_TERMS = 1_000_000
_SERIES_TOL = 1e-17


_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def _stirling_remainder(x: np.ndarray) -> np.ndarray:
    """``lnGamma(x) - [(x - 1/2) log x - x + log(2 pi)/2]`` for ``x >= 10`` (error < 1e-17)."""
    inv = 1.0 / x
    inv2 = inv * inv
    total = np.zeros_like(x)
    for coef in reversed(_STIRLING):
        total = total * inv2 + coef
    return total * inv


def log_gamma_ratio(x, d) -> np.ndarray:
    """``log(Gamma(x + d) / Gamma(x))`` without the cancellation of two large ``gammaln``.

    For ``x >= 10`` the Stirling form ``(x - 1/2) log1p(d / x) + d log(x + d) - d +
    delta(x + d) - delta(x)`` is used (``delta`` the Stirling remainder), which
    keeps full relative precision when ``x`` is large and ``d`` small
    (``gammaln(1e5 + 0.5) - gammaln(1e5)`` loses five digits).

    Examples
    --------
    >>> float(np.round(log_gamma_ratio(1e5, 0.5), 12))
    5.756461482485
    """
    x, d = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(d, dtype=float))
    out = np.empty(x.shape)
    big = x >= 10
    if np.any(big):
        xb, db = x[big], d[big]
        out[big] = (
            (xb - 0.5) * np.log1p(db / xb)
            + db * np.log(xb + db)
            - db
            + _stirling_remainder(xb + db)
            - _stirling_remainder(xb)
        )
    small = ~big
    if np.any(small):
        out[small] = gammaln(x[small] + d[small]) - gammaln(x[small])
    return out


def log_beta(a, b) -> np.ndarray:
    """``log B(a, b)``, accurate when one argument is large and the other small.

    ``scipy.special.betaln(0.5, 1e5)`` is off by 1e-11 relative (it subtracts
    two ``gammaln`` of about 1e6); here ``log B = gammaln(min) -
    log_gamma_ratio(max, min)``.

    Examples
    --------
    >>> float(np.round(log_beta(2.0, 3.0), 12)) == float(np.round(np.log(1 / 12), 12))
    True
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    small = np.minimum(a, b)
    large = np.maximum(a, b)
    return gammaln(small) - log_gamma_ratio(large, small)


def counts_and_horizon(n, frequency, recency, T, t, check):
    """Broadcast ``(n, x, t_x, T, t)`` to flat float arrays; check ``n`` and ``t``."""
    x, tx, T_ = check(frequency, recency, T)
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    try:
        n, x, tx, T_, t = np.broadcast_arrays(n, x, tx, T_, t)
    except ValueError:
        raise InvalidParameterError(
            f"n (shape {n.shape}), the customer data (shape {np.shape(x)}) and t (shape "
            f"{t.shape}) cannot be broadcast together; give one count per customer."
        ) from None
    bad = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
    if np.any(bad):
        pos = np.flatnonzero(bad.ravel())
        raise InvalidParameterError(
            f"n must hold whole numbers >= 0 (purchase counts); {pos.size} value(s) are not, "
            f"first at position {pos[0]}: {float(n.ravel()[pos[0]])!r}."
        )
    bad = ~np.isfinite(t) | (t < 0)
    if np.any(bad):
        pos = np.flatnonzero(bad.ravel())
        raise InvalidParameterError(
            f"the horizon t must be finite and >= 0 (a length of time in the model's unit); "
            f"got {t.ravel()[pos[0]]!r} at position {pos[0]}."
        )
    shape = n.shape
    return shape, *(np.ravel(v).astype(float) for v in (n, x, tx, T_, t))


def log1mexp(v):
    """``log(1 - e^v)`` for ``v <= 0`` (``-inf`` at ``v = 0``), accurate on both sides of -log 2."""
    v = np.minimum(np.asarray(v, dtype=float), 0.0)
    with np.errstate(divide="ignore"):
        return np.where(v > -0.6931471805599453, np.log(-np.expm1(v)), np.log1p(-np.exp(v)))


def unique_rows(*columns):
    """Distinct rows of equal-length float columns and the inverse index."""
    stacked = np.stack(columns, axis=1)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return tuple(uniq[:, j] for j in range(len(columns))), inverse.reshape(-1)


def combine_alive_dead(log_alive, log_dead, log_new, n):
    """``log([n = 0] e^log_dead + e^(log_alive + log_new))``."""
    out = log_alive + log_new
    zero = n == 0
    out[zero] = np.logaddexp(log_dead[zero], out[zero])
    # P(alive) + P(dead) = 1 up to rounding: keep log-probabilities <= 0
    return np.minimum(out, 0.0)


def log_nb_tail(n, r, z):
    """``log I_z(n, r)`` = log P(N >= n) for ``N ~ NB(r, 1 - z)`` (``n >= 1``, ``0 < z < 1``).

    scipy's ``betainc`` where its value is above 1e-280; beyond, the positive
    series ``log[z^n (1-z)^r / (n B(n, r))] + log 2F1(n + r, 1; n + 1; z)``
    (DLMF 8.17.8), whose terms fall by at least ``(n + r) z / (n + 1) < 1`` each
    step that far in the tail.
    """
    out = np.empty(n.shape)
    with np.errstate(under="ignore"):
        val = betainc(n, r, z)
    ok = val > _TINY_TAIL
    out[ok] = np.log(val[ok])
    far = ~ok
    if np.any(far):
        nf, rf, zf = n[far], r[far], z[far]
        log_lead = nf * np.log(zf) + r[far] * np.log1p(-zf) - np.log(nf) - log_beta(nf, rf)
        total = np.ones(nf.shape)
        term = np.ones(nf.shape)
        active = np.arange(nf.size)
        for k in range(_SERIES_MAX_TERMS):
            term[active] *= zf[active] * (nf[active] + rf[active] + k) / (nf[active] + 1.0 + k)
            total[active] += term[active]
            active = active[term[active] > _SERIES_TOL * total[active]]
            if active.size == 0:
                break
        out[far] = log_lead + np.log(total)
    return out
