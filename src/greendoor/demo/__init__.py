"""Demo portfolio: generate (``simulator``) and load it into the store."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from greendoor import audit, state
from greendoor.access import Actor, actor_name
from greendoor.demo.simulator import DATAFLOW, TECHCORP, DemoParams, generate
from greendoor.store import meta, schema, usage_features
from greendoor.store.bulk import bulk_insert, delete_all
from greendoor.store.engine import new_id
from greendoor.store.rollups import refresh_usage_rollups

__all__ = ["DATAFLOW", "TECHCORP", "DemoParams", "DemoRefused", "generate", "load_demo"]

#: Tables derived from canonical data: stale once it is replaced.
DERIVED_TABLES = (schema.score_snapshots, schema.alerts)


class DemoRefused(RuntimeError):
    """The store holds data that is not a demo portfolio; loading would destroy it."""


def load_demo(
    engine: Engine,
    params: DemoParams | None = None,
    *,
    force: bool = False,
    replace_imported: bool = False,
    actor: Actor = "system",
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Generate a demo portfolio and load it into the store in one transaction.

    Idempotent: when the store already holds the demo with the same parameters,
    nothing is written (``result["skipped"] is True``) unless ``force``.
    Refuses (:class:`DemoRefused`) to replace imported data unless
    ``replace_imported``. Derived tables (score snapshots, alerts) are cleared;
    actions, the audit log and settings are kept.

    Returns ``{"skipped", "params", "rows": {table: n}, "seconds": {...}}``. Raises
    :class:`~greendoor.access.AccessDenied` when ``actor`` is a principal who is not
    an admin.
    """
    actor = actor_name(actor, "admin")
    params = (params or DemoParams()).resolved()
    wanted = demo_signature(params)
    report = progress or (lambda f, msg: None)
    with engine.connect() as conn:
        dataset = meta.get(conn, "dataset")
        current = meta.get(conn, "demo_params")
        has_rows = conn.execute(sa.select(sa.func.count()).select_from(schema.accounts)).scalar()
    if dataset == "demo" and current == wanted and not force:
        return {"skipped": True, "params": json.loads(wanted), "rows": {}, "seconds": {}}
    if has_rows and dataset != "demo" and not replace_imported:
        raise DemoRefused(
            "The store holds imported data (dataset="
            f"{dataset or 'unknown'}); loading the demo would replace it. Point "
            "GREENDOOR_DB_URL at another store, or pass --replace-imported."
        )
    with tempfile.TemporaryDirectory(prefix="greendoor-demo-") as spill:
        return _generate_and_load(engine, params, wanted, actor, report, Path(spill))


def _generate_and_load(engine: Engine, params: DemoParams, wanted: str, actor: str, report,
                       spill: Path) -> dict:
    """Simulate (usage spilled to Parquet files in ``spill`` chunk by chunk, so memory
    does not grow with it), then load everything in one transaction."""
    t0 = time.perf_counter()
    report(0.05, "Simulating accounts, contracts and usage")
    parts: list[Path] = []

    def spill_usage(chunk: pd.DataFrame) -> None:
        parts.append(spill / f"usage-{len(parts):05d}.parquet")
        chunk.to_parquet(parts[-1], index=False)

    frames = generate(params, usage_sink=spill_usage)
    t_gen = time.perf_counter() - t0
    rows: dict[str, int] = {}
    t1 = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        delete_all(conn, schema.CANONICAL_TABLES + DERIVED_TABLES)
        usage_features.forget(conn)
        for i, table in enumerate(schema.CANONICAL_TABLES):
            report(0.5 + 0.45 * i / len(schema.CANONICAL_TABLES), f"Loading {table.name}")
            if table is schema.usage:
                rows["usage"] = sum(bulk_insert(conn, table, pd.read_parquet(p)) for p in parts)
            elif table is schema.accounts:  # the simulator's segments are the source's
                rows[table.name] = bulk_insert(conn, table, frames[table.name].assign(
                    segment_source="source"))
            else:
                rows[table.name] = bulk_insert(conn, table, frames[table.name])
        meta.set_many(conn, {"dataset": "demo", "demo_params": wanted,
                             "as_of": params.as_of.isoformat()})
        # the CRM's stage history up to the export; what the export says from its date on
        conn.execute(schema.opportunity_history.delete())
        bulk_insert(conn, schema.opportunity_history,
                    stage_history(frames["opportunities"], params.resolved().as_of))
        state.record_history(conn, frames["opportunities"], params.resolved().as_of, "demo")
        # the CSMs' playbook history (the app's own actions are kept)
        conn.execute(schema.actions.delete().where(schema.actions.c.created_by == "demo"))
        rows["actions"] = bulk_insert(conn, schema.actions, frames["actions"])
        # the CSMs' forecast calls on past and open renewals (the app's own are kept)
        conn.execute(schema.forecast_calls.delete().where(
            schema.forecast_calls.c.created_by == "demo"))
        rows["forecast_calls"] = bulk_insert(conn, schema.forecast_calls, frames["forecast_calls"])
        # the experiment the CS team ran (the app's own are kept)
        ex, asg = schema.experiments, schema.experiment_assignments
        demo_ex = sa.select(ex.c.experiment_id).where(ex.c.created_by == "demo")
        conn.execute(asg.delete().where(asg.c.experiment_id.in_(demo_ex)))
        conn.execute(ex.delete().where(ex.c.created_by == "demo"))
        rows["experiments"] = bulk_insert(conn, ex, frames["experiments"])
        rows["experiment_assignments"] = bulk_insert(conn, asg, frames["experiment_assignments"])
        t_load = time.perf_counter() - t1
        conn.execute(schema.import_log.insert().values(
            import_id=new_id(), started_at=now, finished_at=now + dt.timedelta(
                seconds=time.perf_counter() - t0), actor=actor, source="demo", format="demo",
            status="ok", rows_inserted=sum(rows.values()), rows_updated=0,
            duration_seconds=time.perf_counter() - t0,
            detail_json=json.dumps({"rows": rows, "params": json.loads(wanted)}),
        ))
        audit.record(conn, actor, "demo.load", "store", after=wanted, raw=True, at=now)
    # The rollup in its own transaction: the load's transaction does not also hold the
    # aggregation, and until this commits, features read the raw rows (rollups.py).
    report(0.97, "Summing usage per user and day")
    with engine.begin() as conn:
        refresh_usage_rollups(conn)
    report(1.0, "Demo portfolio loaded")
    return {"skipped": False, "params": json.loads(wanted), "rows": rows,
            "seconds": {"generate": round(t_gen, 2), "load": round(t_load, 2),
                        "total": round(time.perf_counter() - t0, 2)}}


