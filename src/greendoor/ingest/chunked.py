"""Import of a usage file too large to hold in memory, in slices (CSV or Parquet).

A canonical usage CSV at bench tier L has 100 M rows (6 GB of text); read whole, its
text and typed frames need several times that. A usage CSV larger than
:data:`LARGE_FILE_BYTES` is therefore read :data:`CHUNK_ROWS` rows at a time:

1. **Validate each slice** with the same code as a whole file (types, constraints,
   subscriptions, account references). Every issue names the file, the line and the
   column, as for a small file; the line numbers count from the top of the file.
   The valid, typed slices go to Parquet files in a temporary folder. The first
   :data:`MAX_ERRORS` errors are kept; reading then stops, as nothing will be written.
2. **Stage** the slices in a staging table with each row's position in the file,
   committed slice by slice before the import's transaction (DuckDB keeps a
   transaction's own appended rows in memory, about 180 MB per million usage rows;
   committed rows are on disk).
3. **Load** in the import's single transaction (:func:`greendoor.store.usage_keys.load`):
   the engine computes each row's key over the whole file (an identity repeated in
   another slice is counted, as in a whole-file import), then a plain insert when the
   store holds no usage (a first import, or ``replace``), else the same upsert as a
   whole file. A failure rolls everything back; the staging table is dropped either
   way (and a crash's leftover at the next import).

Peak memory is about one slice.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from greendoor.ingest import tables
from greendoor.ingest import validate as V
from greendoor.ingest.adapters import DERIVATIONS, TableMap
from greendoor.ingest.contract import CONTRACT
from greendoor.ingest.read import (
    MAX_ROWS_ENV,
    RawTable,
    csv_record_lines,
    encoding_error,
    limits,
    parquet_rows,
    refuse_nul,
    sniff_delimiter,
    stripped,
)
from greendoor.store import usage_keys

#: CSV usage files above this size are imported in slices.
LARGE_FILE_BYTES = 512 * 2**20
#: Rows per slice.
CHUNK_ROWS = 1_000_000
#: Errors after which reading stops (nothing is written once there is one).
MAX_ERRORS = 100_000


def is_large(path: Path) -> bool:
    """Whether ``path`` is a usage file to import in slices: a CSV over
    :data:`LARGE_FILE_BYTES`, or a Parquet file of more than :data:`CHUNK_ROWS` rows
    (its footer says; a few kilobytes of Parquet can hold millions of rows)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return path.stat().st_size > LARGE_FILE_BYTES
    if suffix in (".parquet", ".pq"):
        return parquet_rows(path, whole=False) > CHUNK_ROWS
    return False


def _slices(path: Path) -> Iterator[tuple[pd.DataFrame, np.ndarray | None]]:
    """The file's rows as text, :data:`CHUNK_ROWS` at a time, with each slice's line
    numbers (``None``: simply counted from the first line)."""
    if path.suffix.lower() != ".csv":
        import pyarrow.parquet as pq

        first = 1
        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
            frame = batch.to_pandas()
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
            yield frame, np.arange(first, first + len(frame))
            first += len(frame)
        return
    delimiter = sniff_delimiter(path)
    refuse_nul(path, delimiter)
    lines = csv_line_numbers(path, delimiter)
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                         encoding="utf-8-sig", chunksize=CHUNK_ROWS, sep=delimiter)
    rows = 0
    for chunk in reader:
        at = (lines[rows:rows + len(chunk)] if lines is not None
              else np.arange(rows + 2, rows + len(chunk) + 2))
        rows += len(chunk)
        yield chunk, at


