"""Dataset actions: each format version's words, mapped to one internal set of operations.

docs/actions.md holds the same mapping as a table for users; tests/model/test_actions.py checks
that the two agree.

| operation | meaning |
|---|---|
| APPEND  | add observations and values that are absent; never change a value already stored (a different value is reported, not written) |
| MERGE   | add or change the values given; values not given keep what is stored |
| REPLACE | like MERGE, but observation-level values (measure, observation attributes) not given are dropped |
| DELETE  | delete at the lowest level given: omitted dimensions (and an omitted period) match every value; a row that names attribute (or measure) values deletes only those values |
| INFORMATION | (not an operation: read as MERGE where the version says so) |
"""

from enum import StrEnum

from app.model.data import MessageError


class Operation(StrEnum):
    APPEND = "append"
    MERGE = "merge"
    REPLACE = "replace"
    DELETE = "delete"


# SDMX 2.1 and 3.0 (SDMX-ML, SDMX-CSV 2.0, SDMX-JSON 1.0 and 2.0): Information / Append / Replace / Delete.
# SDMX 2.1 defines Append as "if any of the supplied data is already present, it will not replace
# that data"; Replace as replacing what is given and appending the rest; Information has no write
# meaning of its own, and DSM reads it as Replace (= MERGE), which is what producers sending
# "Information" (the SDMX-ML default) expect.
SDMX_30: dict[str, Operation] = {
    "append": Operation.APPEND,
    "a": Operation.APPEND,
    "replace": Operation.MERGE,
    "r": Operation.MERGE,
    "information": Operation.MERGE,
    "i": Operation.MERGE,
    "delete": Operation.DELETE,
    "d": Operation.DELETE,
}
# SDMX 3.1 (SDMX-CSV 2.1, SDMX-JSON 2.1): Merge / Replace / Delete; Append and Information read as Merge.
SDMX_31: dict[str, Operation] = {
    "merge": Operation.MERGE,
    "m": Operation.MERGE,
    "append": Operation.MERGE,
    "a": Operation.MERGE,
    "information": Operation.MERGE,
    "i": Operation.MERGE,
    "replace": Operation.REPLACE,
    "r": Operation.REPLACE,
    "delete": Operation.DELETE,
    "d": Operation.DELETE,
}
SDMX_31_FORMATS = frozenset({"sdmx-csv-2.1", "sdmx-json-2.1"})
DEFAULT = Operation.MERGE  # a dataset without an action (SDMX-CSV 1.0 has none)


def operation_for(format_name: str, action: str | None) -> Operation:
    """The operation a dataset's action word means in its format's SDMX version."""
    if action is None or not action.strip():
        return DEFAULT
    table = SDMX_31 if format_name in SDMX_31_FORMATS else SDMX_30
    try:
        return table[action.strip().lower()]
    except KeyError:
        words = sorted({k.capitalize() for k in table if len(k) > 1})
        raise MessageError(
            f"Unknown action {action!r}; expected one of {', '.join(words)}"
        ) from None
