"""Uncoded values against their SDMX text type (the measure's `decimal`, an attribute's `integer`...).

The common case, a column of plain numbers, takes a fast path over the whole column: every
character is in the type's alphabet and Python's `float`/`int` accept each value, which for these
alphabets is exactly the XML Schema lexical form. Anything else (`NaN`, `INF`, `1e5` for a decimal,
stray spaces, a missing value) sends the column's distinct values through the type's regex.

`None`, `""` and `NaN` are missing values, allowed for every type (SDMX uses NaN for "no value").
Text types not listed (string, alphaNumeric, uri, time types...) are not checked here.
"""

import re
from collections import deque
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from typing import Final

MISSING: Final = frozenset({None, "", "NaN"})


@dataclass(frozen=True)
class NumberType:
    pattern: re.Pattern[str]
    alphabet: frozenset[str]
    convert: Callable[[str], object]
    expected: str
    digits: bool = True  # every non-empty run of decimal digits (regex \d+) is of this type


_DECIMAL = NumberType(
    re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    frozenset("0123456789.+-"),
    float,
    "a decimal number such as 12, -3.5 or 0.25 (NaN for no value)",
)
_DOUBLE = NumberType(
    re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF"),
    frozenset("0123456789.+-eE"),
    float,
    "a number such as 12, -3.5 or 1.5E3 (INF, -INF; NaN for no value)",
)
_INTEGER = NumberType(
    re.compile(r"[+-]?\d+"),
    frozenset("0123456789+-"),
    int,
    "a whole number such as 12 or -3 (NaN for no value)",
)
_COUNT = NumberType(
    re.compile(r"\+?\d+"),
    frozenset("0123456789+"),
    int,
    "a whole number 0 or more (NaN for no value)",
)
_BOOLEAN = NumberType(re.compile(r"true|false|1|0"), frozenset(), str, "true or false", False)
TYPES: Final = {
    "decimal": _DECIMAL,
    "numeric": _DECIMAL,
    "double": _DOUBLE,
    "float": _DOUBLE,
    "integer": _INTEGER,
    "long": _INTEGER,
    "int": _INTEGER,
    "short": _INTEGER,
    "bigInteger": _INTEGER,
    "count": _COUNT,
    "incremental": _DECIMAL,
    "boolean": _BOOLEAN,
}


def checked(text_type: str | None) -> NumberType | None:
    """The rule for `text_type`, or None when values of that type are not checked."""
    return TYPES.get(text_type or "")


def invalid_values(values: Iterable[str | None], rule: NumberType) -> set[str]:
    """The values among `values` (a column, or a set) that are neither missing nor of the rule's
    lexical form. Fast paths: a column of whole numbers is one `isdecimal` over the joined column
    (`str.isdecimal` is true for exactly the characters regex `\\d` matches); otherwise its
    characters and conversions are checked in C. Both fail over to the distinct values one by one
    at the first None, "", NaN or odd value."""
    if rule.alphabet and not isinstance(values, Set):
        try:
            joined = "".join(values)  # type: ignore[arg-type]
            if rule.digits and joined.isdecimal() and "" not in values:
                return set()
            if set(joined) <= rule.alphabet:
                deque(map(rule.convert, values), maxlen=0)
                return set()
        except (TypeError, ValueError):  # a None in the column; a value convert refuses
            pass
    distinct = set(values).difference(MISSING)
    return {v for v in distinct if not rule.pattern.fullmatch(v)}  # type: ignore[arg-type]
