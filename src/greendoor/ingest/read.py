"""Reading import files as text, keeping each row's line number in its file."""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

SUFFIXES = (".csv", ".parquet", ".pq")
#: Field separators recognised in a CSV header, most common first.
DELIMITERS = (",", ";", "\t", "|")
#: Environment variables bounding what an import reads (bytes of one file, rows of one
#: file), checked before a file is decompressed or parsed.
MAX_FILE_BYTES_ENV = "GREENDOOR_IMPORT_MAX_FILE_BYTES"
MAX_ROWS_ENV = "GREENDOOR_IMPORT_MAX_ROWS"
DEFAULT_MAX_FILE_BYTES = 64 * 2**30
DEFAULT_MAX_ROWS = 500_000_000
#: A file read whole (every table but a large usage file) may hold at most this much
#: data once decompressed; beyond it a Parquet file is refused before it is read.
MAX_WHOLE_FILE_BYTES = 2 * 2**30


class ReadError(ValueError):
    """A file cannot be read at all (not CSV/Parquet, bad encoding, no header, too big).
    The message does not repeat the file name; ``line`` and ``column`` are set where
    known."""

    def __init__(self, message: str, line: int | None = None, column: str | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclasses.dataclass
class RawTable:
    """A file's rows as text. ``lines[i]`` is the line (CSV, 1-based, header = 1) or
    row number (Parquet, 1-based) of ``frame.iloc[i]``. Empty cells are ``""``."""

    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    delimiter: str = ","

    @property
    def name(self) -> str:
        """The file's name, for messages."""
        return self.path.name

    def where(self, position: int) -> str:
        """``"file, line N"`` (CSV) or ``"file, row N"`` (Parquet) of the record at ``position``."""
        unit = "line" if self.path.suffix.lower() == ".csv" else "row"
        return f"{self.name}, {unit} {int(self.lines[position])}"


def table_stem(path: Path) -> str:
    """File name without its suffix: ``accounts.csv`` -> ``accounts``."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def limits() -> tuple[int, int]:
    """(largest file in bytes, most rows in a file) an import accepts: the environment's
    :data:`MAX_FILE_BYTES_ENV` and :data:`MAX_ROWS_ENV`, else the defaults."""
    def env(name: str, default: int) -> int:
        raw = os.environ.get(name)
        try:
            return int(float(raw)) if raw else default
        except ValueError:
            raise ReadError(f"{name}={raw!r} is not a number") from None
    return env(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES), env(MAX_ROWS_ENV, DEFAULT_MAX_ROWS)


def check_size(path: Path) -> None:
    """Refuse a file larger than the import's byte limit, before reading it."""
    max_bytes, _ = limits()
    size = path.stat().st_size
    if size > max_bytes:
        raise ReadError(f"{size / 2**30:,.1f} GiB is more than the import's limit "
                        f"of {max_bytes / 2**30:,.1f} GiB ({MAX_FILE_BYTES_ENV})")


def parquet_rows(path: Path, whole: bool) -> int:
    """Rows of a Parquet file from its footer, refusing (before anything is decompressed)
    more rows than the limit, or, for a file read whole, more than
    :data:`MAX_WHOLE_FILE_BYTES` of decompressed data."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # not a Parquet file, or a damaged footer
        raise ReadError(f"not a readable Parquet file ({exc})") from exc
    _, max_rows = limits()
    if meta.num_rows > max_rows:
        raise ReadError(f"{meta.num_rows:,} rows is more than the import's limit "
                        f"of {max_rows:,} rows ({MAX_ROWS_ENV})")
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if whole and size > MAX_WHOLE_FILE_BYTES:
        raise ReadError(f"{size / 2**30:,.1f} GiB once decompressed is more than "
                        f"{MAX_WHOLE_FILE_BYTES / 2**30:,.0f} GiB for one table read whole")
    return meta.num_rows


def first_bad_utf8(path: Path) -> tuple[int, int, int] | None:
    """(line, byte position in the line, byte) of the first byte that is not UTF-8, or
    ``None`` when the whole file is UTF-8."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, exc.start + 1, line[exc.start]
    return None


def refuse_nul(path: Path, delimiter: str) -> None:
    """Raise :class:`ReadError` at the first NUL byte of a CSV, naming its line and
    column: no real value holds one, PostgreSQL cannot store one, and some CSV readers
    silently cut the cell at it."""
    offset, block_start = -1, 0
    with open(path, "rb") as fh:
        while block := fh.read(64 * 2**20):
            i = block.find(b"\x00")
            if i >= 0:
                offset = block_start + i
                break
            block_start += len(block)
    if offset < 0:
        return
    with open(path, "rb") as fh:
        head = fh.read(offset)
        rest = fh.readline()
    line = head.count(b"\n") + 1
    text = (head[head.rfind(b"\n") + 1:] + rest).decode("utf-8", errors="replace")
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), [])
    cells = next(csv.reader([text.replace("\x00", "\ufffd")], delimiter=delimiter), [])
    at = next((i for i, c in enumerate(cells) if "\ufffd" in c), None)
    column = header[at] if at is not None and at < len(header) else None
    raise ReadError("contains a NUL byte", line=line, column=column)


