"""Rate limits over HTTP: 429 with Retry-After and an SDMX error, tokens counted apart from
addresses, fresh windows, exempt paths, counts shared through Redis by two apps (as by two worker
processes), and Redis down.
Time is the app's clock, set by the tests: nothing waits for a window to end."""

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from lxml import etree

from app.formats.sdmxml import NS21, NS30
from app.main import create_app
from app.services.auth import add_user, create_token
from app.services.counters import MemoryCounters
from app.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/15"
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
