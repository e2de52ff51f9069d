r"""New customers per week or month from today's open pipeline and the inflow of new leads.

The forecast simulates what happens after the cutoff, ``n_draws`` times:

1. **Parameter draw.** Each stage's Aalen-Johansen estimate
   (:mod:`clvmodels.funnel.estimate`) is recomputed on a bootstrap resample of the stage's
   spells (leads resampled with replacement, open ones included), and the inflow rate is
   drawn from its posterior :math:`\lambda \sim \mathrm{Gamma}(n + 1/2,\ w)` given the
   :math:`n` new leads of the last :math:`w` days (Jeffreys prior). With
   ``parameter_uncertainty=False`` the point estimates are used in every draw.
2. **The open pipeline.** A lead open in stage :math:`k` for :math:`a` days draws its
   outcome from the estimate conditional on still being there: it moves on at duration
   :math:`t_j > a` with probability :math:`\hat S(t_{j-1}) \hat h_{1j} / \hat S(a)`, drops
   out likewise, or (the mass :math:`\hat S(\tau)/\hat S(a)` left beyond the longest
   observed duration) never moves on. A lead that moves on enters the next stage and draws
   a fresh duration there, until it becomes a customer or drops out.
3. **New leads.** Their number in each period is Poisson with mean :math:`\lambda` times
   the period's days (or the ``inflow=`` number per period), arriving on uniformly drawn
   days at the stage where recent leads entered the funnel (the first stage for a given
   ``inflow=`` number), and they go through the funnel as in 2.

Each period's forecast is the mean over the draws, its interval the draws' percentiles:
it combines the estimates' uncertainty and the leads' own randomness, and so covers the
number of new customers that will actually happen (verified on simulated pipelines in
``tests/test_funnel.py``). The assumptions: stages are Markov (the time and outcome in a
stage do not depend on the earlier stages), conversion does not change over calendar
time, and nobody moves on after being in a stage longer than anyone observed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError
from clvmodels.funnel.estimate import _CAUSE, _check_interval, _spells_from
from clvmodels.funnel.events import DEFAULT_STAGES

__all__ = ["forecast_conversions"]

_PERIODS = {"W": "week", "M": "month"}


class _Stage:
    """One stage's spells, pre-sorted so that a bootstrap AJ is a few bincounts."""

    def __init__(self, days: np.ndarray, cause: np.ndarray):
        self.times, self.inverse = np.unique(days, return_inverse=True)
        self.cause = cause
        self.n = days.size

    def atoms(self, weights=None):
        """Times and the interleaved masses [move_0, drop_0, move_1, ...], cumulated."""
        m = self.times.size
        w = np.ones(self.n) if weights is None else weights
        total = np.bincount(self.inverse, weights=w, minlength=m)
        d1 = np.bincount(self.inverse, weights=w * (self.cause == 1), minlength=m)
        d2 = np.bincount(self.inverse, weights=w * (self.cause == 2), minlength=m)
        n_at = np.cumsum(total[::-1])[::-1]
        safe = np.where(n_at > 0, n_at, 1.0)
        s_before = np.r_[1.0, np.cumprod(1.0 - (d1 + d2) / safe)[:-1]]
        masses = np.empty(2 * m)
        masses[0::2] = s_before * d1 / safe
        masses[1::2] = s_before * d2 / safe
        return np.cumsum(masses)


