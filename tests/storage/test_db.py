"""The Alembic migrations build exactly the schema the models declare, on PostgreSQL and on SQLite."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from callscope.settings import get_settings
from callscope.storage.db import Base, get_engine, migrate
from callscope.storage.search import include_object


def _drift(url: str) -> list:
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        return compare_metadata(context, Base.metadata)


def test_postgres_schema_matches_the_models(database):
    assert _drift(database) == []


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")  # the talk-score index
def test_sqlite_schema_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'callscope.db'}"
    migrate(url)
    assert _drift(url) == []


def test_postgres_pool_is_sized_by_settings(database, monkeypatch):
    """Many processes on one server: each one's pool must be settable to stay under max_connections."""
    monkeypatch.setenv("CALLSCOPE_DB_POOL_SIZE", "2")
    monkeypatch.setenv("CALLSCOPE_DB_MAX_OVERFLOW", "1")
    get_settings.cache_clear()
    url = database + "?application_name=pool-test"  # another URL: a fresh engine, not the cached one
    try:
        engine = get_engine(url)
        assert (engine.pool.size(), engine.pool._max_overflow) == (2, 1)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        engine.dispose()
    finally:
        get_settings.cache_clear()
