"""Regression tests of issue 21's reading-layer examples: each hostile file or argument the
fuzz campaign found is refused with exit 2 and one message naming the problem, or read
under a documented policy (compared with the same purchases written plainly).

Truth: the summary of the same purchases from a plain UTF-8 CSV (for re-encoded,
compressed or zoned copies), and hand-counted day merges for the offset policy.
"""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.cli import main
from clvmodels.errors import (
    CLVError,
    InputConversionWarning,
    InputFileError,
    InvalidTransactionsError,
)

ROWS = ("customer_id,date,amount\n1,1997-01-01,10\n1,1997-02-01,20\n2,1997-01-05,5\n"
        "2,1997-03-01,7\n3,1997-01-02,4\n")


def cli(capsys, *args):
    """Run the CLI in-process; returns (exit code, stderr lines)."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def assert_refused(capsys, args, *needles, out=None):
    code, err = cli(capsys, *args)
    assert code == 2, (code, err)
    errors = [line for line in err if line.startswith("clvmodels: error:")]
    assert len(errors) == 1, err
    assert not any("Traceback" in line for line in err)
    message = "\n".join(err[err.index(errors[0]):])
    for needle in needles:
        assert needle in message, (needle, message)
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(f".{out.name}.*")), "temporary file left behind"


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text(ROWS)
    return clvmodels.rfm_summary(path, amount="amount", time_unit="D")


def summarize(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputConversionWarning)
        return clvmodels.rfm_summary(path, amount="amount", time_unit="D")


# --- files that are refused ---------------------------------------------------------------

@pytest.mark.parametrize("name, content, needle", [
    ("empty.csv", b"", "empty"),
    ("header.csv", b"customer_id,date,amount\n", "empty"),
    ("latin.csv", ROWS.encode() + "4,1997-01-01,caf\xe9\n".encode("latin-1"),
     "line 7"),
    ("fake.parquet", ROWS.encode(), "not a Parquet file"),
    ("extra.csv", (ROWS + "4,1997-01-03,1,029.73\n").encode(), "line 7: 4 fields"),
    ("short.csv", (ROWS + "4,1997-01-03\n").encode(), "line 7: 2 fields"),
    ("duphead.csv", b"customer_id,date,amount,amount\n1,1997-01-01,1,2\n", "['amount']"),
    ("partial.csv", (ROWS + "1,1997-01,3\n").encode(), "partial dates"),
    ("overflow.csv", b"customer_id,date,amount\n1,1997-01-01,1e308\n1,1997-01-01,1e308\n",
     "overflows to infinity"),
    ("zip.csv", b"PK\x03\x04rest", "zip archive"),
    ("notgz.csv.gz", ROWS.encode(), "not gzip-compressed"),
])
def test_hostile_log_is_refused_with_one_message(tmp_path, capsys, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "summary.csv"
    assert_refused(capsys, ["summarize", path, "--amount", "amount", "--out", out], needle,
                   out=out)
    assert path.read_bytes() == content  # the input is never touched


def test_truncated_and_duplicated_parquet_are_refused(tmp_path, capsys):
    frame = pd.read_csv(pd.io.common.StringIO(ROWS))
    good = tmp_path / "good.parquet"
    frame.to_parquet(good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out = tmp_path / "s.csv"
    assert_refused(capsys, ["summarize", truncated, "--out", out], "truncated or corrupt",
                   out=out)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table([pa.array([1, 2]), pa.array(["1997-01-01", "1997-01-02"]),
                      pa.array([1.0, 2.0])], names=["customer_id", "date", "date"])
    dup = tmp_path / "dup.parquet"
    pq.write_table(table, dup)
    assert_refused(capsys, ["summarize", dup, "--out", out], "more than once", out=out)


def test_a_directory_named_csv_is_a_clv_error(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(InputFileError, match="directory"):
        clvmodels.rfm_summary(tmp_path / "x.csv")
    with pytest.raises(CLVError, match="directory"):
        clvmodels.compare(tmp_path / "x.csv", amount="amount", calibration_end="1997-02-01",
                          observation_end="1997-03-01")


# --- files read under a policy ------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_files_with_a_byte_order_mark_read_as_utf8(tmp_path, plain, encoding):
    path = tmp_path / "log.csv"
    path.write_bytes(ROWS.encode(encoding))
    if encoding == "utf-8-sig":
        got = clvmodels.rfm_summary(path, amount="amount", time_unit="D")
    else:
        with pytest.warns(InputConversionWarning, match="byte-order mark"):
            got = clvmodels.rfm_summary(path, amount="amount", time_unit="D")
    pd.testing.assert_frame_equal(got, plain)


def test_compression_is_found_by_content(tmp_path, plain):
    path = tmp_path / "log.csv"  # gzip bytes under a plain .csv name
    path.write_bytes(gzip.compress(ROWS.encode()))
    with pytest.warns(InputConversionWarning, match="gzip-compressed"):
        got = clvmodels.rfm_summary(path, amount="amount", time_unit="D")
    pd.testing.assert_frame_equal(got, plain)
    named = tmp_path / "log.csv.gz"
    named.write_bytes(gzip.compress(ROWS.encode()))
    pd.testing.assert_frame_equal(summarize(named), plain)


def test_tsv_is_read_by_every_command(tmp_path, capsys, plain):
    tsv = tmp_path / "log.tsv"
    tsv.write_text(ROWS.replace(",", "\t"))
    pd.testing.assert_frame_equal(summarize(tsv), plain)
    model = tmp_path / "m.json"
    code, err = cli(capsys, "fit", tsv, "--time-unit", "D", "--spend-model", "none",
                    "--out", model, "--quiet")
    assert code == 0, err
    scores = tmp_path / "scores.csv"
    code, err = cli(capsys, "score", tsv, "--model", model, "--out", scores)
    assert code == 0, err
    assert len(pd.read_csv(scores)) == 3


def test_mixed_utc_offsets_date_each_purchase_as_recorded(tmp_path):
    """Policy: the local calendar date as written; offsets are dropped, not converted. In UTC
    these two purchases would both fall on 2 January and merge into one day."""
    path = tmp_path / "tz.csv"
    path.write_text("customer_id,date\n1,1997-01-01T23:30:00-05:00\n"
                    "1,1997-01-02T06:00:00+05:00\n1,1997-01-10 08:00Z\n")
    with pytest.warns(InputConversionWarning, match="offsets are dropped"):
        s = clvmodels.rfm_summary(path, time_unit="D")
    assert s.loc["1", "frequency"] == 2
    assert s.loc["1", "recency"] == 9.0  # 1 January to 10 January
    assert s.attrs["first_transaction"] == pd.Timestamp("1997-01-01")


def test_zoned_parquet_and_its_csv_text_summarise_alike(tmp_path):
    stamps = pd.to_datetime(["1997-01-01 23:30", "1997-01-03 01:00", "1997-01-01 00:00",
                             "1997-02-01 00:00"]).tz_localize("America/New_York")
    frame = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "date": stamps,
                          "amount": [1.0, 2.0, 3.0, 4.0]})
    frame.to_parquet(tmp_path / "log.parquet")
    frame.to_csv(tmp_path / "log.csv", index=False)  # written with -05:00 offsets
    from_parquet = summarize(tmp_path / "log.parquet")
    from_csv = summarize(tmp_path / "log.csv")
    pd.testing.assert_frame_equal(from_parquet, from_csv, check_index_type=False)
    assert from_parquet.loc["a", "recency"] == 2.0  # 1 and 3 January, New York time


# --- the Python API ----------------------------------------------------------------------

def frame(**amounts):
    base = {"customer_id": [1, 1, 2], "date": ["1997-01-01", "1997-01-05", "1997-01-02"]}
    return pd.DataFrame({**base, **amounts})


def test_mixed_type_customer_ids_are_refused():
    log = pd.DataFrame({"customer_id": [1, "1", 2], "date": ["1997-01-01", "1997-01-05",
                                                             "1997-01-02"]})
    with pytest.raises(InvalidTransactionsError, match="mixed types"):
        clvmodels.rfm_summary(log)


@pytest.mark.parametrize("values, what", [
    (pd.to_datetime(["1997-01-01"] * 3), "dates"),
    (pd.to_timedelta([1, 2, 3], unit="D"), "time spans"),
    (np.array([1 + 1j, 2, 3]), "complex"),
    (np.array([True, False, True]), "booleans"),
    (np.array([True, False, True], dtype=object), "booleans"),
])
def test_non_money_amounts_are_refused(values, what):
    with pytest.raises(InvalidTransactionsError, match=what):
        clvmodels.rfm_summary(frame(amount=values), amount="amount")


def test_duplicated_dataframe_columns_are_a_clv_error():
    log = pd.DataFrame([[1, "1997-01-01", 1.0, 2.0]],
                       columns=["customer_id", "date", "amount", "amount"])
    with pytest.raises(InvalidTransactionsError, match="more than once"):
        clvmodels.rfm_summary(log, amount="amount")


def test_compare_without_amount_is_a_clv_error():
    log = frame(amount=[1.0, 2.0, 3.0])
    with pytest.raises(CLVError, match="amount"):
        clvmodels.compare(log, amount=None, calibration_end="1997-01-03",
                          observation_end="1997-01-10")


def test_integer_calibration_end_is_yyyymmdd():
    log = frame(amount=[1.0, 2.0, 3.0])
    s = clvmodels.rfm_summary(log, calibration_end=19970110, time_unit="D")
    assert s.attrs["calibration_end"] == pd.Timestamp("1997-01-10")
    assert s.loc[1, "T"] == 9.0
    for bad in (1997, 19971340, 1.5, True):
        with pytest.raises(InvalidTransactionsError, match="not a"):
            clvmodels.rfm_summary(log, calibration_end=bad)
    with pytest.raises(InvalidTransactionsError, match="full date"):
        clvmodels.rfm_summary(log, calibration_end="1997-01")


def test_model_file_not_utf8_or_too_deep_is_a_model_file_error(tmp_path, capsys):
    from clvmodels.errors import ModelFileError

    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"format_version": "\xe9"}')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for path in (latin, deep):
        with pytest.raises(ModelFileError):
            clvmodels.load_model(path)
    log = tmp_path / "log.csv"
    log.write_text(ROWS)
    out = tmp_path / "scores.csv"
    for path in (latin, deep):
        assert_refused(capsys, ["score", log, "--model", path, "--out", out], str(path.name),
                       out=out)
