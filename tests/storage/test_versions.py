"""`DatasetWriter` finds every repeated observation and every series-level attribute with two
values in a dataset, however the rows are ordered and cut into chunks: its streaming checks (run
by run, chunk by chunk) plus the set-based check over the stage after a reopened series are
compared with a plain reference over the whole dataset."""

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.model.data import PERIOD_END, PERIOD_START
from app.services.structures import Structures
from app.storage import observations as store
from app.storage import versions
from app.storage.engine import make_engine
from app.validation.periods import period_range

FLOW = ("DSM", "DF_FOREIGN_POP", "1.0")
CITIZENSHIPS = ("UZB", "RUS", "TJK", "KGZ", "ARM")
PERIODS = ("2020", "2021", "2022")
UNITS = ("PS", "NUMBER", None)


def _rows(rng: random.Random) -> list[dict]:
    """Rows in runs of one series (as messages usually come), sometimes a series coming back,
    sometimes a repeated period or a second unit."""
    rows = []
    for _ in range(rng.randint(1, 8)):
        citizenship = rng.choice(CITIZENSHIPS)
        unit = rng.choice(UNITS[:2])
        for period in rng.sample(PERIODS, rng.randint(1, 3)):
            rows.append({"CITIZENSHIP": citizenship, "TIME_PERIOD": period, "UNIT_MEASURE": unit})
        if rng.random() < 0.2:
            rows.append(dict(rows[-1]))  # a repeated observation
        if rng.random() < 0.2:
            rows[-1]["UNIT_MEASURE"] = rng.choice(UNITS)
    return rows


def _columns(flow, rows: list[dict]) -> dict[str, list]:
    fixed = {"FREQ": "A", "REF_AREA": "KAZ", "SEX": "F", "AGE": "_T", "DATA_SOURCE": "NSO"}
    columns: dict[str, list] = {d: [] for d in flow.dimensions}
    columns.update({"TIME_PERIOD": [], "OBS_VALUE": [], "UNIT_MEASURE": []})
    columns.update({PERIOD_START: [], PERIOD_END: []})  # as validation adds them
    for i, row in enumerate(rows):
        for d in flow.dimensions:
            columns[d].append(row.get(d, fixed.get(d)))
        columns["TIME_PERIOD"].append(row["TIME_PERIOD"])
        start, end = period_range(row["TIME_PERIOD"])
        columns[PERIOD_START].append(start)
        columns[PERIOD_END].append(end)
        columns["OBS_VALUE"].append(str(i))
        columns["UNIT_MEASURE"].append(row["UNIT_MEASURE"])
    return columns


def _reference(rows: list[dict]) -> tuple[set[tuple], set[str], int]:
    seen: set[tuple] = set()
    repeated: set[tuple] = set()
    units: dict[str, set] = {}
    for row in rows:
        key = (row["CITIZENSHIP"], row["TIME_PERIOD"])
        if key in seen:
            repeated.add(key)
        seen.add(key)
        if row["UNIT_MEASURE"] is not None:
            units.setdefault(row["CITIZENSHIP"], set()).add(row["UNIT_MEASURE"])
    contradicted = {c for c, values in units.items() if len(values) > 1}
    return repeated, contradicted, len({r["CITIZENSHIP"] for r in rows})


@pytest.fixture
def flow_and_engine(database_url):
    engine = make_engine(database_url)
    flow = Structures(engine).flows()[FLOW]
    yield flow, engine
    engine.dispose()


@pytest.mark.parametrize("seed", range(40))
def test_streaming_checks_agree_with_the_whole_dataset(flow_and_engine, seed):
    """As ingest does: chunks are written until one brings trouble (then the dataset is refused
    and nothing more is written). Without trouble on the way, the checks at the end find exactly
    what the whole dataset repeats and contradicts; with it, what was found is real."""
    flow, engine = flow_and_engine
    rng = random.Random(seed)
    tables = store.tables_for(flow)
    citizenship = flow.dimensions.index("CITIZENSHIP")
    for _ in range(5):
        rows = _rows(rng)
        columns = _columns(flow, rows)
        cuts = sorted(rng.sample(range(1, len(rows)), min(len(rows) - 1, rng.randint(0, 3))))
        with engine.begin() as conn:
            store.ensure(conn, tables)
            writer = versions.DatasetWriter(
                conn, tables, flow.ref, submission=1, at=datetime.now(UTC), provider=None
            )
            repeated, contradicted = set(), set()
            written = 0
            for start, end in zip([0, *cuts], [*cuts, len(rows)], strict=True):
                chunk = {name: values[start:end] for name, values in columns.items()}
                runs = None
                if seed % 2:  # as an SDMX-ML reader tells: where each series element begins
                    keys = chunk["CITIZENSHIP"]
                    runs = [i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]]
                    runs += [i for i in range(1, len(keys)) if rng.random() < 0.1 and i not in runs]
                    runs.sort()  # ... and some series elements repeated at once
                trouble = writer.add(chunk, end - start, runs)
                for row in trouble.duplicates:
                    repeated.add((chunk["CITIZENSHIP"][row], chunk["TIME_PERIOD"][row]))
                for row, _ in trouble.inconsistent:
                    contradicted.add(chunk["CITIZENSHIP"][row])
                if trouble.duplicates or trouble.inconsistent:
                    break
                written += end - start
            streamed = bool(repeated or contradicted)
            if writer.reopened and not streamed:
                for key, _count in writer.stage_duplicates(100):
                    series_key, period = key.split(" ")
                    repeated.add((series_key.split(".")[citizenship], period))
                for key, _attribute in writer.stage_contradictions(100):
                    contradicted.add(key.split(".")[citizenship])
            staged = conn.execute(select(func.count()).select_from(tables.stage)).scalar()
            staged += writer.direct
            conn.rollback()
        want_repeated, want_contradicted, series = _reference(rows)
        if streamed:
            assert repeated <= want_repeated and contradicted <= want_contradicted, rows
            continue
        assert (repeated, contradicted) == (want_repeated, want_contradicted), rows
        assert writer.series == series
        assert staged == written == len(rows)


