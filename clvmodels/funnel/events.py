"""A sales-funnel event log, checked and turned into one *spell* per lead and stage.

The input is one row per event: a lead entered a stage on a date (``lead_id``,
``stage``, ``date``, optionally a ``channel``), plus, for leads the team gave up on or who
said no, a *loss* event (``stage == lost``, default ``"lost"``). The stages are ordered by
the user (``stages=``, default :data:`DEFAULT_STAGES`; :data:`AIDA_STAGES` is the digital
alternative). A lead enters the funnel at its first recorded stage (not every lead starts
as a prospect) and moves forward only.

What "dropped out" means
------------------------
A lead drops out of its current stage when the log records its loss (the ``lost`` event).
A lead with no later stage and no loss is *open* at the cutoff: not a failure but a
censored observation, which the estimators of :mod:`clvmodels.funnel.estimate` treat as
such. Teams whose CRM records no losses can pass ``timeout=`` (days): a lead still open
more than ``timeout`` days after entering its stage is then counted as dropped out at
entry + ``timeout``. Leads who did move on later than the timeout keep their move (it was
observed); a :class:`~clvmodels.errors.StatisticalWarning` says how many there are,
because they show that the timeout closes some leads that would still have moved on.

Bad input
---------
Every problem is collected and reported in one
:class:`~clvmodels.errors.InvalidFunnelEventsError` naming the leads and the 0-based rows
of the input, never dropped silently:

* a missing column, lead id or date, an unparsable date;
* an unknown stage (not in ``stages`` and not the loss event);
* a lead going backwards (a stage dated after a later stage: the lead went back, or the
  dates are out of order);
* a lead with an event after its loss (dates out of order), a loss before any stage, or
  the loss of a lead who already reached the last stage;
* a duplicate event (a lead entering the same stage twice, or lost twice): an error, or
  with ``duplicates="first"`` the earliest is kept and the rest counted in the result's
  ``attrs["n_duplicate_events"]``;
* a skipped stage (lead -> customer without opportunity): an error, or with
  ``skipped="pass"`` the skipped stages count as passed on the date of the later event
  (zero days in each), counted in ``attrs["n_skipped_stages"]``.

Events dated after the cutoff are not used (the funnel is as of the cutoff), with an
:class:`~clvmodels.errors.ExcludedCustomersWarning` giving their number.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.data.reading import read_table
from clvmodels.data.transactions import parse_dates
from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidFunnelEventsError,
    InvalidParameterError,
    StatisticalWarning,
)

__all__ = [
    "DEFAULT_STAGES",
    "AIDA_STAGES",
    "OUTCOMES",
    "read_events",
    "funnel_spells",
]

#: The B2B funnel of the source article.
DEFAULT_STAGES = ("prospect", "lead", "opportunity", "customer")
#: The digital funnel: awareness, interest, evaluation, decision, action.
AIDA_STAGES = ("awareness", "interest", "evaluation", "decision", "action")
#: Outcome of a spell: moved on to the next stage, dropped out, open at the cutoff, or
#: the last stage (no next stage to move on to).
OUTCOMES = ("moved_on", "dropped_out", "open", "final")

_MAX_SHOWN = 5
_DUPLICATE_POLICIES = ("error", "first")
_SKIPPED_POLICIES = ("error", "pass")


def read_events(path, columns=None) -> pd.DataFrame:
    """Read an event log from a CSV, TSV or Parquet file (ids and dates kept as text).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> path = os.path.join(d, "events.csv")
    >>> _ = open(path, "w").write("lead_id,stage,date\\nL1,lead,2024-01-02\\n")
    >>> read_events(path).to_dict("records")
    [{'lead_id': 'L1', 'stage': 'lead', 'date': '2024-01-02'}]
    """
    p = Path(os.fspath(path))
    if not p.is_file():
        raise InvalidFunnelEventsError(f"event file {str(path)!r} does not exist; check the path.")
    # the package's one reading layer: format and compression by content, UTF-8, rows with
    # the header's field count, duplicated column names refused (see clvmodels.data.reading)
    return read_table(p, columns, text_columns="all")


def _check_stages(stages, lost) -> tuple[str, ...]:
    if isinstance(stages, str) or not hasattr(stages, "__iter__"):
        raise InvalidParameterError(
            f"stages must be a sequence of stage names in funnel order, e.g. {DEFAULT_STAGES}; "
            f"got {stages!r}.")
    stages = tuple(stages)
    if len(stages) < 2:
        raise InvalidParameterError(f"a funnel needs at least 2 stages; got {stages!r}.")
    if len(set(stages)) != len(stages):
        repeated = sorted({s for s in stages if stages.count(s) > 1})
        raise InvalidParameterError(f"stages must be distinct; {repeated} appear twice.")
    if lost is not None and lost in stages:
        raise InvalidParameterError(
            f"the loss event {lost!r} is also a stage name; pass lost= another name.")
    return stages


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_SHOWN])
    more = f" and {len(rows) - _MAX_SHOWN} more" if len(rows) > _MAX_SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _leads_text(pairs: list[str], n: int, what: str) -> str:
    """``"2 leads go backwards: ..."``; ``what`` is in the plural ("go", "have", "are")."""
    more = f"; and {n - _MAX_SHOWN} more" if n > _MAX_SHOWN else ""
    if n == 1:
        verb, _, rest = what.partition(" ")
        what = {"go": "goes", "have": "has", "are": "is", "skip": "skips"}.get(verb, verb) + (
            " " + rest if rest else "")
    return f"{n} lead{'s' if n > 1 else ''} {what}: " + "; ".join(pairs[:_MAX_SHOWN]) + more


def _date_text(value) -> str:
    return str(pd.Timestamp(value).date())


def funnel_spells(
    events,
    *,
    lead_id: str = "lead_id",
    stage: str = "stage",
    date: str = "date",
    channel: str | None = None,
    stages=DEFAULT_STAGES,
    cutoff=None,
    lost: str | None = "lost",
    timeout: float | None = None,
    skipped: str = "error",
    duplicates: str = "error",
) -> pd.DataFrame:
    """Check an event log and return one row per lead and stage it entered (a *spell*).

    Parameters
    ----------
    events : DataFrame or path
        One row per event; a ``.csv`` or ``.parquet`` path is read with :func:`read_events`.
    lead_id, stage, date : str
        Column names.
    channel : str, optional
        Column with the lead's channel or source (the value of its first event is used).
    stages : sequence of str, default :data:`DEFAULT_STAGES`
        The stages in funnel order; the last is the goal (a customer).
    cutoff : date-like, optional
        The date the funnel is observed at (default: the last event's date). Open leads are
        censored there.
    lost : str or None, default "lost"
        The ``stage`` value of a loss event (None: the log has none).
    timeout : float, optional
        Days after which a lead still open in its stage counts as dropped out (see the
        module's notes).
    skipped : {"error", "pass"}
        A lead skipping a stage: an error, or the skipped stages count as passed.
    duplicates : {"error", "first"}
        A lead entering a stage twice (or lost twice): an error, or keep the earliest.

    Returns
    -------
    DataFrame
        Columns ``lead_id``, ``stage`` (categorical in funnel order), ``stage_index``,
        ``entry`` and ``exit`` dates (``exit`` is the cutoff for open leads), ``outcome``
        (one of :data:`OUTCOMES`), ``days`` (exit - entry, in days), ``cohort`` (month
        of entry, a Period) and ``channel`` (with ``channel=``). ``attrs`` holds the
        stages, the cutoff and the counts of handled events.

    Raises
    ------
    InvalidFunnelEventsError
        Listing every problem found, with the leads and 0-based rows.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "lead_id": ["a", "a", "b", "b", "c"],
    ...     "stage": ["lead", "opportunity", "lead", "lost", "lead"],
    ...     "date": ["2024-01-01", "2024-01-11", "2024-01-05", "2024-01-20", "2024-01-25"]})
    >>> spells = funnel_spells(log, cutoff="2024-01-31")
    >>> for row in spells[["lead_id", "stage", "outcome", "days"]].itertuples(index=False):
    ...     print(*row)
    a lead moved_on 10
    a opportunity open 20
    b lead dropped_out 15
    c lead open 6
    """
    stages = _check_stages(stages, lost)
    if skipped not in _SKIPPED_POLICIES:
        raise InvalidParameterError(f"skipped must be one of {_SKIPPED_POLICIES}; got {skipped!r}.")
    if duplicates not in _DUPLICATE_POLICIES:
        raise InvalidParameterError(
            f"duplicates must be one of {_DUPLICATE_POLICIES}; got {duplicates!r}.")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float | np.number) or not (
                np.isfinite(timeout) and timeout > 0):
            raise InvalidParameterError(f"timeout must be a number of days > 0; got {timeout!r}.")
    if isinstance(events, str | os.PathLike):
        events = read_events(events)
    if not isinstance(events, pd.DataFrame):
        raise InvalidFunnelEventsError(
            f"events must be a DataFrame (or a .csv/.parquet path) with one row per event; "
            f"got {type(events).__name__}.")
    wanted = [lead_id, stage, date] + ([channel] if channel is not None else [])
    missing = [c for c in wanted if c not in events.columns]
    if missing:
        raise InvalidFunnelEventsError(
            f"the event log lacks the column(s) {missing}; it has {list(events.columns)}. "
            "Name them with lead_id=, stage=, date= (and channel=).")

    problems: list[str] = []
    n = len(events)
    rows = np.arange(n)
    ids = events[lead_id].reset_index(drop=True)
    names = events[stage].reset_index(drop=True)
    dates = parse_dates(events[date].reset_index(drop=True))

    bad_id = ids.isna().to_numpy()
    if bad_id.any():
        problems.append(f"column {lead_id!r}: the lead id is missing in {_rows_text(rows[bad_id])}"
                        ". Give every event its lead.")
    bad_date = dates.isna().to_numpy()
    if bad_date.any():
        shown = ", ".join(f"{int(r)} ({events[date].iloc[r]!r})"
                          for r in rows[bad_date][:_MAX_SHOWN])
        problems.append(f"column {date!r}: {int(bad_date.sum())} date(s) missing or unparsable: "
                        f"row {shown}. Use ISO dates (2024-01-31).")
    codes = pd.Series(names).map({s: i for i, s in enumerate(stages)})
    is_lost = (names == lost).to_numpy() if lost is not None else np.zeros(n, dtype=bool)
    unknown = codes.isna().to_numpy() & ~is_lost
    if unknown.any():
        values = pd.unique(names[unknown])
        shown = ", ".join(repr(v) for v in values[:_MAX_SHOWN])
        lost_hint = f" or the loss event {lost!r}" if lost is not None else ""
        problems.append(
            f"column {stage!r}: {int(unknown.sum())} event(s) with an unknown stage ({shown}) in "
            f"{_rows_text(rows[unknown])}; the stages are {list(stages)}{lost_hint}. Pass "
            "stages= in funnel order (and lost= for the loss event).")
    if problems:
        raise InvalidFunnelEventsError(
            "invalid funnel events:\n  " + "\n  ".join(problems), problems)
    if n == 0:
        raise InvalidFunnelEventsError("the event log is empty: no lead to count.")

    if cutoff is None:
        cut = dates.max()
    else:
        try:
            cut = pd.Timestamp(cutoff)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"cutoff must be a date; got {cutoff!r}.") from None
        if pd.isna(cut):
            raise InvalidParameterError(f"cutoff must be a date; got {cutoff!r}.")
    cut = cut.normalize()
    day = ((dates.dt.normalize() - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).to_numpy(
        dtype=np.int64)
    cut_day = int((cut - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1))
    after = day > cut_day
    n_after = int(after.sum())
    if n_after:
        warnings.warn(
            f"{n_after} event(s) dated after the cutoff {_date_text(cut)} are not used (the "
            f"funnel is as of the cutoff; first: {_rows_text(rows[after])}).",
            ExcludedCustomersWarning, stacklevel=3)
    keep = ~after
    if not keep.any():
        raise InvalidFunnelEventsError(
            f"every event is dated after the cutoff {_date_text(cut)}; pass a later cutoff.")
    k = len(stages)
    code = np.where(is_lost, k, codes.fillna(-1).to_numpy(dtype=np.int64))[keep]
    day, rows_k = day[keep], rows[keep]
    lead_codes, lead_values = pd.factorize(ids[keep], sort=False)
    # order each lead's events by date, then by stage (a loss after a same-day entry)
    order = np.lexsort((code, day, lead_codes))
    lc, cd, dy, rw = lead_codes[order], code[order], day[order], rows_k[order]
    n_leads = len(lead_values)

    def lead_name(i):
        return repr(lead_values[i].item() if hasattr(lead_values[i], "item") else lead_values[i])

    # duplicates: the same (lead, stage) twice (losses included)
    key = lc * (k + 1) + cd
    sorted_by_key = np.lexsort((dy, key))
    ks = key[sorted_by_key]
    dup_sorted = np.r_[False, ks[1:] == ks[:-1]]
    dup = np.zeros(lc.size, dtype=bool)
    dup[sorted_by_key] = dup_sorted
    n_duplicates = int(dup.sum())
    if n_duplicates:
        if duplicates == "error":
            dup_leads = np.unique(lc[dup])
            pairs = []
            for i in dup_leads[:_MAX_SHOWN]:
                mine = (lc == i) & np.isin(key, key[dup & (lc == i)])
                stage_names = sorted({(stages + (lost,))[c] for c in cd[mine]})
                pairs.append(f"{lead_name(i)} ({', '.join(map(repr, stage_names))}: "
                             f"{_rows_text(np.sort(rw[mine]))})")
            problems.append(_leads_text(pairs, len(dup_leads), "have duplicate events") +
                            ". Remove the repeats, or pass duplicates='first' to keep each "
                            "lead's earliest event of a stage.")
        keep2 = ~dup
        lc, cd, dy, rw = lc[keep2], cd[keep2], dy[keep2], rw[keep2]

    is_loss = cd == k
    st = ~is_loss
    # backwards: a stage dated strictly after a later stage of the same lead
    s_lc, s_cd, s_dy, s_rw = lc[st], cd[st], dy[st], rw[st]
    same = np.r_[False, s_lc[1:] == s_lc[:-1]]
    step = np.r_[0, np.diff(s_cd)]
    back = same & (step < 0)
    if back.any():
        idx = np.flatnonzero(back)
        leads_back = np.unique(s_lc[idx])
        pairs = []
        for i in leads_back[:_MAX_SHOWN]:
            j = idx[s_lc[idx] == i][0]
            pairs.append(f"{lead_name(i)} entered {stages[s_cd[j]]!r} on {_date_text(_d(s_dy[j]))}"
                         f" (row {s_rw[j]}) after {stages[s_cd[j - 1]]!r} on "
                         f"{_date_text(_d(s_dy[j - 1]))} (row {s_rw[j - 1]})")
        problems.append(_leads_text(pairs, len(leads_back), "go backwards in the funnel (or "
                        "their dates are out of order)") + ". Leads move forward only: fix the "
                        "dates, or record a lead that starts over under a new lead id.")
    skip = same & (step > 1)
    n_skipped = int(np.sum(np.where(skip, step - 1, 0)))
    if skip.any() and skipped == "error":
        idx = np.flatnonzero(skip)
        leads_skip = np.unique(s_lc[idx])
        pairs = []
        for i in leads_skip[:_MAX_SHOWN]:
            j = idx[s_lc[idx] == i][0]
            missed = ", ".join(repr(s) for s in stages[s_cd[j - 1] + 1:s_cd[j]])
            pairs.append(f"{lead_name(i)} went from {stages[s_cd[j - 1]]!r} (row {s_rw[j - 1]}) "
                         f"to {stages[s_cd[j]]!r} (row {s_rw[j]}) without {missed}")
        problems.append(_leads_text(pairs, len(leads_skip), "skip a stage") +
                        ". Record the missing stages, or pass skipped='pass' to count skipped "
                        "stages as passed on the date of the later event.")

    # losses: after the lead's last stage event, not of a lead without a stage or a customer
    last_stage = np.full(n_leads, -1, dtype=np.int64)
    last_day = np.full(n_leads, np.iinfo(np.int64).min, dtype=np.int64)
    last_row = np.full(n_leads, -1, dtype=np.int64)
    np.maximum.at(last_stage, s_lc, s_cd)
    # events are in date order within a lead, so the last assignment wins
    last_day[s_lc] = s_dy
    last_row[s_lc] = s_rw
    l_lc, l_dy, l_rw = lc[is_loss], dy[is_loss], rw[is_loss]
    no_stage = last_stage[l_lc] < 0
    if no_stage.any():
        pairs = [f"{lead_name(i)} (row {r})" for i, r in zip(l_lc[no_stage], l_rw[no_stage],
                                                              strict=True)]
        problems.append(_leads_text(pairs, len(pairs), "are lost before entering any stage") +
                        ". Record the stage the lead was in, or remove the loss event.")
    early = (~no_stage) & (l_dy < last_day[l_lc])
    if early.any():
        pairs = [f"{lead_name(i)} lost on {_date_text(_d(d))} (row {r}) but entered "
                 f"{stages[last_stage[i]]!r} on {_date_text(_d(last_day[i]))} (row {last_row[i]})"
                 for i, d, r in zip(l_lc[early], l_dy[early], l_rw[early], strict=True)]
        problems.append(_leads_text(pairs, len(pairs), "have events after their loss (dates "
                        "out of order)") + ". A loss is a lead's last event: fix the dates, or "
                        "give a lead that came back a new lead id.")
    final_loss = (~no_stage) & (~early) & (last_stage[l_lc] == k - 1)
    if final_loss.any():
        pairs = [f"{lead_name(i)} (row {r})" for i, r in zip(l_lc[final_loss], l_rw[final_loss],
                                                              strict=True)]
        problems.append(_leads_text(pairs, len(pairs), f"are lost after reaching the last stage "
                        f"{stages[-1]!r}") + ". A customer's churn is not part of the funnel: "
                        "remove those events.")
    if problems:
        raise InvalidFunnelEventsError(
            "invalid funnel events:\n  " + "\n  ".join(problems), problems)

    # spells: every stage from the lead's first to its last, entry dated by the first
    # recorded event at or beyond it (a skipped stage is passed on the later event's date)
    first_stage = np.full(n_leads, k, dtype=np.int64)
    np.minimum.at(first_stage, s_lc, s_cd)
    lost_day = np.full(n_leads, -1, dtype=np.int64)
    lost_day[l_lc] = l_dy
    n_spells = last_stage - first_stage + 1
    sp_lead = np.repeat(np.arange(n_leads), n_spells)
    offsets = np.arange(n_spells.sum()) - np.repeat(np.cumsum(n_spells) - n_spells, n_spells)
    sp_stage = first_stage[sp_lead] + offsets
    # entry day: recorded events placed on the grid, back-filled within each lead
    start = np.cumsum(n_spells) - n_spells
    grid = np.full(sp_lead.size, np.iinfo(np.int64).max, dtype=np.int64)
    grid[start[s_lc] + (s_cd - first_stage[s_lc])] = s_dy
    recorded = pd.Series(grid).where(grid != np.iinfo(np.int64).max)
    entry = recorded.groupby(sp_lead).bfill().to_numpy(dtype=np.int64)
    is_last = offsets == n_spells[sp_lead] - 1
    exit_day = np.empty_like(entry)
    exit_day[~is_last] = entry[1:][~is_last[:-1]]
    outcome = np.full(sp_lead.size, "moved_on", dtype=object)
    final = is_last & (sp_stage == k - 1)
    dropped = is_last & ~final & (lost_day[sp_lead] >= 0)
    still = is_last & ~final & ~dropped
    outcome[final] = "final"
    outcome[dropped] = "dropped_out"
    outcome[still] = "open"
    exit_day[final] = entry[final]
    exit_day[dropped] = lost_day[sp_lead[dropped]]
    exit_day[still] = cut_day
    n_timed_out = 0
    if timeout is not None:
        stale = still & (cut_day - entry > timeout)
        n_timed_out = int(stale.sum())
        outcome[stale] = "dropped_out"
        exit_day[stale] = entry[stale] + int(np.ceil(timeout))
        late = (outcome == "moved_on") & (exit_day - entry > timeout)
        if late.any():
            warnings.warn(
                f"{int(late.sum())} spell(s) moved on after more than timeout={timeout:g} days "
                f"(longest {int(np.max((exit_day - entry)[late]))} days), while the "
                f"{n_timed_out} open lead(s) older than the timeout are counted as dropped "
                "out: the timeout closes leads that may still move on and biases the "
                "conversion estimates low. Raise the timeout, or record losses.",
                StatisticalWarning, stacklevel=3)

    epoch = pd.Timestamp("1970-01-01")
    entry_ts = epoch + pd.to_timedelta(entry, unit="D")
    out = pd.DataFrame({
        "lead_id": lead_values.take(sp_lead),
        "stage": pd.Categorical.from_codes(sp_stage, categories=list(stages), ordered=True),
        "stage_index": sp_stage,
        "entry": entry_ts,
        "exit": epoch + pd.to_timedelta(exit_day, unit="D"),
        "outcome": pd.Categorical(outcome, categories=list(OUTCOMES)),
        "days": (exit_day - entry).astype(np.int64),
        "cohort": pd.PeriodIndex(entry_ts, freq="M"),
    })
    if channel is not None:
        # the channel of each lead's first event (events are in date order here)
        ch = events[channel].to_numpy()[keep][order]
        first = np.r_[True, lead_codes[order][1:] != lead_codes[order][:-1]]
        lead_channel = np.empty(n_leads, dtype=object)
        lead_channel[lead_codes[order][first]] = ch[first]
        out["channel"] = lead_channel[sp_lead]
    out.attrs = {
        "stages": list(stages), "cutoff": cut, "lost": lost, "timeout": timeout,
        "n_events": int(n), "n_events_after_cutoff": n_after,
        "n_duplicate_events": n_duplicates, "n_skipped_stages": n_skipped,
        "n_timed_out": n_timed_out, "n_leads": int(n_leads),
    }
    return out


def _d(day: int) -> pd.Timestamp:
    return pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(day))
