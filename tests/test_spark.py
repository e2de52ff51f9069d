"""The Spark engine (clvmodels.spark) in local mode against the pandas path on the same data.

Truth: the pandas path, which the rest of the suite checks against published numbers
(Fader, Hardie & Lee 2005 for the CDNOW summary and BG/NBD; Fader & Hardie 2013 for
Gamma-Gamma); the FHL 2005 BG/NBD estimates are checked here too. Tolerances: summary
columns exactly equal (whole-day differences divided by the unit's days, the same float64
operation in both engines), except the monetary columns, sums of float64 amounts in
Spark's order (1e-12 relative); fitted parameters 1e-8 relative (fitting unique rows
with counts is the same computation as fitting every customer); scores 1e-10 relative
per customer (the same pure functions on the same rows).

pyspark is a test dependency (the ``spark`` extra, installed by CI), so it is imported
directly: a missing pyspark must fail here, not skip. One local[2] session serves the
module (start-up ~10 s), which is why the module is marked slow.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pyspark  # noqa: F401 - fail, never skip, when the extra is missing
import pytest
from pyspark.sql import SparkSession

from clvmodels import spark as clvspark
from clvmodels.bundle import load_bundle
from clvmodels.data.simulate import simulate_transactions
from clvmodels.data.summary import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    UnitMismatchError,
)
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.clv import customer_lifetime_value
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.paretonbd import ParetoNBD

pytestmark = [
    pytest.mark.slow,
    # pyspark 4.3's own notes about pandas 3, not ours
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

MONETARY = ("monetary_value", "monetary_value_holdout")
SCORES = ["expected_purchases", "probability_alive", "expected_spend", "clv"]
CLV_SETTINGS = {"horizon": 52.0, "discount_rate": 0.0023, "periods_per_step": 4.345}


@pytest.fixture(scope="module")
def spark():
    session = (
        SparkSession.builder.master("local[2]")
        .appName("clvmodels-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# --------------------------------------------------------------------------- helpers
def spark_summary(spark_log, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sdf = clvspark.rfm_summary(spark_log, **kwargs)
    return sdf, [str(w.message) for w in caught if w.category is ExcludedCustomersWarning]


def pandas_summary(log, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = rfm_summary(log, **kwargs)
    return s, [str(w.message) for w in caught if w.category is ExcludedCustomersWarning]


def assert_summaries_equal(spark_sdf, expected: pd.DataFrame):
    got = clvspark.to_pandas_summary(spark_sdf)
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    assert np.array_equal(got.index.to_numpy(), expected.index.to_numpy())
    for c in expected.columns:
        a, b = got[c].to_numpy(), expected[c].to_numpy()
        assert a.dtype == b.dtype, c
        if c in MONETARY:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=c)
        else:
            assert np.array_equal(a, b), c
    for key, value in expected.attrs.items():
        assert got.attrs[key] == value, key
    return got


def assert_params_equal(got, expected, rtol=1e-8):
    np.testing.assert_allclose(got.params_.to_numpy(), expected.params_.to_numpy(), rtol=rtol)
    assert got.params_.index.tolist() == expected.params_.index.tolist()
    np.testing.assert_allclose(got.log_likelihood_, expected.log_likelihood_, rtol=1e-12)
    assert got.n_customers_ == expected.n_customers_


def pandas_scores(purchase, spend, summary):
    """What ``clvmodels score`` computes on the pandas summary."""
    parts = customer_lifetime_value(purchase, spend, summary, components=True, **CLV_SETTINGS)
    out = parts[["expected_purchases", "expected_spend", "clv"]].copy()
    out["probability_alive"] = purchase.probability_alive(summary).to_numpy()
    return out[SCORES]


def collect_scores(scores_sdf, customer_id):
    frame = scores_sdf.toPandas().set_index(customer_id).sort_index()
    assert frame.index.is_unique
    return frame


def messy_log(n_customers=1500, seed=7, n_late=60):
    """Same-day duplicates, time-of-day stamps, string ids with leading zeros, unsorted rows,
    and ``n_late`` customers who first buy in 1998 (after the cutoffs used below)."""
    rng = np.random.default_rng(seed)
    log = simulate_transactions(n_customers, random_state=seed)
    late = simulate_transactions(n_late, start="1998-01-01", n_cohort_days=30,
                                 observation_days=180, random_state=seed + 1)
    late["customer_id"] += n_customers
    log = pd.concat([log, late], ignore_index=True)
    dup = log.sample(frac=0.25, random_state=seed)  # a second purchase the same day
    dup = dup.assign(amount=rng.gamma(2.0, 10.0, size=len(dup)))
    log = pd.concat([log, dup], ignore_index=True)
    seconds = rng.integers(0, 86_400, size=len(log))
    log["date"] = log["date"].astype("datetime64[ns]") + pd.to_timedelta(seconds, unit="s")
    log["customer_id"] = "C" + log["customer_id"].astype(str).str.zfill(6)
    return log.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # unsorted


# --------------------------------------------------------------------------- CDNOW
@pytest.fixture(scope="module")
def cdnow(spark):
    log = load_cdnow_transactions()
    kwargs = {"amount": "amount", "calibration_end": "1997-09-30",
              "observation_end": "1998-06-30", "time_unit": "W"}
    sdf, _ = spark_summary(spark.createDataFrame(log), **kwargs)
    expected, _ = pandas_summary(log, **kwargs)
    return sdf, expected


def test_cdnow_summary_equals_pandas(cdnow):
    sdf, expected = cdnow
    got = assert_summaries_equal(sdf, expected)
    # FHL 2005: 2,357 customers, 2,457 calibration and 1,882 holdout repeat transactions
    assert len(got) == 2357
    assert got["frequency"].sum() == 2457 and got["frequency_holdout"].sum() == 1882
    attrs = clvspark.summary_attrs(sdf)
    assert attrs["n_customers"] == 2357 and attrs["customer_id"] == "customer_id"


def test_cdnow_fit_and_scores_equal_pandas(cdnow, tmp_path):
    sdf, expected = cdnow
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = clvspark.fit(sdf)
    excluded = [str(w.message) for w in caught if w.category is ExcludedCustomersWarning]
    assert excluded and "1411 of 2357 customers" in excluded[0]

    bgnbd = BGNBD().fit(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        gg = GammaGamma(drop_invalid=True).fit(expected)
    assert_params_equal(bundle.purchase_model, bgnbd)
    assert_params_equal(bundle.spend_model, gg)
    assert bundle.spend_model.n_excluded_customers_ == gg.n_excluded_customers_ == 1411
    # FHL 2005 table: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426
    np.testing.assert_allclose(bundle.purchase_model.params_.to_numpy(),
                               [0.243, 4.414, 0.793, 2.426], atol=6e-4)
    assert bundle.purchase_model.fit_info_["n_unique_rows"] == bgnbd.fit_info_["n_unique_rows"]
    np.testing.assert_allclose(bundle.purchase_model.covariance_.to_numpy(),
                               bgnbd.covariance_.to_numpy(), rtol=1e-6)

    # the bundle is the file 'clvmodels score' reads
    path = tmp_path / "model.json"
    bundle.save(path)
    loaded = load_bundle(path)
    assert loaded.time_unit == "W" and loaded.calibration_end == pd.Timestamp("1997-09-30")
    assert loaded.data["n_customers"] == 2357 and loaded.data["amount"] == "amount"
    assert np.array_equal(loaded.purchase_model.params_, bundle.purchase_model.params_)

    got = collect_scores(clvspark.score(sdf, loaded, **CLV_SETTINGS), "customer_id")
    want = pandas_scores(bgnbd, gg, expected)
    assert list(got.columns) == SCORES
    assert np.array_equal(got.index.to_numpy(), want.index.to_numpy())
    for c in SCORES:
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-10, err_msg=c)


def test_unique_rows_are_the_customer_counts(cdnow):
    sdf, expected = cdnow
    rows = clvspark.aggregate_unique_rows(sdf)
    want = expected.groupby(["frequency", "recency", "T"]).size()
    assert len(rows) == len(want) == 1016  # FHL's CDNOW: 1,016 distinct histories (weekly)
    assert rows["n_customers"].sum() == 2357
    assert np.array_equal(rows["n_customers"].to_numpy(), want.to_numpy())
    assert rows.attrs["time_unit"] == "W"
    with pytest.raises(InvalidSummaryError, match="max_rows=1,000"):
        clvspark.aggregate_unique_rows(sdf, max_rows=1000)
    span = (pd.Timestamp("1997-09-30") - pd.Timestamp("1997-01-01")).days
    assert len(rows) <= clvspark.unique_row_bound(span)


def test_bound_counts_every_possible_history():
    # brute force: all (frequency, recency days, T days) a customer can have in D days
    for d in range(8):
        n = sum(1 if r == 0 else r for t in range(d + 1) for r in range(t + 1))
        assert clvspark.unique_row_bound(d) == n


# --------------------------------------------------------------------------- messy logs
def test_messy_log_summary_fit_scores(spark):
    log = messy_log()
    kwargs = {"amount": "amount", "calibration_end": "1997-09-30",
              "observation_end": "1998-06-30", "time_unit": "W"}
    sdf, spark_warnings = spark_summary(spark.createDataFrame(log), **kwargs)
    expected, pandas_warnings = pandas_summary(log, **kwargs)
    assert expected.attrs["n_excluded_customers"] == 60  # customers first seen after the cutoff
    assert spark_warnings == [w.replace("summary.attrs[", "summary_attrs(summary)[")
                              for w in pandas_warnings]
    assert expected.attrs["n_customer_days"] < expected.attrs["n_rows"]  # merged same-day rows
    assert_summaries_equal(sdf, expected)

    with pytest.warns(ExcludedCustomersWarning, match="889 of 1500 customers"):
        bundle = clvspark.fit(sdf, purchase_model=ParetoNBD())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        gg = GammaGamma(drop_invalid=True).fit(expected)
    pnbd = ParetoNBD().fit(expected)
    assert_params_equal(bundle.purchase_model, pnbd)
    assert_params_equal(bundle.spend_model, gg)

    got = collect_scores(clvspark.score(sdf, bundle, **CLV_SETTINGS), "customer_id")
    want = pandas_scores(pnbd, gg, expected)
    assert np.array_equal(got.index.to_numpy(), want.index.to_numpy())
    for c in SCORES:
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-10, err_msg=c)


def test_csv_text_columns_daily_all_spend_no_holdout(spark, tmp_path):
    """CSV read as text (ISO and YYYYMMDD dates mixed), daily unit, monetary='all'."""
    log = messy_log(n_customers=600, seed=3)
    text = log["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    compact = log.index % 3 == 0
    text[compact] = log.loc[compact, "date"].dt.strftime("%Y%m%d")
    log = log.assign(date=text, amount=log["amount"].round(2))
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    kwargs = {"amount": "amount", "calibration_end": "1997-07-31", "time_unit": "D",
              "monetary": "all"}
    sdf, spark_warnings = spark_summary(str(path), **kwargs)  # read_transactions, all text
    expected, pandas_warnings = pandas_summary(path, **kwargs)
    assert expected.attrs["n_transactions_after_calibration"] > 0
    # the late customers, and the transaction days after calibration_end
    assert len(spark_warnings) == len(pandas_warnings) == 2
    assert spark_warnings == [w.replace("summary.attrs[", "summary_attrs(summary)[")
                              for w in pandas_warnings]
    got = assert_summaries_equal(sdf, expected)
    assert got.index[0].startswith("C0")  # ids kept as text, leading zeros intact

    purchase = clvspark.fit_model(sdf, BGNBD())
    assert_params_equal(purchase, BGNBD().fit(expected))
    assert purchase.time_unit_ == "D"
    got = collect_scores(clvspark.score(sdf, purchase, horizon=30.0), "customer_id")
    assert list(got.columns) == ["expected_purchases", "probability_alive"]
    want = purchase.expected_purchases(expected, t=30.0)
    np.testing.assert_allclose(got["expected_purchases"].to_numpy(), want.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("unit", ["M", "Y"])
def test_date_columns_refunds_net(spark, unit):
    """Spark DATE column, refunds netted into day totals, monthly and yearly units."""
    log = simulate_transactions(500, random_state=11)
    rng = np.random.default_rng(11)
    refunds = log.sample(frac=0.1, random_state=11)
    refunds = refunds.assign(amount=-refunds["amount"] * rng.uniform(0.1, 0.9, len(refunds)))
    log = pd.concat([log, refunds], ignore_index=True)
    log["date"] = [d.date() for d in log["date"]]  # datetime.date objects: Spark DATE
    kwargs = {"amount": "amount", "calibration_end": "1997-06-30",
              "observation_end": "1998-06-30", "time_unit": unit, "refunds": "net"}
    slog = spark.createDataFrame(log)
    assert slog.schema["date"].dataType.simpleString() == "date"
    sdf, _ = spark_summary(slog, **kwargs)
    expected, _ = pandas_summary(log, **kwargs)
    assert expected.attrs["notes"]  # the netted refunds are reported
    assert_summaries_equal(sdf, expected)


def test_summary_metadata_survives_parquet(spark, cdnow, tmp_path):
    sdf, expected = cdnow
    sdf.write.parquet(str(tmp_path / "summary"))
    back = spark.read.parquet(str(tmp_path / "summary"))
    assert clvspark.summary_attrs(back) == clvspark.summary_attrs(sdf)
    bgnbd = BGNBD().fit(expected)
    # the unit recorded in the file is checked against the model's
    with pytest.raises(UnitMismatchError, match="'W'.*'D'|'D'.*'W'"):
        clvspark.score(back, BGNBD.from_params(r=0.2, alpha=4.0, a=0.8, b=2.4, time_unit="D"),
                       horizon=10.0)
    got = collect_scores(clvspark.score(back, bgnbd, horizon=39.0), "customer_id")
    np.testing.assert_allclose(got["probability_alive"].to_numpy(),
                               bgnbd.probability_alive(expected).to_numpy(), rtol=1e-10)


# --------------------------------------------------------------------------- errors
def test_bad_log_lists_every_problem(spark):
    log = pd.DataFrame({
        "customer_id": ["a", None, "b", "c", "d", "e"],
        "date": ["1997-01-01", "1997-01-02", None, "not a date", "1997-01-05", "1997-01-06"],
        "amount": [1.0, 2.0, 3.0, 4.0, -5.5, float("nan")],
    })
    with pytest.raises(InvalidTransactionsError) as info:
        clvspark.rfm_summary(spark.createDataFrame(log), amount="amount")
    err = info.value
    assert isinstance(err, ValueError)
    assert len(err.problems) == 5
    text = str(err)
    assert "column 'customer_id': 1 row has no customer id" in text
    assert "column 'date': 1 row has no date" in text
    assert "column 'date': 1 row is not dates" in text and "'not a date'" in text
    assert "column 'amount': 1 row is negative" in text and "amount=-5.5" in text
    assert "refunds='net'" in text
    assert "column 'amount': 1 row has no amount" in text


def test_amounts_as_text_that_are_not_numbers(spark):
    log = pd.DataFrame({"customer_id": ["1", "2", "3", "4"],
                        "amount": ["12.5", "12,50", "NaN", "$3"],
                        "date": ["1997-01-01", "1997-01-02", "1997-01-03", "19970104"]})
    with pytest.raises(InvalidTransactionsError,
                       match=r"column 'amount': 3 rows are not numbers, for example .*'12,50'"):
        clvspark.rfm_summary(spark.createDataFrame(log), amount="amount")


def test_missing_column_and_wrong_input(spark):
    sdf = spark.createDataFrame(pd.DataFrame({"customer_id": [1], "date": ["1997-01-01"]}))
    with pytest.raises(InvalidTransactionsError, match=r"\['amount'\] not found.*customer_id"):
        clvspark.rfm_summary(sdf, amount="amount")
    with pytest.raises(InvalidTransactionsError, match=r"\['when'\] not found"):
        clvspark.rfm_summary(sdf, date="when")
    with pytest.raises(InvalidTransactionsError, match="clvmodels.rfm_summary"):
        clvspark.rfm_summary(pd.DataFrame({"customer_id": [1], "date": ["1997-01-01"]}))
    with pytest.raises(InvalidTransactionsError, match="not one of"):
        clvspark.rfm_summary(sdf, time_unit="fortnight")


def test_transactions_after_observation_end(spark):
    log = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [1.0, 2.0, 3.0],
                        "date": [dt.date(1997, 1, 1), dt.date(1997, 3, 1), dt.date(1997, 2, 1)]})
    with pytest.raises(InvalidTransactionsError,
                       match=r"column 'date': 1 row is dated after observation_end \(1997-02-15\)"):
        clvspark.rfm_summary(spark.createDataFrame(log), amount="amount",
                             calibration_end="1997-01-31", observation_end="1997-02-15")


def test_score_arguments_checked_on_the_driver(cdnow):
    sdf, _ = cdnow
    model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W")
    with pytest.raises(InvalidParameterError, match="horizon"):
        clvspark.score(sdf, model, horizon=-1.0)
    with pytest.raises(InvalidParameterError, match="discount_rate"):
        clvspark.score(sdf, model, GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44),
                       horizon=10.0, discount_rate=-0.1)
    with pytest.raises(InvalidSummaryError, match="monetary_value"):
        clvspark.score(sdf.drop("monetary_value"), model,
                       GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44), horizon=10.0)
    with pytest.raises(InvalidSummaryError, match="drop_invalid"):
        clvspark.fit_model(sdf, GammaGamma(drop_invalid=False))
