"""Every kind of bad input gets a clear error naming the column and the rows,
from Python and from the command line (exit 2, no traceback, no output file)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.errors import InvalidTransactionsError


def good_log():
    return pd.DataFrame({
        "customer_id": [1, 1, 2, 3, 3, 3, 4, 5],
        "date": ["2020-01-01", "2020-01-05", "2020-01-02", "2020-01-03", "2020-02-01",
                 "2020-02-03", "2020-01-09", "2020-03-01"],
        "amount": [10.0, 20.0, 5.0, 7.5, 8.0, 9.0, 1.0, 3.0],
    })


def with_values(column, rows, values, base=None):
    df = (base if base is not None else good_log()).copy()
    df[column] = df[column].astype(object)
    for r, v in zip(rows, values, strict=True):
        df.at[r, column] = v
    return df


# (case id, frame, kwargs, column named, rows named, words of the fix)
CASES = [
    ("missing column", good_log().drop(columns="amount"), {}, "amount", [], "columns"),
    ("unparsable date", with_values("date", [2, 5], ["2020-13-45", "yesterday"]), {},
     "date", [2, 5], "ISO"),
    ("missing date", with_values("date", [3], [None]), {}, "date", [3], "needs a date"),
    ("missing customer id", with_values("customer_id", [0, 6], [None, np.nan]), {},
     "customer_id", [0, 6], "customer id"),
    ("non-numeric amount", with_values("amount", [1, 4], ["$20", "ten"]), {},
     "amount", [1, 4], "plain numbers"),
    ("missing amount", with_values("amount", [7], [np.nan]), {}, "amount", [7], "Fill"),
    ("infinite amount", with_values("amount", [2], [np.inf]), {}, "amount", [2], "finite"),
    ("negative amount", with_values("amount", [5], [-9.0]), {}, "amount", [5], "refunds"),
    ("date after observation_end", good_log(),
     {"calibration_end": "2020-01-31", "observation_end": "2020-02-15"}, "date", [7],
     "observation_end"),
    ("calibration_end after observation_end", good_log(),
     {"calibration_end": "2020-03-01", "observation_end": "2020-02-01"}, "calibration_end", [],
     "before"),
    ("empty log", good_log().iloc[:0], {}, "empty", [], "nothing"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_python_error_names_column_and_rows(case):
    _, frame, kwargs, column, rows, fix = case
    with pytest.raises(InvalidTransactionsError) as info:
        clvmodels.rfm_summary(frame, amount="amount", **kwargs)
    msg = str(info.value)
    assert column in msg
    for r in rows:
        assert f"{r} (" in msg or f"row {r}" in msg, msg
    assert fix in msg
    assert isinstance(info.value, ValueError)


def test_many_bad_rows_are_counted_and_capped():
    df = pd.DataFrame({"customer_id": range(12), "date": ["bad"] * 12, "amount": 1.0})
    with pytest.raises(InvalidTransactionsError) as info:
        clvmodels.rfm_summary(df, amount="amount")
    msg = str(info.value)
    assert "12 rows" in msg and "and 7 more" in msg
    assert "row 5 " not in msg  # only the first five shown


def test_all_problems_reported_at_once():
    df = with_values("date", [0], ["nope"], base=with_values("amount", [3], ["x"]))
    with pytest.raises(InvalidTransactionsError) as info:
        clvmodels.rfm_summary(df, amount="amount")
    assert len(info.value.problems) == 2
    assert "'date'" in str(info.value) and "'amount'" in str(info.value)


def test_refunds_net_option():
    df = good_log()
    df.loc[len(df)] = [3, "2020-02-01", -3.0]  # a refund the same day as a purchase
    s = clvmodels.rfm_summary(df, amount="amount", refunds="net")
    assert s.loc[3, "frequency"] == 2
    assert s.loc[3, "monetary_value"] == pytest.approx((8.0 - 3.0 + 9.0) / 2)
    assert any("netted" in n for n in s.attrs["notes"])


def test_bad_options_are_errors():
    with pytest.raises(InvalidTransactionsError, match="time_unit"):
        clvmodels.rfm_summary(good_log(), time_unit="fortnight")
    with pytest.raises(InvalidTransactionsError, match="monetary"):
        clvmodels.rfm_summary(good_log(), amount="amount", monetary="median")
    with pytest.raises(InvalidTransactionsError, match="calibration_end"):
        clvmodels.rfm_summary(good_log(), calibration_end="not a date")


def test_input_frame_is_not_modified():
    df = good_log()
    before = df.copy()
    clvmodels.rfm_summary(df, amount="amount")
    pd.testing.assert_frame_equal(df, before)


# ---- command line ----

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "missing column"],
                         ids=[c[0] for c in CASES if c[0] != "missing column"])
def test_cli_exits_2_without_traceback_or_output(tmp_path, case):
    _, frame, kwargs, column, _, _ = case
    log = tmp_path / "log.csv"
    frame.to_csv(log, index=False)
    out = tmp_path / "summary.csv"
    args = ["summarize", str(log), "--amount", "amount", "--out", str(out)]
    for k, v in kwargs.items():
        args += ["--" + k.replace("_", "-"), v]
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("clvmodels: error:")
    assert column in res.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [log]  # no temporary file left behind


def test_cli_missing_column_names_it(tmp_path):
    log = tmp_path / "log.csv"
    good_log().to_csv(log, index=False)
    res = run_cli("summarize", str(log), "--amount", "value", "--out", str(tmp_path / "s.csv"))
    assert res.returncode == 2 and "value" in res.stderr and "Traceback" not in res.stderr


def test_cli_failed_run_leaves_stale_output_untouched(tmp_path):
    log = tmp_path / "log.csv"
    with_values("date", [0], ["nope"]).to_csv(log, index=False)
    out = tmp_path / "summary.parquet"
    out.write_bytes(b"previous")
    res = run_cli("summarize", str(log), "--out", str(out))
    assert res.returncode == 2
    assert out.read_bytes() == b"previous"


def test_cli_unwritable_output(tmp_path):
    log = tmp_path / "log.csv"
    good_log().to_csv(log, index=False)
    res = run_cli("summarize", str(log), "--out", str(tmp_path / "nodir" / "s.csv"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = run_cli("summarize", str(log), "--out", str(tmp_path / "s.xlsx"))
    assert res.returncode == 2 and ".csv or .parquet" in res.stderr


def test_cli_missing_file_and_bad_arguments(tmp_path):
    res = run_cli("summarize", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.csv"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = run_cli("summarize")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run_cli("frobnicate")
    assert res.returncode == 2


@pytest.mark.parametrize("case", ["plain", "several batches", "null amount", "text ids",
                                  "zoned dates", "int32 ids, float32 amounts"])
def test_parquet_batch_reader_equals_arrow_read(tmp_path, monkeypatch, case):
    """Plain Parquet columns are read batch by batch into numpy (half the memory); the frame
    equals pyarrow's own read, and anything else (nulls, text, zones) takes the usual path,
    so problems are still reported by row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clvmodels.data import reading as rd
    from clvmodels.data import transactions as tx

    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame({
        "customer_id": rng.integers(1, 300, n),
        "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), "s"),
        "amount": rng.gamma(2.0, 10.0, n),
    })
    if case == "several batches":
        monkeypatch.setattr(rd, "_BATCH_ROWS", 777)
    if case == "null amount":
        frame.loc[[17, 4000], "amount"] = None
    if case == "text ids":
        frame["customer_id"] = frame["customer_id"].map("c{:04d}".format)
    if case == "zoned dates":
        frame["date"] = frame["date"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    if case == "int32 ids, float32 amounts":
        frame = frame.astype({"customer_id": "int32", "amount": "float32"})
    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=1000)
    got = tx.read_transactions(path, columns=["customer_id", "date", "amount"])
    expected = pq.read_table(path).to_pandas()
    pd.testing.assert_frame_equal(got, expected)
    batched = rd._read_parquet_in_batches(path, ["customer_id", "date", "amount"])
    assert (batched is None) == (case in ("null amount", "text ids", "zoned dates"))
    if case == "null amount":
        with pytest.raises(clvmodels.errors.InvalidTransactionsError, match=r"row 17 \(missing\)"):
            clvmodels.rfm_summary(path, amount="amount")
