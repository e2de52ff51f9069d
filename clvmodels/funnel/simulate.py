"""Simulated sales pipelines with known conversion probabilities and stage durations.

Leads arrive at the first stage as a Poisson process. In each stage but the last, a lead
moves on with the stage's probability after a Weibull-distributed number of days, or
else drops out after another Weibull time (recorded as a ``"lost"`` event, unless
``record_losses=False``). Durations are whole days (the Weibull draw rounded down), so
moving on the day of entry happens. The log runs to ``end`` (default: the cutoff), so a
test can cut it at the cutoff and compare a forecast with what happened afterwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError
from clvmodels.funnel.events import DEFAULT_STAGES

__all__ = ["simulate_funnel"]


def _per_stage(name: str, value, n: int) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy() if np.ndim(value) == 0 \
        else np.asarray(value, dtype=float)
    if arr.shape != (n,):
        raise InvalidParameterError(
            f"{name} needs one value per stage but the last ({n}); got {value!r}.")
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError(f"{name} must be finite; got {value!r}.")
    return arr


def simulate_funnel(
    n_leads: float = 1000,
    *,
    stages=DEFAULT_STAGES,
    conversion=(0.5, 0.4, 0.3),
    days_to_move=(10.0, 20.0, 30.0),
    days_to_drop=(15.0, 25.0, 40.0),
    shape: float = 1.5,
    start="2024-01-01",
    cutoff="2024-12-31",
    end=None,
    channels: dict | None = None,
    channel_conversion: dict | None = None,
    record_losses: bool = True,
    random_state=None,
) -> pd.DataFrame:
    """Draw an event log of a pipeline whose truth is known.

    Parameters
    ----------
    n_leads : float, default 1000
        Expected number of leads arriving between ``start`` and ``cutoff`` (a Poisson
        process of rate ``n_leads / days``, which goes on until ``end``).
    stages : sequence of str
        Funnel order; every lead enters at the first.
    conversion : sequence of float
        P(moving on) of each stage but the last.
    days_to_move, days_to_drop : sequence of float
        Weibull scale (days) of the time to move on and to drop out, per stage.
    shape : float, default 1.5
        Weibull shape of every duration.
    start, cutoff, end : date-like
        Arrivals from ``start``; ``cutoff`` sets the rate (and is recorded in attrs);
        events are drawn up to ``end`` (default ``cutoff``).
    channels : dict, optional
        Channel name -> share of the leads; adds a ``channel`` column.
    channel_conversion : dict, optional
        Channel name -> its own ``conversion`` sequence (others use ``conversion``).
    record_losses : bool, default True
        Write a ``"lost"`` event when a lead drops out.
    random_state : None, int or numpy Generator

    Returns
    -------
    DataFrame
        Columns ``lead_id``, ``stage``, ``date`` (and ``channel``), sorted by date.
        ``attrs`` holds the truth: ``conversion`` (per channel when given),
        ``p_customer``, the Weibull parameters, ``arrivals_per_day``, ``cutoff``, ``end``.

    Examples
    --------
    >>> log = simulate_funnel(200, random_state=0)
    >>> sorted(log["stage"].unique())
    ['customer', 'lead', 'lost', 'opportunity', 'prospect']
    >>> log.attrs["p_customer"]  # 0.5 * 0.4 * 0.3
    0.06
    """
    rng = check_random_state(random_state)
    stages = tuple(stages)
    k = len(stages) - 1
    if k < 1:
        raise InvalidParameterError(f"a funnel needs at least 2 stages; got {stages!r}.")
    conv = _per_stage("conversion", conversion, k)
    move = _per_stage("days_to_move", days_to_move, k)
    drop = _per_stage("days_to_drop", days_to_drop, k)
    if np.any((conv < 0) | (conv > 1)) or np.any(move <= 0) or np.any(drop <= 0) or shape <= 0:
        raise InvalidParameterError(
            "conversion must lie in [0, 1]; days_to_move, days_to_drop and shape must be > 0.")
    start_ts, cut_ts = pd.Timestamp(start).normalize(), pd.Timestamp(cutoff).normalize()
    end_ts = cut_ts if end is None else pd.Timestamp(end).normalize()
    span = (cut_ts - start_ts).days + 1
    total_span = (end_ts - start_ts).days + 1
    if span < 1 or end_ts < cut_ts:
        raise InvalidParameterError("need start <= cutoff <= end.")
    rate = float(n_leads) / span
    n = int(rng.poisson(rate * total_span))
    arrival = np.sort(rng.integers(0, total_span, size=n))
    channel_of = None
    per_lead_conv = np.broadcast_to(conv, (n, k)).copy()
    truth_conv: dict | tuple = tuple(conv.tolist())
    if channels:
        names = list(channels)
        share = np.asarray([channels[c] for c in names], dtype=float)
        if np.any(share < 0) or share.sum() <= 0:
            raise InvalidParameterError(f"channel shares must be >= 0, not all 0; got {channels}.")
        channel_of = np.asarray(names, dtype=object)[rng.choice(len(names), size=n,
                                                                 p=share / share.sum())]
        truth_conv = {}
        for c in names:
            cc = _per_stage(f"channel_conversion[{c!r}]", (channel_conversion or {}).get(c, conv),
                            k)
            per_lead_conv[channel_of == c] = cc
            truth_conv[c] = tuple(cc.tolist())
    elif channel_conversion:
        raise InvalidParameterError("channel_conversion needs channels=.")

    ids = np.array([f"L{i:06d}" for i in range(n)], dtype=object)
    lead_rows, stage_rows, day_rows = [ids], [np.zeros(n, dtype=np.int64)], [arrival]
    alive = np.ones(n, dtype=bool)
    now = arrival.astype(np.int64)
    for s in range(k):
        idx = np.flatnonzero(alive)
        moves = rng.random(idx.size) < per_lead_conv[idx, s]
        wait = np.where(moves, move[s], drop[s]) * rng.weibull(shape, size=idx.size)
        when = now[idx] + np.floor(wait).astype(np.int64)
        if record_losses:
            lost = idx[~moves]
            lead_rows.append(ids[lost])
            stage_rows.append(np.full(lost.size, -1))
            day_rows.append(when[~moves])
        moved = idx[moves]
        lead_rows.append(ids[moved])
        stage_rows.append(np.full(moved.size, s + 1))
        day_rows.append(when[moves])
        alive[:] = False
        alive[moved] = True
        now[moved] = when[moves]
    lead = np.concatenate(lead_rows)
    code = np.concatenate(stage_rows)
    day = np.concatenate(day_rows)
    inside = day < total_span
    lead, code, day = lead[inside], code[inside], day[inside]
    order = np.lexsort((code, day))
    names_arr = np.asarray(list(stages) + ["lost"], dtype=object)
    out = pd.DataFrame({
        "lead_id": lead[order],
        "stage": names_arr[code[order]],
        "date": start_ts + pd.to_timedelta(day[order], unit="D"),
    })
    if channel_of is not None:
        by_id = dict(zip(ids, channel_of, strict=True))
        out["channel"] = out["lead_id"].map(by_id)
    out.attrs = {
        "stages": list(stages), "conversion": truth_conv,
        "p_customer": float(np.round(np.prod(conv), 12)),
        "days_to_move": tuple(move.tolist()), "days_to_drop": tuple(drop.tolist()),
        "shape": float(shape), "arrivals_per_day": rate, "start": start_ts,
        "cutoff": cut_ts, "end": end_ts,
    }
    return out
