"""SDMX time periods: every form, invalid ones, and FREQ fit."""

import pytest

from app.validation.periods import PeriodError, frequency_matches, period_form, period_range

# period -> (start, exclusive end, form)
VALID = {
    "2020": ("2020-01-01T00:00:00", "2021-01-01T00:00:00", "year"),
    "2020-A1": ("2020-01-01T00:00:00", "2021-01-01T00:00:00", "year"),
    "2020-S1": ("2020-01-01T00:00:00", "2020-07-01T00:00:00", "semester"),
    "2020-S2": ("2020-07-01T00:00:00", "2021-01-01T00:00:00", "semester"),
    "2020-T2": ("2020-05-01T00:00:00", "2020-09-01T00:00:00", "trimester"),
    "2020-Q1": ("2020-01-01T00:00:00", "2020-04-01T00:00:00", "quarter"),
    "2020-Q3": ("2020-07-01T00:00:00", "2020-10-01T00:00:00", "quarter"),
    "2020-Q4": ("2020-10-01T00:00:00", "2021-01-01T00:00:00", "quarter"),
    "2020-M07": ("2020-07-01T00:00:00", "2020-08-01T00:00:00", "month"),
    "2020-07": ("2020-07-01T00:00:00", "2020-08-01T00:00:00", "month"),
    "2020-12": ("2020-12-01T00:00:00", "2021-01-01T00:00:00", "month"),
    "2020-W01": ("2019-12-30T00:00:00", "2020-01-06T00:00:00", "week"),
    "2020-W53": ("2020-12-28T00:00:00", "2021-01-04T00:00:00", "week"),
    "2026-W53": ("2026-12-28T00:00:00", "2027-01-04T00:00:00", "week"),
    "2020-D001": ("2020-01-01T00:00:00", "2020-01-02T00:00:00", "day"),
    "2020-D366": ("2020-12-31T00:00:00", "2021-01-01T00:00:00", "day"),
    "2020-07-15": ("2020-07-15T00:00:00", "2020-07-16T00:00:00", "day"),
    "2020-02-29": ("2020-02-29T00:00:00", "2020-03-01T00:00:00", "day"),
    "2020-07-15T10:00:00": ("2020-07-15T10:00:00", "2020-07-15T10:00:01", "datetime"),
    "2020-07-15T10:00": ("2020-07-15T10:00:00", "2020-07-15T10:00:01", "datetime"),
    "2020-07-15T10:00:00.250": ("2020-07-15T10:00:00", "2020-07-15T10:00:01", "datetime"),
    "2020-07-15T10:00:00Z": ("2020-07-15T10:00:00", "2020-07-15T10:00:01", "datetime"),
    "2020-07-15T10:00:00+05:00": ("2020-07-15T05:00:00", "2020-07-15T05:00:01", "datetime"),
    "2020-12-31T22:00:00-03:00": ("2021-01-01T01:00:00", "2021-01-01T01:00:01", "datetime"),
    "2020-07-01/P3M": ("2020-07-01T00:00:00", "2020-10-01T00:00:00", "range"),
    "2020-01-31/P1M": ("2020-01-31T00:00:00", "2020-02-29T00:00:00", "range"),
    "2020-07-15T10:00:00/PT2H30M": ("2020-07-15T10:00:00", "2020-07-15T12:30:00", "range"),
}
INVALID = [
    "2020-Q5",
    "2020-Q0",
    "2021-W53",
    "2020-W54",
    "2020-W1",
    "2020-13",
    "2020-00",
    "2019-02-29",
    "2020-04-31",
    "2019-D366",
    "2020-D367",
    "2020-D1",
    "2020-M13",
    "2020-M7",
    "2020-S3",
    "2020-A2",
    "2020-7",
    "20",
    "0000",
    "2020-07-15T24:00:00",
    "2020-07-15 10:00:00",
    "2020-07-01/P",
    "2020-07-01/1M",
    "2020Q1",
    "",
    "Q1-2020",
]


@pytest.mark.parametrize(("text", "expected"), VALID.items())
def test_period_range(text: str, expected: tuple[str, str, str]) -> None:
    start, end, form = expected
    assert period_range(text) == (start, end)
    assert period_form(text) == form


@pytest.mark.parametrize("text", INVALID)
def test_invalid_periods(text: str) -> None:
    with pytest.raises(PeriodError):
        period_range(text)


def test_invalid_period_says_why() -> None:
    with pytest.raises(PeriodError, match="2021 has no ISO week 53"):
        period_range("2021-W53")
    with pytest.raises(PeriodError, match="Q5 is not one of Q1 to Q4"):
        period_range("2020-Q5")


def test_bounds_order_as_strings() -> None:
    """Fixed-width bounds: string order is time order, which the query layer relies on."""
    bounds = [period_range(p) for p in ("2019-W52", "2020", "2020-Q3", "2020-07-15T10:00:00")]
    assert sorted(bounds) == bounds


MATCHES = [
    ("A", "2020", True),
    ("A", "2020-A1", True),
    ("A", "2020-Q1", False),
    ("A", "2020-01", False),
    ("S", "2020-S2", True),
    ("S", "2020", False),
    ("Q", "2020-Q3", True),
    ("Q", "2020-M03", False),
    ("M", "2020-07", True),
    ("M", "2020-M07", True),
    ("M", "2020-07-01", False),
    ("W", "2020-W53", True),
    ("W", "2020-07-15", False),
    ("D", "2020-07-15", True),
    ("D", "2020-D197", True),
    ("D", "2020-07-15T10:00:00", False),
    ("B", "2020-07-15", True),
    ("H", "2020-07-15T10:00:00", True),
    ("H", "2020-07-15", False),
    ("N", "2020-07-15T10:05:00", True),
    ("X", "2020-Q1", True),  # unknown FREQ: not checked
    (None, "2020-Q1", True),
    ("A", "2020-Q5", True),  # not a period at all: reported as invalid-period instead
]


@pytest.mark.parametrize(("freq", "period", "expected"), MATCHES)
def test_frequency_matches(freq: str | None, period: str, expected: bool) -> None:
    assert frequency_matches(freq, period) is expected
