"""Reading import files as text, keeping each row's line number in its file."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

SUFFIXES = (".csv", ".parquet", ".pq")


class ReadError(ValueError):
    """A file cannot be read at all (not CSV/Parquet, bad encoding, no header)."""


@dataclasses.dataclass
class RawTable:
    """A file's rows as text. ``lines[i]`` is the line (CSV, 1-based, header = 1) or
    row number (Parquet, 1-based) of ``frame.iloc[i]``. Empty cells are ``""``."""

    path: Path
    frame: pd.DataFrame
    lines: np.ndarray

    @property
    def name(self) -> str:
        return self.path.name

    def where(self, position: int) -> str:
        unit = "line" if self.path.suffix.lower() == ".csv" else "row"
        return f"{self.name}, {unit} {int(self.lines[position])}"


def table_stem(path: Path) -> str:
    """File name without its suffix: ``accounts.csv`` -> ``accounts``."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def read_file(path: Path) -> RawTable:
    """Read a CSV (UTF-8, comma-separated, header row) or Parquet file as text.

    Raises :class:`ReadError` naming the file when it cannot be parsed.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                                skipinitialspace=False, encoding="utf-8")
            lines = _csv_lines(path, len(frame))
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
            lines = np.arange(1, len(frame) + 1)
        else:
            raise ReadError(f"{path.name}: not a CSV or Parquet file ({', '.join(SUFFIXES)})")
    except ReadError:
        raise
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError,
            ValueError) as exc:
        raise ReadError(f"{path.name}: cannot be read: {exc}") from exc
    return RawTable(path=path, frame=stripped(frame), lines=lines)


def stripped(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names and cells without surrounding spaces, on a 0-based index."""
    frame.columns = [str(c).strip() for c in frame.columns]
    for c in frame.columns:
        frame[c] = frame[c].str.strip()
    return frame.reset_index(drop=True)


def _csv_lines(path: Path, n_rows: int) -> np.ndarray:
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
    starts = csv_record_lines(path)
    if len(starts) != n_rows:  # unusual dialect: fall back to row positions
        return np.arange(2, n_rows + 2)
    return starts


def csv_record_lines(path: Path) -> np.ndarray:
    """The line on which each non-blank record of a CSV starts (header = line 1), by
    the csv module's own line count: exact with quoted newlines."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        starts = []
        prev_end = reader.line_num
        for record in reader:
            if any(cell.strip() for cell in record):
                starts.append(prev_end + 1)
            prev_end = reader.line_num
    return np.asarray(starts, dtype="int64")
