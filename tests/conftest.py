"""Shared fixtures: a fresh database per test (a SQLite file, and a throwaway PostgreSQL database when
DSM_TEST_DATABASE_URL names a server), each a copy of one seeded per session (migrations and the
bundled structures), an app on it, and tokens."""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx.reader.xml.v30  # noqa: F401 - first, see below
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.main import create_app, setup_database
from app.services.auth import add_user, create_token
from app.services.structures import Structures
from app.settings import Settings
from app.storage.engine import make_engine

PG_URL = os.environ.get("DSM_TEST_DATABASE_URL")
# sdmx1 (2.28) builds its SDMX-ML 3.0 reader, on first import, from the 2.1 reader's parser table;
# reading a structure-specific 2.1 *data* message adds that message's own namespaces to the table,
# after which the 3.0 reader module fails to import (ValueError naming the namespace). The client
# tests read such messages, so the 3.0 reader is imported before any test runs: without this, a
# run of tests/api alone failed in test_structure_maintenance. DSM itself never reads data with
# sdmx1.


def _seed(url: str) -> None:
    """Migrate a database and load the bundled structures into it (what `dsm serve` does)."""
    settings = Settings(database_url=url, secret_key="test-secret", _env_file=None)
    engine = make_engine(url)
    setup_database(settings, Structures(engine))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A seeded SQLite file, copied for each test (seeding per test would dominate the suite)."""
    path = tmp_path_factory.mktemp("template") / "dsm.db"
    _seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A seeded PostgreSQL database that each test's database is created from (TEMPLATE)."""
    assert PG_URL
    name = f"dsm_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _seed(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _postgres_database(template: str) -> Iterator[str]:
    assert PG_URL
    name = f"dsm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not PG_URL, reason="DSM_TEST_DATABASE_URL is not set"),
            ],
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh database holding the migrations and the bundled structures (and nothing else):
    SQLite always, PostgreSQL when DSM_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "dsm.db")
        yield f"sqlite:///{tmp_path / 'dsm.db'}"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_template"))


@pytest.fixture
def second_database_url(
    database_url: str, request: pytest.FixtureRequest, tmp_path
) -> Iterator[str]:
    """Another fresh database on the same backend as `database_url` (to compare two states)."""
    if database_url.startswith("sqlite"):
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "second.db")
        yield f"sqlite:///{tmp_path / 'second.db'}"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_template"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings on the test's database, with rate limits off: the request sweeps send hundreds of
    requests a minute (tests/api/test_rate_limits.py turns the limits on)."""
    return Settings(
        database_url=database_url,
        secret_key="test-secret",
        auto_setup=True,
        rate_limit=0,
        rate_limit_anonymous=0,
        _env_file=None,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A test client on an app whose database is migrated and seeded with the bundled structures."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin_token(client: TestClient) -> str:
    engine = client.app.state.engine
    add_user(engine, "admin", "admin")
    return create_token(engine, client.app.state.secret, "admin")


@pytest.fixture
def partner_token(client: TestClient) -> str:
    engine = client.app.state.engine
    add_user(engine, "unece", "partner")
    return create_token(engine, client.app.state.secret, "unece")