def sniff_delimiter(path: Path) -> str:
    """The field separator of a CSV, from its header line: the one of
    :data:`DELIMITERS` it holds most of (a comma when it holds none)."""
    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8", errors="replace")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def delimiter_name(delimiter: str) -> str:
    """A delimiter in words for messages: tab, comma, semicolon or pipe."""
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[delimiter]


def read_file(path: Path) -> RawTable:
    """Read a CSV (UTF-8 with or without a byte-order mark, a header row, separated by
    commas, semicolons, tabs or pipes: see :func:`sniff_delimiter`) or Parquet file as
    text.

    Raises :class:`ReadError` naming the file (and, for bad encoding, the line and
    byte) when it cannot be read, is empty, or is beyond the import's limits.
    """
    suffix = path.suffix.lower()
    delimiter = ","
    try:
        check_size(path)
        if suffix == ".csv":
            delimiter = sniff_delimiter(path)
            refuse_nul(path, delimiter)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                                skipinitialspace=False, encoding="utf-8-sig", sep=delimiter)
            lines = _csv_lines(path, len(frame), delimiter)
        elif suffix in (".parquet", ".pq"):
            parquet_rows(path, whole=True)
            frame = pd.read_parquet(path)
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
            lines = np.arange(1, len(frame) + 1)
        else:
            raise ReadError(f"not a CSV or Parquet file ({', '.join(SUFFIXES)})")
    except ReadError:
        raise
    except UnicodeDecodeError as exc:
        raise encoding_error(path) from exc
    except pd.errors.EmptyDataError as exc:
        raise ReadError("the file is empty; expected a header line with the "
                        "column names, then one line per row") from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise ReadError(f"cannot be read: {exc}") from exc
    return RawTable(path=path, frame=stripped(frame), lines=lines, delimiter=delimiter)


def encoding_error(path: Path) -> ReadError:
    """The error for a file that is not UTF-8: the line and byte of the first bad byte."""
    bad = first_bad_utf8(path)
    where = f"byte 0x{bad[2]:02X} at position {bad[1]} " if bad else ""
    return ReadError(f"{where}is not UTF-8 text; save the file as UTF-8 (in Excel: "
                     "\"CSV UTF-8\"), or convert it, e.g. iconv -f latin1 -t utf-8",
                     line=bad[0] if bad else None)


def stripped(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names and cells without surrounding spaces, on a 0-based index."""
    frame.columns = [str(c).strip() for c in frame.columns]
    for c in frame.columns:
        frame[c] = frame[c].str.strip()
    return frame.reset_index(drop=True)


def _csv_lines(path: Path, n_rows: int, delimiter: str = ",") -> np.ndarray:
    """Line number of each record. Fast path when no field spans lines; otherwise
    the csv module's own line count (exact with quoted newlines)."""
    with open(path, "rb") as fh:
        data = fh.read()
    newlines = data.count(b"\n")
    trailing = data.endswith(b"\n")
    physical = newlines + (0 if trailing else 1)
    blank_tail = 0
    for line in reversed(data.split(b"\n")[:-1] if trailing else data.split(b"\n")):
        if line.strip():
            break
        blank_tail += 1
    if physical - blank_tail == n_rows + 1:
        return np.arange(2, n_rows + 2)
    starts = csv_record_lines(path, delimiter)
    if len(starts) != n_rows:  # unusual dialect: fall back to row positions
        return np.arange(2, n_rows + 2)
    return starts


def csv_record_lines(path: Path, delimiter: str = ",") -> np.ndarray:
    """The line on which each non-blank record of a CSV starts (header = line 1), by
    the csv module's own line count: exact with quoted newlines."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        starts = []
        prev_end = reader.line_num
        for record in reader:
            if any(cell.strip() for cell in record):
                starts.append(prev_end + 1)
            prev_end = reader.line_num
    return np.asarray(starts, dtype="int64")
