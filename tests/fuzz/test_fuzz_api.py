"""Hostile DataFrames and arguments into the Python API: ``rfm_summary``, ``compare``,
``customer_lifetime_value``, ``score_frame``, ``load_model``.

The API's promise: a :class:`~clvmodels.errors.CLVError` (a ``ValueError``) naming the
problem, or a result whose numbers are finite and whose customers reconcile with the
input (every customer in the summary or counted as excluded; every row counted).
Any other exception is a bug and fails the case.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _corpus import OUTCOMES, SETTINGS, env_case_count
from hypothesis import given, settings
from hypothesis import strategies as st

import clvmodels
from clvmodels.errors import CLVError
from clvmodels.models import BGNBD, GammaGamma, ParetoNBD
from clvmodels.models.clv import customer_lifetime_value

id_values = st.one_of(st.integers(0, 6), st.sampled_from(["a", "b", "1", "007"]),
                      st.sampled_from([None, float("nan"), 1.5, True, b"x", ("t",)]))
date_values = st.one_of(
    st.dates(min_value=dt.date(1997, 1, 1), max_value=dt.date(1997, 12, 31)).map(str),
    st.datetimes(min_value=dt.datetime(1997, 1, 1), max_value=dt.datetime(1997, 12, 31)),
    st.sampled_from(["1997-01", "nope", None, 19970105, 1997, "1997-03-04T23:00:00-08:00",
                     pd.Timestamp("1997-02-02", tz="Asia/Tokyo"), pd.NaT, 3.5, True,
                     pd.Timedelta(days=1)]),
)
amount_values = st.one_of(
    st.floats(0, 1e4), st.integers(0, 1000),
    st.sampled_from([None, float("nan"), -3.0, float("inf"), 1e308, "12.5", "x", True,
                     complex(1, 1), pd.Timestamp("1997-01-01"), pd.Timedelta(1), "1,029.73"]),
)


@st.composite
def api_log(draw):
    n = draw(st.integers(0, 20))
    clean = draw(st.booleans())  # half the logs are clean, to exercise the accepted path
    ids = st.integers(0, 6) if clean else id_values
    dates = st.dates(min_value=dt.date(1997, 1, 1),
                     max_value=dt.date(1997, 12, 31)).map(str) if clean else date_values
    amounts = st.floats(0, 1e4) if clean else amount_values
    frame = pd.DataFrame({
        "customer_id": pd.Series([draw(ids) for _ in range(n)], dtype=object),
        "date": pd.Series([draw(dates) for _ in range(n)], dtype=object),
        "amount": pd.Series([draw(amounts) for _ in range(n)], dtype=object),
    })
    if draw(st.booleans()):  # let pandas infer the dtypes, as a user's frame would have them
        frame = frame.infer_objects()
    if draw(st.integers(0, 9)) == 0:
        frame.columns = ["customer_id", "date", "date"]
    return frame


def tally(family, outcome):
    OUTCOMES[f"{family}: {outcome}"] += 1


@settings(max_examples=env_case_count(250), **SETTINGS)
@given(log=api_log(), cal=st.one_of(st.none(), st.sampled_from(
    ["1997-06-30", 19970630, "1997-06", pd.Timestamp("1997-06-30", tz="UTC"), "x", 1.5])),
       refunds=st.sampled_from(["error", "net"]), unit=st.sampled_from(["D", "W", "M"]))
def test_rfm_summary_on_hostile_frames(log, cal, refunds, unit):
    snapshot = log.copy(deep=True)
    amount = None if list(log.columns).count("amount") != 1 else "amount"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = clvmodels.rfm_summary(log, amount=amount, calibration_end=cal,
                                            refunds=refunds, time_unit=unit)
    except CLVError as exc:
        assert str(exc)
        tally("API rfm_summary", "refused (CLVError)")
    else:
        numbers = summary.to_numpy(dtype=float)
        assert np.isfinite(numbers).all()
        assert summary.attrs["n_rows"] == len(log)
        n_ids = pd.Series(log["customer_id"]).nunique()
        assert len(summary) + summary.attrs["n_excluded_customers"] == n_ids
        tally("API rfm_summary", "accepted (finite, reconciled)")
    pd.testing.assert_frame_equal(log, snapshot)  # the caller's frame is not modified


@settings(max_examples=env_case_count(20), **SETTINGS)
@given(log=api_log(), amount=st.sampled_from(["amount", None, "nope"]),
       step_days=st.one_of(st.none(), st.integers(-2, 60), st.just(2.5)))
def test_compare_on_hostile_frames(log, amount, step_days):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = clvmodels.compare(log, ["own_rate", "zero"], amount=amount,
                                    calibration_end="1997-06-30",
                                    observation_end="1997-12-31",
                                    n_splits=2 if step_days is not None else None,
                                    step_days=step_days)
    except CLVError:
        tally("API compare", "refused (CLVError)")
    else:
        assert np.isfinite(res.leaderboard["value"].dropna().to_numpy(dtype=float)).all()
        tally("API compare", "accepted (finite)")


summary_numbers = st.one_of(st.floats(0, 100), st.sampled_from([0.0, 1e-300, 1e6, 1e300]))


@st.composite
def summaries(draw):
    n = draw(st.integers(1, 12))
    frequency = np.array([draw(st.integers(0, 300)) for _ in range(n)], dtype=float)
    T = np.array([draw(summary_numbers) for _ in range(n)])
    recency = np.array([draw(st.floats(0, 1)) for _ in range(n)]) * T
    recency[frequency == 0] = 0.0
    money = np.array([draw(st.one_of(st.floats(0.01, 1e4), st.just(0.0))) for _ in range(n)])
    money[frequency == 0] = 0.0
    frame = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T,
                          "monetary_value": money})
    frame.attrs["time_unit"] = "W"
    return frame


models = st.sampled_from([
    BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W"),
    BGNBD.from_params(r=50.0, alpha=1e-3, a=1e-3, b=1e3, time_unit="W"),
    ParetoNBD.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67, time_unit="W"),
])


@settings(max_examples=env_case_count(120), **SETTINGS)
@given(summary=summaries(), model=models, horizon=st.one_of(
    st.floats(0.1, 520), st.sampled_from([1e-9, 1e4, 1e6, float("nan"), -1.0, 0.0])),
       rate=st.one_of(st.floats(0, 0.05), st.sampled_from([0.0, 0.99, 5.0, -0.5, float("inf")])),
       margin=st.one_of(st.floats(0, 1), st.sampled_from([1e308, -1.0])),
       spend=st.sampled_from([GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44), 10.0,
                              GammaGamma.from_params(p=0.5, q=0.6, gamma=1.0)]))
def test_customer_lifetime_value_is_finite_or_refused(summary, model, horizon, rate, margin,
                                                      spend):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clv = customer_lifetime_value(model, spend, summary, horizon=horizon,
                                          discount_rate=rate, margin=margin, components=True)
    except CLVError:
        tally("API customer_lifetime_value", "refused (CLVError)")
    else:
        assert np.isfinite(clv.to_numpy()).all()
        assert (clv["clv"] >= 0).all() and len(clv) == len(summary)
        tally("API customer_lifetime_value", "accepted (finite)")


@settings(max_examples=env_case_count(40), **SETTINGS)
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                         st.sampled_from([b"", b"{}", b"[]", b"null", b'{"format_version": 1}',
                                          b"\xff\xfe{\x00}\x00", b"[" * 50_000])))
def test_load_model_on_hostile_bytes(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.json"
        path.write_bytes(content)
        try:
            clvmodels.load_model(path)
        except CLVError:
            tally("API load_model", "refused (CLVError)")
        else:  # pragma: no cover - random bytes are never a model
            tally("API load_model", "accepted")
