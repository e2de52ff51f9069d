"""The output layer's promises (issue 21's data-safety examples): never over an input, the
previous file kept until the new one is complete, a multi-file run committed as a set,
SIGTERM and SIGINT leave the old outputs and no temporary file.

Truth: the bytes of the files before the run (an output is either the old bytes or a file
that the readers accept as complete), and the directory listing (no hidden temporary file).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from clvmodels._output import OutputSet
from clvmodels.cli import EXIT_SIGTERM, main
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import OutputFileError


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def no_temporaries(directory):
    return [p.name for p in directory.iterdir() if p.name.startswith(".")] == []


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "log.csv"
    load_cdnow_transactions().head(1500).to_csv(path, index=False)
    return path


@pytest.fixture
def work(tmp_path, log_csv):
    log = tmp_path / "log.csv"
    log.write_bytes(log_csv.read_bytes())
    return tmp_path, log


def test_an_output_never_overwrites_an_input(work, capsys):
    d, log = work
    before = snapshot(d)
    code, err = cli(capsys, "summarize", log, "--out", log)
    assert code == 2 and "the transaction log" in err
    code, err = cli(capsys, "fit", log, "--amount", "amount", "--out", d / "m.json",
                    "--summary-out", log)
    assert code == 2 and "--summary-out" in err and "destroy the input" in err
    (d / "link.csv").symlink_to(log)
    code, err = cli(capsys, "summarize", log, "--out", d / "link.csv")
    assert code == 2 and "destroy the input" in err
    (d / "link.csv").unlink()
    assert snapshot(d) == before and no_temporaries(d)


def test_score_refuses_its_summary_and_model_as_output(work, capsys):
    d, log = work
    summary, model = d / "s.parquet", d / "m.json"
    assert cli(capsys, "fit", log, "--amount", "amount", "--out", model, "--summary-out",
               summary, "--quiet")[0] == 0
    before = snapshot(d)
    code, err = cli(capsys, "score", summary, "--model", model, "--out", summary)
    assert code == 2 and "the scored data" in err
    code, err = cli(capsys, "score", summary, "--model", model, "--out", d / "m.json.csv")
    assert code == 0, err
    os.remove(d / "m.json.csv")
    assert snapshot(d) == before


def test_compare_outputs_must_differ(work, capsys):
    d, log = work
    code, err = cli(capsys, "compare", log, "--amount", "amount", "--calibration-end",
                    "1997-06-30", "--observation-end", "1998-06-30", "--out", d / "x.csv",
                    "--predictions", d / "x.csv")
    assert code == 2 and "different files" in err
    assert not (d / "x.csv").exists()


def test_a_failed_fit_keeps_the_previous_outputs(work, capsys, monkeypatch):
    d, log = work
    model, summary, scores = d / "m.json", d / "s.parquet", d / "c.parquet"
    args = ["fit", log, "--amount", "amount", "--out", model, "--summary-out", summary,
            "--scores-out", scores, "--quiet"]
    assert cli(capsys, *args)[0] == 0
    before = snapshot(d)
    code, err = cli(capsys, *args, "--discount-rate", "nan")
    assert code == 2 and "--discount-rate" in err
    assert snapshot(d) == before

    import clvmodels.bundle

    def broken(*a, **k):
        raise RuntimeError("scoring broke after the model was written")

    monkeypatch.setattr(clvmodels.bundle, "score_frame", broken)
    code, err = cli(capsys, *args)
    assert code == 1 and "scoring broke" in err
    assert snapshot(d) == before and no_temporaries(d)


def test_sigterm_during_a_run_leaves_the_old_set(work, capsys, monkeypatch):
    """The real handler: SIGTERM arrives while the scores are written (the model and summary
    are already written aside); the three old files stay and no temporary file is left."""
    d, log = work
    model, summary, scores = d / "m.json", d / "s.parquet", d / "c.parquet"
    args = ["fit", log, "--amount", "amount", "--out", model, "--summary-out", summary,
            "--scores-out", scores, "--quiet"]
    assert cli(capsys, *args)[0] == 0
    before = snapshot(d)
    import clvmodels.data.tables as tables

    real = tables.write_table_file

    def interrupted(df, target, fmt, **kwargs):
        real(df, target, fmt, **kwargs)
        if "expected_purchases" in df.columns:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this returns

    monkeypatch.setattr(tables, "write_table_file", interrupted)
    code, err = cli(capsys, *args)
    assert code == EXIT_SIGTERM and "terminated" in err
    assert snapshot(d) == before and no_temporaries(d)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handler restored


def test_sigterm_to_a_running_process(tmp_path):
    d = tmp_path
    log = d / "log.csv"
    load_cdnow_transactions().to_csv(log, index=False)
    out = d / "board.csv"
    out.write_text("old leaderboard\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "clvmodels.cli", "compare", str(log), "--amount", "amount",
         "--calibration-end", "1997-09-30", "--observation-end", "1998-06-30",
         "--n-splits", "3", "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(6.0)  # imports done, the comparison running (it takes about a minute)
    assert proc.poll() is None, "compare finished before the signal; make the job longer"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_SIGTERM, err
    assert err.strip().splitlines() == ["clvmodels: terminated (SIGTERM); no output was changed"]
    assert out.read_text() == "old leaderboard\n" and no_temporaries(d)


def test_output_set_commits_all_or_none(tmp_path, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    b.write_text("old b")
    real = os.replace
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    with OutputSet() as out:
        for path in (a, b):
            out.add("--out", path)
            out.write(path, lambda tmp, path=path: open(tmp, "w").write(f"new {path.name}"))
        monkeypatch.setattr(os, "replace", second_fails)
        with pytest.raises(OSError, match="No space"):
            out.commit()
    monkeypatch.setattr(os, "replace", real)
    assert a.read_text() == "old a" and b.read_text() == "old b"
    assert no_temporaries(tmp_path)


def test_leftovers_of_killed_runs_are_cleared(tmp_path):
    target = tmp_path / "s.csv"
    dead = tmp_path / ".s.csv.4194399.abcd.tmp.csv"  # above Linux's largest pid
    dead.write_text("half")
    alive = tmp_path / f".s.csv.{os.getppid()}.abcd.tmp.csv"  # a running process's
    alive.write_text("in progress")
    from clvmodels.data.tables import write_table

    write_table(pd.DataFrame({"x": [1]}), target)
    assert not dead.exists() and alive.exists()
    assert pd.read_csv(target, index_col=0)["x"].tolist() == [1]


def test_output_set_refuses_before_any_work(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("x")
    out = OutputSet(inputs=[("the log", log)])
    with pytest.raises(OutputFileError, match="destroy the input"):
        out.add("--out", tmp_path / "." / "log.csv")
    with pytest.raises(OutputFileError, match="does not exist"):
        out.add("--out", tmp_path / "nodir" / "x.csv")
