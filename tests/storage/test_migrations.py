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


def test_start_up_gives_old_observation_tables_their_new_indexes(client, admin_token):
    """Observation tables follow the structures, not Alembic: setup brings their indexes up to
    date (here: a table whose per-dataflow validity index is missing, as DSM made it before)."""
    from sqlalchemy import inspect, text

    from app.main import setup_database
    from app.storage import observations as store

    body = (
        b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
        b"TIME_PERIOD,OBS_VALUE\ndataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1\n"
    )
    response = client.post(
        "/rest/v2/data/",
        content=body,
        headers={
            "authorization": f"Bearer {admin_token}",
            "content-type": "application/vnd.sdmx.data+csv;version=2.0.0",
        },
    )
    assert response.status_code == 201
    structures = client.app.state.structures
    tables = store.tables_for(structures.flows()[("DSM", "DF_FOREIGN_POP", "1.0")])
    name = f"ix_{tables.obs.name.removeprefix('obs_')}_flow_from"
    with structures.engine.begin() as conn:
        conn.execute(text(f'DROP INDEX "{name}"'))
    setup_database(client.app.state.settings, structures)
    with structures.engine.connect() as conn:
        assert name in {ix["name"] for ix in inspect(conn).get_indexes(tables.obs.name)}
