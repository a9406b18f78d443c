"""A submission queues behind another write; one that cannot be queued in time is a 409 that
changes nothing and is recorded as rejected."""

import threading

from sqlalchemy import create_engine, text

from app.auth.tokens import Principal
from app.services import ingest
from app.services.received import receive
from app.services.structures import Structures
from app.settings import BUNDLED
from app.storage.engine import upgrade
from app.storage.submissions import listing

CSV = (
    b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,TIME_PERIOD,"
    b"OBS_VALUE\ndataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1200\n"
)
ADMIN = Principal("admin", "admin")


def _structures(database_url: str, **connect_args) -> Structures:
    engine = create_engine(database_url, connect_args=connect_args)
    upgrade(engine)
    structures = Structures(engine)
    if structures.is_empty():
        structures.load_files([BUNDLED / "dsd", BUNDLED / "codelists"])
    return structures


def _submit(structures: Structures, lock_timeout: float = 30, body: bytes = CSV) -> ingest.Outcome:
    received = receive(iter([body]), 1 << 24)
    try:
        return ingest.submit(
            structures.engine,
            structures.flows(),
            ADMIN,
            received,
            media_type="application/vnd.sdmx.data+csv;version=2.0.0",
            expanded_limit=1 << 24,
            lock_timeout=lock_timeout,
        )
    finally:
        received.close()


def test_a_write_that_cannot_be_queued_is_409(database_url):
    sqlite = database_url.startswith("sqlite")
    structures = _structures(database_url, **({"timeout": 0.2} if sqlite else {}))
    holder = create_engine(database_url)
    with holder.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(text("SELECT pg_advisory_lock(4242)"))
        outcome = _submit(structures, lock_timeout=0.2)
        if sqlite:
            conn.exec_driver_sql("ROLLBACK")
        else:
            conn.execute(text("SELECT pg_advisory_unlock(4242)"))
    assert outcome.http_status == 409
    assert outcome.findings.as_list()[0]["code"] == "busy"
    with structures.engine.connect() as conn:
        recorded = [s["status"] for s in listing(conn)]
    # PostgreSQL records the rejection; a locked SQLite database cannot take even the record
    assert recorded == (["rejected"] if not sqlite else [])
    assert _submit(structures).status == "accepted"
    holder.dispose()
    structures.engine.dispose()


def test_concurrent_writes_queue_and_both_land(database_url):
    structures = _structures(database_url)
    outcomes: list[ingest.Outcome] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(_submit(structures))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.status for o in outcomes) == ["accepted", "accepted"]
    assert sorted(o.counts.inserted for o in outcomes) == [0, 1]
    structures.engine.dispose()
