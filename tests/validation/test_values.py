"""Uncoded values against their SDMX text types."""

import pytest

from app.validation.values import checked, invalid_values

# (text type, column, the values expected to be invalid)
CASES = [
    ("decimal", ["12", "-3.5", "+0.25", ".5", "1.", "0"], set()),
    ("decimal", ["12", None, "", "NaN"], set()),  # missing values
    (
        "decimal",
        ["12", "1e5", "1,5", "12a", " 1", "INF", "-", "1.2.3"],
        {"1e5", "1,5", "12a", " 1", "INF", "-", "1.2.3"},
    ),
    ("decimal", ["1_000", None], {"1_000"}),
    ("double", ["1.5E3", "-2e-4", "INF", "-INF", "NaN", "3"], set()),
    ("double", ["3", "1E", "e5", "nan", "Infinity"], {"1E", "e5", "nan", "Infinity"}),
    ("integer", ["12", "-3", "+4"], set()),
    ("integer", ["12", "1.0", "1e3", "--1"], {"1.0", "1e3", "--1"}),
    ("count", ["0", "12"], set()),
    ("count", ["0", "-1"], {"-1"}),
    ("boolean", ["true", "false", "1", "0"], set()),
    ("boolean", ["true", "yes", "True"], {"yes", "True"}),
    ("boolean", ["1", "0", "10"], {"10"}),  # a run of digits is not a boolean
    ("integer", ["\u0661\u0662", "7"], set()),  # Arabic-Indic digits are regex \d digits
    ("decimal", ["\u00b2", "7", "8"], {"\u00b2"}),  # a superscript is a digit, not a decimal one
    ("count", ["12", ""], set()),  # whole numbers and a missing value
]


@pytest.mark.parametrize(("text_type", "values", "bad"), CASES)
def test_invalid_values(text_type: str, values: list, bad: set) -> None:
    rule = checked(text_type)
    assert rule is not None
    assert invalid_values(values, rule) == bad  # a column: the fast path first
    assert invalid_values(set(values), rule) == bad  # distinct values: the regex path


@pytest.mark.parametrize("text_type", [None, "string", "alphaNumeric", "observationalTimePeriod"])
def test_unchecked_types(text_type: str | None) -> None:
    assert checked(text_type) is None
