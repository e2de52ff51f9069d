"""The Pareto/GGG model: gamma inter-purchase times with heterogeneous regularity, by MCMC.

Model (Platzer & Reutterer 2016, "Ticking away the moments: timing regularity
helps to better predict customer activity", Marketing Science 35(5), section 3;
the hierarchical Bayes estimation of BTYDplus's ``pggg.mcmc.DrawParameters``).
While alive, customer ``i`` buys with gamma-distributed gaps between purchases,
``Gamma(k_i, k_i lambda_i)`` (shape ``k_i``, rate ``k_i lambda_i``: mean gap
``1/lambda_i``, coefficient of variation ``1/sqrt(k_i)``; ``k_i = 1`` is the
Poisson process of Pareto/NBD). The lifetime from the first purchase is
``tau_i ~ Exponential(mu_i)``. Across customers (the "GGG" mixture)::

    k_i ~ Gamma(t, gamma),   lambda_i ~ Gamma(r, alpha),   mu_i ~ Gamma(s, beta)

(shapes ``t, r, s``; rates ``gamma, alpha, beta``; all independent).

A customer's data are ``x`` repeat purchases at times ``t_1 < ... < t_x = t_x``
after the first one (time 0), observed to ``T``. With ``b = k lambda``,
``d = min(tau, T) - t_x`` and ``Q(k, z)`` the regularised upper incomplete
gamma function, their likelihood given the latent values is (paper, eq. 5)::

    L(k, lambda, tau) = prod_j f(t_j - t_(j-1); k, b) * Q(k, b d)
    log prod_j f = x (k log b - lnGamma(k)) + (k - 1) sum_j log(t_j - t_(j-1)) - b t_x

so the sufficient statistics are ``(x, t_x, T)`` and the **sum of the log
inter-purchase times** (``log_gap_sum``); :func:`pggg_summary` builds them from a
transaction log.

Estimation (Gibbs sampling, one sweep updates every customer at once)
---------------------------------------------------------------------
The lifetime is integrated out of each customer's likelihood in closed form: the
part "alive at ``T``" is ``e^(-mu T) Q(k, b (T - t_x))``, the part "died at ``tau`` in
``(t_x, T]``" integrates by parts to incomplete gamma functions (:func:`_dead_mass`).
So the chain holds ``(k_i, lambda_i, mu_i)`` and the population parameters only:

* ``k_i``, ``lambda_i`` and ``mu_i``: slice sampling on the log scale from their
  conditionals (every customer in one vectorised update,
  :func:`clvmodels.models._mcmc.slice_sample`; per-customer widths learnt in the
  burn-in). BTYDplus slice-samples ``k`` and ``lambda`` one customer at a time and
  Gibbs-samples ``mu | tau`` and ``tau | mu``; integrating ``tau`` out removes that
  slow ``mu``-``tau`` coupling.
* ``(t, gamma)``, ``(r, alpha)``, ``(s, beta)``: each pair drawn as a block from its
  conditional given the customers' ``k``, ``lambda``, ``mu`` (the rate integrated out
  under its conjugate gamma prior, the shape slice-sampled, then the rate drawn
  exactly), followed by Metropolis moves of the shape, the rate and both together with
  the customers' quantiles held fixed (the non-centred parametrisation; interweaving,
  Yu & Meng 2011), which mixes where the customers' data say little about their own
  ``k`` or ``mu``. The priors are BTYDplus's: every population parameter
  ``~ Gamma(0.001, 0.001)``.
* At each kept draw, ``z_i`` (alive at ``T``) and ``tau_i`` are drawn exactly from
  their conditional: ``P(alive | k, lambda, mu)`` in closed form
  (:func:`probability_alive_given_latent`), ``tau = T + Exponential(mu)`` if alive,
  else the inverse CDF of ``mu e^(-mu tau) Q(k, b (tau - t_x))`` on ``(t_x, T]``.

The chains are independent and seeded from ``random_state``; R-hat and the
effective sample sizes are the rank-normalised ones of Vehtari et al. (2021)
(:mod:`clvmodels.models._mcmc`).

Predictions come from the posterior draws: ``P(alive)`` is the posterior mean
of :func:`probability_alive_given_latent` (the Rao-Blackwellised form of
BTYDplus's ``mcmc.PAlive``, same expectation, less noise); holdout counts are
simulated from each draw's ``(k, lambda, tau)`` (BTYDplus's
``mcmc.DrawFutureTransactions``): the first purchase after ``T`` is the gap
conditioned on exceeding ``T - t_x``, later gaps are fresh.

Examples
--------
>>> from clvmodels.models.paretoggg import ParetoGGG, simulate_paretoggg
>>> data = simulate_paretoggg(200, t=4.0, gamma=2.0, r=3.0, alpha=10.0, s=0.8,
...                           beta=12.0, T=30.0, random_state=1)
>>> model = ParetoGGG(n_chains=2, n_draws=100, n_burnin=100, random_state=0).fit(data)
>>> model.summary().loc["t", ["mean", "q5", "q95"]].round(1).tolist()  # doctest: +SKIP
[3.9, 2.4, 5.9]
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import gammainc, gammaincc, gammainccinv, gammaincinv, gammaln
from sklearn.base import BaseEstimator

from clvmodels._version import __version__
from clvmodels.errors import (
    InvalidCustomerDataError,
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    ModelFileError,
    NotFittedError,
    StatisticalWarning,
    UnitMismatchError,
)
from clvmodels.models._checks import customer_arrays, finite_array, horizon_array
from clvmodels.models._mcmc import ess_bulk, ess_tail, rhat, slice_sample
from clvmodels.models.registry import spec_for

__all__ = [
    "LATENT_NAMES",
    "PARAM_NAMES",
    "ParetoGGG",
    "log_gamma_sf",
    "pggg_summary",
    "probability_alive_given_latent",
    "simulate_paretoggg",
]

#: Population (heterogeneity) parameters, in the order of the posterior arrays.
PARAM_NAMES = ("t", "gamma", "r", "alpha", "s", "beta")
#: Customer-level latent parameters kept for every draw.
LATENT_NAMES = ("k", "lambda", "mu", "tau")
#: The columns a Pareto/GGG summary needs.
DATA_COLUMNS = ("frequency", "recency", "T", "log_gap_sum")
#: File format of :meth:`ParetoGGG.save`.
FORMAT_VERSION = 1
_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 30.4375, "Y": 365.25}
# (shape-parameter name, rate-parameter name, latent name) of the three gamma mixtures
_GROUPS = (("t", "gamma", 0), ("r", "alpha", 1), ("s", "beta", 2))
_TINY = 1e-300
# rounds of the non-centred population moves per sweep (4 rounds double the ESS of s and
# beta per sweep but also the time: no gain per second, so one)
_MOVES_PER_SWEEP = 1


# ----------------------------------------------------------------------------------------
# special functions
# ----------------------------------------------------------------------------------------


def _log_gamma_sf_cf(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``log Q(a, x)`` by Legendre's continued fraction (modified Lentz), for ``x > a``."""
    b = x + 1.0 - a
    c = np.full(a.shape, 1e300)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, 200):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < 1e-300, 1e-300, d)
        c = b + an / c
        c = np.where(np.abs(c) < 1e-300, 1e-300, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1.0) < 1e-15):
            break
    return -x + a * np.log(x) - gammaln(a) + np.log(h)


