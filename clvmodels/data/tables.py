"""Writing tables (CSV, TSV, Parquet) atomically, with metadata.

A failed write never leaves a partial or stale file: data go to a temporary
file in the destination directory, which is renamed over the destination only
once complete (``os.replace`` is atomic on POSIX and Windows). The machinery
(temporary files, refusing to write over an input, committing several outputs
as a set, signals) is :mod:`clvmodels._output`'s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels._output import atomic_path, check_writable
from clvmodels.errors import OutputFileError

__all__ = ["atomic_path", "check_writable", "write_table", "write_table_file", "table_format",
           "jsonable"]


def table_format(path) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from a file name; a clear error otherwise."""
    suffixes = [s.lower() for s in Path(os.fspath(path)).suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".tsv" in suffixes or ".tab" in suffixes:
        return "tsv"
    if ".csv" in suffixes:
        return "csv"
    raise OutputFileError(
        f"cannot tell the output format of {os.fspath(path)!r}: name it .csv or .parquet "
        "(or .tsv)."
    )


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
    """Write ``df`` to CSV, TSV or Parquet (by extension), atomically.

    Parquet files carry ``metadata`` (and ``df.attrs``) as JSON under the
    schema metadata key ``b"clvmodels"``.
    """
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        write_table_file(df, tmp, fmt, metadata=metadata, index=index)


def write_table_file(df: pd.DataFrame, target, fmt: str, metadata: dict | None = None,
                     index: bool = True) -> None:
    """Write ``df`` to ``target`` as ``fmt`` directly (the caller makes it atomic)."""
    meta = jsonable({**df.attrs, **(metadata or {})})
    if fmt in ("csv", "tsv"):
        df.to_csv(target, index=index, sep="\t" if fmt == "tsv" else ",")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        plain = df.copy()
        plain.attrs = {}
        table = pa.Table.from_pandas(plain, preserve_index=index)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[b"clvmodels"] = json.dumps(meta).encode()
        pq.write_table(table.replace_schema_metadata(schema_meta), target)
