"""After a submission, PostgreSQL's planner statistics are refreshed for the tables it changed a
lot (a table the statistics do not know yet, or a change of at least `ANALYZE_SHARE` of the
rows they know); a smaller change is left to autovacuum. SQLite plans without statistics."""

from sqlalchemy import event

from app.storage import observations as store

from .test_ingest_locking import _structures, _submit

HEAD = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE\n"
)


def _years(first: int, count: int, value: int) -> bytes:
    """`count` annual observations of one series, from `first`, all of value `value`."""
    row = "dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,{},{}\n"
    return (HEAD + "".join(row.format(y, value) for y in range(first, first + count))).encode()


def test_statistics_are_refreshed_after_large_changes_only(database_url, monkeypatch):
    monkeypatch.setattr(store, "ANALYZE_AFTER", 100)  # the absolute floor, small for the test
    structures = _structures(database_url)
    analyzed: list[str] = []

    @event.listens_for(structures.engine, "before_cursor_execute")
    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("ANALYZE"):
            analyzed.append(statement.split('"')[1])

    def submit(first: int, count: int, value: int, changed: int) -> list[str]:
        analyzed.clear()
        outcome = _submit(structures, body=_years(first, count, value))
        assert outcome.status == "accepted", outcome.report()
        counts = outcome.counts
        assert counts.inserted + counts.updated == changed
        return sorted(analyzed)

    tables = ["obs_dsm_dsd_foreign_pop_1_0", "series_dsm_dsd_foreign_pop_1_0"]
    postgres = database_url.startswith("postgresql")
    # 99 observations: under the floor of 100, even into a table the statistics do not know
    assert submit(1001, 99, 1, changed=99) == []
    # a table the statistics do not know yet: its statistics are made at once
    assert submit(1001, 2_000, 1, changed=1_901) == (tables if postgres else [])
    # 150 of 2,000 rows (7.5%): below the share, left to autovacuum
    assert store.ANALYZE_SHARE * 2_000 > 150
    assert submit(1001, 150, 2, changed=150) == []
    # 300 of 2,000 rows (15%): both refreshed
    assert submit(1001, 300, 4, changed=300) == (tables if postgres else [])
    structures.engine.dispose()
