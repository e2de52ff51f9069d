"""The one reading layer: files (CSV, TSV, Parquet) and date columns, with what was done said.

Every file clvmodels reads as a table (a transaction log, a customer summary)
comes through :func:`read_table`, and every date column through
:func:`parse_dates`. The policies, which the README's promises section repeats:

* **Format by content, then by name.** A file starting with Parquet's magic
  bytes is read as Parquet whatever its name; otherwise ``.parquet``/``.pq``
  names must be Parquet, and anything else is delimited text (tab-separated
  for ``.tsv``/``.tab`` names, comma-separated otherwise). Compression (gzip,
  bz2, xz, zstd) is found from the first bytes, not the name; a zip archive is
  refused (unzip it first). A mismatch between name and content is reported
  with an :class:`~clvmodels.errors.InputConversionWarning`.
* **Text is UTF-8.** A byte-order mark is honoured (UTF-8, UTF-16 and UTF-32,
  the last two decoded with a warning); any other byte sequence that is not
  UTF-8 is refused with its line and byte offset: re-encode the file (e.g.
  ``iconv -f latin1 -t utf-8``).
* **Every row has the header's number of fields.** A row with more or fewer
  (an unquoted thousands separator, ``1,029.73``) is refused with its line
  number and text; nothing is truncated or padded. Header names must be
  unique (CSV and Parquet alike).
* **An empty file, a directory, a file that is not the format it claims or is
  truncated** is an :class:`~clvmodels.errors.InputFileError`.
* **Dates are full calendar dates.** ISO ``YYYY-MM-DD`` (with an optional
  time) or ``YYYYMMDD``; a partial date such as ``1997-01`` is refused (it is
  not a day). A purchase is dated by its **local calendar date as recorded**:
  a UTC offset in the text (``1997-01-01T23:30-05:00``) is dropped, not
  converted (the customer bought on 1 January where they were), so mixed
  offsets in one column are fine; a time-zone-aware timestamp column (Parquet,
  or a DataFrame) is taken at its wall-clock date in its own zone. The same
  purchases therefore summarise identically from CSV text and from Parquet.
  When offsets or zones were dropped, an ``InputConversionWarning`` says so.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.errors import InputConversionWarning, InputFileError

__all__ = ["read_table", "parse_dates", "file_columns", "sniff"]

_PARQUET_MAGIC = b"PAR1"
_COMPRESSION_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_MAX_SHOWN = 5
_BATCH_ROWS = 1 << 22


def _fail(path, what: str):
    raise InputFileError(f"cannot read {str(path)!r}: {what}")


def sniff(path) -> dict:
    """What a file is, from its first bytes and its name.

    Returns a dict with ``format`` ("parquet" or "text"), ``compression`` (None or
    a codec name), ``delimiter`` and ``notes`` (what differs from what the name says).
    Raises :class:`~clvmodels.errors.InputFileError` for a missing path, a
    directory, an empty file or a zip archive.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise InputFileError(f"input file {str(path)!r} does not exist; check the path.")
    if path.is_dir():
        _fail(path, "it is a directory, not a file; give the path of a .csv or .parquet file.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        _fail(path, f"{exc.strerror or exc}.")
    if not head:
        _fail(path, "the file is empty (0 bytes); there is no header and no row.")
    suffixes = [s.lower() for s in path.suffixes]
    named_parquet = bool(suffixes) and suffixes[-1] in (".parquet", ".pq")
    notes: list[str] = []
    if head.startswith(b"PK\x03\x04"):
        _fail(path, "it is a zip archive; unzip it and give the .csv or .parquet inside.")
    if head.startswith(_PARQUET_MAGIC):
        if not named_parquet:
            notes.append(f"{path.name} is a Parquet file (by its content); read as Parquet.")
        return {"format": "parquet", "compression": None, "delimiter": None, "notes": notes}
    if named_parquet:
        _fail(path, "it is named .parquet but is not a Parquet file (it lacks the PAR1 "
                    "magic bytes); give the right file, or rename a CSV to .csv.")
    compression = next((name for magic, name in _COMPRESSION_MAGIC if head.startswith(magic)),
                       None)
    named = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
    name_says = named.get(suffixes[-1]) if suffixes else None
    if compression != name_says:
        if compression is None:
            _fail(path, f"it is named {suffixes[-1]} but is not {name_says}-compressed; "
                        "give the compressed file, or rename it.")
        notes.append(f"{path.name} is {compression}-compressed (by its content); "
                     "decompressed while reading.")
    delimiter = "\t" if (".tsv" in suffixes or ".tab" in suffixes) else ","
    return {"format": "text", "compression": compression, "delimiter": delimiter,
            "notes": notes}


def _warn_notes(notes):
    for note in notes:
        warnings.warn(note, InputConversionWarning, stacklevel=4)


def file_columns(path) -> list[str]:
    """The column names of a table file (header or schema), read without reading the rows."""
    info = sniff(path)
    if info["format"] == "parquet":
        return list(_parquet_schema(path).names)
    data, _ = _text_source(path, info)
    return _csv_header(path, data, info)


def read_table(path, columns=None, *, text_columns="all") -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into a DataFrame under the module's policies.

    Parameters
    ----------
    path : str or path-like
    columns : list of str, optional
        Only these columns are read; a missing one raises
        :class:`~clvmodels.errors.InputFileError` listing the file's columns.
    text_columns : "all" or list of str
        Columns of a delimited file kept as text (ids keep leading zeros; dates
        and amounts are parsed by the validators, which name bad rows). Other
        columns are typed by the reader.

    Returns
    -------
    DataFrame
        ``attrs["read"]`` records the format, compression, encoding, row count
        and the notes (also issued as :class:`InputConversionWarning`).
    """
    info = sniff(path)
    if info["format"] == "parquet":
        frame = _read_parquet(path, columns)
        encoding = None
    else:
        data, encoding = _text_source(path, info)
        frame = _read_delimited(path, data, info, columns, text_columns)
    _warn_notes(info["notes"])
    frame.attrs["read"] = {"path": os.fspath(path), "format": info["format"],
                           "compression": info["compression"], "encoding": encoding,
                           "n_rows": int(len(frame)), "notes": list(info["notes"])}
    return frame


# --- Parquet -----------------------------------------------------------------------------

def _parquet_schema(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        _fail(path, f"it is not a readable Parquet file ({exc}); it may be truncated or "
                    "corrupt. Write it again.")
    names = list(schema.names)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        _fail(path, f"column name(s) {dup} appear more than once; give each column one "
                    "name, so it is clear which one to read.")
    return schema


def _read_parquet(path, columns) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = _parquet_schema(path).names
    _check_columns(path, columns, names)
    try:
        frame = _read_parquet_in_batches(path, columns)
        if frame is None:
            frame = pq.read_table(path, columns=columns).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        _fail(path, f"its data cannot be read ({exc}); the file may be truncated or "
                    "corrupt. Write it again.")
    return frame


def _plain_numpy_type(arrow_type):
    """The numpy dtype a column of this Arrow type fills without conversion, or None."""
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return np.dtype(arrow_type.to_pandas_dtype())
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is None:
        return np.dtype(f"datetime64[{arrow_type.unit}]")
    return None


def _read_parquet_in_batches(path, columns) -> pd.DataFrame | None:
    """Read plain numeric/timestamp Parquet columns batch by batch into preallocated arrays.

    ``read_table().to_pandas()`` holds the whole Arrow table and the DataFrame at once
    (twice the log in memory: 16 GB at the peak of a 100M-row job); filling numpy arrays
    one record batch at a time holds the log once plus one batch. Returns None (the
    caller then reads the usual way, which reports problems row by row) when a column is
    of another type (text, dictionary, zoned timestamps, decimals) or holds nulls.
    """
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = columns or pf.schema_arrow.names
    types = {c: pf.schema_arrow.field(c).type for c in names}
    dtypes = {c: _plain_numpy_type(t) for c, t in types.items()}
    if any(d is None for d in dtypes.values()):
        return None
    n = pf.metadata.num_rows
    out = {c: np.empty(n, dtype=d) for c, d in dtypes.items()}
    start = 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=names, use_threads=True):
        stop = start + batch.num_rows
        for c in names:
            col = batch.column(c)
            if col.null_count:
                return None
            out[c][start:stop] = col.to_numpy(zero_copy_only=False)
        start = stop
    if start != n:  # pragma: no cover - the file changed under us
        return None
    return pd.DataFrame(out, copy=False)


# --- delimited text ----------------------------------------------------------------------

def _text_source(path, info):
    """A pyarrow input for the file's text, in UTF-8, and the encoding it had."""
    import io

    import pyarrow as pa

    try:
        stream = pa.input_stream(os.fspath(path), compression=info["compression"])
        head = stream.read(4)
        stream.close()
    except (pa.ArrowException, OSError) as exc:
        _fail(path, f"it cannot be decompressed ({exc}); the file may be truncated.")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if encoding == "utf-8-sig":
                return _opener(path, info), "utf-8 (with byte-order mark)"
            try:
                with pa.input_stream(os.fspath(path), compression=info["compression"]) as s:
                    text = s.read().decode(encoding)
            except (UnicodeDecodeError, pa.ArrowException, OSError) as exc:
                _fail(path, f"it starts with a {encoding} byte-order mark but does not decode "
                            f"as {encoding} ({exc}); re-encode it as UTF-8.")
            info["notes"].append(f"{Path(os.fspath(path)).name} is {encoding.upper()} text "
                                 "(by its byte-order mark); decoded while reading.")
            data = text.lstrip("\ufeff").encode("utf-8")
            return (lambda data=data: io.BytesIO(data)), encoding
    opener = _opener(path, info)
    _check_utf8(path, opener)
    return opener, "utf-8"


def _check_utf8(path, opener) -> None:
    """Refuse text that is not UTF-8 before parsing (one streaming pass, C-speed decoding),
    so the parser never meets bytes it cannot decode and the message names the line."""
    import codecs

    import pyarrow as pa

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with opener() as source:
            while True:
                chunk = source.read(1 << 22)
                if not chunk:
                    decoder.decode(b"", final=True)
                    return
                decoder.decode(chunk)
    except UnicodeDecodeError:
        where = _first_invalid_utf8(opener)
        _fail(path, f"it is not UTF-8 text ({where}). Re-encode it as UTF-8, e.g. "
                    "'iconv -f latin1 -t utf-8 FILE > NEW.csv' for a Latin-1 file.")
    except (pa.ArrowException, OSError, EOFError) as exc:
        _fail(path, f"it cannot be decompressed ({exc}); the file may be truncated.")


def _opener(path, info):
    import pyarrow as pa

    def open_stream():
        return pa.input_stream(os.fspath(path), compression=info["compression"])

    return open_stream


def _csv_options(info, **convert):
    import pyarrow.csv as pc

    return (pc.ReadOptions(use_threads=True),
            pc.ParseOptions(delimiter=info["delimiter"]),
            pc.ConvertOptions(**convert))


def _csv_header(path, opener, info) -> list[str]:
    import pyarrow as pa
    import pyarrow.csv as pc

    read, _, convert = _csv_options(info)
    parse = pc.ParseOptions(delimiter=info["delimiter"], invalid_row_handler=lambda row: "skip")
    try:
        with opener() as source:
            reader = pc.open_csv(source, read_options=read, parse_options=parse,
                                 convert_options=convert)
            names = list(reader.schema.names)
    except pa.ArrowInvalid as exc:
        _text_failure(path, opener, exc)
    except (pa.ArrowException, OSError) as exc:
        _fail(path, f"{exc}.")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        _fail(path, f"the header names {dup} more than once; give each column one name, "
                    "so it is clear which one to read.")
    return names


def _read_delimited(path, opener, info, columns, text_columns) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pc

    header = _csv_header(path, opener, info)
    _check_columns(path, columns, header)
    wanted = list(columns) if columns is not None else header
    text = wanted if text_columns == "all" else [c for c in wanted if c in text_columns]
    bad_rows: list[str] = []

    def on_bad_row(row):
        bad_rows.append(row)
        return "skip"

    read, _, convert = _csv_options(info, include_columns=wanted,
                                    column_types={c: pa.string() for c in text},
                                    strings_can_be_null=True)
    parse = pc.ParseOptions(delimiter=info["delimiter"], invalid_row_handler=on_bad_row)
    try:
        with opener() as source:
            table = pc.read_csv(source, read_options=read, parse_options=parse,
                                convert_options=convert)
    except pa.ArrowInvalid as exc:
        _text_failure(path, opener, exc)
    except (pa.ArrowException, OSError) as exc:
        _fail(path, f"{exc}.")
    if bad_rows:
        _bad_rows_failure(path, opener, info, len(header))
    frame = table.to_pandas()
    for c in text:  # pyarrow-backed or object text: plain object strings, as pandas reads
        if c in frame.columns and frame[c].dtype != object:
            frame[c] = frame[c].astype(object)
    return frame


def _bad_rows_failure(path, opener, info, n_fields):
    """Refuse rows whose field count differs from the header's, naming their lines."""
    import pyarrow.csv as pc

    found = []

    def on_bad_row(row):
        found.append(row)
        return "skip"

    # again on one thread, which numbers the lines (the error path only)
    with opener() as source:
        pc.read_csv(source, read_options=pc.ReadOptions(use_threads=False),
                    parse_options=pc.ParseOptions(delimiter=info["delimiter"],
                                                  invalid_row_handler=on_bad_row),
                    convert_options=pc.ConvertOptions(column_types={}))
    shown = "; ".join(f"line {r.number}: {r.actual_columns} fields ({r.text[:60]!r})"
                      for r in found[:_MAX_SHOWN])
    more = f" and {len(found) - _MAX_SHOWN} more" if len(found) > _MAX_SHOWN else ""
    sep = "tab" if info["delimiter"] == "\t" else "comma"
    _fail(path, f"{len(found)} row(s) do not have the header's {n_fields} fields: {shown}{more}. "
                f"A {sep} inside a value (e.g. a thousands separator in 1,029.73) must be "
                "quoted or removed; nothing was read.")


def _text_failure(path, opener, exc):
    message = str(exc)
    if "UTF8" in message or "UTF-8" in message or "utf8" in message.lower():
        where = _first_invalid_utf8(opener)
        _fail(path, f"it is not UTF-8 text ({where}). Re-encode it as UTF-8, e.g. "
                    "'iconv -f latin1 -t utf-8 FILE > NEW.csv' for a Latin-1 file.")
    if "Empty CSV file" in message:
        _fail(path, "the file has no header line (it is empty).")
    _fail(path, f"it is not a readable delimited text file ({message}).")


def _first_invalid_utf8(opener) -> str:
    line, offset, tail = 1, 0, b""
    with opener() as source:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                if tail:
                    return (f"an incomplete character at the end of the file, byte offset "
                            f"{offset}, line {line}: the file may be truncated")
                return "an invalid byte sequence"
            data = tail + chunk
            try:
                data.decode("utf-8")
                line += data.count(b"\n")
                offset += len(data)
                tail = b""
            except UnicodeDecodeError as err:
                if err.end == len(data) and err.reason == "unexpected end of data":
                    good = data[:err.start]
                    line += good.count(b"\n")
                    offset += len(good)
                    tail = data[err.start:]
                    continue
                bad = data[err.start:err.start + 1]
                line += data[:err.start].count(b"\n")
                return f"byte 0x{bad.hex()} at byte offset {offset + err.start}, line {line}"


def _check_columns(path, wanted, have):
    if wanted is None:
        return
    missing = [c for c in wanted if c not in have]
    if missing:
        raise InputFileError(
            f"column(s) {missing} not found in {str(path)!r}; it has columns {list(have)}. "
            "Name the right columns with --customer-id / --date / --amount "
            "(or the customer_id=, date=, amount= arguments)."
        )


# --- dates -------------------------------------------------------------------------------

_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?|\d{8}")
_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
                     r"\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$")


