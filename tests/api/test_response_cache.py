"""The response cache of anonymous data queries (app.api.caching.ResponseCache), on both
databases: a repeated query is answered without touching the database, and never after the
data, the structures, the grants or the clock (an embargo ending) have moved on: whether the
change came through this server, another server on the same database, or `dsm import` in
another process."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from app.api import data as data_api
from app.api.caching import Cached, ResponseCache
from app.clock import Clock
from app.main import create_app
from app.storage.engine import ChangeToken, make_engine

CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
CSV10 = "application/vnd.sdmx.data+csv;version=1.0.0"
SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE"
)
SERIES = "/rest/data/DSM,DF_FOREIGN_POP,1.0/A.KAZ.UZB.F._T.NSO"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def message(*rows: str) -> str:
    return "\n".join([HEADER, *[f"dataflow,DSM:DF_FOREIGN_POP(1.0),I,{r}" for r in rows]]) + "\n"


def post(client: TestClient, token: str, body: str, **params: str) -> None:
    response = client.post(
        "/rest/v2/data/",
        content=body.encode(),
        params=params,
        headers={"authorization": f"Bearer {token}", "content-type": CSV20},
    )
    assert response.status_code == 201, response.text


def values(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """{TIME_PERIOD: OBS_VALUE} of an SDMX-CSV 1.0 answer of one series."""
    lines = response.text.splitlines()
    columns = lines[0].split(",")
    period, value = columns.index("TIME_PERIOD"), columns.index("OBS_VALUE")
    return {row.split(",")[period]: row.split(",")[value] for row in lines[1:]}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` (the server's pool) inside the block."""
    seen: list[str] = []

    def record(conn, cursor, sql, *args) -> None:  # type: ignore[no-untyped-def]
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def read(client: TestClient, path: str = SERIES, accept: str = CSV10, **headers: str):  # type: ignore[no-untyped-def]
    return client.get(path, headers={"accept": accept, **headers})


def cached(client: TestClient) -> dict[str, str]:
    """Read the series until it comes from the cache, proving it is: no SQL on the server's
    pool. Its values. (On PostgreSQL the first read after a write may prune the row versions
    the write left dead, which writes WAL: that read's answer is stale at once, a miss.)"""
    read(client)
    read(client)
    with statements(client.app.state.engine) as seen:
        answer = read(client)
    assert answer.status_code == 200 and seen == []
    return values(answer)


@pytest.fixture
def loaded(client: TestClient, admin_token: str) -> TestClient:
    post(
        client, admin_token, message("A,KAZ,UZB,F,_T,NSO,2022,1200", "A,KAZ,UZB,F,_T,NSO,2023,1350")
    )
    return client


def test_a_repeated_query_is_answered_from_memory(loaded):
    read(loaded)  # (on PostgreSQL it may prune the write's dead rows: WAL, see `cached`)
    first = read(loaded)
    assert first.status_code == 200 and values(first) == {"2022": "1200", "2023": "1350"}
    with statements(loaded.app.state.engine) as seen:
        again = read(loaded)
        unchanged = read(loaded, **{"if-none-match": first.headers["etag"]})
    assert seen == []
    assert again.content == first.content
    for name in ("etag", "last-modified", "content-type", "vary", "cache-control"):
        assert again.headers[name] == first.headers[name]
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == first.headers["etag"]
    xml = read(loaded, accept=SS21)  # another format is another answer
    assert xml.status_code == 200 and xml.headers["content-type"].startswith(
        "application/vnd.sdmx.structurespecificdata+xml"
    )
    assert b"<" in xml.content and xml.content != first.content


def test_the_first_answer_of_a_new_server_is_kept(loaded, settings):
    """A server that does not set the database up when it starts (PostgreSQL's default) knew
    the structures' revision only after its first request had read it, so the first answer was
    stamped with none and never served again: a repeated full export was computed twice."""
    cached(loaded)  # PostgreSQL: the write's dead rows pruned (WAL) before the new server reads
    as_deployed = settings.model_copy(update={"auto_setup": False})
    with TestClient(create_app(as_deployed)) as other:
        first = read(other)
        with statements(other.app.state.engine) as seen:
            again = read(other)
    assert first.status_code == 200 and again.content == first.content
    assert seen == []


def test_authenticated_and_uncached_queries_go_to_the_database(loaded, admin_token, settings):
    auth = {"authorization": f"Bearer {admin_token}"}
    assert read(loaded, **auth).status_code == 200
    with statements(loaded.app.state.engine) as seen:
        assert read(loaded, **auth).status_code == 200
    assert seen  # a principal's answers are never shared from the cache
    off = settings.model_copy(update={"response_cache_mb": 0})
    with TestClient(create_app(off)) as other:
        assert read(other).status_code == 200
        with statements(other.app.state.engine) as seen:
            assert read(other).status_code == 200
        assert seen


def test_a_write_through_this_server_shows_at_once(loaded, admin_token):
    assert cached(loaded)["2023"] == "1350"
    post(loaded, admin_token, message("A,KAZ,UZB,F,_T,NSO,2023,1400"))
    assert values(read(loaded)) == {"2022": "1200", "2023": "1400"}


