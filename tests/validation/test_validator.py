"""The validator on the real compiled DSM flows: one table row per finding code, good and bad."""

import dataclasses
from pathlib import Path

import pytest

from app.model.actions import Operation
from app.model.data import PERIOD_END, PERIOD_START, Chunk, DatasetStart
from app.model.dsd import CompiledFlow
from app.services.compile import compile_all
from app.services.structures import build_registry, read_files
from app.validation import Findings, Validator

MERGE, DELETE = Operation.MERGE, Operation.DELETE
KAZ = {"REF_AREA": frozenset({"KAZ"})}
CONTROL = frozenset({"STRUCTURE", "STRUCTURE_ID", "ACTION"})
ROW = {
    "FREQ": "A",
    "REF_AREA": "KAZ",
    "CITIZENSHIP": "AFG",
    "SEX": "F",
    "PERMIT_TYPE": "WP",
    "PERMIT_STATUS": "GRANTED",
    "DATA_SOURCE": "MIG",
    "TIME_PERIOD": "2020",
    "OBS_VALUE": "12",
    "OBS_STATUS": "A",
    "UNIT_MEASURE": "NUMBER",
}
SERIES = {k: v for k, v in ROW.items() if k not in ("TIME_PERIOD", "OBS_VALUE", "OBS_STATUS")}


@pytest.fixture(scope="module")
def flows() -> dict[tuple[str, str, str], CompiledFlow]:
    records = [a for _, a in read_files([Path("dsd"), Path("codelists")])]
    return compile_all(list(build_registry(records)))


@pytest.fixture(scope="module")
def flow(flows) -> CompiledFlow:
    return flows[("DSM", "DF_WORK_PERMITS", "1.0")]


def mandatory(flow: CompiledFlow, *names: str) -> CompiledFlow:
    """The flow with `names` made mandatory (no DSM attribute is)."""
    components = dict(flow.components)
    for name in names:
        components[name] = dataclasses.replace(components[name], mandatory=True)
    return dataclasses.replace(flow, components=components)


def chunk_of(rows: list[dict]) -> Chunk:
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {name: [row.get(name) for row in rows] for name in names}
    return Chunk(0, columns, [f"line {i + 2}" for i in range(len(rows))])


def validate(flow, rows, operation=MERGE, scope=None, start=None, ignore=frozenset()):
    findings = Findings()
    validator = Validator(flow, scope, findings, ignore=ignore)
    if start is not None:
        validator.dataset(start, operation)
    chunk = validator.chunk(chunk_of(rows), operation)
    validator.finish()
    return findings, chunk


def codes(findings: Findings) -> list[tuple[str, str | None, str | None]]:
    return [(f.code, f.location.component, f.location.value) for f in findings]


def row(**changes: str | None) -> dict:
    return {**ROW, **changes}


