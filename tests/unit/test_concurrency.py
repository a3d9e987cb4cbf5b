"""Concurrency on the embedded store: simultaneous actions lose nothing, and a
scoring run in another process neither blocks the app's reads and writes for long
nor loses any of them (docs/concurrency.md)."""

import datetime as dt
import multiprocessing as mp
import subprocess
import sys
import threading
import time

import sqlalchemy as sa

from greendoor import actions as A
from greendoor import periods
from greendoor.analytics import portfolio_health
from greendoor.store import schema
from greendoor.store.engine import make_engine


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def test_simultaneous_actions_from_threads_lose_nothing(scored_store_copy):
    _, eng = scored_store_copy
    with eng.connect() as conn:
        account = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    before = _count(eng, schema.actions)
    audited = (schema.audit_log.c.actor.like("thread-user%"),
               schema.audit_log.c.action == "action.task")
    audit_before = _count(eng, schema.audit_log, *audited)
    barrier = threading.Barrier(8)
    errors = []

    def session(i):
        barrier.wait()  # every "user" clicks Confirm at the same moment
        try:
            for k in range(5):
                A.create_task(eng, account, f"thread {i} task {k}", owner=f"user{i}",
                              due_date=dt.date(2026, 7, 1), task_type="check-in",
                              actor=f"thread-user{i}")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _count(eng, schema.actions) - before == 40
    assert _count(eng, schema.audit_log, *audited) - audit_before == 40


def _writer(url, account, n, tag, start_at):
    eng = make_engine(url)
    while time.time() < start_at:
        time.sleep(0.001)
    for k in range(n):
        A.create_task(eng, account, f"{tag} {k}", owner=tag, due_date=dt.date(2026, 7, 1),
                      task_type="check-in", actor=tag)


def test_two_processes_writing_the_same_file_lose_nothing(scored_store_copy):
    url, eng = scored_store_copy
    with eng.connect() as conn:
        account = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    before = _count(eng, schema.actions)
    ctx = mp.get_context("spawn")
    start_at = time.time() + 3
    procs = [ctx.Process(target=_writer, args=(url, account, 15, f"proc{i}", start_at))
             for i in range(2)]
    for p in procs:
        p.start()
    _writer(url, account, 15, "main", start_at)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert _count(eng, schema.actions) - before == 45
    assert _count(eng, schema.audit_log, schema.audit_log.c.actor.in_(["proc0", "proc1", "main"])) == 45


def test_scoring_in_another_process_while_the_app_reads_and_writes(scored_store_copy):
    """`greendoor score` (a separate process, weekly backfill) runs while this process
    acts as the app: it keeps reading the KPIs and confirming actions. Scoring
    succeeds, every read answers, and every write is stored."""
    url, eng = scored_store_copy
    with eng.connect() as conn:
        account = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
        as_of = periods.default_as_of(conn)
    before = _count(eng, schema.actions)
    proc = subprocess.Popen([sys.executable, "-m", "greendoor.cli", "--db-url", url, "score",
                             "--backfill-weeks", "8"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    reads, writes, waits = 0, 0, []
    while proc.poll() is None:
        t = time.perf_counter()
        with eng.connect() as conn:
            k = portfolio_health.kpis(conn, periods.Filters(as_of))
        assert k["accounts"] > 0
        reads += 1
        A.create_task(eng, account, f"during scoring {writes}", owner="app",
                      due_date=dt.date(2026, 7, 1), task_type="check-in", actor="app")
        writes += 1
        waits.append(time.perf_counter() - t)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "scored" in out
    assert reads >= 3 and writes >= 3
    assert _count(eng, schema.actions) - before == writes
    # the app never waited long: scoring holds the file only in short slices
    assert max(waits) < 30, max(waits)
    print(f"\n{reads} reads and {writes} writes during scoring; longest wait "
          f"{max(waits):.2f} s, median {sorted(waits)[len(waits) // 2]:.2f} s")
