"""rfm_summary on the bundled CDNOW sample against the BG/NBD paper and a plain loop."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pytest

import clvmodels
from clvmodels.datasets import load_cdnow_transactions

CAL = dt.date(1997, 9, 30)
OBS = dt.date(1998, 6, 30)


@pytest.fixture(scope="module")
def log():
    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def summary(log):
    return clvmodels.rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                                 observation_end="1998-06-30", time_unit="W")


def _loop_summary(log):
    """An independent summary: per customer, a dict of day -> total value, in plain Python."""
    days = defaultdict(lambda: defaultdict(float))
    for cid, d, amt in zip(log["customer_id"].tolist(), log["date"].tolist(),
                           log["amount"].tolist(), strict=True):
        days[cid][d.date()] += amt
    out = {}
    for cid, per_day in days.items():
        ordered = sorted(per_day)
        first = ordered[0]
        cal_days = [d for d in ordered if d <= CAL]
        hold_days = [d for d in ordered if CAL < d <= OBS]
        freq = len(cal_days) - 1
        repeat_values = [per_day[d] for d in cal_days[1:]]
        out[cid] = dict(
            frequency=freq,
            recency=(cal_days[-1] - first).days / 7.0,
            T=(CAL - first).days / 7.0,
            monetary_value=(sum(repeat_values) / freq) if freq else 0.0,
            frequency_holdout=len(hold_days),
            monetary_value_holdout=(sum(per_day[d] for d in hold_days) / len(hold_days)
                                    if hold_days else 0.0),
        )
    return out


def test_published_cdnow_figures(summary):
    # Fader, Hardie & Lee (2005): 2,357 customers, 2,457 repeat transactions in weeks 1-39,
    # 1,882 in weeks 40-78; first-day customers have T = 38.86 weeks.
    assert len(summary) == 2357
    assert summary["frequency"].sum() == 2457
    assert (summary["frequency"] > 0).sum() == 946
    assert summary["frequency_holdout"].sum() == 1882
    first_day = load_cdnow_transactions().groupby("customer_id")["date"].min()
    jan1 = first_day[first_day == "1997-01-01"].index
    assert len(jan1) > 0
    assert np.allclose(summary.loc[jan1, "T"].round(2), 38.86)
    assert np.allclose(summary["duration_holdout"], 39.0)


def test_every_customer_matches_plain_loop(log, summary):
    truth = _loop_summary(log)
    assert set(truth) == set(summary.index)
    for col in ["frequency", "recency", "T", "monetary_value", "frequency_holdout",
                "monetary_value_holdout"]:
        expected = np.array([truth[c][col] for c in summary.index])
        np.testing.assert_allclose(summary[col].to_numpy(), expected, rtol=1e-12, atol=1e-12,
                                   err_msg=col)


def test_attrs_record_units_and_cutoffs(summary):
    a = summary.attrs
    assert a["time_unit"] == "W"
    assert str(a["calibration_end"].date()) == "1997-09-30"
    assert str(a["observation_end"].date()) == "1998-06-30"
    assert a["n_excluded_customers"] == 0
    assert a["n_rows"] == 6919
    assert summary.index.name == "customer_id"
    assert summary.index.is_monotonic_increasing
    assert summary["frequency"].dtype == np.int64


@pytest.mark.filterwarnings("ignore::clvmodels.errors.ExcludedCustomersWarning")
def test_monetary_all_option(log):
    s = clvmodels.rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                              monetary="all", time_unit="W")
    cal = log[log["date"] <= "1997-09-30"]
    per_day = cal.groupby(["customer_id", "date"])["amount"].sum()
    expected = per_day.groupby(level=0).mean()
    np.testing.assert_allclose(s["monetary_value"], expected.loc[s.index], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::clvmodels.errors.ExcludedCustomersWarning")
@pytest.mark.parametrize("unit,days", [("D", 1.0), ("W", 7.0), ("M", 30.4375), ("Y", 365.25)])
def test_time_units_scale_times(log, unit, days):
    s = clvmodels.rfm_summary(log, calibration_end="1997-09-30", time_unit=unit)
    d = clvmodels.rfm_summary(log, calibration_end="1997-09-30", time_unit="D")
    np.testing.assert_allclose(s["T"] * days, d["T"], rtol=1e-12)
    np.testing.assert_allclose(s["recency"] * days, d["recency"], rtol=1e-12)


def test_late_first_purchase_excluded_with_warning(log):
    # CDNOW's cohort first bought in 1997Q1: a cutoff on 1997-02-15 leaves out later arrivals.
    first = log.groupby("customer_id")["date"].min()
    n_late = int((first > "1997-02-15").sum())
    assert n_late > 0
    with pytest.warns(clvmodels.errors.ExcludedCustomersWarning, match=str(n_late)):
        s = clvmodels.rfm_summary(log, calibration_end="1997-02-15",
                                  observation_end="1998-06-30")
    assert s.attrs["n_excluded_customers"] == n_late
    assert len(s) == 2357 - n_late


def test_no_observation_end_reports_later_transactions(log):
    with pytest.warns(clvmodels.errors.ExcludedCustomersWarning, match="observation_end"):
        s = clvmodels.rfm_summary(log, calibration_end="1997-09-30")
    assert s.attrs["n_transactions_after_calibration"] > 0
    assert "frequency_holdout" not in s.columns


def test_default_calibration_end_is_last_date(log):
    s = clvmodels.rfm_summary(log)
    assert s.attrs["calibration_end"] == log["date"].max()
    assert s.attrs["n_transactions_after_calibration"] == 0


def test_reads_csv_and_parquet(tmp_path, log, summary):
    csv = tmp_path / "log.csv"
    log.assign(date=log["date"].dt.strftime("%Y-%m-%d")).to_csv(csv, index=False)
    pq = tmp_path / "log.parquet"
    log.to_parquet(pq)
    for path in (csv, pq, str(csv)):
        s = clvmodels.rfm_summary(path, amount="amount", calibration_end="1997-09-30",
                                  observation_end="1998-06-30")
        # CSV ids are read as text (leading zeros survive); align on the integer id.
        s.index = s.index.astype(np.int64)
        s = s.sort_index()
        np.testing.assert_array_equal(s["frequency"].to_numpy(),
                                      summary["frequency"].to_numpy())
        np.testing.assert_allclose(s["monetary_value"].to_numpy(),
                                   summary["monetary_value"].to_numpy())
