"""Import of a usage file too large to hold in memory, in slices.

A canonical usage CSV at bench tier L has 100 M rows (6 GB of text); read whole, its
text and typed frames need several times that. A usage CSV larger than
:data:`LARGE_FILE_BYTES` is therefore read :data:`CHUNK_ROWS` rows at a time:

1. **Validate each slice** with the same code as a whole file (types, constraints,
   subscriptions, account references). Every issue names the file, the line and the
   column, as for a small file; the line numbers count from the top of the file.
   The valid, typed slices go to Parquet files in a temporary folder. The first
   :data:`MAX_ERRORS` errors are kept; reading then stops, as nothing will be written.
2. **Keys.** A usage row's key counts the earlier rows with the same identity
   (:func:`greendoor.ingest._usage_source_key`), which can lie in another slice.
   Step 1 keeps one 64-bit hash of each row's identity; identities whose hash occurs
   more than once are counted exactly across slices in step 3. Every other row is
   the first of its identity. The keys are the same as a whole-file import's.
3. **Stage** the keyed slices in a staging table, committed slice by slice before the
   import's transaction (DuckDB keeps a transaction's own appended rows in memory,
   about 180 MB per million usage rows; committed rows are on disk).
4. **Load** in the import's single transaction, in one statement: a plain insert from
   the staging table when the store holds no usage (a first import, or ``replace``),
   else the same upsert as a whole file. A failure rolls everything back; the staging
   table is dropped either way (and a crash's leftover at the next import).

Peak memory is about one slice plus 8 bytes per usage row for the hashes.
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
from sqlalchemy.engine import Connection, Engine

from greendoor.ingest import validate as V
from greendoor.ingest.adapters import DERIVATIONS, TableMap
from greendoor.ingest.contract import CONTRACT, TABLES
from greendoor.ingest.read import RawTable, csv_record_lines, stripped
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert, merge_stage

#: CSV usage files above this size are imported in slices.
LARGE_FILE_BYTES = 512 * 2**20
#: Rows per slice.
CHUNK_ROWS = 1_000_000
#: Errors after which reading stops (nothing is written once there is one).
MAX_ERRORS = 100_000
#: Column of a spilled slice holding each row's identity hash.
IDENTITY_HASH = "_identity_hash"


def is_large(path: Path) -> bool:
    """Whether ``path`` is a CSV file to import in slices."""
    return path.suffix.lower() == ".csv" and path.stat().st_size > LARGE_FILE_BYTES


@dataclasses.dataclass
class SpilledUsage:
    """Validated usage slices on disk, and what is needed to key them."""

    folder: Path
    parts: list[Path]
    rows: int
    repeated: np.ndarray  # identity hashes seen more than once (sorted)

    def frames(self) -> Iterator[pd.DataFrame]:
        """The slices in file order, each with its ``source_key``."""
        from greendoor.ingest import _source_key, _usage_identity

        seen: dict[tuple, int] = {}
        for part in self.parts:
            df = pd.read_parquet(part)
            h = df.pop(IDENTITY_HASH).to_numpy()  # hashed once, when validated
            kf = _usage_identity(df)
            occurrence = np.zeros(len(df), dtype="int64")
            maybe = np.flatnonzero(np.isin(h, self.repeated))
            if len(maybe):
                for i, key in zip(maybe, kf.iloc[maybe].itertuples(index=False, name=None),
                                  strict=True):
                    occurrence[i] = seen.get(key, 0)
                    seen[key] = occurrence[i] + 1
            df["source_key"] = _source_key(kf, occurrence).to_numpy()
            yield df

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def csv_line_numbers(path: Path) -> np.ndarray | None:
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
    return None if simple else csv_record_lines(path)


def prepare_usage(path: Path, tmap: TableMap, sub_to_acct: dict, known_accounts: set,
                  date_format: str | None, issues: V.Collector) -> SpilledUsage:
    """Read, map, parse, derive and validate a large usage CSV slice by slice (see the
    module docstring); issues go to ``issues``. Nothing is written to the store."""
    from greendoor.ingest import _check_table, _map_usage_accounts, _text_frame, _usage_identity

    folder = Path(tempfile.mkdtemp(prefix="greendoor-usage-"))
    lines = csv_line_numbers(path)
    spec = CONTRACT["usage"]
    parts, hashes, rows = [], [], 0
    fmt = date_format
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                         encoding="utf-8", chunksize=CHUNK_ROWS)
    try:
        for i, chunk in enumerate(reader):
            chunk = stripped(chunk)
            at = (lines[rows:rows + len(chunk)] if lines is not None
                  else np.arange(rows + 2, rows + len(chunk) + 2))
            raw = RawTable(path=path, frame=chunk, lines=at)
            # the file's column notes (missing, ignored) once, from the first slice
            text, cols = _text_frame(raw, tmap, issues if i == 0 else V.Collector())
            if fmt is None and "date" in text:
                fmt, _ = V.detect_date_format(text["date"])  # one format for every slice
            df = V.parse_table(raw, text, spec, cols, issues, fmt)
            for name in tmap.derive:
                df = DERIVATIONS[name](df)
            _map_usage_accounts(df, sub_to_acct, raw, cols, issues)
            df = _check_table("usage", raw, df, cols, known_accounts, issues)
            rows += len(chunk)
            if issues.errors:
                if len(issues.errors) >= MAX_ERRORS:
                    issues.note(path.name, f"stopped reading after {len(issues.errors):,} "
                                f"errors at line {int(at[-1]):,}")
                    break
                continue  # keep validating; nothing will be loaded
            h = pd.util.hash_pandas_object(_usage_identity(df), index=False).to_numpy()
            hashes.append(h)
            part = folder / f"usage-{i:05d}.parquet"
            df.assign(**{IDENTITY_HASH: h}).to_parquet(part, index=False)
            parts.append(part)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    allh = np.sort(np.concatenate(hashes)) if hashes else np.array([], dtype="uint64")
    repeated = np.unique(allh[1:][allh[1:] == allh[:-1]])
    return SpilledUsage(folder=folder, parts=parts, rows=rows, repeated=repeated)


STAGE_PREFIX = "greendoor_stage_usage_"


def stage_usage(engine: Engine, spilled: SpilledUsage) -> sa.Table | None:
    """Append the slices, keyed, to a new staging table, committing slice by slice
    (before the import's transaction): DuckDB holds a transaction's own appended rows
    in memory, about 180 MB per million usage rows, while committed rows go to disk.
    The staging table is not part of the store's data; :func:`drop_stages` removes it.
    Returns ``None`` when there are no rows."""
    table, stage = TABLES["usage"], None
    for df in spilled.frames():
        df = df[[c for c in df.columns if c in table.c]]
        with engine.begin() as conn:
            if stage is None:
                stage = sa.Table(f"{STAGE_PREFIX}{uuid.uuid4().hex[:12]}", sa.MetaData(),
                                 *[sa.Column(c, table.c[c].type) for c in df.columns])
                stage.create(conn)
            bulk_insert(conn, stage, df)
    return stage


def load_staged(conn: Connection, stage: sa.Table | None, replace: bool) -> dict:
    """Load the staged usage in the caller's (the import's) transaction with one
    statement: a plain insert when the store holds no usage (a first import, or
    ``replace``), else the upsert of :func:`greendoor.store.bulk.merge_stage`.
    Returns inserted/updated/unchanged counts."""
    if stage is None:
        return {"inserted": 0, "updated": 0, "unchanged": 0}
    table, cols = TABLES["usage"], [c.name for c in stage.c]
    n = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    empty = replace or conn.execute(
        sa.select(sa.func.count()).select_from(sa.select(schema.usage.c.source_key)
                                               .limit(1).subquery())).scalar_one() == 0
    if empty:  # no stored key to match; the keys within the import are distinct
        conn.execute(table.insert().from_select(cols, sa.select(*stage.c)))
        return {"inserted": int(n), "updated": 0, "unchanged": 0}
    return merge_stage(conn, table, stage, cols, list(CONTRACT["usage"].key), int(n))


def drop_stages(engine: Engine) -> None:
    """Drop every usage staging table (this import's, or one left by a crash)."""
    with engine.begin() as conn:
        for name in sa.inspect(conn).get_table_names():
            if name.startswith(STAGE_PREFIX):
                conn.execute(sa.text(f"DROP TABLE {conn.dialect.identifier_preparer.quote(name)}"))
