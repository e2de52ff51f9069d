"""Hostile inputs for the fuzz corpus, and the one check of the README's promises.

A case is a command line (or an API call) run against files in a fresh directory that
also holds an *old* output. Whatever the input, the run must keep the promises:

* exit 0, or exit 2 with exactly one ``clvmodels: error:`` message (never 1, a bug, and
  never a traceback);
* on exit 2 (or a signal) every output is byte-for-byte the old one and no temporary
  file is left; on exit 0 every output is complete and readable, its numbers finite;
* the inputs are unchanged;
* on exit 0 the row counts reconcile: every data row of the input is counted in the
  summary (``n_rows``), and every customer is in it or counted as excluded.

Outcomes are tallied in :data:`OUTCOMES` (printed at the end of the session by
``conftest.py``) so the closing note can say what the corpus tried.
"""

from __future__ import annotations

import codecs
import collections
import csv
import gzip
import io
import json
import os
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck

from clvmodels.cli import main

OUTCOMES: collections.Counter = collections.Counter()
#: hypothesis settings of every property of the corpus: reproducible (derandomized, no
#: example database), no deadline (the machine is shared), fixtures reused across examples
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
OLD = b"old output: must survive any failed run\n"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def temporaries(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


def run_cli(capsys, args) -> tuple[int, str]:
    """The command line in-process: (exit status, stderr). argparse's own refusals exit
    through SystemExit, as the installed command does."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.err


def check_promises(family: str, code: int, err: str, directory: Path, before: dict,
                   inputs: list[Path], outputs: list[Path]) -> str:
    """Assert the promises of one run; returns and tallies its outcome."""
    assert code in (0, 2), f"exit {code} (1 = a bug):\n{err}"
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("clvmodels: error:")]
    after = snapshot(directory)
    for path in inputs:
        assert after.get(path.name) == before.get(path.name), f"input {path.name} changed"
    assert temporaries(directory) == [], f"temporary files left: {temporaries(directory)}"
    if code == 2:
        assert len(errors) == 1, f"expected one error message, got:\n{err}"
        assert len(errors[0]) > len("clvmodels: error: ") + 10, err
        for path in outputs:
            assert after.get(path.name) == before.get(path.name), f"{path.name} was touched"
        outcome = "refused (exit 2, one message, old output intact)"
    else:
        assert errors == [], err
        for path in outputs:
            assert path.exists() and path.read_bytes() != OLD, f"{path.name} not written"
        outcome = "accepted (exit 0, outputs complete)"
    OUTCOMES[f"{family}: {outcome}"] += 1
    return outcome


def read_output(path: Path):
    """A written table and its recorded metadata (Parquet) or {} (CSV)."""
    import pandas as pd
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        meta = pq.read_schema(path).metadata or {}
        attrs = json.loads(meta.get(b"clvmodels", b"{}"))
        return pd.read_parquet(path), attrs
    return pd.read_csv(path), {}


def assert_finite(frame) -> None:
    numbers = frame.select_dtypes("number").to_numpy(dtype=float)
    assert np.isfinite(numbers).all(), "non-finite numbers in an output"


# --- hostile transaction logs --------------------------------------------------------------

HEADER = ["customer_id", "date", "amount"]


def render_csv(rows: list[list[str]], header=HEADER, delimiter=",") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def independent_counts(text: str, delimiter=","):
    """Data rows and distinct ids of a well-formed delimited text, by Python's csv module
    (not the package's reader): the truth the summary's counts must reconcile with."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    next(reader)
    rows = [r for r in reader if r]
    return len(rows), len({r[0] for r in rows})


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(encoding)


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def fresh_dir(base: Path, name: str) -> Path:
    d = base / name
    d.mkdir()
    return d


def env_case_count(default: int) -> int:
    """Examples per property: CLVMODELS_FUZZ_SCALE scales the corpus (CI uses the default)."""
    scale = float(os.environ.get("CLVMODELS_FUZZ_SCALE", "1"))
    return max(1, int(default * scale))
