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


CSV_POP = (
    b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    b"TIME_PERIOD,OBS_VALUE\n"
)


def _post(client, token: str, body: bytes):
    return client.post(
        "/rest/v2/data/",
        content=body,
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/vnd.sdmx.data+csv;version=2.0.0",
        },
    )


def test_start_up_gives_old_observation_tables_their_new_indexes(client, admin_token):
    """Observation tables follow the structures, not Alembic: setup brings their indexes up to
    date (here: a table whose validity index is missing, as an older DSM made it)."""
    from sqlalchemy import inspect, text

    from app.main import setup_database
    from app.storage import observations as store

    body = CSV_POP + b"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1\n"
    assert _post(client, admin_token, body).status_code == 201
    structures = client.app.state.structures
    tables = store.tables_for(structures.flows()[("DSM", "DF_FOREIGN_POP", "1.0")])
    name = f"ix_{tables.name}_from"
    with structures.engine.begin() as conn:
        conn.execute(text(f'DROP INDEX "{name}"'))
    setup_database(client.app.state.settings, structures)
    with structures.engine.connect() as conn:
        assert name in {ix["name"] for ix in inspect(conn).get_indexes(tables.versions.name)}


def test_start_up_splits_the_one_table_layout_keeping_every_version(client, admin_token):
    """DSM 0.1 kept one wide table per DSD (the dataflow and every dimension on each row). Start-up
    splits it into series and versions: every version stays, with its validity and submission,
    and the data answers as before (current, asOf, and a later revision on top)."""
    from sqlalchemy import inspect, text

    from app.main import setup_database
    from app.storage import observations as store

    structures = client.app.state.structures
    flow = structures.flows()[("DSM", "DF_FOREIGN_POP", "1.0")]
    tables = store.tables_for(flow)
    first = CSV_POP + (
        b"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1\n"
        b"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,M,_T,NSO,2022,2\n"
    )
    second = CSV_POP + b"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,5\n"
    assert _post(client, admin_token, first).status_code == 201
    assert _post(client, admin_token, second).status_code == 201
    engine = structures.engine
    with engine.connect() as conn:
        at_first = conn.execute(text("SELECT visible_from FROM submissions ORDER BY id")).first()[0]
        before_now = store.snapshot(conn, tables, flow.ref)
        before_then = store.snapshot(conn, tables, flow.ref, at_first)
    value = len(tables.key)  # rows are (key..., OBS_VALUE, attributes...)
    assert [r[value] for r in before_now] == ["5", "2"]
    assert [r[value] for r in before_then] == ["1", "2"]
    dims = ", ".join(f'"{d}"' for d in tables.dimensions)
    legacy_columns = [c.name for c in tables.versions.columns if c.name not in ("pk", "series_id")]
    with engine.begin() as conn:  # rebuild what DSM 0.1 had: one wide table, no series table
        conn.execute(text(f'DROP VIEW "{tables.obs.name}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{tables.versions.name}_old" AS SELECT o.pk, s.dataflow, '
                f"{', '.join(f's.{chr(34)}{d}{chr(34)}' for d in tables.dimensions)}, "
                + ", ".join(f'o."{c}"' for c in legacy_columns)
                + f' FROM "{tables.versions.name}" o JOIN "{tables.series.name}" s '
                "ON s.series_id = o.series_id"
            )
        )
        conn.execute(text(f'DROP TABLE "{tables.versions.name}"'))
        conn.execute(text(f'DROP TABLE "{tables.series.name}"'))
        conn.execute(
            text(f'ALTER TABLE "{tables.versions.name}_old" RENAME TO "{tables.versions.name}"')
        )
        conn.execute(
            text(
                f'CREATE INDEX "ix_{tables.name}_current" ON "{tables.versions.name}" '
                f"(dataflow, {dims})"
            )
        )
    setup_database(client.app.state.settings, structures)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns(tables.versions.name)}
        assert "dataflow" not in columns and "series_id" in columns
        assert store.snapshot(conn, tables, flow.ref) == before_now
        assert store.snapshot(conn, tables, flow.ref, at_first) == before_then
        versions = conn.execute(text(f'SELECT count(*) FROM "{tables.versions.name}"')).scalar()
    assert versions == 3
    third = CSV_POP + b"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,M,_T,NSO,2022,7\n"
    report = _post(client, admin_token, third).json()
    assert report["counts"]["updated"] == 1 and report["counts"]["inserted"] == 0
    with engine.connect() as conn:
        assert [r[value] for r in store.snapshot(conn, tables, flow.ref)] == ["5", "7"]
