"""The migrations build exactly the schema app/storage/schema.py describes, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.storage.engine import current_revision, head_revision, make_engine, upgrade
from app.storage.schema import metadata


def test_upgrade_matches_the_schema(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    upgrade(engine)  # a second upgrade is a no-op
    engine.dispose()
