"""The sales funnel: censoring-aware conversion, its intervals, the forecast and lead values.

Truth comes from simulated pipelines with known conversion probabilities
(:func:`clvmodels.funnel.simulate_funnel`), from brute-force re-implementations written
here as plain loops, and, for the new-customer CLV, from the lifetimes peer's BG/NBD
expectation summed week by week.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidFunnelEventsError,
    InvalidParameterError,
    InvalidSummaryError,
    StatisticalWarning,
)
from clvmodels.funnel import (
    AIDA_STAGES,
    aalen_johansen,
    conversion_curves,
    counts_table,
    forecast_conversions,
    funnel_spells,
    funnel_table,
    lead_value,
    new_customer_value,
    simulate_funnel,
)

TRUTH = np.array([0.5, 0.4, 0.3])


# --------------------------------------------------------------------------- estimator
def _brute_aalen_johansen(days, cause):
    """F1 and its delta-method variance at every distinct time, by plain loops."""
    times = sorted(set(days))
    s_prev, f1, f_at = 1.0, 0.0, []
    rows = []
    for t in times:
        n = sum(1 for d in days if d >= t)
        d1 = sum(1 for d, c in zip(days, cause, strict=True) if d == t and c == 1)
        d2 = sum(1 for d, c in zip(days, cause, strict=True) if d == t and c == 2)
        f1 += s_prev * d1 / n
        rows.append((t, n, d1, d1 + d2, s_prev))
        f_at.append(f1)
        s_prev *= 1 - (d1 + d2) / n
    variances = []
    for i in range(len(times)):
        total = 0.0
        for j in range(i + 1):
            _, n, d1, d, s_before = rows[j]
            diff = f_at[i] - f_at[j]
            if n > d:
                total += diff**2 * d / (n * (n - d))
            total += s_before**2 * d1 * (n - d1) / n**3
            total -= 2 * diff * s_before * d1 / n**2
        variances.append(total)
    return np.array(times, float), np.array(f_at), np.array(variances)


def test_aalen_johansen_matches_a_brute_force_loop_with_ties():
    rng = np.random.default_rng(0)
    days = rng.integers(0, 15, size=120).tolist()
    cause = rng.choice([0, 1, 2], size=120, p=[0.3, 0.4, 0.3]).tolist()
    ci = aalen_johansen(days, cause)
    times, f1, var = _brute_aalen_johansen(days, cause)
    np.testing.assert_array_equal(ci.times, times)
    np.testing.assert_allclose(ci.moved_on, f1, rtol=1e-12)
    np.testing.assert_allclose(ci.variance, var, rtol=1e-9, atol=1e-15)
    # F1 + F2 + S = 1 at every time
    np.testing.assert_allclose(ci.moved_on + ci.dropped_out + ci.in_stage, 1.0, atol=1e-12)


def test_without_open_leads_the_estimate_is_the_naive_rate_and_binomial_variance():
    rng = np.random.default_rng(1)
    days = rng.integers(0, 30, size=400)
    cause = rng.choice([1, 2], size=400, p=[0.35, 0.65])
    ci = aalen_johansen(days, cause)
    p = np.mean(cause == 1)
    assert ci.eventual == pytest.approx(p, rel=1e-12)
    assert ci.eventual_variance == pytest.approx(p * (1 - p) / 400, rel=1e-9)
    # P(moves on | still there after a days) is the share of movers among those left
    for a in (0, 5, 17):
        left = days > a
        assert ci.conditional(a) == pytest.approx(np.mean(cause[left] == 1), rel=1e-12)
        later = days >= a
        assert ci.conditional(a, strict=False) == pytest.approx(np.mean(cause[later] == 1),
                                                                rel=1e-12)
    # quantiles of the days to move on, among movers: the empirical (lower) quantile
    moved = np.sort(days[cause == 1])
    for q in (0.25, 0.5, 0.75):
        expected = moved[math.ceil(q * moved.size) - 1]
        assert ci.quantile(q)[0] == expected


def test_delta_variance_agrees_with_the_bootstrap():
    log = simulate_funnel(2000, cutoff="2024-04-30", random_state=5)
    spells = funnel_spells(log)
    lead = spells[spells["stage"] == "lead"]
    cause = lead["outcome"].map({"moved_on": 1, "dropped_out": 2, "open": 0}).to_numpy(int)
    days = lead["days"].to_numpy()
    assert (cause == 0).mean() > 0.1  # a censored sample
    ci = aalen_johansen(days, cause)
    rng = np.random.default_rng(0)
    boots = [aalen_johansen(days, cause, np.bincount(rng.integers(0, days.size, days.size),
                                                     minlength=days.size)).eventual
             for _ in range(400)]
    ratio = ci.eventual_variance / np.var(boots)
    assert 0.8 < ratio < 1.25, ratio


def test_censoring_aware_intervals_cover_and_naive_rates_are_biased_low():
    # 200 pipelines of ~600 leads observed for 6 months: many leads are still open
    covered, naive, estimate, p_cover = [], [], [], []
    for seed in range(200):
        log = simulate_funnel(600, cutoff="2024-06-30", random_state=seed)
        table = funnel_table(log, interval=0.9).iloc[:-1]
        lo, hi = table["conversion_lower"].to_numpy(), table["conversion_upper"].to_numpy()
        covered.append((lo <= TRUTH) & (TRUTH <= hi))
        naive.append(table["naive_rate"].to_numpy())
        estimate.append(table["conversion"].to_numpy())
        p_cover.append(table["p_customer_lower"].iloc[0] <= 0.06 <= table["p_customer_upper"]
                       .iloc[0])
    coverage = np.mean(covered, axis=0)
    assert np.all((coverage >= 0.85) & (coverage <= 0.95)), coverage  # measured .925 .895 .915
    assert 0.85 <= np.mean(p_cover) <= 0.96, np.mean(p_cover)
    bias_naive = np.mean(naive, axis=0) - TRUTH
    bias_est = np.mean(estimate, axis=0) - TRUTH
    assert np.all(bias_naive < -0.02), bias_naive  # measured -0.024 -0.041 -0.051
    assert np.all(np.abs(bias_est) < 0.006), bias_est
    # the naive interval (binomial, open leads as failures) would miss the truth often
    naive_cover = np.mean([np.abs(n - TRUTH) < 1.645 * np.sqrt(TRUTH * (1 - TRUTH) / 600)
                           for n in naive], axis=0)
    assert naive_cover[2] < 0.75


def test_days_to_next_stage_recover_the_true_quantiles():
    # three months of a pipeline: many leads still open, slow movers among them
    log = simulate_funnel(20000, cutoff="2024-03-31", random_state=7)
    table = funnel_table(log)
    scales = np.array(log.attrs["days_to_move"])
    for q, col in ((0.25, "days_p25"), (0.5, "days_median"), (0.75, "days_p75")):
        # the simulated days are the Weibull draws rounded down
        truth = np.floor(scales * (-np.log1p(-q)) ** (1 / log.attrs["shape"]))
        np.testing.assert_allclose(table[col].iloc[:-1], truth, atol=1, rtol=0.06)
    # the naive median among observed movers is too short: slow movers are still open
    spells = funnel_spells(log)
    opp = spells[(spells["stage"] == "opportunity") & (spells["outcome"] == "moved_on")]
    assert np.median(opp["days"]) < table.loc["opportunity", "days_median"] - 2


def test_by_channel_recovers_each_channels_truth():
    log = simulate_funnel(6000, channels={"ads": 0.5, "referral": 0.5},
                          channel_conversion={"referral": (0.7, 0.6, 0.5)}, random_state=11)
    table = funnel_table(log, channel="channel", by="channel", interval=0.99)
    for channel, truth in log.attrs["conversion"].items():
        truth = np.array(truth)
        part = table.loc[channel].iloc[:-1]
        assert np.all(part["conversion_lower"] <= truth) and np.all(
            truth <= part["conversion_upper"]), (channel, part["conversion"])
    by_cohort = funnel_table(log, by="cohort")
    assert by_cohort.index.names == ["cohort", "stage"]
    first = by_cohort.loc[pd.Period("2024-01", "M")]
    assert first["entered"].iloc[0] == (
        (log["stage"] == "prospect") & (log["date"] < "2024-02-01")).sum()


def test_table_counts_and_columns():
    log = simulate_funnel(500, random_state=2)
    table = funnel_table(log)
    assert list(table.index) == ["prospect", "lead", "opportunity", "customer"]
    counts = table[["moved_on", "dropped_out", "open"]].iloc[:-1].sum(axis=1)
    np.testing.assert_array_equal(counts, table["entered"].iloc[:-1])
    np.testing.assert_array_equal(table["moved_on"].iloc[:-1], table["entered"].iloc[1:])
    assert table["entered"].iloc[-1] == (log["stage"] == "customer").sum()
    np.testing.assert_allclose(table["naive_rate"].iloc[:-1],
                               table["moved_on"].iloc[:-1] / table["entered"].iloc[:-1])
    p = table["conversion"].to_numpy()[:-1]
    np.testing.assert_allclose(table["p_customer"].to_numpy(),
                               [p.prod(), p[1:].prod(), p[2], 1.0], rtol=1e-12)
    assert table.attrs["cutoff"] == log["date"].max()


def test_conversion_curves_end_at_the_table_estimate():
    log = simulate_funnel(800, random_state=3)
    curves = conversion_curves(log)
    table = funnel_table(log)
    for stage, sub in curves.groupby("stage", observed=True):
        assert sub["days"].iloc[0] == 0 and sub["conversion"].is_monotonic_increasing
        assert sub["conversion"].iloc[-1] == pytest.approx(table.loc[stage, "conversion"])
        assert np.all(sub["lower"] <= sub["conversion"] + 1e-12)
        assert np.all(sub["conversion"] <= sub["upper"] + 1e-12)
    with pytest.raises(InvalidParameterError, match="not stages"):
        conversion_curves(log, stages_shown=["demo"])
    with pytest.raises(InvalidParameterError, match="channel="):
        conversion_curves(log, by="channel")


# --------------------------------------------------------------------------- bad input
def _log(rows):
    return pd.DataFrame(rows, columns=["lead_id", "stage", "date"])


GOOD = [("a", "lead", "2024-01-01"), ("a", "opportunity", "2024-01-05")]


@pytest.mark.parametrize("rows, message", [
    (GOOD + [("b", "visitor", "2024-01-02")],
     r"column 'stage': 1 event\(s\) with an unknown stage \('visitor'\) in row 2"),
    (GOOD + [("b", "opportunity", "2024-01-02"), ("b", "lead", "2024-01-04")],
     r"1 lead goes backwards in the funnel \(or their dates are out of order\): 'b' entered "
     r"'lead' on 2024-01-04 \(row 3\) after 'opportunity' on 2024-01-02 \(row 2\)"),
    (GOOD + [("b", "lead", "2024-01-02"), ("b", "lead", "2024-01-03")],
     r"1 lead has duplicate events: 'b' \('lead': rows 2, 3\).*duplicates='first'"),
    (GOOD + [("b", "lead", "2024-01-02"), ("b", "customer", "2024-01-03")],
     r"1 lead skips a stage: 'b' went from 'lead' \(row 2\) to 'customer' \(row 3\) without "
     r"'opportunity'.*skipped='pass'"),
    (GOOD + [("b", "lead", "2024-01-02"), ("b", "lost", "2024-01-03"),
             ("b", "opportunity", "2024-01-04")],
     r"'b' lost on 2024-01-03 \(row 3\) but entered 'opportunity' on 2024-01-04 \(row 4\)"),
    (GOOD + [("b", "lost", "2024-01-03")], r"1 lead is lost before entering any stage: 'b' "
                                           r"\(row 2\)"),
    (GOOD + [("b", "opportunity", "2024-01-02"), ("b", "customer", "2024-01-03"),
             ("b", "lost", "2024-01-04")], r"lost after reaching the last stage 'customer': 'b' "
                                           r"\(row 4\)"),
    (GOOD + [(None, "lead", "2024-01-02")], r"column 'lead_id': the lead id is missing in row 2"),
    (GOOD + [("b", "lead", "someday")], r"column 'date': 1 date\(s\) missing or unparsable: row "
                                        r"2 \('someday'\)"),
])
def test_every_bad_input_is_named_by_lead_and_row(rows, message):
    with pytest.raises(InvalidFunnelEventsError, match=message) as info:
        funnel_table(_log(rows))
    assert len(info.value.problems) == 1


def test_all_problems_are_reported_at_once():
    rows = GOOD + [("b", "opportunity", "2024-01-02"), ("b", "lead", "2024-01-04"),
                   ("c", "lead", "2024-01-02"), ("c", "customer", "2024-01-03")]
    with pytest.raises(InvalidFunnelEventsError) as info:
        funnel_spells(_log(rows))
    assert len(info.value.problems) == 2
    assert "backwards" in str(info.value) and "skips a stage" in str(info.value)


def test_the_configurable_policies_are_applied_and_counted():
    rows = GOOD + [("b", "lead", "2024-01-02"), ("b", "lead", "2024-01-03"),
                   ("c", "lead", "2024-01-02"), ("c", "customer", "2024-01-09")]
    spells = funnel_spells(_log(rows), skipped="pass", duplicates="first", cutoff="2024-01-10")
    assert spells.attrs["n_duplicate_events"] == 1 and spells.attrs["n_skipped_stages"] == 1
    b = spells[spells["lead_id"] == "b"]
    assert len(b) == 1 and b["entry"].iloc[0] == pd.Timestamp("2024-01-02")  # the earliest
    c = spells[spells["lead_id"] == "c"].set_index("stage", drop=False)
    assert c.loc["lead", "days"] == 7 and c.loc["lead", "outcome"] == "moved_on"
    assert c.loc["opportunity", "days"] == 0 and c.loc["opportunity", "outcome"] == "moved_on"
    assert c.loc["customer", "outcome"] == "final"


def test_events_after_the_cutoff_are_counted_in_a_warning():
    with pytest.warns(ExcludedCustomersWarning, match=r"1 event\(s\) dated after the cutoff "
                                                     r"2024-01-03 are not used"):
        spells = funnel_spells(_log(GOOD), cutoff="2024-01-03")
    assert spells.attrs["n_events_after_cutoff"] == 1
    assert spells["outcome"].tolist() == ["open"] and spells["days"].tolist() == [2]


def test_timeout_closes_stale_leads_and_warns_when_it_contradicts_the_log():
    rows = [("a", "lead", "2024-01-01"), ("a", "opportunity", "2024-02-20"),
            ("b", "lead", "2024-01-01"), ("c", "lead", "2024-03-01")]
    with pytest.warns(StatisticalWarning, match=r"1 spell\(s\) moved on after more than "
                                                r"timeout=30 days"):
        spells = funnel_spells(_log(rows), timeout=30, cutoff="2024-03-10")
    b = spells[spells["lead_id"] == "b"].iloc[0]
    assert b["outcome"] == "dropped_out" and b["days"] == 30
    c = spells[spells["lead_id"] == "c"].iloc[0]
    assert c["outcome"] == "open" and c["days"] == 9
    assert spells.attrs["n_timed_out"] == 1  # b (a has been 19 days in opportunity)


def test_bad_arguments_are_refused():
    log = _log(GOOD)
    with pytest.raises(InvalidFunnelEventsError, match=r"lacks the column\(s\) \['when'\]"):
        funnel_table(log, date="when")
    with pytest.raises(InvalidParameterError, match="distinct"):
        funnel_table(log, stages=("lead", "lead", "customer"))
    with pytest.raises(InvalidParameterError, match="also a stage name"):
        funnel_table(log, stages=("lead", "lost", "customer"))
    with pytest.raises(InvalidParameterError, match="skipped must be one of"):
        funnel_table(log, skipped="ignore")
    with pytest.raises(InvalidParameterError, match="interval"):
        funnel_table(log, interval=90)
    with pytest.raises(InvalidParameterError, match="timeout"):
        funnel_table(log, timeout=-1)
    with pytest.raises(InvalidFunnelEventsError, match="does not exist"):
        funnel_table("no/such/file.csv")
    with pytest.raises(InvalidFunnelEventsError, match="must be a DataFrame"):
        funnel_table([1, 2])
    with pytest.raises(InvalidFunnelEventsError, match="empty"):
        funnel_table(_log([]))


def test_aida_stages_and_a_file_path(tmp_path):
    rows = [("u1", "awareness", "2024-01-01"), ("u1", "interest", "2024-01-02"),
            ("u2", "awareness", "2024-01-01"), ("u2", "lost", "2024-01-05")]
    path = tmp_path / "events.csv"
    _log(rows).to_csv(path, index=False)
    table = funnel_table(str(path), stages=AIDA_STAGES)
    assert list(table.index) == list(AIDA_STAGES)
    assert table.loc["awareness", ["moved_on", "dropped_out"]].tolist() == [1, 1]


def test_counts_table_naive_rates_and_its_checks():
    counts = pd.DataFrame({"prospect": [100, 120, 90], "lead": [40, 50, 30],
                           "opportunity": [10, 14, 9], "customer": [3, 4, 2]})
    table = counts_table(counts)
    assert table.loc["lead", "naive_rate"] == pytest.approx(33 / 120)
    lagged = counts_table(counts, lag=1)
    assert lagged.loc["prospect", "naive_rate"] == pytest.approx((50 + 30) / (100 + 120))
    assert lagged.loc["prospect", "p_customer"] == pytest.approx(
        80 / 220 * 23 / 90 * 6 / 24)
    with pytest.raises(InvalidSummaryError, match=r"lacks the stage column\(s\) \['customer'\]"):
        counts_table(counts.drop(columns="customer"))
    bad = counts.astype(float)
    bad.loc[1, "lead"] = -3
    with pytest.raises(InvalidSummaryError, match="period 1 stage 'lead'"):
        counts_table(bad)


# --------------------------------------------------------------------------- forecast
def _actual_per_period(full, forecast):
    customers = full[(full["stage"] == "customer") & (full["date"] > forecast.attrs["cutoff"])]
    return np.array([((customers["date"] >= s) & (customers["date"] <= e)).sum()
                     for s, e in zip(forecast["start"], forecast["end"], strict=True)])


@pytest.mark.slow
def test_forecast_intervals_cover_what_happened():
    hits, totals = [], []
    for seed in range(100):
        full = simulate_funnel(2500, cutoff="2024-06-30", end="2024-09-30", random_state=seed)
        seen = full[full["date"] <= "2024-06-30"]
        fc = forecast_conversions(seen, horizon=3, period="M", n_draws=200, random_state=seed)
        actual = _actual_per_period(full, fc)
        hits.append((fc["lower"] <= actual) & (actual <= fc["upper"]))
        totals.append(fc["cumulative_lower"].iloc[-1] <= actual.sum()
                      <= fc["cumulative_upper"].iloc[-1])
    coverage = np.mean(hits, axis=0)
    assert np.all((coverage >= 0.83) & (coverage <= 0.97)), coverage  # measured .93 .93 .93
    assert 0.83 <= np.mean(totals) <= 0.97


def test_forecast_of_the_pipeline_alone_matches_the_conversion_estimates():
    full = simulate_funnel(3000, cutoff="2024-06-30", random_state=21)
    fc = forecast_conversions(full, horizon=26, period="W", inflow=None, n_draws=400,
                              parameter_uncertainty=False, random_state=0)
    assert fc["from_inflow"].sum() == 0
    # by half a year every open lead has closed: the total is sum over open leads of the
    # probability to reach the last stage from where they are
    values = lead_value(full, clv=1.0, per_lead=True)
    expected = values["p_purchase"].sum()
    assert fc["cumulative_expected"].iloc[-1] == pytest.approx(expected, rel=0.03)
    again = forecast_conversions(full, horizon=26, period="W", inflow=None, n_draws=400,
                                 parameter_uncertainty=False, random_state=0)
    pd.testing.assert_frame_equal(fc, again)


def test_forecast_inflow_options():
    log = simulate_funnel(1200, random_state=8)
    fc = forecast_conversions(log, horizon=2, n_draws=300, random_state=1)
    assert fc.attrs["inflow_per_day"] == pytest.approx(1200 / 366, rel=0.2)
    fixed = forecast_conversions(log, horizon=2, inflow=500, n_draws=300, random_state=1)
    assert fixed["from_inflow"].sum() > fc["from_inflow"].sum()
    with pytest.raises(InvalidParameterError, match="inflow must be"):
        forecast_conversions(log, inflow="lots")
    with pytest.raises(InvalidParameterError, match="period must be"):
        forecast_conversions(log, period="Q")
    with pytest.raises(InvalidParameterError, match="horizon"):
        forecast_conversions(log, horizon=0)


# --------------------------------------------------------------------------- lead value
def test_new_customer_value_is_the_brute_force_discounted_sum():
    lifetimes = pytest.importorskip("lifetimes")
    from clvmodels.models import BGNBD, GammaGamma, customer_lifetime_value

    params = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
    bgnbd = BGNBD.from_params(**params)
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    peer = lifetimes.BetaGeoFitter()
    peer.params_ = pd.Series(params)
    spend = 6.25 * 15.44 / (3.74 - 1)
    d, margin = 0.003, 0.3
    total, previous = 1.0, 0.0  # the first purchase, at time 0
    for week in range(1, 53):
        current = float(peer.expected_number_of_purchases_up_to_time(week))
        total += (current - previous) / (1 + d) ** week
        previous = current
    brute = margin * spend * total
    ours = new_customer_value(bgnbd, gg, horizon=52, discount_rate=d, margin=margin)
    assert ours == pytest.approx(brute, rel=1e-6)
    # the repeat purchases alone are customer_lifetime_value of a history (0, 0, 0)
    newborn = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0],
                            "monetary_value": [0.0]})
    clv = customer_lifetime_value(bgnbd, gg, newborn, horizon=52, discount_rate=d,
                                  margin=margin)
    assert new_customer_value(bgnbd, gg, horizon=52, discount_rate=d, margin=margin,
                              first_purchase=False) == pytest.approx(float(clv.iloc[0]),
                                                                     rel=1e-10)


def test_lead_value_is_the_product_of_its_parts():
    from clvmodels.formulas.net import max_acquisition_cost
    from clvmodels.models import BGNBD, GammaGamma

    bgnbd = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    log = simulate_funnel(1500, cutoff="2024-05-31", random_state=9)
    values = lead_value(log, purchase_model=bgnbd, spend_model=gg, horizon=52,
                        discount_rate=0.002, target_ratio=4)
    clv = new_customer_value(bgnbd, gg, horizon=52, discount_rate=0.002)
    table = funnel_table(log)
    np.testing.assert_allclose(values["p_purchase"], table["p_customer"], rtol=1e-12)
    np.testing.assert_allclose(values["lead_value"], table["p_customer"] * clv, rtol=1e-12)
    for stage in values.index:
        assert values.loc[stage, "max_cost_per_lead"] == pytest.approx(
            max_acquisition_cost(values.loc[stage, "lead_value"], 4))


def test_lead_value_by_time_in_stage_uses_the_leads_who_stayed_that_long():
    # with every lead closed, P(purchase | k, a) is the share of later customers among the
    # leads still in stage k after a days, times the later stages' conversion
    full = simulate_funnel(3000, cutoff="2024-03-31", end="2024-12-31", random_state=4)
    early = full.loc[full["date"] <= "2024-03-31", "lead_id"].unique()
    spells = funnel_spells(full[full["lead_id"].isin(early)])
    assert (spells["outcome"] == "open").sum() == 0
    values = lead_value(spells, clv=100.0, time_in_stage=[0, 7, 21])
    opp = spells[spells["stage"] == "opportunity"]
    lead = spells[spells["stage"] == "lead"]
    for a in (0, 7, 21):
        stayed = opp[opp["days"] >= a]
        direct = (stayed["outcome"] == "moved_on").mean()
        assert values.loc[("opportunity", a), "p_purchase"] == pytest.approx(direct)
        stayed = lead[lead["days"] >= a]
        expected = (stayed["outcome"] == "moved_on").mean() * (
            (opp["outcome"] == "moved_on").mean())
        assert values.loc[("lead", a), "p_purchase"] == pytest.approx(expected)
    assert values.loc[("customer", 21), "lead_value"] == 100.0


def test_lead_value_intervals_and_checks():
    log = simulate_funnel(1000, random_state=6)
    values = lead_value(log, clv=300.0, interval=0.9, n_boot=100, random_state=0)
    assert np.all(values["p_purchase_lower"] <= values["p_purchase"])
    assert np.all(values["p_purchase"] <= values["p_purchase_upper"])
    table = funnel_table(log)
    # bootstrap and delta-method intervals of p_customer agree roughly
    np.testing.assert_allclose(values["p_purchase_lower"].iloc[:-1],
                               table["p_customer_lower"].iloc[:-1], rtol=0.2)
    with pytest.raises(InvalidParameterError, match="either as clv="):
        lead_value(log)
    with pytest.raises(InvalidParameterError, match="horizon="):
        from clvmodels.models import BGNBD

        lead_value(log, purchase_model=BGNBD.from_params(r=1, alpha=1, a=1, b=1))
    with pytest.raises(InvalidParameterError, match="expected_purchases_new_customer"):
        new_customer_value(object(), horizon=10)
    with pytest.warns(StatisticalWarning, match="no lead was observed that long"):
        out = lead_value(log, clv=1.0, time_in_stage=[0, 5000])
    assert np.isnan(out.loc[("prospect", 5000.0), "p_purchase"])


def test_per_lead_values_cover_the_open_pipeline():
    log = simulate_funnel(800, random_state=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        values = lead_value(log, clv=50.0, per_lead=True)
    spells = funnel_spells(log)
    open_ = spells[spells["outcome"] == "open"]
    assert len(values) == len(open_)
    assert set(values.index) == set(open_["lead_id"])
    assert values["p_purchase"].dropna().between(0, 1).all()


# --------------------------------------------------------------------------- plots
def test_plots_return_axes_and_refuse_other_tables():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from clvmodels.funnel import plot_conversion_curves, plot_funnel

    log = simulate_funnel(400, channels={"a": 1, "b": 1}, random_state=0)
    table = funnel_table(log)
    fig, ax = plt.subplots()
    assert plot_funnel(table, ax=ax) is ax
    texts = [t.get_text() for t in ax.texts]
    assert f"prospect: {table.loc['prospect', 'entered']:,}" in texts
    assert any(f"{table.loc['lead', 'conversion']:.1%}" in t for t in texts)
    curves = conversion_curves(log, channel="channel", by="channel")
    ax2 = plot_conversion_curves(curves, stage="lead")
    assert len(ax2.get_lines()) == 2
    with pytest.raises(InvalidParameterError, match="without by="):
        plot_funnel(funnel_table(log, channel="channel", by="channel"))
    with pytest.raises(InvalidParameterError, match="plot_funnel takes"):
        plot_funnel(curves)
    with pytest.raises(InvalidParameterError, match="not in the curves"):
        plot_conversion_curves(curves, stage="customer")
    plt.close("all")


def test_the_funnel_is_imported_lazily():
    import subprocess
    import sys

    code = ("import sys, clvmodels; assert 'clvmodels.funnel' not in sys.modules; "
            "t = clvmodels.funnel.funnel_table; assert 'matplotlib' not in sys.modules; "
            "print(t.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clvmodels.funnel.estimate"


@pytest.mark.parametrize("name", ["events", "estimate", "forecast", "value", "plots",
                                  "simulate"])
def test_docstring_examples(name):
    import doctest
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    module = importlib.import_module(f"clvmodels.funnel.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
