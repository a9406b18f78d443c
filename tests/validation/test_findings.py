"""The bounded findings collector and its message templates."""

import re
from pathlib import Path

from app.errors import DsmError
from app.services import ingest
from app.validation.findings import KINDS, Findings, Location, expected_list

ROOT = Path(__file__).parents[2]

WHERE = Location("line 12", "A.KAZ.AFG.X.WP.GRANTED.MIG", "SEX", "X")


def test_codes_are_stable_kebab_case() -> None:
    assert set(KINDS) == {
        "unknown-component",
        "missing-dimension",
        "unknown-code",
        "outside-scope",
        "invalid-period",
        "frequency-mismatch",
        "invalid-value",
        "invalid-character",
        "missing-attribute",
        "attribute-level",
    }
    assert [k.code for k in KINDS.values() if k.scope] == ["outside-scope"]


def test_every_code_is_documented() -> None:
    """docs/api.md lists every code a report can carry: the kinds, the codes written directly
    (`findings.error("...")`) and those of refusals by HTTP status."""
    sources = "".join(path.read_text() for path in (ROOT / "app").rglob("*.py"))
    written = set(re.findall(r'findings\.error\(\s*"([a-z-]+)"', sources))
    refusals = set()
    for status in (400, 403, 404, 409, 413, 429):
        error = DsmError("x")
        error.status = status
        refusals.add(ingest._code(error))
    documented = set(
        re.findall(r"^\| `([a-z-]+)` \| \d{3} \|", (ROOT / "docs" / "api.md").read_text(), re.M)
    )
    assert written >= {"duplicate-observation", "malformed-message", "busy"}  # the scan works
    assert set(KINDS) | written | refusals == documented


def test_message_says_where_and_what_was_expected() -> None:
    findings = Findings()
    findings.add("unknown-code", WHERE, flow="DSM:DF_X(1.0)", expected="F, M, _T")
    assert findings.as_list() == [
        {
            "code": "unknown-code",
            "severity": "error",
            "message": "Code 'X' of SEX (line 12, series 'A.KAZ.AFG.X.WP.GRANTED.MIG') is not "
            "allowed for DSM:DF_X(1.0); expected one of F, M, _T",
            "location": {
                "position": "line 12",
                "series_key": "A.KAZ.AFG.X.WP.GRANTED.MIG",
                "component": "SEX",
                "value": "X",
            },
        }
    ]


def test_location_leaves_out_none() -> None:
    findings = Findings()
    findings.add(
        "missing-attribute", Location("line 3", None, "COMMENT_DSET"), flow="F", level="dataset"
    )
    (finding,) = findings.as_list()
    assert finding["location"] == {"position": "line 3", "component": "COMMENT_DSET"}
    assert finding["message"] == (
        "Mandatory attribute COMMENT_DSET has no value (line 3); F requires it at dataset level"
    )


def test_expected_list_is_cut() -> None:
    assert expected_list({"M", "F", "_T"}) == "F, M, _T"
    codes = [f"C{i:03d}" for i in range(259)]
    assert expected_list(codes, limit=3) == "C000, C001, C002, ... (259 codes)"


def test_cap_keeps_the_first_and_counts_all() -> None:
    findings = Findings(cap=1000)
    for i in range(5000):
        findings.add(
            "unknown-code", Location(f"line {i}", None, "SEX", "X"), flow="F", expected="F, M"
        )
    assert len(findings) == len(findings.as_list()) == 1000
    assert findings.total == findings.errors == 5000
    assert findings.truncated and findings.has_errors and not findings.has_scope_errors
    assert findings.counts == {"unknown-code": 5000}
    assert findings.as_list()[-1]["location"]["position"] == "line 999"


def test_scope_errors_count_beyond_the_cap() -> None:
    findings = Findings(cap=1)
    findings.add("invalid-period", WHERE, reason="no")
    findings.add("outside-scope", WHERE, flow="F", expected="KAZ")
    assert [f.code for f in findings] == ["invalid-period"]
    assert findings.has_scope_errors and findings.truncated


def test_empty() -> None:
    findings = Findings()
    assert (findings.total, findings.errors, findings.as_list()) == (0, 0, [])
    assert not (findings.truncated or findings.has_errors or findings.has_scope_errors)


def test_errors_found_elsewhere() -> None:
    """Storage's set-based checks and message-level errors come with their message written."""
    findings = Findings(cap=1)
    findings.error("malformed-message", "Not XML (line 1)", position="line 1")
    findings.error("duplicate-observation", "twice", series_key="A.KAZ", scope=False)
    assert findings.as_list() == [
        {
            "code": "malformed-message",
            "severity": "error",
            "message": "Not XML (line 1)",
            "location": {"position": "line 1"},
        }
    ]
    assert findings.errors == findings.total == 2 and findings.truncated
    assert findings.counts == {"malformed-message": 1, "duplicate-observation": 1}
