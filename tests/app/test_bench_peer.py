"""The browser benchmark's peer (bench/peer_app.py) shows what it claims on the store it
is timed on: the latest score snapshot's accounts and ARR, its charts and its table."""

from pathlib import Path

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.store import schema

PEER = str(Path(__file__).resolve().parents[2] / "bench" / "peer_app.py")


def test_the_peer_page_shows_the_latest_snapshot(scored_demo_store, monkeypatch):
    url, eng = scored_demo_store
    monkeypatch.setenv(config.DB_URL_ENV, url)
    ss = schema.score_snapshots
    with eng.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(ss.c.as_of))).scalar()
        n, arr = conn.execute(sa.select(sa.func.count(), sa.func.sum(ss.c.arr))
                              .where(ss.c.as_of == last)).one()
    at = AppTest.from_file(PEER, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.date_input(key="as_of").value == last
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accounts"] == f"{n:,}"
    assert metrics["ARR"] == f"${arr / 1e6:,.1f}M"
    assert len(at.get("plotly_chart")) == 2
    assert len(at.dataframe[0].value) == n
