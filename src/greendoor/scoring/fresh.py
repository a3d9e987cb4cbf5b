"""Whether ``greendoor score`` would only write again what the store already holds.

A repeated ``greendoor score`` with nothing changed used to compute the features,
predict and rewrite the snapshots and alerts of the as-of date (3 s at 1,500 accounts,
plus 1.1 s to import scikit-learn). Every input of that work is in the store, so a
digest of those inputs taken at the end of a run and compared at the start of the next
decides, without importing the models:

* the as-of date and the settings version;
* the content of every table a run reads and does not itself rewrite
  (:data:`READ_TABLES`: the canonical data, the opportunities' history, the actions
  logged in the app, the automation rules, the experiments, the usage kept in a
  warehouse; :func:`greendoor.store.backup.content_digest`);
* the latest model run of each kind (models and backtests trained or run since);
* the snapshots of the as-of date (a store restored or cleared since).

An edit in the app (an action, a closed deal, a rule), an import, a sync, new settings
or a model trained by another command changes the digest; so does a run's own
automation, which is why the digest is taken after it. The tables a run cannot write
(:data:`BEFORE_RUN`: the canonical data, the opportunities' history, the usage kept
from a warehouse) are digested when the run starts (:func:`input_prints`) and that
digest is recorded: it is what the run read, so an import that lands while a long run
computes changes the next run's digest and is scored. ``greendoor score``'s own check
(:func:`check`) hands the prints it took to the run, so the command digests them
once. Nothing here imports
scikit-learn or the scoring code: the check costs a digest (0.25 s at 1,500 accounts and
7 M usage rows).
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import meta, schema

#: the store_meta key holding the last run's digest: ``{"fingerprint": ..., "at": ...}``
META_KEY = "score_run_fingerprint"

#: the tables a scoring run reads and does not rewrite (it rewrites snapshots, alerts,
#: model runs, firings and the audit log, which the digest covers by their own terms)
READ_TABLES: tuple[sa.Table, ...] = (
    *schema.CANONICAL_TABLES, schema.opportunity_history, schema.actions,
    schema.automation_rules, schema.experiments, schema.experiment_assignments,
    schema.usage_features, schema.usage_first_uses)


#: the tables of :data:`READ_TABLES` a scoring run does not write (its automation logs
#: actions; the app may change the others while it runs): digested before the run
BEFORE_RUN: tuple[sa.Table, ...] = tuple(
    t for t in READ_TABLES if t not in (schema.actions, schema.automation_rules,
                                        schema.experiments, schema.experiment_assignments))


def input_prints(conn: Connection) -> dict[str, list]:
    """The fingerprints of :data:`BEFORE_RUN` (:func:`greendoor.store.backup.table_prints`),
    for :func:`record` at the end of the run that starts now."""
    from greendoor.store.backup import table_prints

    return table_prints(conn, BEFORE_RUN)


def run_fingerprint(conn: Connection, as_of: dt.date, settings_version: int,
                    prints: dict[str, list] | None = None) -> dict:
    """The inputs of a scoring run as of ``as_of`` with the settings of
    ``settings_version`` (see the module's text), as a JSON-ready dict. ``prints``: the
    fingerprints of some of :data:`READ_TABLES` taken earlier (:func:`input_prints`);
    the other tables are read now."""
    from greendoor.store.backup import digest_of, table_prints

    prints = dict(prints or {})
    prints.update(table_prints(conn, [t for t in READ_TABLES if t.name not in prints]))
    mr, ss = schema.model_runs, schema.score_snapshots
    latest = dict(conn.execute(sa.select(mr.c.kind, sa.func.max(mr.c.created_at))
                               .group_by(mr.c.kind)).all())
    snaps = conn.execute(sa.select(sa.func.count(), sa.func.max(ss.c.settings_version))
                         .where(ss.c.as_of == as_of)).one()
    return {"as_of": str(as_of), "settings_version": int(settings_version),
            "data": digest_of({t.name: prints[t.name] for t in READ_TABLES}),
            "model_runs": {k: str(v) for k, v in sorted(latest.items())},
            "snapshots": [int(snaps[0]), snaps[1]],
            "dataset": [meta.get(conn, "dataset"), meta.get(conn, "demo_params")]}


def record(conn: Connection, as_of: dt.date, settings_version: int,
           at: dt.datetime, before: dict[str, list] | None = None) -> None:
    """Keep the digest of the run that has just written ``as_of``'s snapshots (call it
    after the run's writes and its automation). ``before``: :func:`input_prints` taken
    as the run started; without it every table is read now."""
    meta.set_many(conn, {META_KEY: json.dumps(
        {"fingerprint": run_fingerprint(conn, as_of, settings_version, before),
         "at": str(at)})})


def check(conn: Connection, as_of: dt.date, settings_version: int
          ) -> tuple[str | None, dict[str, list]]:
    """When the last run wrote ``as_of`` with exactly today's inputs, its time (text),
    else ``None`` (something changed, or no run was recorded); and the fingerprints of
    :data:`BEFORE_RUN` the check took (:func:`input_prints`), which the run that follows
    when something changed takes as its ``before``
    (:func:`greendoor.scoring.run.score`), so the data is digested once per command.
    Data landing between the check and the run is then scored by the next run: its
    digest differs from the one recorded."""
    prints = input_prints(conn)
    raw = meta.get(conn, META_KEY)
    if not raw:
        return None, prints
    stored = json.loads(raw)
    same = stored.get("fingerprint") == run_fingerprint(conn, as_of, settings_version, prints)
    return (stored["at"] if same else None), prints

