"""discrete_summary: against a plain per-customer loop, the BG/BB paper's table rebuilt from a
log, week/month/year boundaries, holdout columns, warnings and errors."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels.data._simulate_family as simulate_family
import clvmodels.data.discrete as discrete
import clvmodels.models.bgbb as bgbb_module
import clvmodels.models.mbgnbd as mbgnbd_module
import clvmodels.models.sbg as sbg_module
from clvmodels.data.discrete import discrete_summary
from clvmodels.datasets import load_donations
from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidTransactionsError,
    StatisticalWarning,
)
from clvmodels.models.bgbb import BGBB


# ---------------------------------------------------------------------------
# an independent, obvious implementation
# ---------------------------------------------------------------------------
def _period_key(ts: pd.Timestamp, period: str):
    if period == "Y":
        return ts.year
    if period == "M":
        return ts.year * 12 + ts.month - 1
    iso = ts - pd.Timedelta(days=ts.weekday())  # the Monday of its week
    return (iso - pd.Timestamp("1970-01-05")).days // 7


def _loop_summary(log, period, cal, obs=None, cohort=None):
    cal = pd.Timestamp(cal)
    rows = {}
    cal_key = _period_key(cal, period)
    obs_key = None if obs is None else _period_key(pd.Timestamp(obs), period)
    cohort_key = None if cohort is None else _period_key(pd.Timestamp(cohort), period)
    for cid, grp in log.groupby("customer_id"):
        dates = sorted(pd.to_datetime(grp["date"]))
        if dates[0] > cal:
            continue
        first = _period_key(dates[0], period)
        if cohort_key is not None and first != cohort_key:
            continue
        cal_periods = {_period_key(d, period) - first for d in dates if d <= cal} - {0}
        row = {"frequency": len(cal_periods), "recency": max(cal_periods, default=0),
               "n_periods": cal_key - first}
        if obs_key is not None:
            hold = {_period_key(d, period) for d in dates if d > cal}
            row["frequency_holdout"] = len({k for k in hold if cal_key < k <= obs_key})
            row["n_periods_holdout"] = obs_key - cal_key
        rows[cid] = row
    out = pd.DataFrame.from_dict(rows, orient="index").astype(np.int64)
    out.index.name = "customer_id"
    return out


def _random_log(n_customers, n_rows, start, days, seed):
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, n_customers, n_rows)
    offset = rng.integers(0, days, n_rows)
    return pd.DataFrame({"customer_id": cust,
                         "date": pd.Timestamp(start) + pd.to_timedelta(offset, unit="D")})


@pytest.mark.parametrize(
    ("period", "cal", "obs"),
    [("Y", "2003-12-31", None), ("Y", "2002-12-31", "2005-12-31"), ("M", "2002-06-30", None),
     ("M", "2001-10-31", "2003-03-31"), ("W", "2001-06-10", None), ("W", "2001-03-04",
                                                                     "2002-02-24")],
)
def test_matches_a_plain_loop(period, cal, obs):
    log = _random_log(300, 3000, "2000-01-01", 6 * 365, seed=len(period) + len(cal))
    if obs is not None:
        log = log[log["date"] <= pd.Timestamp(obs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        ours = discrete_summary(log, period=period, calibration_end=cal, observation_end=obs)
    expected = _loop_summary(log, period, cal, obs)
    pd.testing.assert_frame_equal(ours, expected.loc[ours.index], check_names=False)
    assert set(ours.index) == set(expected.index)
    assert ours.attrs["time_unit"] == period
    assert ((ours["frequency"] <= ours["recency"]) & (ours["recency"] <= ours["n_periods"])).all()


def test_first_period_keeps_one_cohort():
    log = _random_log(200, 2000, "2000-01-01", 5 * 365, seed=9)
    with pytest.warns(ExcludedCustomersWarning, match="outside first_period"):
        ours = discrete_summary(log, period="Y", calibration_end="2004-12-31",
                                first_period="2001-07-01")
    expected = _loop_summary(log, "Y", "2004-12-31", cohort="2001-07-01")
    pd.testing.assert_frame_equal(ours, expected.loc[ours.index], check_names=False)
    assert len(ours) == len(expected) and (ours["n_periods"] == 3).all()
    assert str(ours.attrs["first_period"]) == "2001"


# ---------------------------------------------------------------------------
# the BG/BB paper's recency/frequency table, rebuilt from a transaction log
# ---------------------------------------------------------------------------
def _donations_log(seed=0):
    """One 1995 first donation per donor, then donations in the years of their pattern."""
    rng = np.random.default_rng(seed)
    table = load_donations()
    rows, cid = [], 0
    for x, tx, _, w in table.itertuples(index=False):
        for _ in range(w):
            rows.append((cid, "1995-05-01"))
            if x:
                years = [tx, *rng.choice(np.arange(1, tx), size=x - 1, replace=False)]
                for y in years:
                    # two gifts in some years: still one opportunity
                    rows.append((cid, f"{1995 + y}-03-15"))
                    if rng.random() < 0.2:
                        rows.append((cid, f"{1995 + y}-11-30"))
            cid += 1
    return pd.DataFrame(rows, columns=["customer_id", "date"])


def test_rebuilds_the_donations_table_and_the_published_fit():
    log = _donations_log()
    table = discrete_summary(log, period="Y", calibration_end="2001-12-31", compress=True)
    expected = load_donations().sort_values(["frequency", "recency"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(table.reset_index(drop=True), expected, check_dtype=False)
    model = BGBB().fit(table)
    assert model.params_.round(3).tolist() == [1.204, 0.75, 0.657, 2.783]
    assert round(model.log_likelihood_, 1) == -33225.6
    assert model.time_unit_ == "Y"
    per_customer = discrete_summary(log, period="Y", calibration_end="2001-12-31")
    assert len(per_customer) == 11104


# ---------------------------------------------------------------------------
# boundaries, holdout, warnings, errors
# ---------------------------------------------------------------------------
def test_week_and_month_boundaries():
    log = pd.DataFrame({"customer_id": [1, 1, 1, 2, 2],
                        "date": ["2024-01-01", "2024-01-07", "2024-01-08",  # Mon, Sun, Mon
                                 "2024-01-31", "2024-02-01"]})
    weekly = discrete_summary(log, period="W", calibration_end="2024-02-04")
    # Sunday 01-07 is in week 0, Monday 01-08 in week 1; Sunday 02-04 ends week 4
    assert weekly.loc[1].tolist() == [1, 1, 4]
    monthly = discrete_summary(log, period="M", calibration_end="2024-02-29")
    assert monthly.loc[2].tolist() == [1, 1, 1]
    assert monthly.loc[1].tolist() == [0, 0, 1]


def test_holdout_columns_and_compressed_weights():
    log = _random_log(500, 4000, "2010-01-01", 8 * 365, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        full = discrete_summary(log, period="Y", calibration_end="2014-12-31",
                                observation_end="2017-12-31")
        small = discrete_summary(log, period="Y", calibration_end="2014-12-31",
                                 observation_end="2017-12-31", compress=True)
    assert (full["n_periods_holdout"] == 3).all()
    assert small["weights"].sum() == len(full)
    assert list(small.columns) == ["frequency", "recency", "n_periods", "frequency_holdout",
                                   "n_periods_holdout", "weights"]
    back = small.loc[small.index.repeat(small["weights"])].drop(columns="weights")
    pd.testing.assert_frame_equal(
        back.sort_values(list(back.columns)).reset_index(drop=True),
        full.sort_values(list(full.columns)).reset_index(drop=True),
    )


def test_warnings_say_what_was_left_out():
    log = pd.DataFrame({"customer_id": [1, 1, 2, 3],
                        "date": ["2000-02-01", "2001-02-01", "2001-03-01", "2003-01-01"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        with pytest.warns(StatisticalWarning, match="not the last day"):
            discrete_summary(log, period="Y", calibration_end="2002-06-30")
    with pytest.warns(ExcludedCustomersWarning) as record:
        s = discrete_summary(log, period="Y", calibration_end="2002-12-31")
    messages = " ".join(str(w.message) for w in record)
    assert "1 customer(s) made their first transaction after" in messages
    assert "1 transaction(s) after calibration_end" in messages
    assert s.attrs["n_excluded_customers"] == 1
    assert list(s.index) == [1, 2]


def test_default_calibration_end_is_the_last_transaction():
    log = pd.DataFrame({"customer_id": [1, 1, 2], "date": ["2000-02-01", "2002-02-01",
                                                           "2001-03-01"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = discrete_summary(log)
    assert s.loc[1].tolist() == [1, 2, 2] and s.loc[2].tolist() == [0, 0, 1]
    assert str(s.attrs["last_calibration_period"]) == "2002"


def test_reads_a_csv_path(tmp_path):
    log = pd.DataFrame({"customer_id": [1, 1, 2], "date": ["2000-02-01", "2002-02-01",
                                                           "2001-03-01"]})
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    from_file = discrete_summary(str(path))
    from_frame = discrete_summary(log)
    # the file reader keeps ids as text (no guessing of types)
    assert list(from_file.index.astype(str)) == list(from_frame.index.astype(str))
    np.testing.assert_array_equal(from_file.to_numpy(), from_frame.to_numpy())


def test_errors_for_people():
    log = pd.DataFrame({"customer_id": [1], "date": ["2000-01-01"]})
    with pytest.raises(InvalidTransactionsError, match="period='Q'"):
        discrete_summary(log, period="Q")
    with pytest.raises(InvalidTransactionsError, match="not found"):
        discrete_summary(log, date="when")
    with pytest.raises(InvalidTransactionsError, match="first_period"):
        discrete_summary(log, first_period="not a date")
    with pytest.raises(InvalidTransactionsError, match="after observation_end"):
        discrete_summary(pd.DataFrame({"customer_id": [1, 1],
                                       "date": ["2000-01-01", "2003-01-01"]}),
                         calibration_end="2000-12-31", observation_end="2001-12-31")


# ---------------------------------------------------------------------------
# the docstring examples of the model-family modules run
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "module", [discrete, simulate_family, bgbb_module, sbg_module, mbgnbd_module],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0
    assert result.attempted > 0