# (name, rows, operation, scope, expected (code, component, value) findings)
CASES = [
    ("valid", [ROW, row(SEX="M", TIME_PERIOD="2021")], MERGE, KAZ, []),
    (
        "unknown-component",
        [row(COLOUR="red")],
        MERGE,
        None,
        [("unknown-component", "COLOUR", "red")],
    ),
    (
        "unknown-component once per dataset",
        [row(COLOUR="a"), row(COLOUR="b")],
        MERGE,
        None,
        [("unknown-component", "COLOUR", "a")],
    ),
    (
        "control columns are not components",
        [row(STRUCTURE="dataflow", ACTION="M")],
        MERGE,
        None,
        [],
    ),
    ("missing-dimension", [row(SEX=None)], MERGE, None, [("missing-dimension", "SEX", None)]),
    ("missing-dimension empty", [row(SEX="")], MERGE, None, [("missing-dimension", "SEX", None)]),
    (
        "missing-dimension column",
        [{k: v for k, v in ROW.items() if k != "SEX"}],
        MERGE,
        None,
        [("missing-dimension", "SEX", None)],
    ),
    ("delete may omit dimensions", [{"REF_AREA": "KAZ", "SEX": "F"}], DELETE, KAZ, []),
    ("delete may omit a scoped dimension", [{"SEX": "F"}], DELETE, KAZ, []),
    (
        "observation without period",
        [row(TIME_PERIOD=None)],
        MERGE,
        None,
        [("missing-dimension", "TIME_PERIOD", None)],
    ),
    ("series row without period", [SERIES], MERGE, None, []),
    ("unknown-code dimension", [row(SEX="X")], MERGE, None, [("unknown-code", "SEX", "X")]),
    (
        "unknown-code attribute",
        [row(OBS_STATUS="ZZ")],
        MERGE,
        None,
        [("unknown-code", "OBS_STATUS", "ZZ")],
    ),
    (
        "unknown-code cut by constraint",
        [row(DATA_SOURCE="NSO")],
        MERGE,
        None,
        [("unknown-code", "DATA_SOURCE", "NSO")],
    ),
    ("unknown-code in a delete key", [{"SEX": "X"}], DELETE, None, [("unknown-code", "SEX", "X")]),
    ("delete flags are not codes", [row(OBS_STATUS="x", OBS_VALUE="x")], DELETE, None, []),
    ("outside-scope", [row(REF_AREA="UZB")], MERGE, KAZ, [("outside-scope", "REF_AREA", "UZB")]),
    (
        "outside-scope in a delete key",
        [{"REF_AREA": "UZB"}],
        DELETE,
        KAZ,
        [("outside-scope", "REF_AREA", "UZB")],
    ),
    (
        "unknown code is not also outside scope",
        [row(REF_AREA="XXX")],
        MERGE,
        KAZ,
        [("unknown-code", "REF_AREA", "XXX")],
    ),
    ("no scope: any area", [row(REF_AREA="UZB")], MERGE, None, []),
    (
        "invalid-period",
        [row(TIME_PERIOD="2020-Q5")],
        MERGE,
        None,
        [("invalid-period", "TIME_PERIOD", "2020-Q5")],
    ),
    (
        "invalid-period leap",
        [row(TIME_PERIOD="2019-02-29")],
        MERGE,
        None,
        [("invalid-period", "TIME_PERIOD", "2019-02-29")],
    ),
    (
        "frequency-mismatch",
        [row(TIME_PERIOD="2020-Q3")],
        MERGE,
        None,
        [("frequency-mismatch", "TIME_PERIOD", "2020-Q3")],
    ),
    (
        "frequency per row",
        [
            row(FREQ="Q", TIME_PERIOD="2020-Q3"),
            row(FREQ="M", TIME_PERIOD="2020-Q3"),
            row(FREQ="M", TIME_PERIOD="2020-07"),
        ],
        MERGE,
        None,
        [("frequency-mismatch", "TIME_PERIOD", "2020-Q3")],
    ),
    (
        "invalid-value",
        [row(OBS_VALUE="12a"), row(OBS_VALUE="1e5")],
        MERGE,
        None,
        [("invalid-value", "OBS_VALUE", "12a"), ("invalid-value", "OBS_VALUE", "1e5")],
    ),
    (
        "missing values",
        [row(OBS_VALUE="NaN"), row(OBS_VALUE=None), row(OBS_VALUE="-3.5")],
        MERGE,
        None,
        [],
    ),
    ("dataset attribute per row", [row(COMMENT_DSET="x"), row(COMMENT_DSET=None)], MERGE, None, []),
    (
        "attribute-level",
        [row(COMMENT_DSET="x"), row(COMMENT_DSET="y"), row(COMMENT_DSET="x")],
        MERGE,
        None,
        [("attribute-level", "COMMENT_DSET", "y")],
    ),
]