def test_a_write_through_another_server_shows_at_once(loaded, settings, admin_token):
    assert "2024" not in cached(loaded)
    before = read(loaded)
    with TestClient(create_app(settings)) as other:
        post(other, admin_token, message("A,KAZ,UZB,F,_T,NSO,2024,1500"))
    after = read(loaded)
    assert values(after) == {"2022": "1200", "2023": "1350", "2024": "1500"}
    assert after.headers["etag"] != before.headers["etag"]


def test_an_import_by_another_process_shows_at_once(loaded, database_url, tmp_path):
    assert "2021" not in cached(loaded)
    path = tmp_path / "more.csv"
    path.write_text(message("A,KAZ,UZB,F,_T,NSO,2021,1100"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
    env.update(DSM_DATABASE_URL=database_url, DSM_SECRET_KEY="test-secret")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert values(read(loaded))["2021"] == "1100"


def test_an_embargo_ending_shows_without_a_write(loaded, admin_token):
    release = datetime.now(UTC) + timedelta(days=1)
    post(
        loaded, admin_token, message("A,KAZ,UZB,F,_T,NSO,2023,1999"), releaseAt=release.isoformat()
    )
    clock = loaded.app.state.clock
    clock.fixed = release - timedelta(seconds=1)
    assert cached(loaded)["2023"] == "1350"
    clock.fixed = release
    assert values(read(loaded))["2023"] == "1999"
    clock.fixed = release - timedelta(seconds=1)  # a clock set back sees the embargo again
    assert values(read(loaded))["2023"] == "1350"


def test_a_restriction_applies_to_cached_answers(loaded, admin_token):
    assert cached(loaded)
    auth = {"authorization": f"Bearer {admin_token}"}
    restricted = loaded.put("/api/restrictions/DSM:DF_FOREIGN_POP(1.0)", headers=auth)
    assert restricted.status_code == 201
    assert read(loaded).status_code == 404
    assert (
        loaded.delete("/api/restrictions/DSM:DF_FOREIGN_POP(1.0)", headers=auth).status_code == 204
    )
    assert read(loaded).status_code == 200


def test_the_cache_keeps_the_most_recently_used_within_its_size(database_url):
    engine = make_engine(database_url)
    state = {"stamp": (1, 1)}
    clock = Clock()
    clock.fixed = T0
    cache = ResponseCache(engine, 250, lambda: state["stamp"], clock)
    try:
        token = cache.token.read()
        assert token is not None

        def entry(size: int) -> Cached:
            return Cached(b"x" * size, "text/csv", {"ETag": '"t"'}, T0, token, (1, 1), T0, None)

        for name in ("a", "b"):
            cache.put((name,), entry(100))
        assert cache.get(("a",)) is not None  # a is now the most recent
        cache.put(("c",), entry(100))
        cache.put(("big",), entry(251))  # larger than the whole cache: not kept
        assert {n for n in ("a", "b", "c", "big") if cache.get((n,)) is not None} == {"a", "c"}
        clock.fixed = T0 - timedelta(seconds=1)  # a clock set back
        assert cache.get(("c",)) is None
        clock.fixed = T0
        state["stamp"] = (2, 1)  # other structures
        assert cache.get(("a",)) is None
    finally:
        cache.close()
        engine.dispose()


def test_a_token_that_cannot_be_read_caches_nothing_until_it_can(database_url):
    engine = make_engine(database_url)
    token = ChangeToken(engine)
    try:
        assert token.read() is not None
        token._conn.close()  # the connection is lost (a restart, the network)
        assert token.read() is None
        attempts = []
        connect = token._engine.raw_connection
        token._engine.raw_connection = lambda: attempts.append(1) or connect()
        assert token.read() is None and attempts == []  # no new attempt within RETRY_SECONDS
        token._failed -= ChangeToken.RETRY_SECONDS
        assert token.read() is not None and attempts == [1]
    finally:
        token.close()
        engine.dispose()


def files(client: TestClient) -> list[Path]:
    """The answer files of the client's server."""
    folder = client.app.state.responses._folder
    return sorted(folder.iterdir()) if folder is not None else []


def test_a_larger_answer_is_kept_in_a_file(loaded, admin_token, monkeypatch):
    monkeypatch.setattr(data_api, "SMALL", 64)  # this answer is streamed, as a large one is
    plain = {"accept-encoding": "identity"}  # no gzip: the file is sent as it is
    first = read(loaded, **plain)
    assert first.status_code == 200 and "content-length" not in first.headers  # streamed
    assert [p.read_bytes() for p in files(loaded)] == [first.content]
    read(loaded, **plain)  # (on PostgreSQL the first may be stale at once: see `cached`)
    with statements(loaded.app.state.engine) as seen:
        again = read(loaded, **plain)
        unchanged = read(loaded, **{"if-none-match": first.headers["etag"]})
    assert seen == []
    assert again.content == first.content
    assert again.headers["content-length"] == str(len(first.content))
    for name in ("etag", "last-modified", "content-type", "vary", "cache-control"):
        assert again.headers[name] == first.headers[name]
    assert unchanged.status_code == 304 and unchanged.content == b""
    gone = files(loaded)
    post(loaded, admin_token, message("A,KAZ,UZB,F,_T,NSO,2023,1400"))
    after = read(loaded)
    assert values(after) == {"2022": "1200", "2023": "1400"}
    assert not any(p.exists() for p in gone)  # the stale file went with its entry
    assert [p.read_bytes() for p in files(loaded)] == [after.content]


def entry(token: str) -> Cached:
    return Cached(b"", "text/csv", {"ETag": '"t"'}, T0, token, (1, 1), T0, None)


def spilled(cache: ResponseCache, key: tuple, size: int) -> None:
    spill = cache.spill(key, entry(cache.token.read() or ""))
    assert spill is not None
    spill.write(b"x" * size)
    spill.keep()


@contextmanager
def file_cache(
    database_url: str, parent: Path, disk_bytes: int
) -> Iterator[tuple[ResponseCache, Engine]]:
    """A response cache keeping files only (`disk_bytes`), its folder under `parent` (made
    here), and its engine; closed after the block."""
    parent.mkdir()
    engine = make_engine(database_url)
    clock = Clock()
    clock.fixed = T0
    cache = ResponseCache(engine, 0, lambda: (1, 1), clock, disk_bytes, str(parent))
    try:
        yield cache, engine
    finally:
        cache.close()
        engine.dispose()


def test_the_files_stay_within_their_size_and_go_with_the_server(database_url, tmp_path):
    tmp_path = tmp_path / "answers"  # (beside the SQLite database)
    with file_cache(database_url, tmp_path, 250) as (cache, _):
        spilled(cache, ("a",), 100)
        spilled(cache, ("b",), 100)
        assert cache.get(("a",)) is not None  # a is now the most recent
        spilled(cache, ("c",), 100)
        spilled(cache, ("big",), 251)  # larger than all the files may take: not kept
        kept = {n: cache.get((n,)) for n in ("a", "b", "c", "big")}
        assert {n for n, e in kept.items() if e is not None} == {"a", "c"}
        (folder,) = tmp_path.iterdir()
        assert sorted(folder.iterdir()) == sorted(kept[n].path for n in ("a", "c"))
        assert all(kept[n].path.stat().st_size == 100 for n in ("a", "c"))
    assert list(tmp_path.iterdir()) == []  # the folder goes with the server


def test_an_answer_cut_short_is_not_kept(database_url, tmp_path):
    tmp_path = tmp_path / "answers"  # (beside the SQLite database)
    with file_cache(database_url, tmp_path, 1 << 20) as (cache, engine):
        chunks = iter([b"first,", b"second"])
        stream = data_api._Stream(engine.connect(), chunks, cache.spill(("a",), entry("t")))
        body = iter(stream)
        assert next(body) == b"first,"
        body.close()  # the client went away
        assert cache.get(("a",)) is None
        (folder,) = tmp_path.iterdir()
        assert list(folder.iterdir()) == []
        whole = data_api._Stream(
            engine.connect(), iter([b"a", b"b"]), cache.spill(("b",), entry("t"))
        )
        assert b"".join(whole) == b"ab"
        assert [p.read_bytes() for p in folder.iterdir()] == [b"ab"]


def test_files_being_written_share_one_size(database_url, tmp_path):
    tmp_path = tmp_path / "answers"  # (beside the SQLite database)
    with file_cache(database_url, tmp_path, 250) as (cache, _):
        token = cache.token.read() or ""
        first, second = (cache.spill((n,), entry(token)) for n in ("a", "b"))
        assert first is not None and second is not None
        first.write(b"x" * 200)
        second.write(b"y" * 100)  # 300 bytes at once in progress: over the 250, given up
        assert second.file is None
        second.keep()  # a stream that goes on to its end: nothing kept
        first.write(b"x" * 50)
        first.keep()
        assert cache.get(("b",)) is None and cache.get(("a",)).size == 250
        third = cache.spill(("c",), entry(token))  # the room of the first is free again
        assert third is not None
        third.write(b"z" * 250)
        third.keep()
        assert cache.get(("c",)) is not None
        (folder,) = tmp_path.iterdir()
        assert len(list(folder.iterdir())) == 1  # c: a went to make room, b was never kept


def test_folders_of_killed_servers_are_removed(database_url, tmp_path):
    tmp_path = tmp_path / "answers"  # (beside the SQLite database)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    orphan = tmp_path / f"dsm-answers-{gone.stdout.strip()}-abc"  # its process was killed
    living = tmp_path / f"dsm-answers-{os.getppid()}-xyz"  # another server, still running
    with file_cache(database_url, tmp_path, 1 << 20) as (cache, _):
        for folder in (orphan, living):
            folder.mkdir()
            (folder / "answer-1").write_bytes(b"x")
        spill = cache.spill(("a",), entry("t"))
        assert spill is not None
        spill.discard()
        assert not orphan.exists() and (living / "answer-1").exists()
        (own,) = set(tmp_path.iterdir()) - {living}
        assert own.name.startswith(f"dsm-answers-{os.getpid()}-")
