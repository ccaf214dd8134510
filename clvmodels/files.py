"""Files in and out, in one place: what kind a table file is, reading it whole or in chunks, and
writing output atomically.

Reading: a path must name a readable regular file of a known kind (``.csv``, ``.csv.gz``,
``.tsv``, ``.txt``, ``.parquet``); anything else, a corrupt file included, is a
:class:`~clvmodels.DataError` that names the file. CSV text is read as text where types matter:
the customer-id column is never converted to numbers by the reader (``007`` stays ``007``; see
:func:`clvmodels.data.normalize_ids` for when ids become integers), and only an empty field is
missing (``NA`` and ``null`` are values, so an id ``NA`` is kept and an amount ``NA`` is refused).

Writing: output goes to a temporary file in the target folder, named with the writing process's
id, that is renamed over the target when complete, so a job killed at any moment leaves either
no output or a complete one. Temporary files and spill folders of earlier runs that were killed
(their process no longer exists) are removed when the next run writes to the same folder. The
file gets the permissions a new file gets under the user's umask (or keeps those of the file it
replaces). The target must be a regular file: a FIFO, a device or a folder is refused rather
than replaced. In CSV output, text cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are prefixed with ``'``; Parquet output
is never altered.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pandas as pd

from .exceptions import DataError
from .interface import arg

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")
TEMP_PREFIX = ".tmp-clvmodels-"
SPILL_PREFIX = "clvmodels-spill-"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------------------------
# reading


def table_kind(path) -> str:
    """``"parquet"`` or ``"csv"`` from the file name; a DataError for any other name."""
    lower = os.fspath(path).lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    raise DataError(f"unknown file type for {os.fspath(path)!r}: use .csv, .csv.gz, .tsv or "
                    ".parquet")


def check_input_file(path, what: str = "file") -> str:
    """The path as a string if it names a readable regular file; a DataError saying what is
    wrong otherwise (missing, a folder, a FIFO or device, unreadable)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{what} not found: {path!r}")
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise DataError(f"{what} {path!r} is a folder, not a file: give the path of one file")
    if not stat.S_ISREG(mode):
        raise DataError(f"{what} {path!r} is not a regular file (a FIFO or a device): give the "
                        "path of a file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{what} {path!r} cannot be read: check its permissions")
    return path


def csv_separator(path: str, sep: str | None) -> str:
    """The field separator: ``sep`` if given, a tab for ``.tsv``, else a comma."""
    if sep is not None:
        if not isinstance(sep, str) or len(sep) != 1 or sep in "\"\r\n":
            raise DataError(f"{arg('sep')} must be one character such as ',' ';' or a tab, "
                            f"not {sep!r}")
        return sep
    return "\t" if ".tsv" in path.lower() else ","


def _csv_options(path: str, columns: list[str], sep: str | None, text_columns) -> dict:
    return dict(sep=csv_separator(path, sep), usecols=columns,
                dtype={c: str for c in text_columns}, keep_default_na=False,
                na_values={c: [""] for c in columns})


def _header(path: str, sep: str | None) -> list[str]:
    return list(pd.read_csv(path, sep=csv_separator(path, sep), nrows=0).columns)


def _unreadable(path: str, err: Exception) -> DataError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, UnicodeDecodeError):
        return DataError(f"could not read {path!r}: it is not UTF-8 text ({reason}); save it "
                         "as UTF-8 (e.g. from a spreadsheet: CSV UTF-8)")
    return DataError(f"could not read {path!r} ({reason}): is it a complete, uncorrupted "
                     f"{table_kind(path).upper()} file?")


def require_columns(present, needed, where: str, names: dict | None = None) -> None:
    """A DataError naming the missing columns, those present, and how to name them.

    ``names`` maps each needed column to the argument that names it (e.g. ``{"day":
    "date"}``), so the message says how to point at another column."""
    present = list(present)
    missing = [c for c in needed if c not in present]
    if missing:
        how = ""
        if names:
            settable = [arg(names[c]) for c in missing if c in names]
            if settable:
                how = " Name your columns with " + ", ".join(settable) + "."
        if len(present) == 1 and any(s in str(present[0]) for s in ";\t|"):
            how += (f" Its one column {present[0]!r} looks like several separated by another "
                    f"character: give {arg('sep')}.")
        raise DataError(f"missing column(s) {missing} in {where}; columns present: {present}.{how}")


