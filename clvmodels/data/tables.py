"""Writing tables (CSV, Parquet) atomically, with metadata.

A failed write never leaves a partial or stale file: data go to a temporary
file in the destination directory, which is renamed over the destination only
once complete (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.errors import CLVError

__all__ = ["atomic_path", "check_writable", "write_table", "table_format", "jsonable"]


def table_format(path) -> str:
    """``"csv"`` or ``"parquet"`` from a file name; a clear error otherwise."""
    suffixes = [s.lower() for s in Path(os.fspath(path)).suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".csv" in suffixes:
        return "csv"
    raise CLVError(
        f"cannot tell the output format of {os.fspath(path)!r}: name it .csv or .parquet."
    )


def check_writable(path) -> Path:
    """Raise a :class:`~clvmodels.errors.CLVError` unless ``path`` can be written.

    Call it before long work, so a run fails early rather than after the work.
    """
    path = Path(os.fspath(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CLVError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist.")
    if not os.access(directory, os.W_OK):
        raise CLVError(f"cannot write {str(path)!r}: directory {str(directory)!r} is not writable.")
    if path.is_dir():
        raise CLVError(f"cannot write {str(path)!r}: it is a directory.")
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = check_writable(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file 0600; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def jsonable(value):
    """Turn attrs values (Timestamps, numpy scalars, ...) into JSON-friendly ones."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def write_table(df: pd.DataFrame, path, metadata: dict | None = None, index: bool = True):
    """Write ``df`` to CSV or Parquet (by extension), atomically.

    Parquet files carry ``metadata`` (and ``df.attrs``) as JSON under the
    schema metadata key ``b"clvmodels"``.
    """
    fmt = table_format(path)
    meta = jsonable({**df.attrs, **(metadata or {})})
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=index)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            plain = df.copy()
            plain.attrs = {}
            table = pa.Table.from_pandas(plain, preserve_index=index)
            schema_meta = dict(table.schema.metadata or {})
            schema_meta[b"clvmodels"] = json.dumps(meta).encode()
            pq.write_table(table.replace_schema_metadata(schema_meta), tmp)
