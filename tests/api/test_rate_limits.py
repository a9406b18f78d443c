"""Rate limits and the cap on uploads in progress, over HTTP: 429 with Retry-After and an SDMX
error, tokens counted apart from addresses, fresh windows, exempt paths, counts shared through
Redis by two apps (as by two worker processes), Redis down, and upload slots taken and given back.
Time is the app's clock, set by the tests: nothing waits for a window to end."""

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import anyio
import jsonschema
import pytest
import redis
from fastapi.testclient import TestClient
from lxml import etree

from app.api.ratelimit import UploadSlots
from app.formats.sdmxml import NS21, NS30
from app.main import create_app
from app.services import ingest
from app.services.auth import add_user, create_token
from app.services.counters import MemoryCounters
from app.settings import BUNDLED, Settings

REDIS_URL = "redis://127.0.0.1:6379/15"
REPORT_SCHEMA = BUNDLED / "docs" / "submission-report.schema.json"
MINUTE = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)  # the start of a window
DATAFLOWS = "/rest/dataflow/DSM"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
UPLOAD = (
    b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    b"TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE\n"
    b"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1200,A,PS\n"
)


@contextmanager
def serving(database_url: str, at: datetime = MINUTE, **options: object) -> Iterator[TestClient]:
    """A client on a fresh app over `database_url` with `options` as settings, its clock at `at`."""
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret",
        auto_setup=True,
        _env_file=None,
        **options,
    )
    with TestClient(create_app(settings)) as client:
        client.app.state.clock.fixed = at
        yield client


def token_for(client: TestClient, name: str, role: str, provider: str | None = None) -> str:
    add_user(client.app.state.engine, name, role, provider)
    return create_token(client.app.state.engine, client.app.state.secret, name)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def error_text(response, ns: dict[str, str] = NS21) -> str:
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{ns['mes']}}}Error"
    message = root.find(f"{{{ns['mes']}}}ErrorMessage")
    assert message.get("code") == "429"
    return message.findtext(f"{{{ns['com']}}}Text")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test alone in the local Redis (database 15); its keys go afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        client.close()
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"dsm-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def redis_keys(prefix: str) -> list[str]:
    with redis.Redis.from_url(REDIS_URL) as client:
        return [key.decode() for key in client.scan_iter(f"{prefix}*")]


# --- rate limits ---------------------------------------------------------------------------------