def parse_dates(values: pd.Series) -> tuple[pd.Series, list[str], np.ndarray]:
    """Parse a date column under the module's date policy.

    Returns
    -------
    parsed : Series of datetime64 (naive: each purchase's local wall-clock time)
        NaT where the value is missing or not a full date.
    notes : list of str
        What was done that a reader should know (offsets or zones dropped).
    partial : ndarray of bool
        Rows holding a partial date (``1997-01``), which are NaT in ``parsed``.
    """
    n = len(values)
    notes: list[str] = []
    partial = np.zeros(n, dtype=bool)
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        notes.append(f"dates are time-zone aware ({dtype.tz}); each purchase is dated by its "
                     "local calendar date in that zone.")
        return values.dt.tz_localize(None), notes, partial
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return values, notes, partial
    if pd.api.types.is_integer_dtype(dtype):
        # YYYYMMDD integers, as in the CDNOW file.
        return (pd.to_datetime(values.astype("string"), format="%Y%m%d", errors="coerce"),
                notes, partial)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype) \
            or pd.api.types.is_timedelta64_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), notes, partial
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed_u, zoned = _parse_unique_dates(np.asarray(uniques, dtype=object))
    partial_u = np.array([isinstance(u, str) and _is_partial(u) for u in uniques], dtype=bool)
    parsed_u[partial_u] = np.datetime64("NaT")
    missing = codes < 0
    out = parsed_u[np.where(missing, 0, codes)] if len(parsed_u) else \
        np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    out = np.where(missing, np.datetime64("NaT"), out).astype("datetime64[ns]")
    if len(partial_u):
        partial = partial_u[np.where(missing, 0, codes)] & ~missing
    if zoned:
        notes.append(f"{zoned} distinct date value(s) carry a UTC offset or time zone; each "
                     "purchase is dated by its local calendar date as recorded (offsets are "
                     "dropped, not converted).")
    return pd.Series(out, index=values.index), notes, partial