def log_gamma_sf(a, x) -> np.ndarray:
    """``log Q(a, x)``, the log of the gamma distribution's survival function ``P(G > x)``.

    ``G ~ Gamma(a, 1)``. scipy's ``gammaincc`` where it is above 1e-300; beyond,
    where it would underflow (only for ``x > a``), Legendre's continued fraction
    in log space (DLMF 8.9.2), so a long silence after a regular customer's last
    purchase gives a finite, very negative log-likelihood rather than ``-inf``.

    Examples
    --------
    >>> float(np.round(log_gamma_sf(1.0, 2.0), 12))  # exponential: -x
    -2.0
    >>> float(np.round(log_gamma_sf(1.0, 2000.0), 9))
    -2000.0
    """
    a, x = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(x, dtype=float))
    with np.errstate(under="ignore"):
        q = gammaincc(a, x)
    out = np.empty(a.shape)
    ok = q > _TINY
    out[ok] = np.log(q[ok])
    far = ~ok
    if np.any(far):
        out[far] = _log_gamma_sf_cf(a[far], x[far])
    return out


_SERIES_TERMS = 10


def _dead_mass(mu, k, b, w):
    """``int_0^w mu e^(-mu u) Q(k, b u) du`` and ``e^(-mu w) Q(k, b w)``.

    By parts: ``1 - e^(-mu w) Q(k, b w) - (b / (b + mu))^k P(k, (b + mu) w)``, accurate
    to about 1e-16 absolute. Where that is below 1e-7 (``mu w`` small: the terms nearly
    cancel) the series ``sum_n (-1)^(n-1) mu^n E[min(G, w)^n] / n!`` is used instead
    (``G ~ Gamma(k, b)``;
    ``E[min(G, w)^n] = w^n Q(k, b w) + Gamma(k + n) / (Gamma(k) b^n) P(k + n, b w)``,
    and since the integral is at least ``mu w e^(-mu w) Q(k, b w)``... the terms fall
    like ``(mu w)^n / n!``; ten terms); ``P(k + n, b w)`` comes from one
    ``gammainc`` at ``n = 10`` and the recurrence ``P(a, z) = P(a + 1, z) + z^a e^-z /
    Gamma(a + 1)`` run downwards, where it only adds positive terms.
    """
    bw = b * w
    with np.errstate(under="ignore"):
        q_w = gammaincc(k, bw)
        surv = np.exp(-mu * w) * q_w
        out = (1.0 - surv
               - np.exp(-k * np.log1p(mu / b)) * gammainc(k, (b + mu) * w))
    # the closed form is accurate to ~1e-16 absolute: where it is small relative to that
    # (mu w tiny), sum the series instead
    small = (out < 1e-7) & (w > 0) & (mu * w < 0.1)
    if np.any(small):
        ms, ks, bs, ws, qs = mu[small], k[small], b[small], w[small], q_w[small]
        zs = bs * ws
        n_max = _SERIES_TERMS
        with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
            log_z = np.log(zs)
            # P(k + n, z) for n = n_max .. 1, downwards
            lg = gammaln(ks + n_max + 1.0)              # lnGamma(k + n + 1) at n = n_max
            p_n = gammainc(ks + n_max, zs)
            p = {n_max: p_n}
            for n in range(n_max - 1, 0, -1):
                lg = lg - np.log(ks + n + 1.0)          # lnGamma(k + n + 1)
                term = np.exp((ks + n) * log_z - zs - lg)
                p_n = p_n + np.where(zs > 0, term, 0.0)
                p[n] = p_n
            total = np.zeros(ms.shape)
            log_rise = np.zeros(ms.shape)               # log Gamma(k + n) / Gamma(k)
            log_fact = 0.0
            log_mu, log_w, log_b = np.log(ms), np.log(ws), np.log(bs)
            for n in range(1, n_max + 1):
                log_rise = log_rise + np.log(ks + n - 1.0)
                log_fact += math.log(n)
                moment = (np.exp(n * log_w) * qs
                          + np.exp(log_rise - n * log_b) * np.minimum(p[n], 1.0))
                total += (-1.0) ** (n - 1) * np.exp(n * log_mu - log_fact) * moment
        total = np.where(ws > 0, total, 0.0)
        out = out.copy()
        out[small] = total
    return np.maximum(out, 0.0), surv


def _tail_terms(k, b, mu, w):
    """``log e^(-mu w) Q(k, b w)`` (alive at T) and ``log`` of the dead mass."""
    dead, _ = _dead_mass(mu, k, b, w)
    log_alive = -mu * w + log_gamma_sf(k, b * w)
    with np.errstate(divide="ignore"):
        log_dead = np.log(dead)
    return log_alive, log_dead


def probability_alive_given_latent(frequency, recency, T, k, lam, mu) -> np.ndarray:
    """``P(tau > T | data, k, lambda, mu)``: the customer is alive at the end of calibration.

    The alive part of the likelihood is ``e^(-mu T) Q(k, b (T - t_x))``; the dead part
    integrates a death at ``tau`` in ``(t_x, T]``,
    ``int mu e^(-mu tau) Q(k, b (tau - t_x)) dtau`` (Platzer & Reutterer 2016, eq. 5,
    with ``b = k lambda``), which integrates by parts to incomplete gamma functions
    (see :func:`_dead_mass`); the common factor ``e^(-mu t_x)`` cancels.

    Parameters
    ----------
    frequency, recency, T : array_like
        ``x``, ``t_x``, ``T`` (only ``T - t_x`` matters).
    k, lam, mu : array_like
        Latent regularity, purchase rate and dropout rate (broadcast with the data).

    Examples
    --------
    >>> # k = 1: Pareto/NBD's 1 / (1 + mu/(lambda+mu) (e^((lambda+mu)(T-t_x)) - 1))
    >>> p = probability_alive_given_latent(2, 10.0, 20.0, 1.0, 0.3, 0.05)
    >>> bool(abs(p - 1 / (1 + 0.05 / 0.35 * np.expm1(0.35 * 10))) < 1e-12)
    True
    """
    x, tx, T = customer_arrays(frequency, recency, T)
    k, lam, mu = (np.asarray(v, dtype=float) for v in (k, lam, mu))
    shape = np.broadcast_shapes(x.shape, k.shape, lam.shape, mu.shape)
    w = np.broadcast_to(T - tx, shape).ravel()
    kk, ll, mm = (np.broadcast_to(v, shape).ravel() for v in (k, lam, mu))
    return _palive(kk, kk * ll, mm, w).reshape(shape)


def _palive(k, b, mu, w):
    log_alive, log_dead = _tail_terms(k, b, mu, w)
    return np.exp(log_alive - np.logaddexp(log_alive, log_dead))


