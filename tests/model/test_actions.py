"""The action mapping in code and the table users read in docs/actions.md agree."""

import re

import pytest

from app.model.actions import SDMX_30, SDMX_31, Operation, operation_for
from app.model.data import MessageError
from app.settings import BUNDLED

TABLE = (BUNDLED / "docs" / "actions.md").read_text()


def documented() -> dict[tuple[str, str], str]:
    rows = {}
    family = ""
    for line in TABLE.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("format", "---"):
            continue
        family = family if cells[0] == "same" else cells[0]
        for word in re.findall(r"`(\w+)`", cells[1]):
            rows[("31" if "3.1" in family else "30", word.lower())] = cells[2]
    return rows


@pytest.mark.parametrize(("table", "family"), [(SDMX_30, "30"), (SDMX_31, "31")])
def test_code_matches_the_documented_table(table, family):
    docs = documented()
    for word, operation in table.items():
        assert docs[(family, word)] == operation.name, (family, word)


@pytest.mark.parametrize(
    ("format_name", "word", "operation"),
    [
        ("sdmx-ml-2.1-structurespecific", "Append", Operation.APPEND),
        ("sdmx-ml-2.1-structurespecific", "Replace", Operation.MERGE),
        ("sdmx-csv-2.1", "R", Operation.REPLACE),
        ("sdmx-csv-2.1", "A", Operation.MERGE),
        ("sdmx-csv-1.0", None, Operation.MERGE),
    ],
)
def test_operation_for(format_name, word, operation):
    assert operation_for(format_name, word) == operation


def test_unknown_action_is_a_message_error():
    with pytest.raises(MessageError, match="Unknown action 'Upsert'"):
        operation_for("sdmx-csv-2.0", "Upsert")