def test_anonymous_over_the_limit_gets_429_with_retry_after_and_an_sdmx_error(database_url):
    with serving(database_url, at=MINUTE + timedelta(seconds=15), rate_limit_anonymous=3) as client:
        remaining = [client.get(DATAFLOWS).headers["x-ratelimit-remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]

        refused = client.get(DATAFLOWS)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "45"
        assert refused.headers["x-ratelimit-limit"] == "3"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["x-request-id"]
        assert error_text(refused) == (
            "More than 3 requests in a minute from testclient; send again in 45 s"
        )
        # the error follows the request like every other: SDMX-ML 3.0 under v2, JSON when asked
        assert error_text(client.get("/rest/v2/structure/dataflow/DSM"), NS30)
        as_json = client.get(DATAFLOWS, headers={"accept": "application/json"})
        assert as_json.status_code == 429
        assert as_json.json()["errors"][0]["code"] == 429


def test_a_token_is_counted_apart_from_the_address(database_url):
    with serving(database_url, rate_limit=3, rate_limit_anonymous=2) as client:
        token = token_for(client, "unece", "partner")
        assert [client.get(DATAFLOWS).status_code for _ in range(3)] == [200, 200, 429]

        with_token = [client.get(DATAFLOWS, headers=bearer(token)) for _ in range(4)]
        assert [r.status_code for r in with_token] == [200, 200, 200, 429]
        assert with_token[0].headers["x-ratelimit-limit"] == "3"
        assert "with this token" in error_text(with_token[3])
        assert client.get(DATAFLOWS).status_code == 429


def test_limits_start_again_in_the_next_window(database_url):
    end = MINUTE + timedelta(seconds=59.5)
    with serving(database_url, at=end, rate_limit_anonymous=1) as client:
        assert client.get(DATAFLOWS).status_code == 200
        refused = client.get(DATAFLOWS)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")

        client.app.state.clock.fixed = end + timedelta(seconds=1)
        assert client.get(DATAFLOWS).status_code == 200


def test_health_metrics_and_preflights_are_not_counted(database_url):
    with serving(database_url, rate_limit_anonymous=1) as client:
        for _ in range(3):
            assert client.get("/health/live").status_code == 200
            assert "x-ratelimit-limit" not in client.get("/health/live").headers
            assert client.get("/metrics").status_code == 200
            preflight = client.options(
                DATAFLOWS,
                headers={"origin": "https://example.org", "access-control-request-method": "GET"},
            )
            assert preflight.status_code == 200
        assert client.get(DATAFLOWS).headers["x-ratelimit-remaining"] == "0"


def test_refused_tokens_count_against_the_address(database_url):
    with serving(database_url, rate_limit=100, rate_limit_anonymous=2) as client:
        good = token_for(client, "unece", "partner")
        made_up = [bearer(f"dsm_made-up-{n}") for n in range(3)]
        assert client.get("/api/submissions", headers=made_up[0]).status_code == 401
        assert client.get("/api/submissions", headers=made_up[1]).status_code == 401

        refused = client.get("/api/submissions", headers=made_up[2])
        assert refused.status_code == 429
        assert "had a token that was refused" in error_text(refused)
        assert client.get(DATAFLOWS, headers=bearer(good)).status_code == 429


def test_limits_of_zero_are_off(database_url):
    with serving(database_url, rate_limit=0, rate_limit_anonymous=0) as client:
        responses = [client.get(DATAFLOWS) for _ in range(5)]
        assert {r.status_code for r in responses} == {200}
        assert "x-ratelimit-limit" not in responses[0].headers


def test_limits_of_zero_count_nothing(database_url, monkeypatch):
    """With no limits the middleware passes requests straight on: no counter is touched."""
    with serving(database_url, rate_limit=0, rate_limit_anonymous=0) as client:
        counters = client.app.state.counters

        async def refuse(*_: object) -> int:
            raise AssertionError("counted")

        monkeypatch.setattr(counters, "hit", refuse)
        monkeypatch.setattr(counters, "count", refuse)
        assert client.get(DATAFLOWS, headers=bearer("dsm_made-up")).status_code == 401
        assert client.get(DATAFLOWS).status_code == 200


def test_two_apps_sharing_redis_share_the_count(database_url, redis_prefix):
    """Two apps on one Redis stand for two worker processes: the limit holds across both."""
    options = {"redis_url": REDIS_URL, "redis_prefix": redis_prefix, "rate_limit_anonymous": 3}
    with serving(database_url, **options) as one, serving(database_url, **options) as two:
        token = token_for(one, "unece", "partner")
        statuses = [app.get(DATAFLOWS).status_code for app in (one, two, one, two)]
        assert statuses == [200, 200, 200, 429]
        assert two.get(DATAFLOWS, headers=bearer(token)).headers["x-ratelimit-remaining"] == "599"

        keys = redis_keys(redis_prefix)
        assert any(":rl:ip:testclient:" in key for key in keys)
        assert any(":rl:token:" in key for key in keys)
        assert not any(token in key for key in keys)  # only a hash of the token is kept


def test_redis_down_falls_back_to_counting_in_the_process(database_url, caplog):
    caplog.set_level(logging.WARNING, logger="dsm.counters")
    down = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with serving(database_url, redis_url=down, rate_limit_anonymous=2) as client:
        assert [client.get(DATAFLOWS).status_code for _ in range(3)] == [200, 200, 429]
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_memory_counters_forget_old_windows():
    now = [0.0]
    counters = MemoryCounters(clock=lambda: now[0])

    async def count() -> None:
        assert await counters.hit("a", 60) == 1
        assert await counters.hit("a", 60) == 2
        now[0] = 61.0
        assert await counters.count("a") == 0
        assert await counters.hit("b", 60) == 1  # prunes "a"

    asyncio.run(count())
    assert len(counters) == 1


# --- uploads in progress -------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def upload_options(request: pytest.FixtureRequest) -> dict[str, object]:
    options: dict[str, object] = {"max_concurrent_uploads": 1}
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        options |= {"redis_url": REDIS_URL, "redis_prefix": prefix}
    return options


def in_progress(client: TestClient, owner: str) -> int:
    uploads: UploadSlots = client.app.state.uploads
    return client.portal.call(uploads.in_progress, owner)


def test_one_upload_too_many_is_refused_and_recorded(database_url, upload_options, monkeypatch):
    submit = ingest.submit
    started, finish = threading.Event(), threading.Event()

    def held_open(*args, **kwargs):
        started.set()
        assert finish.wait(30)
        return submit(*args, **kwargs)

    monkeypatch.setattr(ingest, "submit", held_open)
    with serving(database_url, **upload_options) as client:
        token = token_for(client, "kz-stat", "provider", "KAZ_STAT")
        headers = {**bearer(token), "content-type": CSV20}
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.post, "/rest/v2/data", content=UPLOAD, headers=headers)
            assert started.wait(30)
            assert in_progress(client, "KAZ_STAT") == 1

            second = client.post("/rest/v2/data", content=UPLOAD, headers=headers)
            finish.set()
            assert first.result().status_code == 201

        assert second.status_code == 429
        assert second.headers["retry-after"] == "1"
        report = second.json()
        jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
        assert report["status"] == "rejected"
        assert report["findings"][0]["code"] == "too-many-uploads"
        assert "KAZ_STAT has 1 submission(s) in progress" in report["findings"][0]["message"]
        history = client.get("/api/submissions", headers=bearer(token)).json()
        refused = next(s for s in history if s["id"] == report["id"])
        assert (refused["status"], refused["size"]) == ("rejected", 0)
        assert second.headers["location"] == f"/api/submissions/{report['id']}"

        assert in_progress(client, "KAZ_STAT") == 0
        again = client.post("/rest/v2/data", content=UPLOAD, headers=headers)
        assert again.status_code == 200, again.text  # the same observation: nothing changed


def test_a_failed_upload_gives_its_slot_back(database_url, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("ingest broke")

    monkeypatch.setattr(ingest, "submit", broken)
    with serving(database_url, max_concurrent_uploads=1) as client:
        headers = {**bearer(token_for(client, "admin", "admin")), "content-type": CSV20}
        lenient = TestClient(client.app, raise_server_exceptions=False)
        assert lenient.post("/rest/v2/data", content=UPLOAD, headers=headers).status_code == 500
        assert in_progress(client, "admin") == 0


def test_a_client_gone_mid_upload_gives_its_slot_back(database_url, caplog):
    """The ASGI app driven by hand: half a body, then the client disconnects."""
    with serving(database_url, max_concurrent_uploads=1) as client:
        token = token_for(client, "kz-stat", "provider", "KAZ_STAT")
        messages = [
            {"type": "http.request", "body": UPLOAD[:40], "more_body": True},
            {"type": "http.disconnect"},
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/rest/v2/data",
            "raw_path": b"/rest/v2/data",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", CSV20.encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }

        async def receive() -> dict:
            return messages.pop(0)

        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        async def upload() -> None:
            await client.app(scope, receive, send)

        with caplog.at_level(logging.INFO, logger="dsm"):
            client.portal.call(upload)
        assert in_progress(client, "KAZ_STAT") == 0
        # not a server error: 499 (nginx's "client closed request"), no stack trace logged
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
        assert "client gone while POST /rest/v2/data was read" in caplog.text
        assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text
        submissions = client.get("/api/submissions", headers=bearer(token)).json()
        assert submissions == []  # nothing was received: no submission


def test_a_cancelled_upload_gives_its_slot_back():
    slots = UploadSlots(MemoryCounters(), cap=1)

    async def cancel_while_held() -> None:
        async with anyio.create_task_group() as tasks:

            async def upload(*, task_status: anyio.abc.TaskStatus) -> None:
                async with slots.hold("KAZ_STAT") as taken:
                    assert taken
                    task_status.started()
                    await anyio.sleep_forever()

            await tasks.start(upload)
            assert await slots.in_progress("KAZ_STAT") == 1
            async with slots.hold("KAZ_STAT") as taken:
                assert not taken
            tasks.cancel_scope.cancel()
        assert await slots.in_progress("KAZ_STAT") == 0

    anyio.run(cancel_while_held)