def _draw_dead_gap(k, b, mu, w, rng):
    """Draw ``u`` in ``(0, w]`` with density proportional to ``e^(-mu u) Q(k, b u)``.

    Inverse CDF by safeguarded Newton (the CDF is :func:`_dead_mass`, its derivative
    the density itself), bisection whenever a Newton step leaves the bracket.
    """
    total, _ = _dead_mass(mu, k, b, w)
    target = rng.random(k.shape) * total
    lo = np.zeros(k.shape)
    hi = w.copy()
    u = 0.5 * w
    active = np.arange(k.size)
    for _ in range(100):
        ka, ba, ma, ua = k[active], b[active], mu[active], u[active]
        cdf, surv = _dead_mass(ma, ka, ba, ua)
        f = cdf - target[active]
        dens = ma * surv
        below = f < 0
        lo[active[below]] = ua[below]
        hi[active[~below]] = ua[~below]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = ua - f / dens
        bad = ~np.isfinite(step) | (step <= lo[active]) | (step >= hi[active])
        step[bad] = 0.5 * (lo[active][bad] + hi[active][bad])
        u[active] = step
        done = (np.abs(f) <= 1e-12 * np.maximum(total[active], 1e-300)) | (
            hi[active] - lo[active] <= 1e-12 * np.maximum(w[active], 1e-300))
        active = active[~done]
        if not active.size:
            break
    return np.clip(u, 0.0, w)


# ----------------------------------------------------------------------------------------
# data: summary from a transaction log, and simulation
# ----------------------------------------------------------------------------------------


def pggg_summary(
    transactions: pd.DataFrame,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    calibration_end,
    observation_end=None,
    time_unit: str = "W",
) -> pd.DataFrame:
    """The Pareto/GGG customer summary of a transaction log (BTYDplus's ``elog2cbs``).

    Purchases of a customer on the same day are one transaction. For each customer
    whose first purchase is on or before ``calibration_end``:

    * ``frequency`` ``x``: repeat transactions up to ``calibration_end``;
    * ``recency`` ``t_x``: time from the first to the last of them;
    * ``T``: time from the first purchase to ``calibration_end``;
    * ``log_gap_sum``: the sum of the logs of the ``x`` inter-purchase times
      (BTYDplus's ``litt``; 0 when ``x = 0``), the statistic the gamma gaps need;
    * with ``observation_end``: ``frequency_holdout`` (transactions after
      ``calibration_end`` up to ``observation_end``) and ``duration_holdout``.

    Times are day differences divided by the unit (``D`` 1, ``W`` 7, ``M`` 30.4375,
    ``Y`` 365.25 days), as :func:`clvmodels.rfm_summary` does; the unit and the
    cut-offs are kept in ``summary.attrs``.

    Parameters
    ----------
    transactions : DataFrame
        One row per purchase.
    customer_id, date : str
        Column names.
    calibration_end, observation_end : date-like
    time_unit : {"D", "W", "M", "Y"}

    Returns
    -------
    DataFrame indexed by customer id.

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                     "date": ["2020-01-01", "2020-01-08", "2020-01-22", "2020-01-05"]})
    >>> s = pggg_summary(log, calibration_end="2020-01-29", time_unit="W")
    >>> s.loc[1, ["frequency", "recency", "T"]].tolist(), round(float(s.loc[1, "log_gap_sum"]), 6)
    ([2.0, 3.0, 4.0], 0.693147)
    """
    if time_unit not in _UNIT_DAYS:
        raise InvalidParameterError(
            f"time_unit must be one of {sorted(_UNIT_DAYS)}, got {time_unit!r}.")
    if not isinstance(transactions, pd.DataFrame):
        raise InvalidTransactionsError(
            f"pggg_summary() expects a DataFrame of transactions, got "
            f"{type(transactions).__name__}.")
    missing = [c for c in (customer_id, date) if c not in transactions]
    if missing:
        raise InvalidTransactionsError(
            f"the transaction log has no column(s) {missing} (it has "
            f"{list(transactions.columns)}); pass customer_id= and date= to name them.")
    dates = pd.to_datetime(transactions[date], errors="coerce")
    bad = dates.isna() | transactions[customer_id].isna()
    if bad.any():
        first = list(np.flatnonzero(bad.to_numpy())[:5])
        raise InvalidTransactionsError(
            f"{int(bad.sum())} transaction row(s) have a missing customer id or a date that "
            f"cannot be read (first rows {first}); fix or drop them.")
    cal_end = pd.Timestamp(calibration_end)
    obs_end = None if observation_end is None else pd.Timestamp(observation_end)
    if obs_end is not None and obs_end <= cal_end:
        raise InvalidParameterError(
            f"observation_end ({obs_end.date()}) must be after calibration_end "
            f"({cal_end.date()}).")
    days = pd.DataFrame({"customer": transactions[customer_id].to_numpy(),
                         "day": dates.dt.normalize().to_numpy()}).drop_duplicates()
    days = days.sort_values(["customer", "day"], kind="mergesort")
    first = days.groupby("customer", sort=True)["day"].transform("min")
    days = days[first <= cal_end]
    first = first[days.index]
    unit = _UNIT_DAYS[time_unit]
    t = (days["day"] - first).dt.days.to_numpy() / unit
    cal = (days["day"] <= cal_end).to_numpy()
    frame = pd.DataFrame({"customer": days["customer"].to_numpy(), "t": t, "cal": cal})
    cal_frame = frame[frame["cal"]].copy()
    gaps = cal_frame.groupby("customer", sort=True)["t"].diff()
    cal_frame["log_gap"] = np.log(np.maximum(gaps.to_numpy(), _TINY))
    grouped = cal_frame.groupby("customer", sort=True)
    out = pd.DataFrame({
        "frequency": grouped.size().astype(float) - 1.0,
        "recency": grouped["t"].max(),
        "log_gap_sum": grouped["log_gap"].sum(min_count=1).fillna(0.0),
    })
    first_day = days.groupby("customer", sort=True)["day"].min()
    out["T"] = (cal_end - first_day).dt.days.to_numpy() / unit
    out = out[["frequency", "recency", "T", "log_gap_sum"]]
    if obs_end is not None:
        in_hold = ~cal & (days["day"] <= obs_end).to_numpy()
        counts = pd.Series(in_hold, index=days["customer"].to_numpy()).groupby(level=0).sum()
        out["frequency_holdout"] = counts.reindex(out.index).fillna(0).astype(float)
        out["duration_holdout"] = (obs_end - cal_end).days / unit
    out.index.name = customer_id
    out.attrs.update({"time_unit": time_unit, "calibration_end": str(cal_end.date()),
                      "observation_end": None if obs_end is None else str(obs_end.date())})
    return out


