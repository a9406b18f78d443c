import pytest

from app.model.query import (
    QuerySyntaxError,
    StructureQuery,
    Version,
    VersionExpr,
    parse_detail,
    parse_references,
    parse_versions,
)

STORED = ("1.0", "1.1", "1.10", "2.0.0", "2.1.0-draft", "2.1.0", "2.2.0-draft", "3", "0.9.0")


def picked(expression: str, api="v2", stored=STORED) -> list[str]:
    versions = [Version.parse(v) for v in stored]
    found = {v.text for expr in parse_versions(expression, api) for v in expr.pick(versions)}
    return sorted(found, key=lambda t: Version.parse(t))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1.0", ["1.0"]),
        ("2.1.0-draft", ["2.1.0-draft"]),
        ("2.1.0", ["2.1.0"]),
        ("3", ["3"]),
        ("9.9", []),
        ("1.0,2.0.0", ["1.0", "2.0.0"]),
        # latest stable: x.y.z, x >= 1, no extension
        ("+", ["2.1.0"]),
        ("+.0.0", ["2.1.0"]),
        ("1+.0.0", ["2.1.0"]),
        ("2.+.0", ["2.1.0"]),
        ("2.0.+", ["2.0.0"]),
        ("2.2+.0", []),
        ("2.0+.0", ["2.1.0"]),
        ("2.0.1+", []),
        # latest, any status
        ("~", ["3"]),
        ("latest", ["3"]),
        ("~.0", ["1.10"]),
        ("~.0.0", ["2.2.0-draft"]),
        ("1.~", ["1.10"]),
        ("2.~.0", ["2.2.0-draft"]),
        ("2.1.~", ["2.1.0"]),
        ("0~.0.0", ["2.2.0-draft"]),
        ("1.2~", ["1.10"]),
        ("0.~.0", ["0.9.0"]),
        # all
        ("*", list(sorted(STORED, key=Version.parse))),
        ("all", list(sorted(STORED, key=Version.parse))),
        ("*.0", ["1.0", "1.1", "1.10"]),
        ("*.0.0", ["0.9.0", "2.0.0", "2.1.0-draft", "2.1.0", "2.2.0-draft"]),
        ("1.*", ["1.0", "1.1", "1.10"]),
        ("1.1*", ["1.1", "1.10"]),
        ("2.*.0", ["2.0.0", "2.1.0-draft", "2.1.0", "2.2.0-draft"]),
        ("2.1.*", ["2.1.0-draft", "2.1.0"]),
        ("1*.0.0", ["2.0.0", "2.1.0-draft", "2.1.0", "2.2.0-draft"]),
        ("2.1*.0", ["2.1.0-draft", "2.1.0", "2.2.0-draft"]),
        ("+,1.1*", ["1.1", "1.10", "2.1.0"]),
    ],
)
def test_v2_version_expressions(expression, expected):
    assert picked(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("latest", ["3"]),
        ("all", list(sorted(STORED, key=Version.parse))),
        ("1.0", ["1.0"]),
        ("1.0+2.0.0", ["1.0", "2.0.0"]),
        ("2.1.0-draft", ["2.1.0-draft"]),
    ],
)
def test_v1_version_expressions(expression, expected):
    assert picked(expression, "v1") == expected


@pytest.mark.parametrize(
    ("expression", "api"),
    [
        ("1.x", "v2"),
        ("1.x", "v1"),
        ("", "v2"),
        ("0+.1.0", "v2"),  # the stable operator needs a major version >= 1
        ("1.2.3.4+", "v2"),
        ("+", "v1"),
        ("~", "v1"),
        ("01.0", "v2"),
        ("1.0,", "v2"),
        ("1.+", "v2"),
    ],
)
def test_bad_versions_name_the_parameter(expression, api):
    with pytest.raises(QuerySyntaxError, match="version") as info:
        parse_versions(expression, api)
    assert isinstance(info.value, ValueError)
    assert info.value.parameter == "version"


