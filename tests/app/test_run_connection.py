"""One store connection per script run (app.data.script_run / reading): shared by the
run's loaders, each loader seeing the latest committed data, closed when the run ends."""

import pytest
import sqlalchemy as sa

from app import data
from greendoor import config
from greendoor.store import meta
from greendoor.store.engine import init_store, make_engine


@pytest.fixture
def store(tmp_path, monkeypatch):
    url = f"duckdb:///{tmp_path / 'run.duckdb'}"
    init_store(make_engine(url))
    monkeypatch.setenv(config.DB_URL_ENV, url)
    return url


def test_a_run_shares_one_connection_and_closes_it_at_its_end(store):
    with data.script_run():
        with data.reading() as first:
            assert meta.get(first, "probe") is None
        with data.engine().begin() as other:  # an action of this run writes meanwhile
            meta.set_many(other, {"probe": "written"})
        with data.reading() as second:
            assert second is first
            assert meta.get(second, "probe") == "written"  # the loader's read ended
        assert not first.closed
    assert first.closed
    with data.reading() as alone, data.reading() as another:  # outside a run: one each
        assert alone is not another
    assert alone.closed and another.closed


def test_a_loader_that_fails_leaves_the_next_one_a_new_connection(store):
    with data.script_run():
        with pytest.raises(sa.exc.DBAPIError), data.reading() as broken:
            broken.execute(sa.text("select * from no_such_table"))
        assert broken.closed
        with data.reading() as fresh:
            assert fresh is not broken
            assert fresh.execute(sa.text("select 1")).scalar() == 1
    assert fresh.closed