def simulate_paretoggg(
    n: int,
    *,
    t: float,
    gamma: float,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T=52.0,
    T_holdout: float = 0.0,
    random_state=None,
) -> pd.DataFrame:
    """Simulate customers from the Pareto/GGG model (BTYDplus's ``pggg.GenerateData``).

    Each customer draws ``k ~ Gamma(t, gamma)``, ``lambda ~ Gamma(r, alpha)``,
    ``mu ~ Gamma(s, beta)``, ``tau ~ Exponential(mu)``, then buys at time 0 and after
    ``Gamma(k, k lambda)`` gaps until ``tau``.

    Parameters
    ----------
    n : int
    t, gamma, r, alpha, s, beta : float
        Population parameters (shapes ``t, r, s``, rates ``gamma, alpha, beta``).
    T : float or array_like of shape (n,)
        Calibration length per customer (time from the first purchase).
    T_holdout : float
        Length of the holdout period after ``T``.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T``, ``log_gap_sum``, ``frequency_holdout`` and the
        true latent ``k``, ``lambda``, ``mu``, ``tau`` and ``alive`` (``tau > T``).

    Examples
    --------
    >>> d = simulate_paretoggg(5, t=4, gamma=2, r=3, alpha=10, s=0.8, beta=12, random_state=0)
    >>> list(d.columns[:4])
    ['frequency', 'recency', 'T', 'log_gap_sum']
    """
    values = {"t": t, "gamma": gamma, "r": r, "alpha": alpha, "s": s, "beta": beta}
    _check_params(values)
    rng = np.random.default_rng(random_state)
    n = int(n)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(~np.isfinite(T)) or np.any(T <= 0):
        raise InvalidParameterError("T must be finite and > 0 for every customer.")
    k = rng.gamma(t, 1.0 / gamma, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(1.0, n) / np.maximum(mu, _TINY)
    rate = k * lam
    end_cal = np.minimum(tau, T)
    end_hold = np.minimum(tau, T + T_holdout)
    x = np.zeros(n)
    tx = np.zeros(n)
    litt = np.zeros(n)
    x_hold = np.zeros(n)
    now = np.zeros(n)
    active = np.arange(n)
    while active.size:
        gap = np.maximum(rng.gamma(k[active], 1.0 / rate[active]), _TINY)
        now[active] += gap
        in_cal = now[active] < end_cal[active]
        ia = active[in_cal]
        x[ia] += 1
        tx[ia] = now[ia]
        litt[ia] += np.log(gap[in_cal])
        in_hold = ~in_cal & (now[active] >= T[active]) & (now[active] < end_hold[active])
        x_hold[active[in_hold]] += 1
        active = active[now[active] < end_hold[active]]
    return pd.DataFrame({
        "frequency": x, "recency": tx, "T": T, "log_gap_sum": litt,
        "frequency_holdout": x_hold, "k": k, "lambda": lam, "mu": mu, "tau": tau,
        "alive": tau > T,
    }, index=pd.RangeIndex(n, name="customer"))


def _check_params(values: dict) -> None:
    for name in PARAM_NAMES:
        v = values[name]
        if not isinstance(v, (int, float, np.floating, np.integer)) or not np.isfinite(v) or v <= 0:
            raise InvalidParameterError(
                f"Pareto/GGG parameter {name} must be a finite number > 0, got {v!r}.")


def _summary_arrays(summary, method: str, columns=None
                    ) -> tuple[tuple[np.ndarray, ...], pd.Index]:
    """Check a Pareto/GGG summary; return ``(x, t_x, T, log_gap_sum)`` and the index.

    Impossible customer data (``recency > T``, negative values) are reported before a
    missing ``log_gap_sum``, with the package's one class for them.
    """
    if columns:
        unknown = sorted(set(columns) - set(DATA_COLUMNS))
        if unknown:
            raise InvalidSummaryError(
                f"{method}() got unknown data argument(s) {unknown}; Pareto/GGG uses "
                f"{list(DATA_COLUMNS)}.")
        if summary is not None:
            summary = summary.assign(**columns)
        else:
            lengths = {len(np.atleast_1d(v)) for v in columns.values()}
            if len(lengths) != 1:
                raise InvalidSummaryError(
                    f"{method}(): the data arguments have different lengths.")
            summary = pd.DataFrame({c: np.atleast_1d(np.asarray(v, dtype=float))
                                    for c, v in columns.items()})
    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"{method}() expects a DataFrame with columns {list(DATA_COLUMNS)}, e.g. from "
            f"clvmodels.models.paretoggg.pggg_summary, got {type(summary).__name__}.")
    if all(c in summary for c in ("frequency", "recency", "T")):
        customer_arrays(summary["frequency"], summary["recency"], summary["T"])
    missing = [c for c in DATA_COLUMNS if c not in summary]
    if missing:
        hint = (" The sum of log inter-purchase times is built from the transaction log by "
                "pggg_summary(log, ...)." if "log_gap_sum" in missing else "")
        raise InvalidSummaryError(
            f"The summary given to {method}() is missing column(s) {missing} (it has "
            f"{list(summary.columns)}).{hint}")
    if len(summary) == 0:
        raise InvalidSummaryError(f"{method}() got an empty summary (0 rows).")
    x, tx, T = customer_arrays(summary["frequency"], summary["recency"], summary["T"])
    litt = finite_array(summary["log_gap_sum"], "log_gap_sum")
    problems = []
    if np.any(x != np.round(x)):
        problems.append("frequency holds values that are not whole numbers")
    if np.any(T <= 0):
        problems.append("T must be > 0 (time from the first purchase to the cut-off)")
    if np.any((x == 0) & ((tx > 0) | (litt != 0))):
        problems.append("a customer with frequency 0 must have recency 0 and log_gap_sum 0")
    if np.any((x > 0) & (tx <= 0)):
        problems.append("a customer with repeat purchases must have recency > 0")
    # Jensen: the mean log gap is at most the log of the mean gap, log(t_x / x)
    with np.errstate(divide="ignore", invalid="ignore"):
        jensen = (x > 0) & (litt > x * np.log(tx / np.maximum(x, 1)) + 1e-8 * (1 + np.abs(litt)))
    if np.any(jensen):
        problems.append(
            f"{int(jensen.sum())} row(s) have log_gap_sum > frequency * log(recency / "
            "frequency), impossible for gaps that add up to recency (log_gap_sum must be in "
            "the same time unit as recency)")
    if problems:
        raise InvalidCustomerDataError(
            f"Invalid Pareto/GGG summary for {method}(): " + "; ".join(problems) + ". Build it "
            "with pggg_summary(transactions, ...).")
    return (x, tx, T, litt), summary.index


# ----------------------------------------------------------------------------------------
# the sampler
# ----------------------------------------------------------------------------------------


class _Data:
    """The customers' statistics, with what every sweep reuses."""

    def __init__(self, x, tx, T, litt):
        self.x, self.tx, self.T, self.litt = x, tx, T, litt
        self.w = T - tx
        self.n = x.size


def _log_lik(k, lam, mu, x, tx, litt, w):
    """Each customer's log-likelihood given ``(k, lambda, mu)``, the lifetime integrated out.

    ``x (k log b - lnGamma(k)) + (k - 1) log_gap_sum - b t_x - mu t_x
    + log(e^(-mu (T - t_x)) Q(k, b (T - t_x)) + int_0^(T - t_x) mu e^(-mu u) Q(k, b u) du)``
    with ``b = k lambda`` (Platzer & Reutterer 2016, eq. 5 integrated over ``tau``).
    """
    b = k * lam
    log_alive, log_dead = _tail_terms(k, b, mu, w)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return (x * (k * np.log(b) - gammaln(k)) + (k - 1.0) * litt - (b + mu) * tx
                + np.logaddexp(log_alive, log_dead))