def _draw_exits(times, cum, age, rng):
    """Duration and outcome (1 moved on, 2 dropped out, 0 never) of leads aged ``age`` days."""
    n = age.size
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    if times.size == 0:
        return np.full(n, np.inf), np.zeros(n, dtype=np.int64)
    below = np.searchsorted(times, age, side="right")  # atoms at durations <= age
    base = np.where(below > 0, cum[np.maximum(2 * below - 1, 0)], 0.0)
    target = base + rng.random(n) * (1.0 - base)
    idx = np.searchsorted(cum, target, side="right")
    never = idx >= cum.size
    idx = np.minimum(idx, cum.size - 1)
    duration = np.where(never, np.inf, times[idx // 2])
    outcome = np.where(never, 0, 1 + idx % 2)
    return duration, outcome


def _period_edges(cutoff: pd.Timestamp, horizon: int, period: str) -> np.ndarray:
    if period == "W":
        return 7 * np.arange(1, horizon + 1)
    # calendar months when the cutoff closes a month, else months from the cutoff's day
    step = pd.offsets.MonthEnd if cutoff.is_month_end else (lambda j: pd.DateOffset(months=j))
    return np.array([(cutoff + step(j) - cutoff).days for j in range(1, horizon + 1)])


def forecast_conversions(
    events,
    *,
    horizon: int | None = None,
    period: str = "M",
    inflow="estimate",
    inflow_window: float = 90,
    interval: float = 0.9,
    n_draws: int = 1000,
    parameter_uncertainty: bool = True,
    random_state=None,
    lead_id: str = "lead_id",
    stage: str = "stage",
    date: str = "date",
    stages=DEFAULT_STAGES,
    cutoff=None,
    lost: str | None = "lost",
    timeout: float | None = None,
    skipped: str = "error",
    duplicates: str = "error",
) -> pd.DataFrame:
    """Expected new customers per period after the cutoff, with a simulated interval.

    Parameters
    ----------
    events : DataFrame or path
        The event log (or :func:`~clvmodels.funnel.events.funnel_spells`'s output).
    horizon : int, optional
        Number of periods (default 3 months or 13 weeks).
    period : {"M", "W"}
        Months (the calendar months after a cutoff on a month's last day, else months from
        the cutoff's day of the month), or weeks of 7 days.
    inflow : "estimate", float or None
        New leads: estimated from the last ``inflow_window`` days (default), a number of
        new leads per period entering the first stage, or None/0 for the open pipeline
        only.
    inflow_window : float, default 90
        Days before the cutoff over which the inflow rate is estimated.
    interval : float, default 0.9
        Level of the prediction interval.
    n_draws : int, default 1000
        Simulated futures.
    parameter_uncertainty : bool, default True
        Bootstrap the stage estimates and draw the inflow rate in each future (see the
        module's notes); False uses the point estimates (only the leads' randomness).
    random_state : None, int or numpy Generator
    lead_id, stage, date, stages, cutoff, lost, timeout, skipped, duplicates
        As in :func:`~clvmodels.funnel.events.funnel_spells`.

    Returns
    -------
    DataFrame
        One row per period (``period`` 1..horizon): ``start`` and ``end`` dates,
        ``expected`` new customers, ``lower`` and ``upper``, the parts ``from_pipeline``
        and ``from_inflow`` (means), and the same three for the running total
        (``cumulative_expected``, ...). ``attrs`` holds the inflow rate per day, the open
        leads per stage, the level and the number of draws.

    Examples
    --------
    >>> from clvmodels.funnel import simulate_funnel
    >>> log = simulate_funnel(600, random_state=3)
    >>> fc = forecast_conversions(log, horizon=2, n_draws=200, random_state=0)
    >>> list(fc.columns[:5])
    ['start', 'end', 'expected', 'lower', 'upper']
    >>> bool((fc["lower"] <= fc["expected"]).all() and (fc["expected"] <= fc["upper"]).all())
    True
    """
    if period not in _PERIODS:
        raise InvalidParameterError(f"period must be 'M' (months) or 'W' (weeks); got {period!r}.")
    if horizon is None:
        horizon = 3 if period == "M" else 13
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InvalidParameterError(f"horizon must be a whole number of periods >= 1; got "
                                    f"{horizon!r}.")
    level = _check_interval(interval)
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 10:
        raise InvalidParameterError(f"n_draws must be an integer >= 10; got {n_draws!r}.")
    if isinstance(inflow_window, bool) or not isinstance(inflow_window, int | float) or not (
            inflow_window > 0):
        raise InvalidParameterError(f"inflow_window must be a number of days > 0; got "
                                    f"{inflow_window!r}.")
    rng = check_random_state(random_state)
    spells = _spells_from(events, dict(
        lead_id=lead_id, stage=stage, date=date, channel=None, stages=stages, cutoff=cutoff,
        lost=lost, timeout=timeout, skipped=skipped, duplicates=duplicates))
    names = spells.attrs["stages"]
    cut = pd.Timestamp(spells.attrs["cutoff"])
    k_final = len(names) - 1
    sidx = spells["stage_index"].to_numpy()
    days = spells["days"].to_numpy(dtype=float)
    cause = spells["outcome"].map(_CAUSE).fillna(0).to_numpy(dtype=np.int64)
    is_open = (spells["outcome"] == "open").to_numpy()
    stage_data = [_Stage(days[sidx == k], cause[sidx == k]) for k in range(k_final)]
    open_ages = [days[(sidx == k) & is_open] for k in range(k_final)]

    # inflow: new leads = each lead's first spell
    first = ~spells["lead_id"].duplicated().to_numpy()
    entry_age = (cut - spells["entry"]).dt.days.to_numpy()
    recent = first & (entry_age < inflow_window)
    window = float(min(inflow_window, (cut - spells["entry"].min()).days + 1))
    if isinstance(inflow, str):
        if inflow != "estimate":
            raise InvalidParameterError(
                f"inflow must be 'estimate', a number of new leads per period, or None; got "
                f"{inflow!r}.")
        n_recent = int(recent.sum())
        rate = n_recent / window
        mix = np.bincount(sidx[recent], minlength=len(names))[:k_final].astype(float)
        mix = mix / mix.sum() if mix.sum() > 0 else np.r_[1.0, np.zeros(k_final - 1)]
        per_period = None
    elif inflow is None or (isinstance(inflow, int | float) and not isinstance(inflow, bool)
                            and inflow == 0):
        n_recent, rate, mix, per_period = 0, 0.0, np.r_[1.0, np.zeros(k_final - 1)], 0.0
    elif isinstance(inflow, int | float) and not isinstance(inflow, bool) and (
            math.isfinite(inflow) and inflow > 0):
        n_recent, rate, mix, per_period = 0, math.nan, np.r_[1.0, np.zeros(k_final - 1)], \
            float(inflow)
    else:
        raise InvalidParameterError(
            f"inflow must be 'estimate', a number of new leads per period >= 0, or None; got "
            f"{inflow!r}.")

    edges = _period_edges(cut, int(horizon), period)
    lengths = np.diff(np.r_[0, edges])
    total_days = int(edges[-1])
    pipeline = np.zeros((n_draws, horizon))
    from_inflow = np.zeros((n_draws, horizon))
    point_atoms = [s.atoms() for s in stage_data]
    for draw in range(n_draws):
        if parameter_uncertainty:
            atoms = [s.atoms(np.bincount(rng.integers(0, s.n, s.n), minlength=s.n).astype(float))
                     if s.n else s.atoms() for s in stage_data]
        else:
            atoms = point_atoms
        # the open pipeline: clock = days after the cutoff, age = days already in the stage
        sources = []  # (days after the cutoff, from a new lead?) of each new customer
        clock = [np.zeros(a.size) for a in open_ages]
        age = [a.copy() for a in open_ages]
        origin = [np.zeros(a.size, dtype=bool) for a in open_ages]
        if per_period is None:
            lam = rng.gamma(n_recent + 0.5, 1.0 / window) if parameter_uncertainty else rate
            counts = rng.poisson(lam * lengths)
        else:
            counts = rng.poisson(per_period * np.ones(horizon))
        if counts.sum():
            starts = np.repeat(np.r_[0, edges[:-1]], counts)
            arrive = starts + 1 + np.floor(rng.random(counts.sum()) *
                                           np.repeat(lengths, counts))
            entry_stage = rng.choice(k_final, size=arrive.size, p=mix)
            for k in range(k_final):
                mine = entry_stage == k
                clock[k] = np.r_[clock[k], arrive[mine]]
                age[k] = np.r_[age[k], np.zeros(mine.sum())]
                origin[k] = np.r_[origin[k], np.ones(mine.sum(), dtype=bool)]
        for k in range(k_final):
            duration, outcome = _draw_exits(stage_data[k].times, atoms[k], age[k], rng)
            moved = (outcome == 1) & np.isfinite(duration)
            when = clock[k][moved] + (duration[moved] - age[k][moved])
            keep = when <= total_days
            when, src = when[keep], origin[k][moved][keep]
            if k + 1 == k_final:
                sources.append((when, src))
            else:
                clock[k + 1] = np.r_[clock[k + 1], when]
                age[k + 1] = np.r_[age[k + 1], np.zeros(when.size)]
                origin[k + 1] = np.r_[origin[k + 1], src]
        for when, src in sources:
            bins = np.searchsorted(edges, when, side="left")  # (edge_{j-1}, edge_j] -> j
            pipeline[draw] += np.bincount(bins[~src], minlength=horizon)[:horizon]
            from_inflow[draw] += np.bincount(bins[src], minlength=horizon)[:horizon]
    total = pipeline + from_inflow
    cumulative = np.cumsum(total, axis=1)
    probs = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.quantile(total, probs, axis=0)
    clo, chi = np.quantile(cumulative, probs, axis=0)
    starts = cut + pd.to_timedelta(np.r_[0, edges[:-1]] + 1, unit="D")
    ends = cut + pd.to_timedelta(edges, unit="D")
    out = pd.DataFrame({
        "start": starts, "end": ends,
        "expected": total.mean(axis=0), "lower": lo, "upper": hi,
        "from_pipeline": pipeline.mean(axis=0), "from_inflow": from_inflow.mean(axis=0),
        "cumulative_expected": cumulative.mean(axis=0), "cumulative_lower": clo,
        "cumulative_upper": chi,
    }, index=pd.RangeIndex(1, horizon + 1, name="period"))
    out.attrs = {
        "cutoff": cut, "period": period, "interval": level, "n_draws": int(n_draws),
        "inflow": "estimate" if per_period is None else per_period,
        "inflow_per_day": rate, "inflow_window_days": window,
        "open_leads": {names[k]: int(open_ages[k].size) for k in range(k_final)},
        "parameter_uncertainty": bool(parameter_uncertainty),
    }
    return out
