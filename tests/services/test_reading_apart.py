"""A big SDMX-ML message is read in a process of its own (app.services.reading): the same
reports, the same stored observations and the same refusals as reading it in process. Here
every message counts as big (APART_FROM = 0); one database reads in process, the other apart."""

import gzip
import subprocess
from pathlib import Path

import pytest

from app.auth.tokens import Principal
from app.services import ingest, reading
from app.services.received import receive_file
from app.services.structures import Structures
from app.storage import observations as store

from .test_ingest_locking import _structures

SAMPLES = Path(__file__).parents[1] / "api" / "samples" / "data"
ADMIN = Principal("admin", "admin")
# each family: a first message, an update, a delete (the delete reads as no message in ss21_ts)
FAMILIES = {
    "ss21": [
        "work_permits_ss21.xml",
        "work_permits_ss21_update.xml",
        "work_permits_ss21_delete.xml",
    ],
    "ss21-ts": [
        "work_permits_ss21_ts.xml",
        "work_permits_ss21_ts_update.xml",
        "work_permits_ss21_ts_delete.xml",
    ],
    "generic21": [
        "work_permits_generic21.xml",
        "work_permits_generic21_update.xml",
        "work_permits_generic21_delete.xml",
    ],
    "generic21-ts": [
        "work_permits_generic21_ts.xml",
        "work_permits_generic21_ts_update.xml",
        "work_permits_generic21_ts_delete.xml",
    ],
    "generic21-flat": [
        "work_permits_generic21_flat.xml",
        "work_permits_generic21_flat_update.xml",
        "work_permits_generic21_flat_delete.xml",
    ],
    "ss30": [
        "work_permits_ss30.xml",
        "work_permits_ss30_update.xml",
        "work_permits_ss30_delete.xml",
    ],
}


class Spawned:
    """`subprocess.Popen` as `app.services.reading` calls it, keeping each process started."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []
        self.real = subprocess.Popen

    def __call__(self, *args, **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
        process = self.real(*args, **kwargs)
        self.processes.append(process)
        return process


@pytest.fixture
def spawned(monkeypatch) -> Spawned:  # type: ignore[no-untyped-def]
    found = Spawned()
    monkeypatch.setattr(reading.subprocess, "Popen", found)
    return found


def _submit(structures: Structures, path: Path, apart: bool, monkeypatch) -> dict:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reading, "APART_FROM", 0 if apart else 1 << 40)
    received = receive_file(str(path))
    try:
        outcome = ingest.submit(
            structures.engine,
            structures.flows(),
            ADMIN,
            received,
            media_type=None,
            expanded_limit=1 << 24,
        )
    finally:
        received.close()
    report = outcome.report()
    report.pop("id")
    return report


def _stored(structures: Structures) -> list:
    flows = structures.flows()
    with structures.engine.connect() as conn:
        return sorted(
            (flow.ref, row)
            for flow in flows.values()
            for tables in [store.tables_for(flow)]
            if store.exists(conn, tables)
            for row in store.snapshot(conn, tables, flow.ref)
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_read_apart_the_same_as_in_process(
    database_url, second_database_url, monkeypatch, spawned, family
):
    here, apart = _structures(database_url), _structures(second_database_url)
    for name in FAMILIES[family]:
        before = len(spawned.processes)
        expected = _submit(here, SAMPLES / name, False, monkeypatch)
        assert len(spawned.processes) == before  # in process
        got = _submit(apart, SAMPLES / name, True, monkeypatch)
        assert len(spawned.processes) == before + 1  # apart
        assert got == expected, name
        assert _stored(apart) == _stored(here), name
    assert expected["status"] == "accepted"
    assert _stored(here)  # the comparison compared something
    assert all(p.poll() is not None for p in spawned.processes)
    here.engine.dispose()
    apart.engine.dispose()


def _broken(tmp_path: Path) -> dict[str, Path]:
    whole = (SAMPLES / "work_permits_ss21.xml").read_bytes()
    cases = {
        "truncated": whole[: len(whole) * 2 // 3],
        "not well-formed": whole.replace(b"</Series>", b"</Serie>", 1),
        "an external entity": whole.replace(
            b"?>", b'?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1
        ),
        "wrong encoding": whole.replace(b'encoding="UTF-8"', b'encoding="UTF-16"', 1),
    }
    out = {}
    for name, body in cases.items():
        path = tmp_path / f"{name}.xml"
        path.write_bytes(body)
        out[name] = path
    gz = tmp_path / "gzip.xml.gz"
    gz.write_bytes(gzip.compress(whole))
    out["gzip (accepted)"] = gz
    return out


def test_read_apart_refuses_what_in_process_refuses(
    database_url, second_database_url, monkeypatch, spawned, tmp_path
):
    here, apart = _structures(database_url), _structures(second_database_url)
    for name, path in _broken(tmp_path).items():
        expected = _submit(here, path, False, monkeypatch)
        got = _submit(apart, path, True, monkeypatch)
        assert got == expected, name
        if name.startswith("gzip"):
            assert got["status"] == "accepted", got
        else:
            assert got["status"] == "rejected", (name, got)
            assert got["findings"][0]["code"] == "malformed-message", (name, got)
        assert _stored(apart) == _stored(here), name
    assert len(spawned.processes) == len(_broken(tmp_path))
    assert all(p.poll() is not None for p in spawned.processes)
    here.engine.dispose()
    apart.engine.dispose()


def test_small_or_in_memory_messages_are_read_in_process(database_url, monkeypatch, spawned):
    structures = _structures(database_url)
    report = _submit(structures, SAMPLES / "work_permits_ss21.xml", False, monkeypatch)
    assert report["status"] == "accepted"
    csv = _submit(structures, SAMPLES / "work_permits_csv20.csv", True, monkeypatch)  # not XML
    assert csv["status"] == "accepted"
    assert spawned.processes == []
    structures.engine.dispose()
