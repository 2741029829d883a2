"""The Alembic migrations build exactly the schema the models declare, on PostgreSQL and on SQLite."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from callscope.db import Base, get_engine, migrate
from callscope.search import include_object


def _drift(url: str) -> list:
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        return compare_metadata(context, Base.metadata)


def test_postgres_schema_matches_the_models(database):
    assert _drift(database) == []


def test_sqlite_schema_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'callscope.db'}"
    migrate(url)
    assert _drift(url) == []