@dataclasses.dataclass
class SpilledUsage:
    """Validated usage slices on disk, in file order."""

    folder: Path
    parts: list[Path]
    rows: int

    def frames(self) -> Iterator[pd.DataFrame]:
        """The slices in file order."""
        for part in self.parts:
            yield pd.read_parquet(part)

    def cleanup(self) -> None:
        """Remove the spill folder and everything in it (safe to call twice)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def csv_line_numbers(path: Path, delimiter: str = ",") -> np.ndarray | None:
    """Line number of each record of a CSV, or ``None`` when record ``i`` is simply on
    line ``i + 2`` (no quote character and no blank line, so no record spans lines):
    checked by reading the file in 64 MB blocks."""
    simple, last = True, b""
    with open(path, "rb") as fh:
        while block := fh.read(64 * 2**20):
            both = last + block
            if b'"' in block or b"\n\n" in both or b"\n\r\n" in both:
                simple = False
                break
            last = block[-2:]
    return None if simple else csv_record_lines(path, delimiter)


def prepare_usage(path: Path, tmap: TableMap, sub_to_acct: dict, known_accounts: set,
                  date_format: str | None, issues: V.Collector) -> SpilledUsage:
    """Read, map, parse, derive and validate a large usage CSV slice by slice (see the
    module docstring); issues go to ``issues``. Nothing is written to the store."""
    folder = Path(tempfile.mkdtemp(prefix="greendoor-usage-"))
    spec = CONTRACT["usage"]
    parts, rows = [], 0
    fmt = date_format
    _, max_rows = limits()
    try:
        for i, (chunk, at) in enumerate(_slices(path)):
            chunk = stripped(chunk)
            raw = RawTable(path=path, frame=chunk, lines=at)
            if rows + len(chunk) > max_rows:
                issues.note(path.name, f"more than the import's limit of {max_rows:,} rows "
                            f"({MAX_ROWS_ENV}); stopped reading at line {int(at[0]):,}")
                break
            # the file's column notes (missing, ignored) once, from the first slice
            text, cols = tables.text_frame(raw, tmap, issues if i == 0 else V.Collector())
            if fmt is None and "date" in text:
                fmt, _ = V.detect_date_format(text["date"])  # one format for every slice
            df = V.parse_table(raw, text, spec, cols, issues, fmt)
            for name in tmap.derive:
                df = DERIVATIONS[name](df)
            tables.map_usage_accounts(df, sub_to_acct, raw, cols, issues)
            df = tables.check_table("usage", raw, df, cols, known_accounts, issues)
            rows += len(chunk)
            if issues.errors:
                if len(issues.errors) >= MAX_ERRORS:
                    issues.note(path.name, f"stopped reading after {len(issues.errors):,} "
                                f"errors at line {int(at[-1]):,}")
                    break
                continue  # keep validating; nothing will be loaded
            part = folder / f"usage-{i:05d}.parquet"
            df.to_parquet(part, index=False)
            parts.append(part)
    except UnicodeDecodeError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise encoding_error(path) from exc
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return SpilledUsage(folder=folder, parts=parts, rows=rows)


STAGE_PREFIX = "greendoor_stage_usage_"


def stage_usage(engine: Engine, spilled: SpilledUsage) -> sa.Table | None:
    """Append the slices, with their file positions, to a new staging table, committing
    slice by slice (before the import's transaction): DuckDB holds a transaction's own
    appended rows in memory, about 180 MB per million usage rows, while committed rows
    go to disk. The staging table is not part of the store's data; :func:`drop_stages`
    removes it. Returns ``None`` when there are no rows."""
    stage, first = None, 0
    for df in spilled.frames():
        with engine.begin() as conn:
            if stage is None:
                stage = usage_keys.stage_table(f"{STAGE_PREFIX}{uuid.uuid4().hex[:12]}",
                                               temporary=False)
                stage.create(conn)
            first += usage_keys.stage_rows(conn, stage, df, first)
    return stage


def drop_stages(engine: Engine) -> None:
    """Drop every usage staging table (this import's, or one left by a crash)."""
    with engine.begin() as conn:
        for name in sa.inspect(conn).get_table_names():
            if name.startswith(STAGE_PREFIX):
                conn.execute(sa.text(f"DROP TABLE {conn.dialect.identifier_preparer.quote(name)}"))