def test_bulk_insert_keeps_every_value_exactly(database_url):
    """Rows through `_bulk_insert` (COPY on PostgreSQL, executemany on SQLite) come back as given:
    NULLs, empty strings, COPY's special characters, a literal `\\N`, non-ASCII text, numbers
    and time stamps; a column with no special character (COPY's text taken as it is) too."""
    from sqlalchemy import Column, DateTime, Float, Integer, MetaData, Table, Text

    texts = [
        "plain",
        "",
        None,
        "tab\there",
        "new\nline",
        "cr\rx",
        "back\\slash",
        "\\N",
        "Қазақстан",
    ]
    n = len(texts)
    at = datetime(2026, 12, 3, 6, 30, 15, 123456, tzinfo=UTC)
    columns = [
        list(range(n)),
        texts,
        [1.5, None, 1e16, -0.0, 3.0, float("inf"), 2.25, 0.1, 7.0],
        [at] * n,
        ["A", None, "B", "", "N", None, "ß", "Ж", "x y"],
    ]
    engine = make_engine(database_url)
    table = Table(
        "bulk_probe",
        MetaData(),
        Column("i", Integer),
        Column("txt", Text),
        Column("f", Float),
        Column("at", DateTime(timezone=True)),
        Column("plain", Text),
    )
    with engine.begin() as conn:
        table.create(conn)
        versions._bulk_insert(conn, "bulk_probe", ["i", "txt", "f", "at", "plain"], columns)
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.i)).all()
    engine.dispose()
    assert [r.txt for r in rows] == texts
    assert [r.f for r in rows] == columns[2]
    assert [r.plain for r in rows] == columns[4]
    stamps = [r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC) for r in rows]
    assert stamps == [at] * n


@pytest.mark.parametrize("existing", [False, True], ids=["first-load", "onto-existing"])
@pytest.mark.parametrize("pending", [20_000, 3], ids=["series-held", "series-flushed"])
def test_series_coming_back_after_the_key_cache_overflowed(
    flow_and_engine, monkeypatch, existing, pending
):
    """More series than the key cache holds, every one coming back after the others (each period
    a pass over all series): each series is created once and every observation lands, on a
    first load (the Bloom filter says which keys to look up) and onto stored series; whether
    the new series are held back until a lookup needs them or written every few series."""
    from app.model.actions import Operation

    monkeypatch.setattr(versions, "CACHE_SERIES", 6)
    monkeypatch.setattr(versions, "PENDING_SERIES", pending)
    flow, engine = flow_and_engine
    tables = store.tables_for(flow)
    keys = [(c, s) for c in CITIZENSHIPS for s in ("F", "M")]  # 10 series

    def write(periods: tuple[str, ...], submission: int) -> store.Counts:
        rows = [
            {"CITIZENSHIP": c, "SEX": s, "TIME_PERIOD": p, "UNIT_MEASURE": "PS"}
            for p in periods
            for c, s in keys
        ]
        columns = _columns(flow, rows)
        with engine.begin() as conn:
            store.ensure(conn, tables)
            writer = versions.DatasetWriter(
                conn, tables, flow.ref, submission=submission, at=datetime.now(UTC), provider=None
            )
            for start in range(0, len(rows), 4):  # chunks of 4 rows: the cache overflows often
                chunk = {name: values[start : start + 4] for name, values in columns.items()}
                trouble = writer.add(chunk, len(chunk["TIME_PERIOD"]), None)
                assert not trouble.duplicates and not trouble.inconsistent
            return writer.apply(Operation.MERGE)

    if existing:
        write(("2019",), 1)
    counts = write(PERIODS, 2)
    assert counts.inserted == len(keys) * len(PERIODS)
    with engine.connect() as conn:
        series = conn.execute(select(func.count()).select_from(tables.series)).scalar()
        stored = conn.execute(select(func.count()).select_from(tables.versions)).scalar()
    assert series == len(keys)
    assert stored == len(keys) * (len(PERIODS) + existing)


def test_key_filter_has_every_key_added_and_few_others():
    created = versions._KeyFilter()
    created.update([("not", "recorded")])  # inactive: nothing recorded yet
    assert ("not", "recorded") not in created
    created.active = True
    added = [("A", str(i)) for i in range(50_000)]  # several layers
    created.update(added)
    assert all(key in created for key in added)
    others = sum(("B", str(i)) in created for i in range(20_000))
    assert others < 20_000 * 0.05