#: The demo CRM's stage paths and the probability a stage carries.
STAGE_PATHS = {"renewal": ("discovery", "proposal", "negotiation", "contract_sent"),
               "other": ("discovery", "qualification", "proposal", "negotiation")}
STAGE_PROBABILITY = {"discovery": 0.1, "qualification": 0.25, "proposal": 0.5,
                     "negotiation": 0.7, "contract_sent": 0.85}


def stage_history(opps: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """``opportunity_history`` rows before ``as_of`` for the demo's opportunities, as a
    CRM would have logged them: each moves through its stage path
    (:data:`STAGE_PATHS`) at even steps from its creation to its close (closed ones: the
    whole path, then won or lost on the close date) or to the as-of date (open ones: up to
    the stage the export shows). Probability by stage (:data:`STAGE_PROBABILITY`); the
    forecast category is the export's for renewals, else from the probability. The
    export's own values are recorded from ``as_of`` on (:func:`greendoor.state.record_history`)."""
    rows = []
    end_day = pd.Timestamp(as_of)
    for o in opps.itertuples(index=False):
        created = pd.Timestamp(o.created_at).normalize()
        close = pd.Timestamp(o.close_date).normalize()
        path = STAGE_PATHS["renewal" if o.type == "renewal" else "other"]
        closed = o.status in ("won", "lost") and close < end_day
        if closed:
            stages, until = list(path), close
        elif o.stage in path:
            stages, until = list(path[:path.index(o.stage) + 1]), end_day
        else:
            continue
        step = (until - created) / max(len(stages), 1)
        for i, stage in enumerate(stages):
            valid = (created + step * i).date()
            if valid >= as_of:
                break
            p = STAGE_PROBABILITY[stage]
            cat = o.forecast_category if o.type == "renewal" else (
                "pipeline" if p < 0.5 else "best_case" if p < 0.7 else "commit")
            rows.append((o.opportunity_id, valid, stage, cat, p, "open", o.amount, close.date()))
        if closed and close.date() < as_of:
            won = o.status == "won"
            rows.append((o.opportunity_id, close.date(), "closed_won" if won else "closed_lost",
                         o.forecast_category, 1.0 if won else 0.0, o.status, o.amount,
                         close.date()))
    out = pd.DataFrame(rows, columns=["opportunity_id", "valid_from", "stage", "forecast_category",
                                      "probability", "status", "amount", "close_date"])
    out = out.drop_duplicates(["opportunity_id", "valid_from"], keep="last")
    return out.assign(source="demo")


def demo_signature(params: DemoParams) -> str:
    """The demo's identity as canonical JSON (size, months, seed, as-of date, segment mix):
    the same signature means the same generated data."""
    p = params.resolved()
    sig = {"n_accounts": p.n_accounts, "months": p.months, "seed": p.seed,
           "as_of": p.as_of.isoformat()}
    if p.segment_mix is not None:
        sig["segment_mix"] = list(p.segment_mix)
    return json.dumps(sig, sort_keys=True)


def frames_equal(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> bool:
    """True when two generated portfolios are identical table by table."""
    return a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)
