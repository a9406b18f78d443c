"""SDMX time periods: what a TIME_PERIOD value covers, and whether it fits the series' FREQ.

`period_range("2020-Q3")` returns `("2020-07-01T00:00:00", "2020-10-01T00:00:00")`: the start and the
**exclusive** end of the period, as ISO 8601 date-times without offset (UTC). Exclusive ends need no
"23:59:59.999" and make the query layer's overlap test exact: an observation overlaps a query window
when `start < window_end and end > window_start`, and since every bound has the same fixed-width
form, plain string comparison (SQL text columns) orders them correctly.

Forms (SDMX 2.1/3.0 `ObservationalTimePeriodType`, reporting year starting on 1 January):

| form | examples | covers |
|---|---|---|
| year | `2020`, `2020-A1` | the calendar year |
| semester, trimester, quarter | `2020-S2`, `2020-T3`, `2020-Q3` | 6, 4, 3 months |
| month | `2020-07`, `2020-M07` | the month |
| ISO week | `2020-W53` | Monday to Sunday; W53 only in years that have one |
| day | `2020-07-15`, `2020-D197` | the day; D366 only in leap years |
| date-time | `2020-07-15T10:00:00`, `...+05:00`, `...Z` | one second from that instant (converted to UTC) |
| time range | `2020-07-01/P3M`, `2020-07-15T10:00:00/PT2H` | start + duration |

Reporting periods with a reporting year start day other than 1 January (`--MM-DD` attributes) are
not supported: DSM's dataflows do not use them.

Validation parses each distinct value of a chunk once; `period_range` is cached as well, because
the same few periods recur across chunks.
"""

import re
from calendar import isleap, monthrange
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

_REPORTING = re.compile(r"(\d{4})-([ASTQMWD])(\d{1,3})")
# reporting kind -> (digits, highest number, months per period; 0 for weeks and days)
_KINDS = {
    "A": (1, 1, 12),
    "S": (1, 2, 6),
    "T": (1, 3, 4),
    "Q": (1, 4, 3),
    "M": (2, 12, 1),
    "W": (2, 53, 0),
    "D": (3, 366, 0),
}
_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?")
_DURATION = re.compile(
    r"P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)

# The form of a period -> FREQ codes it fits (SDMX CL_FREQ). A FREQ not named here is not checked.
_FORMS_OF_FREQ = {
    "A": {"year"},
    "S": {"semester"},
    "T": {"trimester"},
    "Q": {"quarter"},
    "M": {"month"},
    "W": {"week"},
    "D": {"day"},
    "B": {"day", "datetime"},
    "H": {"datetime"},
    "N": {"datetime"},
    "I": {"datetime", "range"},
}
_FORM_OF_KIND = {
    "A": "year",
    "S": "semester",
    "T": "trimester",
    "Q": "quarter",
    "M": "month",
    "W": "week",
    "D": "day",
}
# What a FREQ expects, for messages.
EXPECTED_FORMS = {
    "A": "YYYY or YYYY-A1",
    "S": "YYYY-S1 or YYYY-S2",
    "T": "YYYY-T1 to YYYY-T3",
    "Q": "YYYY-Q1 to YYYY-Q4",
    "M": "YYYY-MM or YYYY-M01 to YYYY-M12",
    "W": "YYYY-W01 to YYYY-W53",
    "D": "YYYY-MM-DD or YYYY-D001 to YYYY-D366",
    "B": "YYYY-MM-DD or a date-time",
    "H": "a date-time YYYY-MM-DDThh:mm:ss",
    "N": "a date-time YYYY-MM-DDThh:mm:ss",
    "I": "a date-time or a time range",
}


class PeriodError(ValueError):
    """Not an SDMX time period; the message says why."""


def _iso(moment: date | datetime) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment.isoformat()}T00:00:00"


def _add_months(start: date, months: int) -> date:
    total = start.year * 12 + start.month - 1 + months
    year, month = divmod(total, 12)
    return start.replace(
        year=year, month=month + 1, day=min(start.day, monthrange(year, month + 1)[1])
    )


def _reporting(year: int, kind: str, number: str) -> tuple[date, date]:
    digits, highest, months = _KINDS[kind]
    n = int(number)
    if len(number) != digits or not 1 <= n <= highest:
        raise PeriodError(f"{kind}{number} is not one of {kind}{1:0{digits}d} to {kind}{highest}")
    if kind == "W":
        try:
            start = date.fromisocalendar(year, n, 1)
        except ValueError:
            raise PeriodError(f"{year} has no ISO week {n}") from None
        return start, start + timedelta(days=7)
    if kind == "D":
        if n == 366 and not isleap(year):
            raise PeriodError(f"{year} is not a leap year")
        start = date(year, 1, 1) + timedelta(days=n - 1)
        return start, start + timedelta(days=1)
    start = date(year, (n - 1) * months + 1, 1)
    return start, _add_months(start, months)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _range(text: str) -> tuple[datetime, datetime]:
    start_text, _, duration = text.partition("/")
    match = _DURATION.fullmatch(duration)
    if not match or not (_DATE.fullmatch(start_text) or _DATETIME.fullmatch(start_text)):
        raise PeriodError("a time range is a date or date-time, '/', and a duration like P1M")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    start = _instant(start_text)
    shifted = _add_months(start.date(), years * 12 + months)
    end = datetime.combine(shifted, start.time()) + timedelta(
        weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds
    )
    return start, end


def _parse(text: str) -> tuple[str, date | datetime, date | datetime]:
    """(form, start, exclusive end) of a period; raises PeriodError or ValueError."""
    if _YEAR.fullmatch(text):
        year = int(text)
        return "year", date(year, 1, 1), date(year + 1, 1, 1)
    if match := _REPORTING.fullmatch(text):
        year, kind, number = match.groups()
        return (_FORM_OF_KIND[kind], *_reporting(int(year), kind, number))
    if match := _MONTH.fullmatch(text):
        start = date(int(match[1]), int(match[2]), 1)
        return "month", start, _add_months(start, 1)
    if _DATE.fullmatch(text):
        day = date.fromisoformat(text)
        return "day", day, day + timedelta(days=1)
    if _DATETIME.fullmatch(text):
        moment = _instant(text)
        return "datetime", moment, moment + timedelta(seconds=1)
    if "/" in text:
        return ("range", *_range(text))
    raise PeriodError("not one of the SDMX period forms")


@lru_cache(maxsize=65_536)
def _parsed(text: str) -> tuple[str, str, str]:
    try:
        form, start, end = _parse(text)
    except PeriodError:
        raise
    except (ValueError, OverflowError) as exc:  # date(): month 13, 29 February 2019, year 0...
        raise PeriodError(str(exc)) from None
    return form, _iso(start), _iso(end)


def period_range(text: str) -> tuple[str, str]:
    """The (start, exclusive end) of an SDMX time period; raises PeriodError if it is not one."""
    _, start, end = _parsed(text)
    return start, end


def period_form(text: str) -> str:
    """year, semester, trimester, quarter, month, week, day, datetime or range."""
    return _parsed(text)[0]


def frequency_matches(freq: str | None, period: str) -> bool:
    """Whether `period` has the form FREQ calls for; an unknown or missing FREQ matches anything,
    and so does a period that does not parse (that is reported as an invalid period instead)."""
    forms = _FORMS_OF_FREQ.get(freq or "")
    if forms is None:
        return True
    try:
        return _parsed(period)[0] in forms
    except PeriodError:
        return True