@pytest.mark.parametrize(
    ("rows", "operation", "scope", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_checks(flow, rows, operation, scope, expected) -> None:
    findings, _ = validate(flow, rows, operation, scope, ignore=CONTROL)
    assert codes(findings) == expected
    assert findings.has_scope_errors is any(code == "outside-scope" for code, _, _ in expected)


MANDATORY = [
    ("series attribute given", "UNIT_MEASURE", [ROW], MERGE, []),
    (
        "series attribute absent",
        "UNIT_MEASURE",
        [row(UNIT_MEASURE=None)],
        MERGE,
        [("missing-attribute", "UNIT_MEASURE", None)],
    ),
    (
        "series attribute, series row",
        "UNIT_MEASURE",
        [{**SERIES, "UNIT_MEASURE": None}],
        MERGE,
        [("missing-attribute", "UNIT_MEASURE", None)],
    ),
    ("not on delete", "UNIT_MEASURE", [row(UNIT_MEASURE=None)], DELETE, []),
    (
        "observation attribute absent",
        "OBS_STATUS",
        [row(OBS_STATUS=None)],
        MERGE,
        [("missing-attribute", "OBS_STATUS", None)],
    ),
    ("observation attribute, series row", "OBS_STATUS", [SERIES], MERGE, []),
    (
        "dataset attribute never given",
        "COMMENT_DSET",
        [ROW],
        MERGE,
        [("missing-attribute", "COMMENT_DSET", None)],
    ),
    ("dataset attribute given per row", "COMMENT_DSET", [row(COMMENT_DSET="x"), ROW], MERGE, []),
]


@pytest.mark.parametrize(
    ("name", "rows", "operation", "expected"),
    [case[1:] for case in MANDATORY],
    ids=[case[0] for case in MANDATORY],
)
def test_missing_attribute(flow, name, rows, operation, expected) -> None:
    findings, _ = validate(mandatory(flow, name), rows, operation)
    assert codes(findings) == expected


def start(**attributes: str) -> DatasetStart:
    return DatasetStart(0, None, "Replace", attributes, "line 1")


DATASET = [
    ("dataset attribute", start(COMMENT_DSET="note"), [ROW], []),
    ("dataset attribute agrees with rows", start(COMMENT_DSET="a"), [row(COMMENT_DSET="a")], []),
    (
        "dataset attribute differs in rows",
        start(COMMENT_DSET="a"),
        [row(COMMENT_DSET="b")],
        [("attribute-level", "COMMENT_DSET", "b")],
    ),
    (
        "series attribute at dataset level",
        start(UNIT_MEASURE="NUMBER"),
        [ROW],
        [("attribute-level", "UNIT_MEASURE", "NUMBER")],
    ),
    (
        "unknown attribute at dataset level",
        start(COLOUR="red"),
        [ROW],
        [("unknown-component", "COLOUR", "red")],
    ),
]


@pytest.mark.parametrize(
    ("dataset", "rows", "expected"),
    [case[1:] for case in DATASET],
    ids=[case[0] for case in DATASET],
)
def test_dataset(flow, dataset, rows, expected) -> None:
    findings, _ = validate(flow, rows, start=dataset)
    assert codes(findings) == expected


def test_mandatory_dataset_attribute_at_dataset_start(flow) -> None:
    strict = mandatory(flow, "COMMENT_DSET")
    findings, _ = validate(strict, [ROW], start=start(COMMENT_DSET="note"))
    assert not findings.total
    findings, _ = validate(strict, [ROW], start=start())
    assert findings.as_list()[0]["location"] == {"position": "line 1", "component": "COMMENT_DSET"}


def test_dataset_value_codes(flows) -> None:
    """A coded dataset-level attribute: none in DSM, so make COMMENT_DSET coded for the test."""
    flow = flows[("DSM", "DF_WORK_PERMITS", "1.0")]
    coded = dict(flow.components)
    coded["COMMENT_DSET"] = dataclasses.replace(coded["COMMENT_DSET"], codes=frozenset({"OK"}))
    flow = dataclasses.replace(flow, components=coded)
    findings, _ = validate(flow, [ROW], start=start(COMMENT_DSET="NO"))
    assert codes(findings) == [("unknown-code", "COMMENT_DSET", "NO")]


def test_location_and_message(flow) -> None:
    findings, _ = validate(flow, [ROW, row(SEX="X", CITIZENSHIP=None)])
    assert findings.as_list() == [
        {
            "code": "missing-dimension",
            "severity": "error",
            "message": "CITIZENSHIP has no value (line 3, series 'A.KAZ..X.WP.GRANTED.MIG'); "
            "every row of a merge dataset needs all dimensions of DSM:DF_WORK_PERMITS(1.0) "
            "(FREQ, REF_AREA, CITIZENSHIP, SEX, PERMIT_TYPE, PERMIT_STATUS, DATA_SOURCE); "
            "only a DELETE may leave some out",
            "location": {
                "position": "line 3",
                "series_key": "A.KAZ..X.WP.GRANTED.MIG",
                "component": "CITIZENSHIP",
            },
        },
        {
            "code": "unknown-code",
            "severity": "error",
            "message": "Code 'X' of SEX (line 3, series 'A.KAZ..X.WP.GRANTED.MIG') is not allowed "
            "for DSM:DF_WORK_PERMITS(1.0); expected one of F, M, _O, _T, _U",
            "location": {
                "position": "line 3",
                "series_key": "A.KAZ..X.WP.GRANTED.MIG",
                "component": "SEX",
                "value": "X",
            },
        },
    ]


def test_long_code_lists_are_cut(flow) -> None:
    findings, _ = validate(flow, [row(CITIZENSHIP="XXX")])
    assert findings.as_list()[0]["message"].endswith(
        "expected one of ABW, AFG, AGO, AIA, ALA, ALB, AND, ARE, ARG, ARM, ASM, ATA, ... (259 codes)"
    )


def test_period_columns(flow) -> None:
    rows = [row(TIME_PERIOD="2020"), SERIES, row(FREQ="Q", TIME_PERIOD="2020-Q5")]
    _, chunk = validate(flow, rows)
    assert chunk.columns[PERIOD_START] == ["2020-01-01T00:00:00", None, None]
    assert chunk.columns[PERIOD_END] == ["2021-01-01T00:00:00", None, None]


def test_empty_chunk(flow) -> None:
    findings, chunk = validate(flow, [])
    assert not findings.total and chunk.columns[PERIOD_START] == []


def test_all_flows_accept_a_valid_row(flows) -> None:
    for flow in flows.values():
        good = {d: sorted(flow.components[d].codes)[0] for d in flow.dimensions}
        findings, _ = validate(
            flow, [{**good, "FREQ": "A", "TIME_PERIOD": "2020", "OBS_VALUE": "1"}]
        )
        assert not findings.total, (flow.ref, findings.as_list())


def test_cap(flow) -> None:
    findings, chunk = validate(flow, [row(SEX="X")] * 4000 + [ROW] * 10 + [row(SEX="Y")] * 1000)
    assert len(findings.as_list()) == 1000
    assert findings.total == findings.errors == 5000 and findings.truncated
    assert len(chunk.columns[PERIOD_START]) == 5010


def test_scope_keeps_unrestricted_as_none(flow) -> None:
    """Storage receives the validator's scope: None (an admin) must not become {}."""
    assert Validator(flow, None, Findings()).scope is None
    scoped = Validator(flow, {"REF_AREA": {"KAZ"}, "NOT_A_DIM": {"X"}}, Findings())
    assert scoped.scope == {"REF_AREA": frozenset({"KAZ"})}
