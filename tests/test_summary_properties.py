"""Property tests (hypothesis) of rfm_summary's invariants on random logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import clvmodels

START = pd.Timestamp("2020-01-01")


@st.composite
def logs(draw):
    n = draw(st.integers(1, 60))
    cust = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    day = draw(st.lists(st.integers(0, 120), min_size=n, max_size=n))
    amount = draw(st.lists(st.floats(0, 500, allow_nan=False, allow_infinity=False),
                           min_size=n, max_size=n))
    cal = draw(st.integers(0, 120))
    obs = draw(st.integers(max(cal, max(day)), 130))
    frame = pd.DataFrame({
        "customer_id": cust,
        "date": START + pd.to_timedelta(day, unit="D"),
        "amount": amount,
    })
    return frame, START + pd.Timedelta(days=cal), START + pd.Timedelta(days=obs)


def _summ(frame, cal, obs):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.errors.ExcludedCustomersWarning)
        return clvmodels.rfm_summary(frame, amount="amount", calibration_end=cal,
                                     observation_end=obs, time_unit="D")


@settings(max_examples=150, deadline=None)
@given(logs())
def test_invariants(case):
    frame, cal, obs = case
    s = _summ(frame, cal, obs)
    assert (s["recency"] >= 0).all() and (s["recency"] <= s["T"]).all()
    assert (s.loc[s["frequency"] == 0, "recency"] == 0).all()
    assert (s.loc[s["frequency"] == 0, "monetary_value"] == 0).all()
    assert (s["frequency"] >= 0).all() and (s["frequency_holdout"] >= 0).all()
    # calibration + holdout transaction days = the customer's distinct days (first included)
    days = frame.groupby("customer_id")["date"].nunique()
    first = frame.groupby("customer_id")["date"].min()
    in_summary = first[first <= cal].index
    assert set(s.index) == set(in_summary)
    assert s.attrs["n_excluded_customers"] == len(first) - len(in_summary)
    np.testing.assert_array_equal(
        (s["frequency"] + 1 + s["frequency_holdout"]).to_numpy(), days.loc[s.index].to_numpy()
    )
    # total value is conserved: first + repeat + holdout values
    firstval = frame.groupby(["customer_id", "date"])["amount"].sum().groupby(level=0).first()
    total = frame.groupby("customer_id")["amount"].sum().loc[s.index]
    rebuilt = (firstval.loc[s.index] + s["frequency"] * s["monetary_value"]
               + s["frequency_holdout"] * s["monetary_value_holdout"])
    np.testing.assert_allclose(rebuilt.to_numpy(), total.to_numpy(), rtol=1e-9, atol=1e-6)


@settings(max_examples=80, deadline=None)
@given(logs(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(case, rnd):
    frame, cal, obs = case
    perm = list(range(len(frame)))
    rnd.shuffle(perm)
    a = _summ(frame, cal, obs)
    b = _summ(frame.iloc[perm].reset_index(drop=True), cal, obs)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


@settings(max_examples=80, deadline=None)
@given(logs(), st.integers(1, 4))
def test_same_day_duplicates_merge(case, k):
    frame, cal, obs = case
    # Split every transaction into k equal parts on the same day: nothing changes.
    split = frame.loc[frame.index.repeat(k)].reset_index(drop=True)
    split["amount"] = split["amount"] / k
    a = _summ(frame, cal, obs)
    b = _summ(split, cal, obs)
    pd.testing.assert_frame_equal(a[["frequency", "recency", "T", "frequency_holdout"]],
                                  b[["frequency", "recency", "T", "frequency_holdout"]])
    np.testing.assert_allclose(a["monetary_value"], b["monetary_value"], rtol=1e-9, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(logs())
def test_time_of_day_is_ignored(case):
    frame, cal, obs = case
    later = frame.assign(date=frame["date"] + pd.Timedelta(hours=23, minutes=59))
    pd.testing.assert_frame_equal(_summ(frame, cal, obs), _summ(later, cal, obs))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=60),
    st.sampled_from(["as is", "sorted", "narrow"]),
    st.sampled_from(["int64", "int32", "uint32"]),
)
def test_customer_codes_equal_pandas_factorize(values, layout, dtype):
    """The hash-free id coding (sorted log, narrow id range) equals pd.factorize(sort=True)."""
    from clvmodels.data.transactions import _customer_codes

    a = np.asarray(values, dtype=np.int64)
    if layout == "narrow" or dtype != "int64":
        a = np.abs(a) % 50
    if layout == "sorted":
        a = np.sort(a)
    ids = pd.Series(a.astype(dtype))
    codes, uniques = _customer_codes(ids)
    expected_codes, expected_uniques = pd.factorize(ids, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    np.testing.assert_array_equal(np.asarray(uniques), np.asarray(expected_uniques))
    assert np.asarray(uniques).dtype == np.asarray(expected_uniques).dtype


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**52), 2**52), min_size=1, max_size=40),
       st.sampled_from(["s", "ms", "us", "ns", "m", "h", "D"]))
def test_day_numbers_equal_numpy_day_cast(ticks, unit):
    """Days from raw ticks (floor division) equal numpy's datetime64[D] cast, before 1970 too."""
    from clvmodels.data.transactions import _day_numbers

    limit = {"D": 10**7, "h": 10**8, "m": 10**10}.get(unit, 2**52)
    stamps = (np.asarray(ticks, dtype=np.int64) % limit).astype(f"datetime64[{unit}]")
    stamps = stamps - np.timedelta64(limit // 2, unit)
    expected = stamps.astype("datetime64[D]").astype(np.int64)
    np.testing.assert_array_equal(_day_numbers(stamps), expected)
