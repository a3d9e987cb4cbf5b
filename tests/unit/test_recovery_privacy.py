"""Backup and restore give identical query results; data-subject export and erasure."""

import json

import pytest
import sqlalchemy as sa

from greendoor import actions as A
from greendoor import periods, privacy
from greendoor.analytics import portfolio_health
from greendoor.cli import main
from greendoor.metrics import sql as msql
from greendoor.store import backup as BK
from greendoor.store import schema
from tests.conftest import DEMO_AS_OF


def figures(eng) -> dict:
    with eng.connect() as conn:
        f = periods.Filters(DEMO_AS_OF)
        sc = portfolio_health.scores(conn, f).sort_values("account_id")
        return {"kpis": portfolio_health.kpis(conn, f),
                "retention": msql.retention(conn, DEMO_AS_OF.replace(month=1), DEMO_AS_OF),
                "scores": sc[["account_id", "health_score", "churn_probability"]].to_dict("list"),
                "actions": conn.execute(sa.select(sa.func.count()).select_from(
                    schema.actions)).scalar()}


def test_backup_then_restore_gives_identical_results(scored_store_copy, tmp_path):
    url, eng = scored_store_copy
    before = figures(eng)
    target = tmp_path / "bk" / "snap.duckdb"
    assert main(["--db-url", url, "backup", str(target)]) == 0
    manifest = json.loads((tmp_path / "bk" / "snap.duckdb.manifest.json").read_text())
    assert manifest["tables"]["accounts"][0] == 150
    # the store changes after the backup: a new action, an erased score
    with eng.connect() as conn:
        acc = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    A.create_task(eng, acc, "after the backup", owner="x", due_date=DEMO_AS_OF)
    with eng.begin() as conn:
        conn.execute(schema.score_snapshots.delete().where(schema.score_snapshots.c.account_id == acc))
    assert figures(eng) != before
    assert main(["--db-url", url, "restore", str(target)]) == 0
    after = figures(eng)
    # identical data (the checksums of every table matched); float sums may differ in
    # the last bit because rows come back in another order
    assert after["scores"] == before["scores"] and after["actions"] == before["actions"]
    for key in ("kpis", "retention"):
        assert after[key] == pytest.approx(before[key], rel=1e-12, nan_ok=True)
    with eng.connect() as conn:  # the audit log kept the later entries and logged the restore
        acts = {r[0] for r in conn.execute(sa.select(schema.audit_log.c.action))}
    assert {"action.task", "store.restore"} <= acts


def test_a_tampered_backup_is_refused_and_changes_nothing(scored_store_copy, tmp_path):
    import duckdb

    url, eng = scored_store_copy
    target = tmp_path / "snap.duckdb"
    BK.backup(eng, target)
    con = duckdb.connect(str(target))
    con.execute("DELETE FROM accounts WHERE account_id IN (SELECT account_id FROM accounts LIMIT 1)")
    con.close()
    before = figures(eng)
    with pytest.raises(BK.BackupError, match="damaged"):  # the file's SHA-256 changed
        BK.restore(eng, target)
    manifest = target.with_name(target.name + ".manifest.json")
    m = json.loads(manifest.read_text())
    del m["sha256"]  # an older manifest: the table checksums still catch it
    manifest.write_text(json.dumps(m))
    with pytest.raises(BK.BackupError, match="accounts"):
        BK.restore(eng, target)
    assert figures(eng)["scores"] == before["scores"]
    assert figures(eng)["kpis"]["accounts"] == before["kpis"]["accounts"]
    assert main(["--db-url", url, "restore", "--verify-only", str(target)]) == 2
    with pytest.raises(BK.BackupError, match="exists"):
        BK.backup(eng, target)


def test_export_and_erase_a_subject_keeps_aggregates(scored_store_copy, capsys):
    url, eng = scored_store_copy
    with eng.connect() as conn:
        cid, name, email = conn.execute(sa.select(
            schema.contacts.c.contact_id, schema.contacts.c.name, schema.contacts.c.email).where(
            schema.contacts.c.contact_id.in_(sa.select(schema.survey_responses.c.contact_id)))
            .limit(1)).one()
        nps_before = msql.nps(conn, DEMO_AS_OF.replace(year=DEMO_AS_OF.year - 1), DEMO_AS_OF)
    out = privacy.export_subject(eng, cid)
    assert out["contact"]["name"] == name and len(out["survey_responses"]) >= 1
    assert main(["--db-url", url, "erase-subject", cid, "--yes"]) == 0
    with eng.connect() as conn:
        row = conn.execute(sa.select(schema.contacts).where(
            schema.contacts.c.contact_id == cid)).mappings().one()
        linked = conn.execute(sa.select(sa.func.count()).select_from(schema.survey_responses).where(
            schema.survey_responses.c.contact_id == cid)).scalar()
        nps_after = msql.nps(conn, DEMO_AS_OF.replace(year=DEMO_AS_OF.year - 1), DEMO_AS_OF)
        audit = conn.execute(sa.select(schema.audit_log.c.after_json).where(
            schema.audit_log.c.action == "subject.erase",
            schema.audit_log.c.entity_id == cid)).scalar()
    assert row["name"] == privacy.ERASED and row["email"] is None and linked == 0
    assert nps_after == nps_before  # aggregates kept
    assert name not in audit and (email or "@") not in audit  # the audit holds counts only
    export_after = privacy.export_subject(eng, cid)
    assert export_after["survey_responses"] == [] and name not in json.dumps(export_after)
    assert main(["--db-url", url, "erase-subject", "nobody", "--yes"]) == 2
    assert "no contact 'nobody'" in capsys.readouterr().err
