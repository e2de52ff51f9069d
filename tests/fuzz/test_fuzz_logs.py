"""Hostile transaction logs (text and Parquet) into every command that reads a log.

Each example is a generated log (ids, dates and amounts drawn from valid and hostile
values) with a mutation of the file (encodings, compression, wrong field counts,
duplicated header, truncation, random bytes, ...). The promises are checked by
``_corpus.check_promises``; accepted summaries are reconciled with counts made by
Python's csv module on the same text.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pytest
from _corpus import (
    OLD,
    SETTINGS,
    assert_finite,
    check_promises,
    encode,
    env_case_count,
    gzip_bytes,
    independent_counts,
    read_output,
    render_csv,
    run_cli,
    snapshot,
    write,
)
from hypothesis import given, settings
from hypothesis import strategies as st

good_ids = st.sampled_from(["1", "2", "3", "007", "c-17", "Ångström", "x y"])
hostile_ids = st.sampled_from(["", "NA", "1 ", " 1", "null", "1.0", "\u00e9", "1,2", '"q"'])
good_dates = st.dates(min_value=pd.Timestamp("1997-01-01").date(),
                      max_value=pd.Timestamp("1997-12-31").date())


@st.composite
def date_text(draw):
    d = draw(good_dates)
    style = draw(st.sampled_from(["iso", "iso", "compact", "time", "offset", "zulu", "partial",
                                  "garbage", "empty", "dayfirst", "impossible"]))
    if style == "iso":
        return d.isoformat()
    if style == "compact":
        return d.strftime("%Y%m%d")
    if style == "time":
        return f"{d.isoformat()} {draw(st.integers(0, 23)):02d}:30:00"
    if style == "offset":
        hours = draw(st.integers(-12, 14))
        return f"{d.isoformat()}T23:30:00{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"
    if style == "zulu":
        return f"{d.isoformat()}T01:00:00Z"
    if style == "partial":
        return d.strftime("%Y-%m")
    if style == "garbage":
        return draw(st.sampled_from(["nope", "1997-13-01", "tomorrow", "0", "-1"]))
    if style == "dayfirst":
        return d.strftime("%d/%m/%Y")
    if style == "empty":
        return ""
    return "1997-02-30"


amounts = st.one_of(
    st.floats(0, 1e4, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.integers(0, 500).map(str),
    st.sampled_from(["0", "-5", "", "nan", "inf", "1e308", "1e-320", "$5", "1,029.73",
                     '"1,029.73"', "12.5.3", "TRUE", " 7 "]),
)


@st.composite
def log_rows(draw):
    n = draw(st.integers(0, 25))
    hostile = draw(st.booleans())
    ids = st.one_of(good_ids, hostile_ids) if hostile else good_ids
    dates = date_text() if hostile else good_dates.map(lambda d: d.isoformat())
    amount = amounts if hostile else st.floats(0.5, 500).map(lambda v: f"{v:.2f}")
    return [[draw(ids), draw(dates), draw(amount)] for _ in range(n)]


MUTATIONS = ["none", "none", "none", "extra_field", "short_row", "dup_header", "truncate",
             "bom_utf8", "utf16", "latin1", "gzip_as_csv", "gzip_named", "empty",
             "header_only", "tsv", "random_bytes", "crlf", "blank_lines", "wrong_header",
             "semicolons", "nul_byte"]
WELL_FORMED = {"none", "bom_utf8", "utf16", "gzip_as_csv", "gzip_named", "tsv", "crlf",
               "blank_lines"}


@st.composite
def hostile_log(draw):
    """(file name, bytes, the text for reconciliation or None, delimiter)."""
    rows = draw(log_rows())
    mutation = draw(st.sampled_from(MUTATIONS))
    text = render_csv(rows)
    name, data, delimiter = "log.csv", text.encode(), ","
    if mutation == "extra_field" and rows:
        i = draw(st.integers(0, len(rows) - 1))
        lines = text.splitlines(keepends=True)
        lines[i + 1] = lines[i + 1].rstrip("\n") + ",extra\n"
        data = "".join(lines).encode()
    elif mutation == "short_row" and rows:
        data = (text + "9,1997-05-05\n").encode()
    elif mutation == "dup_header":
        data = text.replace("customer_id,date,amount", "customer_id,date,date", 1).encode()
    elif mutation == "truncate" and len(data) > 30:
        data = data[: draw(st.integers(25, len(data) - 1))]
    elif mutation == "bom_utf8":
        data = encode(text, "utf-8-sig")
    elif mutation == "utf16":
        data = encode(text, "utf-16")
    elif mutation == "latin1":
        data = (text + "9,1997-05-05,caf\u00e9\n").encode("latin-1")
    elif mutation == "gzip_as_csv":
        data = gzip_bytes(text.encode())
    elif mutation == "gzip_named":
        name, data = "log.csv.gz", gzip_bytes(text.encode())
    elif mutation == "empty":
        data = b""
    elif mutation == "header_only":
        data = b"customer_id,date,amount\n"
    elif mutation == "tsv":
        name, delimiter = "log.tsv", "\t"
        text = render_csv(rows, delimiter="\t")
        data = text.encode()
    elif mutation == "random_bytes":
        data = draw(st.binary(min_size=1, max_size=200))
    elif mutation == "crlf":
        data = text.replace("\n", "\r\n").encode()
    elif mutation == "blank_lines":
        data = text.replace("\n", "\n\n").encode()
    elif mutation == "wrong_header":
        data = text.replace("amount", "value", 1).encode()
    elif mutation == "semicolons":
        data = text.replace(",", ";").encode()
    elif mutation == "nul_byte":
        data = text.encode() + b"\x00\x00\n"
    reconcile = text if mutation in WELL_FORMED else None
    return name, data, reconcile, delimiter, mutation


def _summarize_case(capsys, case, extra):
    name, data, text, delimiter, mutation = case
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = write(d, name, data)
        out = write(d, "summary.parquet", OLD)
        before = snapshot(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code, err = run_cli(capsys, ["summarize", log, "--amount", "amount",
                                         "--time-unit", "D", "--out", out, *extra])
        outcome = check_promises("log files x summarize", code, err, d, before, [log], [out])
        if code == 0:
            summary, attrs = read_output(out)
            assert_finite(summary)
            if text is not None:
                n_rows, n_ids = independent_counts(text, delimiter)
                assert attrs["n_rows"] == n_rows, (attrs["n_rows"], n_rows)
                assert len(summary) + attrs["n_excluded_customers"] == n_ids
            assert (summary["frequency"] >= 0).all() and (summary["recency"] >= 0).all()
            assert (summary["recency"] <= summary["T"] + 1e-12).all()
        return outcome, mutation


@settings(max_examples=env_case_count(300), **SETTINGS)
@given(case=hostile_log(), refunds=st.booleans(),
       cal=st.one_of(st.none(), good_dates.map(lambda d: d.isoformat()),
                     st.sampled_from(["1997-06", "19970630", "garbage", "2100-01-01"])))
def test_hostile_logs_into_summarize(capsys, case, refunds, cal):
    extra = (["--refunds", "net"] if refunds else []) + \
        (["--calibration-end", cal] if cal is not None else [])
    _summarize_case(capsys, case, extra)


@settings(max_examples=env_case_count(60), **SETTINGS)
@given(case=hostile_log(), scores=st.booleans())
def test_hostile_logs_into_fit_and_score(capsys, case, scores):
    name, data, _, _, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = write(d, name, data)
        model, out = write(d, "model.json", OLD), write(d, "scores.csv", OLD)
        before = snapshot(d)
        args = ["fit", log, "--amount", "amount", "--time-unit", "D", "--out", model,
                "--quiet"] + (["--scores-out", out] if scores else [])
        code, err = run_cli(capsys, args)
        check_promises("log files x fit", code, err, d, before, [log],
                       [model] + ([out] if scores else []))
        if code == 0 and scores:
            assert_finite(read_output(out)[0])
        if code == 0:  # the fitted model scores the same (hostile) log
            before = snapshot(d)
            code, err = run_cli(capsys, ["score", log, "--model", model, "--out", out,
                                         "--quiet"])
            check_promises("log files x score", code, err, d, before, [log, model], [out])
            if code == 0:
                assert_finite(read_output(out)[0])


@settings(max_examples=env_case_count(25), **SETTINGS)
@given(case=hostile_log())
def test_hostile_logs_into_compare(capsys, case):
    name, data, _, _, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = write(d, name, data)
        board, preds = write(d, "board.csv", OLD), write(d, "preds.parquet", OLD)
        before = snapshot(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code, err = run_cli(capsys, [
                "compare", log, "--amount", "amount", "--calibration-end", "1997-06-30",
                "--observation-end", "1997-12-31", "--methods", "own_rate,zero",
                "--out", board, "--predictions", preds, "--quiet"])
        check_promises("log files x compare", code, err, d, before, [log], [board, preds])


# --- Parquet logs --------------------------------------------------------------------------

@st.composite
def parquet_log(draw):
    n = draw(st.integers(1, 20))
    ids = draw(st.lists(st.one_of(st.integers(0, 5), st.sampled_from(["a", "b"])),
                        min_size=n, max_size=n))
    if draw(st.booleans()):
        ids = [str(i) for i in ids]  # one type (mixed types cannot be written to Parquet)
    else:
        ids = [hash(str(i)) % 7 for i in ids]
    days = draw(st.lists(st.integers(0, 364), min_size=n, max_size=n))
    hours = draw(st.lists(st.integers(0, 23), min_size=n, max_size=n))
    dates = pd.Timestamp("1997-01-01") + pd.to_timedelta(days, unit="D") + \
        pd.to_timedelta(hours, unit="h")
    zone = draw(st.sampled_from([None, "UTC", "America/New_York", "Asia/Kolkata"]))
    if zone is not None:
        # a wall-clock hour that a DST change skips or repeats is shifted / taken as standard
        # time: the case is about zones, not about pandas' DST errors
        dates = dates.tz_localize(zone, nonexistent="shift_forward", ambiguous=False)
    value = st.floats(0, 1e3)
    if draw(st.booleans()):  # half the cases hold hostile amounts
        value = st.one_of(value, st.sampled_from([float("nan"), -1.0, 1e308, float("inf")]))
    values = draw(st.lists(value, min_size=n, max_size=n))
    frame = pd.DataFrame({"customer_id": ids, "date": dates, "amount": values})
    mutation = draw(st.sampled_from(["none", "none", "truncate", "dup_column", "renamed",
                                     "as_csv_name", "string_dates", "null_date"]))
    return frame, mutation, draw(st.integers(10, 1000))


@settings(max_examples=env_case_count(60), **SETTINGS)
@given(case=parquet_log())
def test_hostile_parquet_logs(capsys, case):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame, mutation, cut = case
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        name = "log.csv" if mutation == "as_csv_name" else "log.parquet"
        log = d / name
        if mutation == "string_dates":
            frame = frame.assign(date=frame["date"].astype(str))
        if mutation == "null_date":
            frame = frame.assign(date=frame["date"].where(frame.index != 0))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if mutation == "dup_column":
            table = table.rename_columns(["customer_id", "date", "date"])
        if mutation == "renamed":
            table = table.rename_columns(["id", "date", "amount"])
        pq.write_table(table, log)
        if mutation == "truncate":
            log.write_bytes(log.read_bytes()[: min(cut, log.stat().st_size - 1)])
        out = write(d, "summary.csv", OLD)
        before = snapshot(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code, err = run_cli(capsys, ["summarize", log, "--amount", "amount",
                                         "--time-unit", "D", "--out", out])
        check_promises("Parquet logs x summarize", code, err, d, before, [log], [out])
        if code == 0:
            summary = pd.read_csv(out)
            assert_finite(summary)
            assert len(summary) == frame["customer_id"].nunique()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Kiritimati"])
def test_the_same_purchases_summarise_alike_in_every_format(tmp_path, zone):
    """The date policy end to end: zoned Parquet, its CSV text (with offsets), a UTF-16
    copy and a gzip copy of that text give one summary."""
    import clvmodels

    stamps = pd.Timestamp("1997-01-01 22:00") + pd.to_timedelta(
        [0, 3, 26, 50, 51, 200], unit="h")
    frame = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b", "b"],
                          "date": stamps.tz_localize(zone), "amount": [1.0, 2, 3, 4, 5, 6]})
    frame.to_parquet(tmp_path / "log.parquet")
    frame.to_csv(tmp_path / "log.csv", index=False)
    text = (tmp_path / "log.csv").read_text()
    write(tmp_path, "utf16.csv", encode(text, "utf-16"))
    write(tmp_path, "packed.csv", gzip_bytes(text.encode()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [clvmodels.rfm_summary(tmp_path / n, amount="amount", time_unit="D")
                   for n in ("log.parquet", "log.csv", "utf16.csv", "packed.csv")]
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other, check_index_type=False)
    # a: 1 Jan 22:00, 2 Jan 01:00, 3 Jan 00:00 local: three days (in UTC they would be
    # other days for New York and Kiritimati), so two repeat days whatever the zone
    assert results[0].loc["a", "frequency"] == 2
    assert results[0].loc["a", "recency"] == 2.0