def table_columns(path: str, sep: str | None = None) -> list[str]:
    """The column names of a CSV or Parquet file."""
    try:
        if table_kind(path) == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return _header(path, sep)
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(path, err) from err


def _restore_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A frame saved with a named index (``rfm.to_parquet()``) brings it back as the index."""
    if any(name in columns for name in frame.index.names if name is not None):
        frame = frame.reset_index()
    return frame[columns]


def read_table(path, columns: list[str], *, sep: str | None = None, text_columns=(),
               names: dict | None = None, what: str = "transactions file") -> pd.DataFrame:
    """The named ``columns`` of a CSV or Parquet file, read whole.

    ``text_columns`` are read from CSV as text, unconverted; ``names`` maps columns to the
    arguments that name them, for the missing-column message; ``what`` names the file."""
    path = check_input_file(path, what)
    kind = table_kind(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            require_columns(pq.read_schema(path).names, columns, repr(path), names)
            return _restore_columns(pd.read_parquet(path, columns=columns), columns)
        require_columns(_header(path, sep), columns, repr(path), names)
        return pd.read_csv(path, **_csv_options(path, columns, sep, text_columns))
    except DataError:
        raise
    except Exception as err:  # a corrupt or unreadable file: say which
        raise _unreadable(path, err) from err


def read_chunks(path, columns: list[str], chunk_rows: int, *, sep: str | None = None,
                text_columns=(), names: dict | None = None) -> Iterator[pd.DataFrame]:
    """The named columns of a CSV or Parquet file, ``chunk_rows`` rows at a time (the same
    rules as :func:`read_table`)."""
    path = check_input_file(path, "file")
    kind = table_kind(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            source = pq.ParquetFile(path)
            require_columns(source.schema_arrow.names, columns, repr(path), names)
            for batch in source.iter_batches(batch_size=chunk_rows, columns=columns):
                yield _restore_columns(batch.to_pandas(), columns)
        else:
            require_columns(_header(path, sep), columns, repr(path), names)
            yield from pd.read_csv(path, chunksize=chunk_rows,
                                   **_csv_options(path, columns, sep, text_columns))
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(path, err) from err


def count_rows(path) -> int:
    """Rows of a Parquet file (from its metadata) or data lines of a CSV file."""
    path = check_input_file(path, "file")
    try:
        if table_kind(path) == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if path.lower().endswith(".gz"):
            import gzip

            opener = gzip.open
        else:
            opener = open
        lines, last = 0, b"\n"
        with opener(path, "rb") as f:
            while block := f.read(1 << 24):
                lines += block.count(b"\n")
                last = block[-1:]
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(path, err) from err
    return max(lines - 1 + (last != b"\n"), 0)  # the header; a last line without a newline


# ---------------------------------------------------------------------------------------------
# writing


def _umask() -> int:
    with suppress(OSError):  # Linux says it; elsewhere it is read by setting it
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _stale(name: str, prefix: str) -> bool:
    """Whether ``name`` is a temporary of a clvmodels process that no longer runs."""
    match = re.match(re.escape(prefix) + r"(\d+)-", name)
    return bool(match) and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1)))


def remove_stale(folder: str, prefix: str = TEMP_PREFIX) -> None:
    """Delete the temporary files (or spill folders) in ``folder`` left by killed runs."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and _stale(name, prefix):
            path = os.path.join(folder, name)
            with suppress(OSError):  # gone already, or not ours to remove: leave it
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)