@pytest.mark.parametrize(
    "ordered",
    [
        [
            "1.0",
            "1.0.0",
            "1.1",
            "1.9",
            "1.10",
            "2.0.0-draft",
            "2.0.0",
            "2.1.0-alpha.1",
            "2.1.0-alpha.beta",
            "2.1.0",
        ],
        ["0.1", "1", "1.0.1", "10.0"],
    ],
)
def test_version_order(ordered):
    shuffled = list(reversed(ordered))
    assert [v.text for v in sorted(map(Version.parse, shuffled))] == ordered


@pytest.mark.parametrize(
    ("text", "stable"),
    [("1.0.0", True), ("1.0", False), ("0.9.0", False), ("1.0.0-draft", False), ("2.3.4", True)],
)
def test_stable(text, stable):
    assert Version.parse(text).is_stable is stable


def test_parse_defaults_v2():
    q = StructureQuery.parse("codelist")
    assert (q.agencies, q.ids, q.items, q.references, q.detail) == (
        None,
        None,
        None,
        ("none",),
        "full",
    )
    assert q.versions == (VersionExpr("~"),)


def test_parse_defaults_v1():
    q = StructureQuery.parse("codelist", "all", "all", api="v1")
    assert q.versions == (VersionExpr("~"),)
    assert q.agencies is None and q.ids is None


@pytest.mark.parametrize(
    ("api", "agency", "ids", "items", "expected"),
    [
        (
            "v1",
            "ECB+BIS",
            "CL_FREQ+CL_AREA",
            "A+M",
            (("ECB", "BIS"), ("CL_FREQ", "CL_AREA"), ("A", "M")),
        ),
        (
            "v2",
            "ECB,BIS",
            "CL_FREQ,CL_AREA",
            "A,M",
            (("ECB", "BIS"), ("CL_FREQ", "CL_AREA"), ("A", "M")),
        ),
        ("v2", "*", "*", "*", (None, None, None)),
        ("v1", "all", "all", "all", (None, None, None)),
        ("v2", "SDMX.ECB", "CL_FREQ", "MIG.ASY", (("SDMX.ECB",), ("CL_FREQ",), ("MIG.ASY",))),
    ],
)
def test_parse_lists(api, agency, ids, items, expected):
    q = StructureQuery.parse("codelist", agency, ids, None, items, api=api)
    assert (q.agencies, q.ids, q.items) == expected


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"resource": "codelists"}, "resource type"),
        ({"resource": "codelist", "agency": "1ECB"}, "agencyID"),
        ({"resource": "codelist", "resource_id": "CL FREQ"}, "resourceID"),
        ({"resource": "datastructure", "item": "A"}, "itemID"),
        ({"resource": "codelist", "references": "grandparents"}, "references"),
        ({"resource": "codelist", "detail": "some"}, "detail"),
        ({"resource": "codelist", "detail": "raw", "api": "v1"}, "detail"),
        ({"resource": "codelist", "references": "ancestors", "api": "v1"}, "references"),
    ],
)
def test_parse_errors(kwargs, parameter):
    with pytest.raises(QuerySyntaxError) as info:
        StructureQuery.parse(**kwargs)
    assert info.value.parameter == parameter
    assert "expected" in str(info.value)


@pytest.mark.parametrize(
    ("text", "api", "expected"),
    [
        ("none", "v1", ("none",)),
        ("parentsandsiblings", "v1", ("parentsandsiblings",)),
        ("codelist", "v1", ("codelist",)),
        ("organisationscheme", "v1", ("organisationscheme",)),
        ("children,dataflow", "v2", ("children", "dataflow")),
        ("ancestors", "v2", ("ancestors",)),
        ("dataconstraint", "v2", ("dataconstraint",)),
        ("all", "v2", ("all",)),
    ],
)
def test_references(text, api, expected):
    assert parse_references(text, api) == expected


@pytest.mark.parametrize(
    "detail",
    [
        "full",
        "allstubs",
        "referencestubs",
        "allcompletestubs",
        "referencecompletestubs",
        "referencepartial",
    ],
)
def test_details_in_both_apis(detail):
    assert parse_detail(detail, "v1") == parse_detail(detail, "v2") == detail
