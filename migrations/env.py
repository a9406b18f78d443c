"""Alembic environment: DSM passes its engine in `config.attributes["engine"]` (see
app/storage/engine.py), so migrations always run against the configured database."""

from alembic import context
from sqlalchemy import create_engine

from app.storage.schema import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
