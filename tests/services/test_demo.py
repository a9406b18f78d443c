"""The demo data: generated the same way every time, plausible, and loaded through the import path."""

import csv
import io
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from app.main import setup_database
from app.services import demo
from app.services.structures import Structures
from app.settings import Settings
from app.storage import observations as store
from app.storage import submissions as history
from app.storage.engine import make_engine

FLOWS = set(demo.GENERATORS)


def _structures(url: str) -> tuple[Settings, Structures]:
    config = Settings(database_url=url, secret_key="test-secret", _env_file=None)
    structures = Structures(make_engine(url))
    setup_database(config, structures)
    return config, structures


@pytest.fixture(scope="module")
def messages(tmp_path_factory) -> dict[str, list[dict[str, str]]]:
    """The generated messages, read back as rows (one SQLite database for the module)."""
    _, structures = _structures(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'dsm.db'}")
    generated = demo.generate(structures.flows())
    assert generated == demo.generate(structures.flows())  # byte-identical every time
    structures.engine.dispose()
    return {k: list(csv.DictReader(io.StringIO(v.decode()))) for k, v in generated.items()}


def _key(row: dict[str, str]) -> list[str]:
    """The dimension columns of an SDMX-CSV row (between ACTION and OBS_VALUE)."""
    columns = list(row)
    return columns[columns.index("ACTION") + 1 : columns.index("OBS_VALUE")]


def _values(rows: list[dict[str, str]], **where: str) -> dict[tuple[str, ...], int]:
    """OBS_VALUE by the other dimension values (and period) of the rows matching `where`."""
    found = {}
    for row in rows:
        if all(row[k] == v for k, v in where.items()):
            rest = tuple(row[k] for k in _key(row) if k not in where)
            found[rest] = int(row["OBS_VALUE"])
    return found


@pytest.fixture
def structures(database_url: str) -> Iterator[Structures]:
    """A migrated database seeded with the bundled structures."""
    _, seeded = _structures(database_url)
    yield seeded
    seeded.engine.dispose()


def test_load_reload_and_the_illustrative_note(structures):
    flows = structures.flows()
    first = dict(demo.load(structures.engine, flows, expanded_limit=1 << 30))
    assert set(first) == FLOWS
    assert all(o.status == "accepted" and o.counts.inserted > 0 for o in first.values())
    assert 20_000 < sum(o.counts.inserted for o in first.values()) < 60_000
    with structures.engine.connect() as conn:
        for ident, outcome in first.items():
            flow = next(f for (a, i, _), f in flows.items() if a == "DSM" and i == ident)
            obs = store.tables_for(flow).obs
            areas = conn.execute(
                select(obs.c.REF_AREA).where(obs.c.valid_to.is_(None)).distinct()
            ).scalars()
            assert sorted(areas) == sorted(demo.COUNTRIES), ident
            count = conn.execute(select(func.count()).select_from(obs)).scalar_one()
            assert count == outcome.counts.inserted
            kept = history.message(conn, outcome.id).decode()
            body = kept.splitlines()
            assert body[0].endswith(",COMMENT_DSET")
            assert all(line.endswith("," + demo.COMMENT) for line in body[1:]), ident
    again = dict(demo.load(structures.engine, flows, expanded_limit=1 << 30))
    for ident, outcome in again.items():
        counts = outcome.counts
        assert (counts.inserted, counts.updated, counts.deleted) == (0, 0, 0), ident
        assert counts.unchanged == first[ident].counts.inserted


def test_every_flow_covers_every_country_and_year(messages):
    assert set(messages) == FLOWS
    years = {str(y) for y in demo.YEARS}
    for ident, rows in messages.items():
        assert {r["REF_AREA"] for r in rows} == set(demo.COUNTRIES), ident
        assert {r["TIME_PERIOD"] for r in rows if r["FREQ"] == "A"} == years, ident
        assert all(r["COMMENT_DSET"] == demo.COMMENT for r in rows)
        assert all(int(r["OBS_VALUE"]) >= 0 for r in rows)
    quarters = {r["TIME_PERIOD"] for r in messages["DF_FOREIGN_ENTRY"] if r["FREQ"] == "Q"}
    assert len(quarters) == 4 * len(demo.YEARS)


def test_totals_are_the_sum_of_sexes(messages):
    checked = 0
    for ident, rows in messages.items():
        by_key: dict[tuple, dict[str, int]] = defaultdict(dict)
        for row in rows:
            key = tuple(row[k] for k in _key(row) if k != "SEX")
            by_key[key][row["SEX"]] = int(row["OBS_VALUE"])
        for key, sexes in by_key.items():
            if {"F", "M"} <= set(sexes):
                assert sexes["_T"] == sexes["F"] + sexes["M"], (ident, key)
                checked += 1
    assert checked > 5000


