"""The formulas' tables computed from the CDNOW log, each checked against a direct computation.

Every expected value here is recomputed in the test from the raw rows with plain
Python loops and dictionaries (not the vectorised code under test), or is a
published figure of the CDNOW sample (2,357 customers, 2,457 repeat transactions
in the 39-week calibration period; Fader, Hardie & Lee 2005).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.formulas import (
    abc_xyz_analysis,
    abc_xyz_matrix,
    cohort_clv,
    cohort_table,
    formula_inputs,
    ladder_funnel,
    loyalty_ladder,
    monthly_inputs,
    rfm_scores,
)

CAL_END = "1997-09-30"


def _load_cdnow():
    try:
        from clvmodels.datasets import load_cdnow_transactions
    except ImportError:  # pragma: no cover - before the data layer existed
        raw = pd.read_csv("/work/shared/data/cdnow_sample.txt", sep=r"\s+", header=None,
                          names=["full_id", "customer_id", "date", "quantity", "amount"])
        raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
        return raw[["customer_id", "date", "quantity", "amount"]]
    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def log():
    return _load_cdnow()


@pytest.fixture(scope="module")
def rows(log):
    """The log as plain Python tuples (customer, date, amount)."""
    return [
        (int(c), d.date(), float(a))
        for c, d, a in zip(log["customer_id"], log["date"], log["amount"], strict=True)
    ]


def _month(d: dt.date) -> tuple[int, int]:
    return (d.year, d.month)


def _month_index(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


# ---------------------------------------------------------------------------
# Brute-force monthly inputs


def brute_monthly(rows, window, end: dt.date, start: dt.date | None = None):
    rows = [r for r in rows if r[1] <= end]
    start = start or min(r[1] for r in rows)
    purchase_months = defaultdict(set)
    for c, d, _ in rows:
        purchase_months[c].add(_month_index(d))
    first_month = {c: min(ms) for c, ms in purchase_months.items()}

    def active(c, m):
        return any(m - k in purchase_months[c] for k in range(window))

    out = {}
    for m in range(_month_index(start), _month_index(end) + 1):
        s = e = kept = new = back = 0
        for c in purchase_months:
            a0, a1 = active(c, m - 1), active(c, m)
            s += a0
            e += a1
            kept += a0 and a1
            if a1 and not a0:
                if first_month[c] == m:
                    new += 1
                else:
                    back += 1
        revenue = 0.0
        days = set()
        for c, d, a in rows:
            if _month_index(d) == m and d >= start:
                revenue += a
                days.add((c, d))
        out[m] = {"customers_start": s, "customers_end": e, "retained_customers": kept,
                  "new_customers": new, "reactivated_customers": back, "revenue": revenue,
                  "orders": len(days)}
    return out


@pytest.mark.parametrize("window", [1, 3])
def test_monthly_inputs_match_brute_force_on_cdnow_calibration(log, rows, window):
    got = monthly_inputs(log, observation_end=CAL_END, active_window=window)
    want = brute_monthly(rows, window, dt.date(1997, 9, 30))
    assert len(got) == len(want) == 9
    for period, row in got.iterrows():
        w = want[period.year * 12 + period.month - 1]
        for key in ("customers_start", "customers_end", "retained_customers",
                    "new_customers", "reactivated_customers", "orders"):
            assert row[key] == w[key], (period, key)
        assert row["revenue"] == pytest.approx(w["revenue"])
        assert row["average_order_value"] == pytest.approx(w["revenue"] / w["orders"])
        if w["customers_start"]:
            r = w["retained_customers"] / w["customers_start"]
            assert row["retention_rate"] == pytest.approx(r)
            assert row["churn_rate"] == pytest.approx(1 - r)
        else:
            assert np.isnan(row["retention_rate"])
    # CRR formula with new = first-time + reactivated gives the retained share
    assert (got["customers_end"] == got["retained_customers"] + got["new_customers"]
            + got["reactivated_customers"]).all()
    assert (got["customers_start"].iloc[1:].to_numpy()
            == got["customers_end"].iloc[:-1].to_numpy()).all()


def test_formula_inputs_on_cdnow_calibration(log, rows):
    fi = formula_inputs(log, observation_end=CAL_END, margin_rate=0.3)
    want = brute_monthly(rows, 1, dt.date(1997, 9, 30))
    cal = [r for r in rows if r[1] <= dt.date(1997, 9, 30)]
    # published: 2,357 first purchases + 2,457 repeat transactions in calibration
    assert fi.orders == 2357 + 2457
    assert fi.customers == 2357
    assert fi.new_customers == 2357
    assert fi.months == 9
    revenue = sum(a for _, _, a in cal)
    assert fi.revenue == pytest.approx(revenue)
    assert fi.average_order_value == pytest.approx(revenue / 4814)
    assert fi.transactions_per_month == pytest.approx(4814 / 9)
    kept = sum(v["retained_customers"] for v in want.values())
    starts = sum(v["customers_start"] for v in want.values())
    assert fi.retention_rate == pytest.approx(kept / starts)
    assert fi.churn_rate == pytest.approx(1 - kept / starts)
    assert fi.average_lifetime_months == pytest.approx(1 / (1 - kept / starts))
    assert fi.gross_margin == pytest.approx(0.3)
    assert fi.average_gross_margin == pytest.approx(0.3)
    assert fi.customers_end == want[1997 * 12 + 8]["customers_end"]
    # the calculators on these inputs
    assert fi.historical_clv() == pytest.approx(revenue / 2357 * 12 / 9)
    active_months = sum(v["customers_end"] for v in want.values())
    assert fi.traditional_clv(0.01) == pytest.approx(
        0.3 * revenue / active_months * (kept / starts) / (1.01 - kept / starts))


def test_formula_inputs_with_a_cost_column_and_orders(log):
    df = log.copy()
    df["cost"] = df["amount"] * np.where(df["date"].dt.month % 2 == 0, 0.6, 0.8)
    df["order"] = np.arange(len(df))  # every row its own order
    fi = formula_inputs(df, observation_end=CAL_END, cost="cost", order_id="order")
    cal = df[df["date"] <= CAL_END]
    assert fi.orders == len(cal)
    assert fi.cost_of_sales == pytest.approx(cal["cost"].sum())
    assert fi.gross_margin == pytest.approx(1 - cal["cost"].sum() / cal["amount"].sum())
    monthly = []
    for month in range(1, 10):
        part = cal[cal["date"].dt.month == month]
        monthly.append(1 - part["cost"].sum() / part["amount"].sum())
    assert fi.average_gross_margin == pytest.approx(sum(monthly) / 9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 6), st.integers(0, 200)), min_size=1, max_size=30),
    st.integers(1, 4),
)
def test_monthly_inputs_match_brute_force_on_random_logs(events, window):
    base = dt.date(2023, 1, 1)
    rows = [(c, base + dt.timedelta(days=k), 1.0 + k) for c, k in events]
    log = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    log["date"] = pd.to_datetime(log["date"])
    end = max(r[1] for r in rows)
    got = monthly_inputs(log, active_window=window)
    want = brute_monthly(rows, window, end)
    for period, row in got.iterrows():
        w = want[period.year * 12 + period.month - 1]
        for key in ("customers_start", "customers_end", "retained_customers",
                    "new_customers", "reactivated_customers", "orders"):
            assert row[key] == w[key], (period, key)
        assert row["revenue"] == pytest.approx(w["revenue"])


# ---------------------------------------------------------------------------
# Cohort table


def test_cohort_table_matches_loops_on_cdnow(log, rows):
    got = cohort_table(log)
    first = {}
    for c, d, _ in rows:
        first[c] = min(first.get(c, d), d)
    size = defaultdict(int)
    for d in first.values():
        size[_month(d)] += 1
    cell = defaultdict(float)
    for c, d, a in rows:
        cohort = _month(first[c])
        age = _month_index(d) - _month_index(first[c])
        cell[(cohort, age)] += a
    last = _month_index(dt.date(1998, 6, 30))
    assert [(p.year, p.month) for p in got.index] == sorted(size)
    for p, row in got.iterrows():
        cohort = (p.year, p.month)
        running = 0.0
        for age in got.columns:
            if cohort[0] * 12 + cohort[1] - 1 + age > last:
                assert np.isnan(row[age])
                continue
            running += cell[(cohort, age)]
            assert row[age] == pytest.approx(running / size[cohort])
    assert got.attrs["cohort_size"] == {f"{y}-{m:02d}": n for (y, m), n in size.items()}


def test_cohort_active_share_and_transactions_match_groupby(log):
    df = log.copy()
    df["month"] = df["date"].dt.to_period("M")
    df["cohort"] = df.groupby("customer_id")["month"].transform("min")
    df["age"] = (df["month"] - df["cohort"]).apply(lambda off: off.n)
    sizes = df.groupby("cohort")["customer_id"].nunique()
    active = df.groupby(["cohort", "age"])["customer_id"].nunique().unstack()
    share = cohort_table(log, value="active")
    days = df.drop_duplicates(["customer_id", "date"]).groupby(["cohort", "age"]).size()
    tx = cohort_table(log, value="transactions", cumulative=False)
    for cohort in sizes.index:
        for age in active.columns:
            n_active = active.loc[cohort, age]
            if np.isnan(share.loc[cohort, age]):
                continue
            expected = 0.0 if np.isnan(n_active) else n_active / sizes[cohort]
            assert share.loc[cohort, age] == pytest.approx(expected)
            expected_tx = days.get((cohort, age), 0) / sizes[cohort]
            assert tx.loc[cohort, age] == pytest.approx(expected_tx)


def test_cohort_clv_is_the_table_at_the_age(log):
    table = cohort_table(log)
    clv = cohort_clv(log, months=12)
    for p, v in clv.items():
        assert v == pytest.approx(table.loc[p, 11])
    sizes = table.attrs["cohort_size"]
    w = np.array([sizes[str(p)] for p in clv.index], dtype=float)
    assert clv.attrs["weighted_mean"] == pytest.approx(np.sum(w * clv.to_numpy()) / w.sum())


def test_cohort_clv_warns_about_young_cohorts(log):
    from clvmodels.errors import ExcludedCustomersWarning

    with pytest.warns(ExcludedCustomersWarning, match="1997-03"):
        clv = cohort_clv(log, months=17)
    assert [str(p) for p in clv.index] == ["1997-01", "1997-02"]


def test_cohort_table_leaves_out_a_month_cut_by_observation_end(log):
    t = cohort_table(log, observation_end="1997-09-15")
    assert t.attrs["last_month"] == "1997-08"
    assert t.shape[1] == 8  # ages 0..7 for the January cohort
    assert t.attrs["n_rows_after_observation_end"] == int((log["date"] > "1997-09-15").sum())


# ---------------------------------------------------------------------------
# Loyalty ladder


def test_ladder_funnel_matches_loops_on_cdnow(log, rows):
    lad = loyalty_ladder(log)
    days = defaultdict(set)
    for c, d, _ in rows:
        days[c].add(d)
    stage = {}
    for c, ds in days.items():
        ds = sorted(ds)
        if len(ds) == 1:
            stage[c] = "buyer"
            continue
        gaps = [(b - a).days for a, b in zip(ds, ds[1:], strict=False)]
        months = {_month(d) for d in ds}
        regular = (len(months) >= 3 and len(gaps) >= 2
                   and statistics.pstdev(gaps) / statistics.mean(gaps) <= 1.0)
        stage[c] = "regular" if regular else "customer"
    assert lad["stage"].astype(str).to_dict() == stage
    funnel = ladder_funnel(lad)
    n_buyer = len(stage)
    n_customer = sum(s != "buyer" for s in stage.values())
    n_regular = sum(s == "regular" for s in stage.values())
    assert funnel["customers"].tolist() == [n_buyer, n_customer, n_regular]
    assert funnel["conversion"].tolist() == pytest.approx(
        [1.0, n_customer / n_buyer, n_regular / n_customer])
    assert funnel["at_stage"].tolist() == [n_buyer - n_customer, n_customer - n_regular,
                                           n_regular]


def test_ladder_with_share_of_wallet_and_referrals(log):
    lad0 = loyalty_ladder(log)
    regular = lad0.index[lad0["stage"] == "regular"]
    sow = pd.Series(0.5, index=lad0.index)
    sow[regular[::2]] = 0.95
    ref = pd.Series(0, index=lad0.index)
    ref[regular[::4]] = 2
    lad = loyalty_ladder(log, share_of_wallet=sow, referrals=ref)
    funnel = ladder_funnel(lad)
    assert list(funnel.index) == ["buyer", "customer", "regular", "adherent", "advocate"]
    assert funnel.loc["adherent", "customers"] == len(regular[::2])
    assert funnel.loc["advocate", "customers"] == len(regular[::4])
    # a non-regular customer with full share of wallet stays where they are
    sow_all = pd.Series(1.0, index=lad0.index)
    lad2 = loyalty_ladder(log, share_of_wallet=sow_all)
    assert (lad2.loc[lad0["stage"] != "regular", "stage"].astype(str)
            == lad0.loc[lad0["stage"] != "regular", "stage"].astype(str)).all()
    # share of wallet from a column of the log (the latest value per customer)
    df = log.copy()
    df["sow"] = df["customer_id"].map(sow)
    lad3 = loyalty_ladder(df, share_of_wallet="sow")
    assert (lad3["stage"] == lad.loc[:, "stage"].where(lad["stage"] != "advocate",
                                                       "adherent")).all()


# ---------------------------------------------------------------------------
# ABC-XYZ


@pytest.mark.parametrize("period", ["M", "Y"])
def test_abc_xyz_matches_loops_on_cdnow(log, rows, period):
    got = abc_xyz_analysis(log, period=period)
    revenue = defaultdict(float)
    for c, _, a in rows:
        revenue[c] += a
    total = sum(revenue.values())
    ranked = sorted(revenue, key=lambda c: (-revenue[c], c))
    abc, running = {}, 0.0
    for c in ranked:
        abc[c] = "A" if running < 0.8 * total else ("B" if running < 0.95 * total else "C")
        running += revenue[c]
    assert got["abc"].to_dict() == abc

    def key(d):
        return d.year * 12 + d.month - 1 if period == "M" else d.year

    per = defaultdict(lambda: defaultdict(float))
    for c, d, a in rows:
        per[c][key(d)] += a
    last = key(dt.date(1998, 6, 30))
    xyz = {}
    for c, spend in per.items():
        values = [spend.get(k, 0.0) for k in range(min(spend), last + 1)]
        if len(values) < 2 or statistics.mean(values) == 0:
            xyz[c] = "Z"  # too short a history, or no spend at all: no CV
            assert np.isnan(got.loc[c, "cv"])
            continue
        cv = statistics.pstdev(values) / statistics.mean(values)
        assert got.loc[c, "cv"] == pytest.approx(cv)
        xyz[c] = "X" if cv <= 0.10 else ("Y" if cv <= 0.25 else "Z")
    assert got["xyz"].to_dict() == xyz
    m = abc_xyz_matrix(got)
    for a in "ABC":
        for x in "XYZ":
            assert m.loc[a, x] == sum(abc[c] == a and xyz[c] == x for c in abc)
    rev = abc_xyz_matrix(got, "revenue")
    assert rev.to_numpy().sum() == pytest.approx(total)
    assert rev.loc["A"].sum() == pytest.approx(sum(revenue[c] for c in abc if abc[c] == "A"))


# ---------------------------------------------------------------------------
# RFM


# The usual R x F segment grid, written out cell by cell (F scores 1..5 left to right).
GRID = {
    5: ["new customers", "potential loyalists", "potential loyalists", "champions",
        "champions"],
    4: ["promising", "potential loyalists", "potential loyalists", "loyal customers",
        "loyal customers"],
    3: ["about to sleep", "about to sleep", "need attention", "loyal customers",
        "loyal customers"],
    2: ["hibernating", "hibernating", "at risk", "at risk", "can't lose them"],
    1: ["hibernating", "hibernating", "at risk", "at risk", "can't lose them"],
}


def _grid():
    return {(r, f): name for r, names in GRID.items() for f, name in enumerate(names, start=1)}


def test_rfm_scores_match_direct_ranking_on_cdnow(log, rows):
    got = rfm_scores(log)
    end = dt.date(1998, 6, 30)
    days = defaultdict(set)
    spend = defaultdict(float)
    for c, d, a in rows:
        days[c].add(d)
        spend[c] += a
    cust = sorted(days)
    recency = np.array([(end - max(days[c])).days for c in cust])
    frequency = np.array([len(days[c]) for c in cust])
    monetary = np.array([spend[c] / len(days[c]) for c in cust])

    def score(v, higher_is_better=True):
        # 1 + floor(5 x share of customers strictly worse), by pairwise comparison
        worse = (v[None, :] < v[:, None]) if higher_is_better else (v[None, :] > v[:, None])
        return 1 + np.floor(5 * worse.sum(axis=1) / len(v)).astype(int)

    assert got.index.tolist() == cust
    np.testing.assert_array_equal(got["recency_days"], recency)
    np.testing.assert_array_equal(got["frequency"], frequency)
    np.testing.assert_allclose(got["monetary"], monetary)
    r, f, m = score(recency, False), score(frequency), score(monetary)
    np.testing.assert_array_equal(got["r_score"], r)
    np.testing.assert_array_equal(got["f_score"], f)
    np.testing.assert_array_equal(got["m_score"], m)
    grid = _grid()
    assert len(grid) == 25
    assert got["segment"].tolist() == [grid[(a, b)] for a, b in zip(r, f, strict=True)]
    # each score level is roughly a fifth of customers where values are distinct enough
    assert got["m_score"].value_counts().min() > 0.15 * len(cust)
