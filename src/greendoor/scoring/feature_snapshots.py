"""The features each score snapshot date was scored on, kept beside its snapshots.

A scoring run computes :func:`greendoor.scoring.features.features_as_of` for every date
it scores, then drops them. Segmentation (the accounts' features beside their health,
and the personas a year earlier) and the alert precision (the rules' inputs at past
scoring dates) computed the same frames again on every new as-of date: 0.6-1.0 s each at
1,500 accounts, most of Segmentation's 3.4-3.7 s on a new date (issue 23). The run now
writes each scored date's frame (Arrow bytes, one row per date in
:data:`greendoor.store.schema.feature_snapshots`) in the transaction that writes its
snapshots, with the run's ``scored_at``; a page reads a stored frame only while the
date's score snapshots are still that run's (:func:`read`), so the features and the
health beside them always come from one run, on the data that run read. A date no run
scored, or scored again without its frame (a store from before this table), is
computed as before (:func:`features_known`).

Nothing here imports scikit-learn: pages read it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.scoring.features import features_as_of
from greendoor.store import schema

#: the Arrow schema's metadata key holding the frame's pandas dtypes (``{column:
#: dtype}``, the index under ``""``): Arrow's own pandas metadata reads strings back as
#: pandas' string dtype where the frame had ``object`` (pandas 3).
_DTYPES = b"greendoor_dtypes"


def to_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` (index, columns and dtypes, a seconds-unit timestamp included) as an
    Arrow IPC stream, zstd-compressed (pyarrow; Parquet has no seconds unit)."""
    table = pa.Table.from_pandas(frame, preserve_index=True)
    dtypes = {"": str(frame.index.dtype), **{str(c): str(t) for c, t in frame.dtypes.items()}}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _DTYPES: json.dumps(dtypes).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema,
                           options=pa.ipc.IpcWriteOptions(compression="zstd")) as out:
        out.write_table(table)
    return sink.getvalue().to_pybytes()


def from_bytes(data: bytes) -> pd.DataFrame:
    """The frame :func:`to_bytes` wrote, as it was (its dtypes restored)."""
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    frame = table.to_pandas()
    dtypes = json.loads((table.schema.metadata or {}).get(_DTYPES, b"{}"))
    if "" in dtypes and str(frame.index.dtype) != dtypes[""]:
        frame.index = frame.index.astype(dtypes[""])
    for col, dtype in dtypes.items():
        if col and col in frame and str(frame[col].dtype) != dtype:
            frame[col] = frame[col].astype(dtype)
    return frame


def write(conn: Connection, frames: Mapping[dt.date, pd.DataFrame],
          scored_at: dt.datetime) -> None:
    """Keep ``frames`` (as-of date -> :func:`features_as_of` frame) as the features of
    the score snapshots written at ``scored_at`` (replacing any stored for those dates),
    in ``conn``'s transaction."""
    if not frames:
        return
    fs = schema.feature_snapshots
    conn.execute(fs.delete().where(fs.c.as_of.in_(list(frames))))
    conn.execute(fs.insert(), [{"as_of": d, "scored_at": scored_at, "accounts": len(f),
                                "frame": to_bytes(f)} for d, f in sorted(frames.items())])


def _current(fs: sa.Table) -> sa.ColumnElement:
    """The stored frame is the one of the run that wrote the date's score snapshots."""
    ss = schema.score_snapshots
    return fs.c.scored_at == (sa.select(sa.func.max(ss.c.scored_at))
                              .where(ss.c.as_of == fs.c.as_of).scalar_subquery())


def latest(conn: Connection, on: dt.date, within_days: int = 1
           ) -> tuple[dt.date, pd.DataFrame] | None:
    """``(date, features)`` of the latest stored frame dated on or before ``on`` and less
    than ``within_days`` days before it, if the score snapshots of that date are still
    those of the run that stored it; else ``None``."""
    fs = schema.feature_snapshots
    row = conn.execute(
        sa.select(fs.c.as_of, fs.c.frame)
        .where(fs.c.as_of <= on, fs.c.as_of > on - dt.timedelta(days=within_days),
               _current(fs))
        .order_by(fs.c.as_of.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        return row[0], from_bytes(row[1])
    except (pa.ArrowInvalid, ValueError, TypeError):  # written by another version: recompute
        return None


def read(conn: Connection, d: dt.date) -> pd.DataFrame | None:
    """The features the score snapshots of ``d`` were scored on, or ``None`` when no
    frame of their run is stored (see the module's text)."""
    got = latest(conn, d)
    return None if got is None else got[1]


def features_known(conn: Connection, d: dt.date, within_days: int = 1,
                   has_rows: set[str] | None = None) -> tuple[dt.date, pd.DataFrame]:
    """``(date, features)``: the stored features of the latest snapshot date in the
    ``within_days`` days up to ``d`` (:func:`latest`), else :func:`features_as_of` at
    ``d`` computed now (``has_rows`` as there). Both hold only what was known at their
    date."""
    got = latest(conn, d, within_days)
    return got if got is not None else (d, features_as_of(conn, d, has_rows=has_rows))