def test_totals_over_countries_ages_and_quarters(messages):
    pop = messages["DF_FOREIGN_POP"]
    for area in demo.COUNTRIES:
        where = {"REF_AREA": area, "SEX": "_T", "AGE": "_T", "DATA_SOURCE": "NSO"}
        for year in demo.YEARS:
            cells = _values(pop, **where, TIME_PERIOD=str(year))
            total = cells.pop(("A", "FOR"))
            cells.pop(("A", "XXA"), None)  # stateless persons are not foreign citizens
            assert total == sum(cells.values())
            ages = _values(pop, REF_AREA=area, CITIZENSHIP="FOR", SEX="F", TIME_PERIOD=str(year))
            ages = {k[0] if len(k) == 1 else k[1]: v for k, v in ages.items() if "NSO" in k}
            assert ages.pop("_T") == sum(ages.values())
    entries = messages["DF_FOREIGN_ENTRY"]
    whole = {"CITIZENSHIP": "FOR", "COUNTERPART_AREA": "_T", "SEX": "_T", "TRAVEL_PURPOSE": "_T"}
    for area in demo.COUNTRIES:
        annual = _values(entries, **whole, REF_AREA=area, FREQ="A")
        quarterly = _values(entries, **whole, REF_AREA=area, FREQ="Q")
        for (_source, year), value in annual.items():
            assert value == sum(v for (_, p), v in quarterly.items() if p.startswith(year))
        by_counterpart = _values(
            entries, REF_AREA=area, FREQ="A", CITIZENSHIP="FOR", SEX="_T", TRAVEL_PURPOSE="_T"
        )
        for year in demo.YEARS:
            cells = {k: v for k, v in by_counterpart.items() if k[2] == str(year)}
            total = next(v for k, v in cells.items() if k[0] == "_T")
            assert total == sum(v for k, v in cells.items() if k[0] != "_T")


def test_decisions_add_up(messages):
    decisions = messages["DF_ASYLUM_DEC"]
    for area in demo.COUNTRIES:
        for year in demo.YEARS:
            cells = _values(
                decisions,
                REF_AREA=area,
                CITIZENSHIP="_T",
                DECISION_INSTANCE="FIRST",
                TIME_PERIOD=str(year),
            )
            got = {k[3]: v for k, v in cells.items()}  # FREQ, SEX, AGE, DECISION, DATA_SOURCE
            assert got["POS"] == got["REFUGEE"] + got["COMPL_PROT"] + got["HUM_PROT"]
            assert got["_T"] == got["POS"] + got["REJECTED"]


def _total(rows, **where: str) -> int:
    values = _values(rows, **where)
    assert len(values) == 1, (where, values)
    return next(iter(values.values()))


def test_plausible_magnitudes_and_events(messages):
    pop, permits = messages["DF_FOREIGN_POP"], messages["DF_WORK_PERMITS"]
    foreign = {
        area: _total(
            pop, REF_AREA=area, CITIZENSHIP="FOR", SEX="_T", AGE="_T", DATA_SOURCE="NSO",
            TIME_PERIOD="2019",
        )
        for area in demo.COUNTRIES
    }  # fmt: skip
    assert foreign["RUS"] > foreign["KAZ"] > 5 * foreign["ARM"]
    granted = _values(
        permits, REF_AREA="RUS", SEX="_T", PERMIT_STATUS="GRANTED", TIME_PERIOD="2019"
    )
    top = sorted(granted, key=granted.get, reverse=True)
    assert {k[1] for k in top[:4] if k[1] not in ("FOR", "_X")} == {"UZB", "TJK"}
    assert not any(k[1] in demo.EAEU for k in granted)  # free movement: no permits
    entries = messages["DF_FOREIGN_ENTRY"]
    whole = {"FREQ": "A", "CITIZENSHIP": "FOR", "COUNTERPART_AREA": "_T", "SEX": "_T"}
    for area in demo.COUNTRIES:
        y2019 = _total(entries, **whole, REF_AREA=area, TRAVEL_PURPOSE="_T", TIME_PERIOD="2019")
        y2020 = _total(entries, **whole, REF_AREA=area, TRAVEL_PURPOSE="_T", TIME_PERIOD="2020")
        assert y2020 < 0.5 * y2019, area  # COVID-19
    russians_in_armenia = [
        _total(pop, REF_AREA="ARM", CITIZENSHIP="RUS", SEX="_T", TIME_PERIOD=str(y))
        for y in (2021, 2023)
    ]
    assert russians_in_armenia[1] > 2 * russians_in_armenia[0]


def test_mirror_statistics_agree_roughly_but_not_exactly(messages):
    pop, abroad = messages["DF_FOREIGN_POP"], messages["DF_CITIZENS_ABROAD"]
    for year in ("2016", "2019", "2023"):
        host = _total(pop, REF_AREA="RUS", CITIZENSHIP="TJK", SEX="_T", TIME_PERIOD=year)
        home = _total(abroad, REF_AREA="TJK", COUNTERPART_AREA="RUS", SEX="_T", TIME_PERIOD=year)
        assert 0.3 * host < home < host
    entries, exits = messages["DF_FOREIGN_ENTRY"], messages["DF_FOREIGN_EXIT"]
    common = {"FREQ": "A", "CITIZENSHIP": "FOR", "SEX": "_T", "TRAVEL_PURPOSE": "_T"}
    for year in ("2018", "2022"):
        into = _total(entries, **common, REF_AREA="KAZ", COUNTERPART_AREA="KGZ", TIME_PERIOD=year)
        out = _total(exits, **common, REF_AREA="KGZ", COUNTERPART_AREA="KAZ", TIME_PERIOD=year)
        assert into != out and 0.7 < into / out < 1.4


def test_cli_demo(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == list(demo.GENERATORS)
    assert all(" inserted, 0 updated, 0 unchanged" in line for line in lines)
    assert (tmp_path / "dsm.db").exists()