def _latent_sweep(state, data, theta, rng, keep=False, widths=(1.0, 1.0, 1.0)):
    """One Gibbs sweep over every customer's ``k``, ``lambda`` and ``mu`` given ``theta``.

    Each is slice-sampled on the log scale from its conditional with the lifetime
    integrated out (a collapsed Gibbs step: no ``tau`` in the chain, so ``mu`` mixes
    freely). With ``keep``, also ``P(alive | k, lambda, mu)`` and an exact draw of
    ``(z, tau)`` from its conditional.
    """
    k, lam, mu = state
    t_, gamma_, r_, alpha_, s_, beta_ = theta
    x, tx, litt, w = data.x, data.tx, data.litt, data.w
    ell = _log_lik(k, lam, mu, x, tx, litt, w)

    def f_k(v, idx):
        kk = np.exp(v)
        return t_ * v - gamma_ * kk + _log_lik(kk, lam[idx], mu[idx], x[idx], tx[idx],
                                              litt[idx], w[idx])

    v = np.log(k)
    v, f = slice_sample(f_k, v, t_ * v - gamma_ * k + ell, rng, width=widths[0])
    k = np.exp(v)
    ell = f - (t_ * v - gamma_ * k)

    def f_lam(v, idx):
        ll = np.exp(v)
        return r_ * v - alpha_ * ll + _log_lik(k[idx], ll, mu[idx], x[idx], tx[idx],
                                              litt[idx], w[idx])

    v = np.log(lam)
    v, f = slice_sample(f_lam, v, r_ * v - alpha_ * lam + ell, rng, width=widths[1])
    lam = np.exp(v)
    ell = f - (r_ * v - alpha_ * lam)

    def f_mu(v, idx):
        mm = np.exp(v)
        return s_ * v - beta_ * mm + _log_lik(k[idx], lam[idx], mm, x[idx], tx[idx],
                                             litt[idx], w[idx])

    v = np.log(mu)
    v, _ = slice_sample(f_mu, v, s_ * v - beta_ * mu + ell, rng, width=widths[2])
    mu = np.maximum(np.exp(v), _TINY)
    if not keep:
        return (k, lam, mu), None
    b = k * lam
    palive = _palive(k, b, mu, w)
    alive = rng.random(data.n) < palive
    tau = np.empty(data.n)
    tau[alive] = data.T[alive] + rng.standard_exponential(int(alive.sum())) / mu[alive]
    dead = ~alive
    if np.any(dead):
        tau[dead] = tx[dead] + _draw_dead_gap(k[dead], b[dead], mu[dead], w[dead], rng)
    return (k, lam, mu), (tau, palive)


def _log_post_shape(log_a, n, sum_v, sum_log_v, prior):
    a = np.exp(log_a)
    a1, a2, b1, b2 = prior
    with np.errstate(over="ignore", invalid="ignore"):
        return (a1 * log_a - a2 * a + gammaln(b1 + n * a) - n * gammaln(a)
                + (a - 1.0) * sum_log_v - (b1 + n * a) * np.log(b2 + sum_v))


def _population_step(theta, state, prior, rng, n_slice=3):
    """Draw each (shape, rate) pair from its conditional given the customers' latents."""
    theta = np.array(theta, dtype=float)
    for j, (_, _, which) in enumerate(_GROUPS):
        v = state[which]
        n, sum_v, sum_log_v = v.size, float(v.sum()), float(np.log(v).sum())
        pr = prior[4 * j: 4 * j + 4]

        def f(val, idx, n=n, sum_v=sum_v, sum_log_v=sum_log_v, pr=pr):
            return _log_post_shape(val, n, sum_v, sum_log_v, pr)

        cur = np.array([math.log(theta[2 * j])])
        fc = f(cur, None)
        for _ in range(n_slice):
            cur, fc = slice_sample(f, cur, fc, rng, width=0.5)
        shape = float(np.exp(cur[0]))
        rate = rng.gamma(pr[2] + n * shape, 1.0 / (pr[3] + sum_v))
        theta[2 * j] = shape
        theta[2 * j + 1] = max(rate, _TINY)
    return theta


def _gamma_cdf_pair(a, x):
    with np.errstate(under="ignore"):
        return gammainc(a, x), gammaincc(a, x)


def _gamma_quantile(a, lower, upper):
    """Quantile of Gamma(a, 1) from both tails (the smaller one is the accurate one)."""
    with np.errstate(under="ignore", over="ignore"):
        return np.where(lower < 0.5, gammaincinv(a, lower), gammainccinv(a, upper))


