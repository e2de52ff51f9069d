"""Per-period tracking of the holdout total (issue 16, item 3), against the API and the harness."""

from __future__ import annotations

import numpy as np
import pytest

import clvmodels


@pytest.fixture(scope="module")
def result():
    log = clvmodels.datasets.load_cdnow_transactions()
    return clvmodels.compare(log, ["bgnbd", "paretonbd", "own_rate"],
                             calibration_end="1997-09-30", observation_end="1998-06-30")


def test_daily_holdout_transactions_add_up_to_the_summary(result):
    assert len(result.holdout_daily) == 273  # 1997-10-01 .. 1998-06-30
    assert result.holdout_daily.sum() == result.summary["frequency_holdout"].sum() == 1882


def test_weekly_tracking_of_each_model(result):
    table = result.tracking()
    assert set(table["method"]) == {"bgnbd", "paretonbd"}  # own_rate has no per-period path
    bg = table[table["method"] == "bgnbd"]
    assert len(bg) == 39 and bg["period_end"].iloc[-1] == 273
    # the predicted weekly totals are the increments of the model's expected purchases
    model = next(r.models["purchase"] for r in result.fits
                 if r.method == "bgnbd" and "purchase" in r.models)
    cal = result.summary[["frequency", "recency", "T"]]
    t = bg["period_end"].to_numpy()[[0, 1, -1]] / 7.0
    totals = [model.expected_purchases(cal, t=x).sum() for x in t]
    assert bg["predicted"].iloc[0] == pytest.approx(totals[0], rel=1e-10)
    assert bg["predicted"].iloc[1] == pytest.approx(totals[1] - totals[0], rel=1e-10)
    assert bg["cumulative_predicted"].iloc[-1] == pytest.approx(totals[2], rel=1e-10)
    assert bg["cumulative_actual"].iloc[-1] == 1882
    # the final cumulative error is the harness's error of the total
    summary = table.attrs["summary"]
    board = result.table()
    for name in ("bgnbd", "paretonbd"):
        assert summary.loc[name, "final_cumulative_error_pct"] == pytest.approx(
            board.loc[name, "transactions_total_error_pct"], rel=1e-9)


def test_longer_periods_aggregate_the_days(result):
    weekly = result.tracking()
    fortnightly = result.tracking(period_days=14)
    bg_w = weekly[weekly["method"] == "bgnbd"]
    bg_f = fortnightly[fortnightly["method"] == "bgnbd"]
    assert len(bg_f) == 20 and bg_f["period_end"].iloc[-1] == 273
    np.testing.assert_allclose(bg_f["actual"].iloc[0], bg_w["actual"].iloc[:2].sum())
    np.testing.assert_allclose(bg_f["cumulative_predicted"].iloc[-1],
                               bg_w["cumulative_predicted"].iloc[-1], rtol=1e-10)
    with pytest.raises(ValueError, match="period_days"):
        result.tracking(period_days=0)