def _is_partial(text: str) -> bool:
    t = text.strip()
    return bool(re.fullmatch(r"\d{4}(-\d{1,2})?|\d{4}-\d{2}-\d{1}|\d{6}|\d{4}/\d{1,2}", t))


def _parse_unique_dates(uniques: np.ndarray) -> tuple[np.ndarray, int]:
    """Parse distinct values; returns datetime64[ns] (NaT for non-dates) and how many had zones."""
    out = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[ns]")
    zoned = 0
    texts, text_pos = [], []
    for i, value in enumerate(uniques):
        if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "isoformat") \
                and not isinstance(value, str):
            try:
                ts = pd.Timestamp(value)
            except (ValueError, TypeError):
                continue
            if ts is pd.NaT:
                continue
            if ts.tzinfo is not None:
                zoned += 1
                ts = ts.tz_localize(None)
            out[i] = ts.to_datetime64()
            continue
        if not isinstance(value, str):
            continue  # a number, a bool, bytes: not a date
        text = value.strip()
        if not _FULL_DATE.fullmatch(text):
            continue
        m = _OFFSET.match(text)
        if m:
            zoned += 1
            text = m.group(1)
        texts.append(text)
        text_pos.append(i)
    if texts:
        arr = pd.Series(texts, dtype=object)
        compact = arr.str.fullmatch(r"\d{8}").to_numpy(dtype=bool)
        parsed = pd.Series(pd.NaT, index=arr.index, dtype="datetime64[ns]")
        if (~compact).any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                iso = pd.to_datetime(arr[~compact], errors="coerce", format="ISO8601")
            if isinstance(iso.dtype, pd.DatetimeTZDtype):  # pragma: no cover - offsets stripped
                iso = iso.dt.tz_localize(None)
            parsed[~compact] = iso.astype("datetime64[ns]")
        if compact.any():
            parsed[compact] = pd.to_datetime(arr[compact], format="%Y%m%d", errors="coerce")
        out[np.asarray(text_pos)] = parsed.to_numpy(dtype="datetime64[ns]")
    return out, zoned