class _NonCentredMoves:
    """Metropolis moves of each population parameter with the customers' quantiles fixed.

    Centred Gibbs steps (population | latents, latents | population) mix slowly when
    most customers' data say little about their own ``k`` or ``mu``: the latents then
    pin the population shape down. Here a shape ``a`` (or rate ``b``) is proposed on the
    log scale with each customer's ``u_i = P(a, b v_i)`` held fixed, ``v_i`` moving to
    the new quantile (for a rate, ``v_i b`` fixed); in these coordinates the latents'
    prior is uniform, so the acceptance ratio is the prior ratio, the Jacobian of the
    log scale and the customers' likelihood ratio. Alternating both parametrisations is
    the interweaving strategy of Yu & Meng (2011), "To center or not to center", JCGS
    20(3). Step sizes adapt during the burn-in (to about 40% acceptance) and then stay
    fixed.
    """

    def __init__(self):
        self.log_step = np.full(9, np.log(0.1))

    def sweep(self, theta, state, data, prior, rng, adapt):
        theta = np.array(theta, dtype=float)
        state = list(state)
        ell = _log_lik(*state, data.x, data.tx, data.litt, data.w)
        for j in range(3):
            which = _GROUPS[j][2]
            # 0: the shape, 1: the rate, 2: both by the same factor (the mean a / b kept)
            for role in (0, 1, 2):
                a, b = theta[2 * j], theta[2 * j + 1]
                v = state[which]
                step = math.exp(self.log_step[3 * j + role])
                factor = math.exp(step * rng.standard_normal())
                if role == 1:
                    new = v / factor
                else:
                    lower, upper = _gamma_cdf_pair(a, b * v)
                    new = _gamma_quantile(a * factor, lower, upper) / (b * factor ** (role // 2))
                ok = bool(np.all(np.isfinite(new)) and np.all(new > 0))
                accept = False
                if ok:
                    trial = list(state)
                    trial[which] = new
                    ell_new = _log_lik(*trial, data.x, data.tx, data.litt, data.w)
                    moved = [2 * j] if role == 0 else [2 * j + 1] if role == 1 else [2 * j,
                                                                                     2 * j + 1]
                    log_ratio = float(np.sum(ell_new - ell))
                    for pos in moved:  # Gamma(p1, p2) prior and the log-scale Jacobian
                        p1, p2 = prior[2 * pos], prior[2 * pos + 1]
                        log_ratio += p1 * math.log(factor) - p2 * theta[pos] * (factor - 1.0)
                    if np.isfinite(log_ratio) and math.log(rng.random()) < log_ratio:
                        accept = True
                        for pos in moved:
                            theta[pos] *= factor
                        state[which] = new
                        ell = ell_new
                if adapt:
                    self.log_step[3 * j + role] += 0.05 * ((1.0 if accept else 0.0) - 0.4)
        return theta, tuple(state)


def _initial_state(data, rng):
    """BTYDplus's start (k = 1, one common lambda, mu = 1 / (t_x + half a gap)), jittered."""
    rate0 = max(data.x.mean(), 0.1) / max(np.where(data.x > 0, data.tx, data.T).mean(), 1e-3)
    k = np.exp(rng.normal(0.0, 0.3, data.n))
    lam = rate0 * np.exp(rng.normal(0.0, 0.3, data.n))
    mu = 1.0 / (data.tx + 0.5 / lam) * np.exp(rng.normal(0.0, 0.3, data.n))
    return k, lam, mu


class _Widths:
    """Per-customer slice widths, learnt during the burn-in, then frozen.

    Slice sampling is correct for any width; a width near 2.5 posterior standard
    deviations (of each customer's log k, log lambda, log mu) saves evaluations. The
    widths are the running standard deviations over the second half of the burn-in, so
    the kept part of the chain uses fixed widths (a homogeneous Markov chain).
    """

    def __init__(self, n):
        self.current = (1.0, 1.0, 1.0)
        self._count = 0
        self._mean = np.zeros((3, n))
        self._m2 = np.zeros((3, n))

    def learn(self, state, step, n_burnin):
        if step < n_burnin // 2:
            return
        logs = np.log(np.stack(state))
        self._count += 1
        delta = logs - self._mean
        self._mean += delta / self._count
        self._m2 += delta * (logs - self._mean)
        if self._count >= 10:
            sd = np.sqrt(self._m2 / (self._count - 1))
            self.current = tuple(np.clip(2.5 * sd, 0.05, 3.0))


def _run_chain(data, n_burnin, n_draws, thin, prior, rng, progress=None):
    state = _initial_state(data, rng)
    theta = np.ones(6)
    pop = np.empty((n_draws, 6))
    latent = np.empty((4, n_draws, data.n))
    palive_draws = np.empty((n_draws, data.n))
    kept = 0
    total = n_burnin + n_draws * thin
    widths = _Widths(data.n)
    moves = _NonCentredMoves()
    for step in range(total):
        theta = _population_step(theta, state, prior, rng)
        for _ in range(_MOVES_PER_SWEEP):
            theta, state = moves.sweep(theta, state, data, prior, rng, adapt=step < n_burnin)
        keep = step >= n_burnin and (step - n_burnin) % thin == thin - 1
        state, extra = _latent_sweep(state, data, theta, rng, keep=keep,
                                     widths=widths.current)
        if step < n_burnin:
            widths.learn(state, step, n_burnin)
        if keep:
            pop[kept] = theta
            for j in range(3):
                latent[j, kept] = state[j]
            latent[3, kept], palive_draws[kept] = extra
            kept += 1
        if progress is not None:
            progress.update(1)
    return pop, latent, palive_draws


def _latents_given_population(data, pop_draws, rng, n_burnin=50):
    """Customer latents for new data, one sweep per population draw (after a burn-in)."""
    state = _initial_state(data, rng)
    m = pop_draws.shape[0]
    latent = np.empty((4, m, data.n))
    palive_draws = np.empty((m, data.n))
    for step in range(n_burnin):
        state, _ = _latent_sweep(state, data, pop_draws[step % m], rng)
    for j in range(m):
        state, (tau, palive) = _latent_sweep(state, data, pop_draws[j], rng, keep=True)
        for q in range(3):
            latent[q, j] = state[q]
        latent[3, j] = tau
        palive_draws[j] = palive
    return latent, palive_draws


def _simulate_counts(k, lam, tau, tx, T, t, rng):
    """Purchases in ``(T, T + t]`` for each latent draw (arrays broadcast to one shape)."""
    shape = k.shape
    k, lam, tau, tx, T = (np.broadcast_to(v, shape).ravel() for v in (k, lam, tau, tx, T))
    t = np.broadcast_to(np.asarray(t, dtype=float), shape).ravel()
    counts = np.zeros(k.size)
    end = np.minimum(tau, T + t)
    active = np.flatnonzero(tau > T)
    if active.size:
        ka, ba = k[active], k[active] * lam[active]
        w = T[active] - tx[active]
        with np.errstate(under="ignore"):
            q = gammaincc(ka, ba * w)
        u = rng.random(active.size)
        ok = q > 1e-290
        gap = np.empty(active.size)
        # first gap after t_x conditioned on exceeding T - t_x (no purchase up to T)
        gap[ok] = gammainccinv(ka[ok], u[ok] * q[ok]) / ba[ok]
        # beyond that the conditional excess is exponential with the hazard's limit b
        gap[~ok] = w[~ok] + rng.standard_exponential(int((~ok).sum())) / ba[~ok]
        gap = np.maximum(gap, w)
        now = tx[active] + gap
        while active.size:
            inside = now < end[active]
            counts[active[inside]] += 1
            active, now, ka, ba = active[inside], now[inside], ka[inside], ba[inside]
            if not active.size:
                break
            now = now + rng.gamma(ka, 1.0 / ba)
    return counts.reshape(shape)


# ----------------------------------------------------------------------------------------
# the estimator
# ----------------------------------------------------------------------------------------


class ParetoGGG(BaseEstimator):
    """Pareto/GGG (Platzer & Reutterer 2016), estimated by Gibbs sampling across customers.

    Parameters
    ----------
    n_chains : int, default 2
        Independent chains (R-hat needs at least 2).
    n_draws : int, default 1000
        Draws kept per chain (after thinning).
    n_burnin : int, default 500
        Sweeps discarded at the start of each chain.
    thin : int, default 1
        Keep every ``thin``-th sweep.
    prior : float, default 0.001
        Every population parameter has the prior ``Gamma(prior, prior)`` (BTYDplus's
        hyper-priors are ``Gamma(0.001, 0.001)``).
    random_state : None, int or numpy.random.Generator
        Seeds the chains (chain ``c`` uses the ``c``-th child of the seed sequence).
    progress : bool, default False
        Show a progress bar (tqdm).

    Attributes
    ----------
    posterior_ : dict of str -> ndarray of shape (n_chains, n_draws)
        Draws of ``t, gamma, r, alpha, s, beta``.
    params_ : Series
        Posterior means of the population parameters.
    latent_ : dict of str -> ndarray of shape (n_chains * n_draws, n_customers)
        Draws of every fitted customer's ``k, lambda, mu, tau`` (and ``palive``,
        ``P(alive | draw)``).
    n_customers_, time_unit_, fit_seconds_ : int, str or None, float

    Notes
    -----
    The chains run in one process (the sweep is vectorised across customers); on
    BTYDplus's groceryElog (1,525 customers) see ``benchmarks/bench_paretoggg.py``
    for the time per sweep.

    Examples
    --------
    >>> data = simulate_paretoggg(150, t=4, gamma=2, r=3, alpha=10, s=0.8, beta=12,
    ...                           T=30.0, random_state=2)
    >>> m = ParetoGGG(n_draws=50, n_burnin=50, random_state=0).fit(data)
    >>> m.probability_alive(data.iloc[:3]).between(0, 1).all()
    np.True_
    """

    _param_names: ClassVar[tuple[str, ...]] = PARAM_NAMES

    def __init__(self, n_chains=2, n_draws=1000, n_burnin=500, thin=1, prior=0.001,
                 random_state=None, progress=False):
        self.n_chains = n_chains
        self.n_draws = n_draws
        self.n_burnin = n_burnin
        self.thin = thin
        self.prior = prior
        self.random_state = random_state
        self.progress = progress

    # -- checks ------------------------------------------------------------------------

    def _check_hyperparameters(self) -> None:
        for name, low in (("n_chains", 1), ("n_draws", 4), ("n_burnin", 0), ("thin", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise InvalidParameterError(f"{name} must be an integer >= {low}, got {v!r}.")
        p = self.prior
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0 < p < np.inf):
            raise InvalidParameterError(f"prior must be a finite number > 0, got {p!r}.")

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "posterior_"):
            raise NotFittedError(
                f"This ParetoGGG has no posterior yet, so {method}() cannot run. Call "
                "ParetoGGG().fit(summary) first (summary from pggg_summary).")

    def _check_unit(self, summary, method):
        unit = getattr(summary, "attrs", {}).get("time_unit")
        if unit is not None and self.time_unit_ is not None and str(unit) != self.time_unit_:
            raise UnitMismatchError(
                f"{method}(): the model was fitted with time unit {self.time_unit_!r} but the "
                f"summary is in {unit!r}; rebuild it with pggg_summary(..., "
                f"time_unit={self.time_unit_!r}).")

    # -- fitting -----------------------------------------------------------------------

    def fit(self, summary: pd.DataFrame | None = None, **columns) -> ParetoGGG:
        """Draw from the posterior given a summary with ``frequency, recency, T, log_gap_sum``.

        Parameters
        ----------
        summary : DataFrame
            From :func:`pggg_summary` (or :func:`simulate_paretoggg`).
        **columns : array_like
            The columns by keyword instead (or overriding the summary's).

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        (x, tx, T, litt), index = _summary_arrays(summary, "fit", columns)
        data = _Data(x, tx, T, litt)
        prior = np.full(12, float(self.prior))
        seeds = np.random.SeedSequence(
            self.random_state.integers(2**63) if isinstance(self.random_state, np.random.Generator)
            else self.random_state).spawn(self.n_chains)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.n_chains * (self.n_burnin + self.n_draws * self.thin),
                       desc="Pareto/GGG sweeps")
        start = time.perf_counter()
        pops, latents, palives = [], [], []
        try:
            for seed in seeds:
                pop, latent, palive = _run_chain(data, self.n_burnin, self.n_draws, self.thin,
                                                 prior, np.random.default_rng(seed), bar)
                pops.append(pop)
                latents.append(latent)
                palives.append(palive)
        finally:
            if bar is not None:
                bar.close()
        self.fit_seconds_ = time.perf_counter() - start
        pop = np.stack(pops)                                   # (chains, draws, 6)
        self.posterior_ = {name: pop[:, :, j] for j, name in enumerate(PARAM_NAMES)}
        latent = np.concatenate(latents, axis=1)                # (4, chains*draws, n)
        self.latent_ = {name: latent[j] for j, name in enumerate(LATENT_NAMES)}
        self.latent_["palive"] = np.concatenate(palives, axis=0)
        self._fit_data = (x, tx, T, litt)
        self._fit_index = index
        self.params_ = pd.Series(pop.reshape(-1, 6).mean(axis=0), index=list(PARAM_NAMES),
                                 name="posterior_mean")
        self.n_customers_ = int(x.size)
        unit = summary.attrs.get("time_unit") if isinstance(summary, pd.DataFrame) else None
        self.time_unit_ = None if unit is None else str(unit)
        if self.n_chains > 1:
            _warn_unconverged(self)
        return self

    # -- posterior summaries ---------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """Posterior mean, sd, 5/50/95% quantiles, R-hat and bulk/tail ESS per parameter.

        Returns
        -------
        DataFrame indexed by ``t, gamma, r, alpha, s, beta``; ``attrs`` has the
        number of chains and draws and the fit time.
        """
        self._check_fitted("summary")
        rows = {}
        for name in PARAM_NAMES:
            draws = self.posterior_[name]
            flat = draws.ravel()
            q5, q50, q95 = np.quantile(flat, [0.05, 0.5, 0.95])
            rows[name] = {"mean": flat.mean(), "sd": flat.std(ddof=1), "q5": q5, "median": q50,
                          "q95": q95, "r_hat": rhat(draws), "ess_bulk": ess_bulk(draws),
                          "ess_tail": ess_tail(draws)}
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "parameter"
        n_chains, n_draws = self.posterior_["t"].shape
        table.attrs.update({"n_chains": n_chains, "n_draws": n_draws,
                            "fit_seconds": getattr(self, "fit_seconds_", None)})
        return table

    def diagnostics(self) -> dict:
        """Convergence facts: the largest R-hat, the smallest ESS, and whether they pass.

        Returns
        -------
        dict
            ``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``converged`` (R-hat < 1.05
            and bulk ESS >= 100, the thresholds of Vehtari et al. 2021 loosened from 1.01
            to BTYDplus's practice), ``n_chains``, ``n_draws``, ``fit_seconds``.
        """
        table = self.summary()
        n_chains, n_draws = self.posterior_["t"].shape
        max_rhat = float(table["r_hat"].max())
        min_bulk = float(table["ess_bulk"].min())
        return {"max_r_hat": max_rhat, "min_ess_bulk": min_bulk,
                "min_ess_tail": float(table["ess_tail"].min()),
                "converged": bool(n_chains > 1 and max_rhat < 1.05 and min_bulk >= 100),
                "n_chains": n_chains, "n_draws": n_draws,
                "fit_seconds": getattr(self, "fit_seconds_", None)}

    # -- per-customer draws ----------------------------------------------------------------

    def _latent_for(self, summary, method, random_state, max_draws):
        """Latent draws for ``summary``'s customers: stored ones for the fitted customers,
        otherwise sampled given the population draws."""
        self._check_fitted(method)
        self._check_unit(summary, method)
        arrays, index = _summary_arrays(summary, method)
        fitted = getattr(self, "_fit_data", None)
        if fitted is not None and fitted[0].size >= 1:
            pos = self._fit_index.get_indexer(index) if self._fit_index.is_unique else None
            if pos is not None and np.all(pos >= 0) and all(
                    np.array_equal(a, f[pos]) for a, f in zip(arrays, fitted, strict=True)):
                lat = {name: v[:, pos] for name, v in self.latent_.items()}
                return lat, arrays, index
        rng = np.random.default_rng(random_state)
        pop = np.stack([self.posterior_[name] for name in PARAM_NAMES], axis=-1).reshape(-1, 6)
        if max_draws is not None and pop.shape[0] > max_draws:
            pop = pop[np.linspace(0, pop.shape[0] - 1, max_draws).round().astype(int)]
        latent, palive = _latents_given_population(_Data(*arrays), pop, rng)
        lat = {name: latent[j] for j, name in enumerate(LATENT_NAMES)}
        lat["palive"] = palive
        return lat, arrays, index

    def probability_alive(self, summary, *, random_state=0, max_draws=500) -> pd.Series:
        """Posterior probability that each customer is alive at the end of calibration.

        The posterior mean of :func:`probability_alive_given_latent` over the draws
        (BTYDplus's ``mcmc.PAlive`` averages the indicator ``tau > T`` instead: same
        expectation, more noise).

        Parameters
        ----------
        summary : DataFrame
            The fitted customers (their stored draws are used) or others (their latents
            are sampled given the population draws: ``max_draws`` of them, seeded by
            ``random_state``).

        Returns
        -------
        Series named ``probability_alive``, indexed like ``summary``.
        """
        lat, _, index = self._latent_for(summary, "probability_alive", random_state, max_draws)
        return pd.Series(lat["palive"].mean(axis=0), index=index, name="probability_alive")

    def simulate_holdout_counts(self, summary, t, *, random_state=0, max_draws=500
                                ) -> np.ndarray:
        """Posterior predictive draws of each customer's purchases in ``(T, T + t]``.

        One simulated count per posterior draw of the customer's ``(k, lambda, tau)``
        (BTYDplus's ``mcmc.DrawFutureTransactions``).

        Parameters
        ----------
        summary : DataFrame
        t : float or array_like of shape (n_customers,)
            Holdout length(s), in the summary's time unit.
        random_state : None, int or Generator
        max_draws : int or None
            For customers that were not fitted: how many population draws to use.

        Returns
        -------
        ndarray of shape (n_draws, n_customers)
        """
        return self._holdout_counts(summary, t, random_state, max_draws,
                                    "simulate_holdout_counts")

    def _holdout_counts(self, summary, t, random_state, max_draws, method):
        self._check_fitted(method)
        t = horizon_array(t)
        lat, (x, tx, T, _), index = self._latent_for(summary, method, random_state, max_draws)
        if t.ndim and t.size not in (1, index.size):
            raise InvalidParameterError(
                f"t must be one horizon or one per customer ({index.size}), got {t.size}.")
        rng = np.random.default_rng(random_state)
        return _simulate_counts(lat["k"], lat["lambda"], lat["tau"], tx[None, :], T[None, :],
                                np.broadcast_to(t, (index.size,))[None, :], rng)

    def expected_purchases(self, summary, t, *, random_state=0, max_draws=500) -> pd.Series:
        """Posterior mean of each customer's purchases in ``(T, T + t]``.

        The mean of :meth:`simulate_holdout_counts` (Monte Carlo error about
        ``sd / sqrt(n_draws)`` per customer).

        Returns
        -------
        Series named ``expected_purchases``, indexed like ``summary``.
        """
        counts = self._holdout_counts(summary, t, random_state, max_draws,
                                      "expected_purchases")
        return pd.Series(counts.mean(axis=0), index=summary.index, name="expected_purchases")

    def probability_active(self, summary, t, *, random_state=0, max_draws=500) -> pd.Series:
        """Posterior probability of at least one purchase in ``(T, T + t]`` (``mcmc.PActive``)."""
        counts = self._holdout_counts(summary, t, random_state, max_draws,
                                      "probability_active")
        return pd.Series((counts > 0).mean(axis=0), index=summary.index,
                         name="probability_active")

    # -- persistence -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The posterior of the population parameters as a JSON-ready dict (no customer draws)."""
        self._check_fitted("to_dict")
        table = self.summary()
        return {
            "format_version": FORMAT_VERSION,
            "model_type": spec_for(self).key,
            "package_version": __version__,
            "param_names": list(PARAM_NAMES),
            "params": {k: float(v) for k, v in self.params_.items()},
            "hyperparameters": {k: v for k, v in self.get_params(deep=False).items()
                                if k != "random_state" or isinstance(v, (int, type(None)))},
            "posterior_draws": {k: v.tolist() for k, v in self.posterior_.items()},
            "posterior_summary": json.loads(table.to_json(orient="index")),
            "n_customers": self.n_customers_,
            "time_unit": self.time_unit_,
            "fit_info": {"fit_seconds": getattr(self, "fit_seconds_", None)},
        }

    def save(self, path) -> None:
        """Write the population posterior to ``path`` as versioned JSON (atomically).

        Customer-level draws are not saved; a loaded model samples them for any
        summary given the saved population draws.
        """
        text = json.dumps(self.to_dict())
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def _from_dict(cls, d: dict) -> ParetoGGG:
        draws = d.get("posterior_draws")
        if not isinstance(draws, dict) or sorted(draws) != sorted(PARAM_NAMES):
            raise ModelFileError(
                f"a Pareto/GGG file needs posterior_draws for {list(PARAM_NAMES)}.")
        arrays = {}
        for name in PARAM_NAMES:
            try:
                a = np.asarray(draws[name], dtype=float)
            except (TypeError, ValueError):
                raise ModelFileError(f"posterior_draws[{name!r}] is not numeric.") from None
            if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise ModelFileError(
                    f"posterior_draws[{name!r}] must be a non-empty (chains x draws) array of "
                    "finite positive numbers.")
            arrays[name] = a
        if len({a.shape for a in arrays.values()}) != 1:
            raise ModelFileError("posterior_draws arrays have different shapes.")
        model = cls(**d.get("hyperparameters", {}))
        model.posterior_ = arrays
        stacked = np.stack([arrays[n] for n in PARAM_NAMES], axis=-1).reshape(-1, 6)
        model.params_ = pd.Series(stacked.mean(axis=0), index=list(PARAM_NAMES),
                                  name="posterior_mean")
        model.n_customers_ = int(d.get("n_customers", 0))
        model.time_unit_ = d.get("time_unit")
        model.fit_seconds_ = (d.get("fit_info") or {}).get("fit_seconds")
        return model

    @classmethod
    def load(cls, path) -> ParetoGGG:
        """Read a model written by :meth:`save` (also reachable via ``load_model``)."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as handle:
                d = json.load(handle)
        except OSError as exc:
            raise ModelFileError(f"cannot read model file {path!r}: {exc}.") from None
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path!r} is not valid JSON ({exc.msg}).") from None
        if not isinstance(d, dict) or d.get("model_type") != spec_for(cls).key:
            raise ModelFileError(f"{path!r} is not a saved Pareto/GGG model.")
        version = d.get("format_version")
        if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise ModelFileError(
                f"{path!r}: format_version {version!r} is not one this clvmodels reads "
                f"(1..{FORMAT_VERSION}).")
        model = cls._from_dict(d)
        model._check_hyperparameters()
        return model


def _warn_unconverged(model: ParetoGGG) -> None:
    diag = model.diagnostics()
    if not diag["converged"]:
        warnings.warn(
            f"Pareto/GGG chains may not have converged (max R-hat {diag['max_r_hat']:.3f}, "
            f"min bulk ESS {diag['min_ess_bulk']:.0f}); run longer chains (n_draws, "
            "n_burnin) or more of them.", StatisticalWarning, stacklevel=3)
