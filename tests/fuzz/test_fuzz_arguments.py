"""Hostile arguments and model files into ``fit``, ``score``, ``summarize``, ``compare`` and
``report``: extreme numbers, dates that are not dates, outputs that name inputs, corrupted
model files. Every run keeps the promises of ``_corpus.check_promises``; accepted scores
are finite and respect their ranges (P(alive) in [0, 1], CLV <= spend x purchases)."""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _corpus import (
    OLD,
    SETTINGS,
    assert_finite,
    check_promises,
    env_case_count,
    read_output,
    run_cli,
    snapshot,
    write,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.cli import main
from clvmodels.datasets import load_cdnow_transactions


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small real log, its summary and a fitted model file (the valid starting point)."""
    d = tmp_path_factory.mktemp("fuzz_base")
    log = d / "log.csv"
    load_cdnow_transactions().head(1200).to_csv(log, index=False)
    model, summary = d / "model.json", d / "summary.parquet"
    assert main(["fit", str(log), "--amount", "amount", "--out", str(model),
                 "--summary-out", str(summary), "--quiet"]) == 0
    return {"log": log.read_bytes(), "model": model.read_text(),
            "summary": summary.read_bytes()}


def numbers(low_magnitude=-12, high_magnitude=13, usual=(0.01, 200)):
    """Floats as a user might type them: half usual values, half extreme, signed, inf, nan,
    text."""
    usual_values = st.floats(*usual).map(lambda v: f"{v:.4g}")
    return st.one_of(
        usual_values, usual_values, usual_values,
        st.integers(low_magnitude, high_magnitude).map(lambda k: f"1e{k}"),
        st.sampled_from(["0", "-1", "-0", "nan", "inf", "-inf", "1e308", "5", "0.0019",
                         "1e-320", "abc", "", "1_000"]),
    )


date_args = st.one_of(
    st.dates(min_value=pd.Timestamp("1996-01-01").date(),
             max_value=pd.Timestamp("1999-12-31").date()).map(lambda d: d.isoformat()),
    st.sampled_from(["1997-09", "19970930", "1997", "30/09/1997", "nope", "", "0",
                     "1997-09-30T12:00:00+05:00", "2262-04-12", "1677-09-20", "9999-12-31"]),
)


def check_scores(path: Path):
    scores, _ = read_output(path)
    assert_finite(scores)
    assert ((scores["probability_alive"] >= 0) & (scores["probability_alive"] <= 1)).all()
    assert (scores["expected_purchases"] >= 0).all()
    if "clv" in scores:
        bound = scores["expected_spend"] * scores["expected_purchases"]
        assert (scores["clv"] <= bound * (1 + 1e-9) + 1e-12).all()


@settings(max_examples=env_case_count(120), **SETTINGS)
@given(horizon=numbers(), rate=numbers(-6, 2, (0, 0.05)), margin=numbers(-3, 3, (0, 1)),
       step=numbers(-9, 9, (0.5, 4)),
       unit=st.sampled_from([None, "W", "D"]), use_log=st.booleans(),
       as_of=st.one_of(st.none(), date_args))
def test_score_arguments(capsys, base, horizon, rate, margin, step, unit, use_log, as_of):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log, summary = write(d, "log.csv", base["log"]), write(d, "s.parquet", base["summary"])
        model = write(d, "model.json", base["model"].encode())
        out = write(d, "scores.parquet", OLD)
        args = ["score", log if use_log else summary, "--model", model, "--out", out,
                f"--horizon={horizon}", f"--discount-rate={rate}", f"--margin={margin}",
                f"--periods-per-step={step}", "--quiet"]
        if unit:
            args += ["--time-unit", unit]
        if as_of is not None:
            args.append(f"--as-of={as_of}")
        before = snapshot(d)
        code, err = run_cli(capsys, args)
        check_promises("arguments x score", code, err, d, before, [log, summary, model], [out])
        if code == 0:
            check_scores(out)


@settings(max_examples=env_case_count(50), **SETTINGS)
@given(cal=st.one_of(st.none(), date_args), obs=st.one_of(st.none(), date_args),
       unit=st.sampled_from(["D", "W", "M", "Y"]), model=st.sampled_from(["bgnbd", "paretonbd"]),
       spend=st.sampled_from(["gamma-gamma", "none"]), scores=st.booleans(),
       horizon=numbers(-2, 5), monetary=st.sampled_from(["repeat", "all"]))
def test_fit_arguments(capsys, base, cal, obs, unit, model, spend, scores, horizon, monetary):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = write(d, "log.csv", base["log"])
        out, summary, score_out = (write(d, n, OLD) for n in
                                   ("model.json", "summary.csv", "scores.csv"))
        args = ["fit", log, "--amount", "amount", "--model", model, "--spend-model", spend,
                "--time-unit", unit, "--monetary", monetary, "--out", out,
                "--summary-out", summary, "--quiet"]
        if cal is not None:
            args.append(f"--calibration-end={cal}")
        if obs is not None:
            args.append(f"--observation-end={obs}")
        if scores:
            args += ["--scores-out", score_out, f"--horizon={horizon}"]
        before = snapshot(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code, err = run_cli(capsys, args)
        outputs = [out, summary] + ([score_out] if scores else [])
        check_promises("arguments x fit", code, err, d, before, [log], outputs)
        if code == 0 and scores:
            check_scores(score_out)


@settings(max_examples=env_case_count(40), **SETTINGS)
@given(step_days=st.one_of(st.none(), st.integers(-3, 400)),
       n_splits=st.one_of(st.none(), st.integers(-1, 6)),
       cal=st.one_of(st.just("1997-06-30"), date_args),
       obs=st.one_of(st.just("1998-06-30"), date_args),
       same_outputs=st.booleans())
def test_compare_arguments(capsys, base, step_days, n_splits, cal, obs, same_outputs):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = write(d, "log.csv", base["log"])
        board = write(d, "board.csv", OLD)
        preds = board if same_outputs else write(d, "preds.csv", OLD)
        args = ["compare", log, "--amount", "amount", f"--calibration-end={cal}",
                f"--observation-end={obs}", "--methods", "own_rate,zero", "--out", board,
                "--predictions", preds, "--quiet"]
        if step_days is not None:
            args.append(f"--step-days={step_days}")
        if n_splits is not None:
            args.append(f"--n-splits={n_splits}")
        before = snapshot(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code, err = run_cli(capsys, args)
        check_promises("arguments x compare", code, err, d, before, [log], [board, preds])
        if code == 0:
            board_table = pd.read_csv(board)
            assert np.isfinite(board_table["value"].dropna()).all()


@pytest.mark.parametrize("command", ["summarize", "fit", "score", "compare", "report"])
@pytest.mark.parametrize("target", ["log", "model", "same_link"])
def test_outputs_naming_an_input(capsys, base, tmp_path, command, target):
    d = tmp_path
    log = write(d, "log.csv", base["log"])
    model = write(d, "model.json", base["model"].encode())
    (d / "link.csv").symlink_to(log)
    victim = {"log": log, "model": model, "same_link": d / "link.csv"}[target]
    args = {
        "summarize": ["summarize", log, "--out", victim],
        "fit": ["fit", log, "--amount", "amount", "--out", d / "new.json",
                "--summary-out", victim],
        "score": ["score", log, "--model", model, "--out", victim],
        "compare": ["compare", log, "--amount", "amount", "--calibration-end", "1997-06-30",
                    "--observation-end", "1997-12-31", "--methods", "zero", "--out", victim],
        "report": ["report", log, "--amount", "amount", "--calibration-end", "1997-06-30",
                   "--observation-end", "1997-12-31", "--out", victim],
    }[command]
    before = snapshot(d)
    code, err = run_cli(capsys, args)
    outcome = check_promises("outputs naming inputs", code, err, d, before, [log, model], [])
    names_input = victim.resolve() == log.resolve() or (command == "score" and target == "model")
    if names_input:
        assert code == 2, err
    else:  # fit's model file is not one of fit's inputs (a .json extension check applies)
        assert outcome


# --- corrupted model files ------------------------------------------------------------------

def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.sampled_from([[], {}, [1, 2], {"a": 1}, "W", "1997-09-30", "BGNBD", -1, 0, 1e308]),
)


@st.composite
def corrupted_model(draw, text):
    mode = draw(st.sampled_from(["replace", "replace", "delete", "truncate", "bytes", "nest",
                                 "wrap", "nan"]))
    if mode == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))].encode()
    if mode == "bytes":
        i = draw(st.integers(0, len(text) - 1))
        return text[:i].encode() + draw(st.binary(min_size=1, max_size=4)) + text[i:].encode()
    if mode == "nest":
        depth = draw(st.integers(10, 200_000))
        return ("[" * depth + "]" * depth).encode()
    if mode == "nan":
        return text.replace('"a": 0.', '"a": NaN, "x": 0.', 1).encode()
    doc = json.loads(text)
    paths = [p for p in _paths(doc) if p]
    path = draw(st.sampled_from(paths))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if mode == "delete":
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    elif mode == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = draw(json_values)
    return json.dumps(doc).encode()


@settings(max_examples=env_case_count(150), **SETTINGS)
@given(data=st.data())
def test_corrupted_model_files(capsys, base, data):
    content = data.draw(corrupted_model(base["model"]))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        summary = write(d, "s.parquet", base["summary"])
        model = write(d, "model.json", content)
        out = write(d, "scores.csv", OLD)
        before = snapshot(d)
        code, err = run_cli(capsys, ["score", summary, "--model", model, "--out", out,
                                     "--quiet"])
        check_promises("model files x score", code, err, d, before, [summary, model], [out])
        if code == 0:
            check_scores(out)


def test_the_corpus_ranges_hold_for_the_valid_model(base, tmp_path, capsys):
    """The starting point itself scores (else every case above would be a refusal)."""
    summary = write(tmp_path, "s.parquet", base["summary"])
    model = write(tmp_path, "model.json", base["model"].encode())
    out = tmp_path / "scores.parquet"
    code, err = run_cli(capsys, ["score", summary, "--model", model, "--out", out])
    assert code == 0, err
    check_scores(out)
    assert math.isclose(float(pd.read_parquet(out)["probability_alive"].max()), 1.0,
                        rel_tol=0.5)
