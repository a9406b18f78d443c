"""The `dsm` command as an operator uses it: a real subprocess, a real database file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from app.settings import BUNDLED
from app.storage.schema import tokens

DSM = [sys.executable, "-m", "app.cli"]


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
    environment.update(env or {})
    return subprocess.run(
        [*DSM, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_passes_on_the_bundled_structures(tmp_path):
    result = run(["check"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "all references resolve" in result.stdout


def test_check_names_a_dangling_reference(tmp_path):
    broken = tmp_path / "broken.xml"
    text = (BUNDLED / "dsd" / "dataflows.xml").read_text()
    broken.write_text(text.replace("DSD_FOREIGN_POP", "DSD_NOWHERE"))
    result = run(["check", str(broken), str(BUNDLED / "codelists")], tmp_path)
    assert result.returncode == 1
    assert "DSD_NOWHERE" in result.stdout


def test_db_load_users_tokens(tmp_path):
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    loaded = run(["load", str(BUNDLED / "dsd"), str(BUNDLED / "codelists")], tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("created ")
    again = run(["load", str(BUNDLED / "dsd"), str(BUNDLED / "codelists")], tmp_path)
    assert again.stdout.startswith("created 0, replaced 0")
    assert (
        run(
            ["users", "add", "kz-stat", "--role", "provider", "--provider", "KAZ_STAT"], tmp_path
        ).returncode
        == 0
    )
    unknown = run(["users", "add", "x", "--role", "provider", "--provider", "NOPE"], tmp_path)
    assert unknown.returncode == 1 and "NOPE" in unknown.stderr
    created = run(["tokens", "create", "kz-stat"], tmp_path)
    assert created.returncode == 0
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("dsm_")
    engine = create_engine(f"sqlite:///{tmp_path / 'dsm.db'}")
    with engine.connect() as conn:
        digests = conn.execute(select(tokens.c.digest)).scalars().all()
    assert len(digests) == 1 and token not in digests[0] and len(digests[0]) == 64
    assert (tmp_path / "dsm.secret").exists()


def test_bad_settings_stop_with_a_clear_message(tmp_path):
    result = run(
        ["db", "upgrade"], tmp_path, {"DSM_DATABASE_URL": "mysql://nope", "DSM_PORT": "99999"}
    )
    assert result.returncode == 2
    assert "DSM_DATABASE_URL" in result.stderr and "DSM_PORT" in result.stderr


def test_openapi_document_is_the_exported_one(tmp_path):
    result = run(["openapi"], tmp_path)
    assert result.returncode == 0, result.stderr
    exported = json.loads((BUNDLED / "openapi" / "openapi.json").read_text())
    assert json.loads(result.stdout) == exported, (
        "regenerate with: dsm openapi > openapi/openapi.json"
    )


@pytest.mark.parametrize(
    "command", ["serve", "db", "load", "check", "import", "demo", "users", "tokens", "openapi"]
)
def test_every_command_has_help(tmp_path, command):
    result = run([command, "--help"], tmp_path)
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_import_with_dry_run_then_for_real(tmp_path):
    message = tmp_path / "kaz.csv"
    message.write_text(
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,TIME_PERIOD,OBS_VALUE\n"
        "dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1200\n"
        "dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,M,_T,NSO,2022,2100\n"
    )
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    assert run(["load", str(BUNDLED / "dsd"), str(BUNDLED / "codelists")], tmp_path).returncode == 0
    dry = run(["import", "--dry-run", str(message)], tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["status"] == "dry-run"
    real = run(["import", str(message)], tmp_path)
    report = json.loads(real.stdout)
    assert report["status"] == "accepted" and report["counts"]["inserted"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(message.read_text().replace("UZB", "QQQ"))
    rejected = run(["import", str(bad)], tmp_path)
    assert rejected.returncode == 1
    assert json.loads(rejected.stdout)["findings"][0]["code"] == "unknown-code"


def test_protection_commands(tmp_path):
    """Grants, restrictions, an embargoed import and its release, and the audit log, as an
    operator drives them from the command line."""
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    assert run(["load", str(BUNDLED / "dsd"), str(BUNDLED / "codelists")], tmp_path).returncode == 0
    added = run(["grants", "add", "group:ilo", "DSM:*", "read_confidential"], tmp_path)
    assert added.returncode == 0, added.stderr
    grants = json.loads(run(["grants", "list", "--grantee", "group:ilo"], tmp_path).stdout)
    assert [(g["dataflow"], g["action"]) for g in grants] == [("DSM:*", "read_confidential")]
    assert run(["grants", "add", "group:ilo", "DSM:*", "rule"], tmp_path).returncode == 1
    removed = run(["grants", "remove", str(grants[0]["id"])], tmp_path)
    assert removed.returncode == 0 and "removed grant" in removed.stdout
    assert run(["restrictions", "add", "DSM:DF_ASYLUM_APP(1.0)"], tmp_path).returncode == 0
    restricted = json.loads(run(["restrictions", "list"], tmp_path).stdout)
    assert [r["dataflow"] for r in restricted] == ["DSM:DF_ASYLUM_APP(1.0)"]
    assert run(["restrictions", "remove", "DSM:DF_ASYLUM_APP(1.0)"], tmp_path).returncode == 0
    assert run(["restrictions", "remove", "DSM:DF_ASYLUM_APP(1.0)"], tmp_path).returncode == 1

    message = tmp_path / "kaz.csv"
    message.write_text(
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,TIME_PERIOD,OBS_VALUE\n"
        "dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,F,_T,NSO,2022,1200\n"
    )
    past = run(["import", "--release-at", "2020-01-01T00:00:00+00:00", str(message)], tmp_path)
    assert past.returncode == 1 and "not in the future" in past.stdout
    imported = run(["import", "--release-at", "2099-01-01T09:00:00+05:00", str(message)], tmp_path)
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert report["release_at"] == "2099-01-01T09:00:00+05:00"
    scheduled = json.loads(run(["releases", "list"], tmp_path).stdout)
    assert [r["submission"] for r in scheduled] == [report["id"]]
    moved = run(["releases", "move", str(report["id"]), "2099-02-01T00:00:00+00:00"], tmp_path)
    assert json.loads(moved.stdout)["release_at"] == "2099-02-01T00:00:00+00:00"
    assert run(["releases", "cancel", str(report["id"])], tmp_path).returncode == 0
    assert json.loads(run(["releases", "list"], tmp_path).stdout) == []
    log = json.loads(run(["audit", "--action", "release"], tmp_path).stdout)
    assert [r["action"] for r in log] == ["release.cancel", "release.move"]
    assert all(r["principal"].startswith("cli:") for r in log)