def check_output_path(path, setting: str = "out") -> str:
    """The target as a string if it can be written atomically: its folder exists and is
    writable, and it is absent or a regular file (``setting`` names the argument)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"the output folder {folder!r} does not exist: create it first "
                        f"({arg(setting)} {path!r})")
    if os.path.lexists(path):
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(f"the output {path!r} is a folder: give a file name "
                            f"({arg(setting)})")
        if not stat.S_ISREG(mode):
            raise DataError(f"the output {path!r} is not a regular file (a FIFO or a device), "
                            "and clvmodels writes only whole files atomically: give the path of "
                            f"a file ({arg(setting)}) and read it from there")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"the output folder {folder!r} is not writable ({arg(setting)})")
    return path


@contextmanager
def atomic_path(path, setting: str = "out") -> Iterator[str]:
    """Yield a temporary path in the target's folder; rename it to ``path`` if the block ends
    without error, delete it otherwise (also on KeyboardInterrupt and SIGTERM); ``setting``
    names the argument in messages."""
    path = check_output_path(path, setting)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale(folder)
    mode = (stat.S_IMODE(os.stat(path).st_mode) if os.path.isfile(path)
            else 0o666 & ~_umask())
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-",
                               suffix="-" + os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path, write, setting: str = "out") -> None:
    """Call ``write(tmp_path)`` on a temporary file, then rename it to ``path``."""
    with atomic_path(path, setting) as tmp:
        write(tmp)


def write_json_atomic(data: dict, path, setting: str = "out") -> None:
    """``data`` as JSON (no NaN or infinity), atomically."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, allow_nan=False)

    write_atomic(path, write, setting)


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (columns and index) that start like a spreadsheet
    formula are prefixed with ``'``; the frame itself when there are none."""
    def escape(values: pd.Series) -> pd.Series | None:
        if values.dtype.kind not in "OSU" and not isinstance(values.dtype, pd.StringDtype):
            return None
        text = values.astype(object)
        risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START))
        if not risky.any():
            return None
        return text.where(~risky, "'" + text.astype(str))

    out = frame
    for column in frame.columns:
        escaped = escape(frame[column])
        if escaped is not None:
            out = out.copy() if out is frame else out
            out[column] = escaped
    if frame.index.nlevels == 1:
        escaped = escape(frame.index.to_series())
        if escaped is not None:
            out = out.copy() if out is frame else out
            out.index = pd.Index(escaped.to_numpy(), name=frame.index.name)
    return out


def is_parquet_path(path) -> bool:
    return os.fspath(path).lower().endswith(PARQUET_SUFFIXES)


def write_table_atomic(frame: pd.DataFrame, path, index: bool = True) -> None:
    """Write a table as Parquet (``.parquet``) or CSV (anything else), atomically."""
    if is_parquet_path(path):
        write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=index))
    else:
        write_atomic(path, lambda tmp: escape_formulas(frame).to_csv(tmp, index=index))


@contextmanager
def atomic_table_writer(path, attrs: dict | None = None):
    """``write(frame)`` appends rows to a Parquet (``.parquet``) or CSV file that appears at
    ``path`` only when the block ends without error; no output at all otherwise. ``attrs``
    (plain data, such as the time unit of recency and T) go into a Parquet file's metadata,
    where pandas reads them back as ``DataFrame.attrs``."""
    parquet = is_parquet_path(path)
    state = {"writer": None, "rows": 0}
    with atomic_path(path) as tmp:
        def write(frame: pd.DataFrame) -> None:
            if parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                if attrs:
                    table = table.replace_schema_metadata({
                        **(table.schema.metadata or {}),
                        b"PANDAS_ATTRS": json.dumps(attrs).encode()})
                if state["writer"] is None:
                    state["writer"] = pq.ParquetWriter(tmp, table.schema)
                state["writer"].write_table(table)
            else:
                escape_formulas(frame).to_csv(tmp, mode="a", header=state["rows"] == 0,
                                              index=False)
            state["rows"] += len(frame)

        try:
            yield write
        finally:
            if state["writer"] is not None:
                state["writer"].close()


@contextmanager
def spill_folder(parent=None) -> Iterator[str]:
    """A temporary folder for spill files in ``parent`` (default: the system's temporary
    folder), removed at the end; spill folders of killed runs there are removed first."""
    parent = parent or tempfile.gettempdir()
    remove_stale(os.fspath(parent), SPILL_PREFIX)
    with tempfile.TemporaryDirectory(prefix=f"{SPILL_PREFIX}{os.getpid()}-", dir=parent) as d:
        yield d


