"""Row-local checks of one chunk, each a small function over whole columns.

Every check looks at the *distinct* values of a column first (a set built in C) and visits rows only
when some value is wrong, so a valid 10,000-row chunk costs a handful of set operations per column.
Rows are then reported one finding each; `Findings` bounds the memory.

`Rows` carries what all checks share: the chunk, its operation, the flow and where to report.
Missing values are `None` or `""` (a CSV reader may hand either).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from app.formats.sdmxml import NOT_XML_TEXT
from app.model.actions import Operation
from app.model.data import Chunk
from app.model.dsd import CompiledFlow, Component
from app.validation import periods
from app.validation.findings import Findings, Location
from app.validation.values import checked, invalid_values

ABSENT = (None, "")
FREQ = "FREQ"


@dataclass
class Rows:
    chunk: Chunk
    operation: Operation
    flow: CompiledFlow
    findings: Findings
    dimension_columns: list[Sequence[str | None] | None] = field(init=False)

    def __post_init__(self) -> None:
        self.dimension_columns = [self.chunk.columns.get(d) for d in self.flow.dimensions]

    @property
    def deleting(self) -> bool:
        return self.operation == Operation.DELETE

    def column(self, component: str) -> Sequence[str | None]:
        """The column, or a column of None when the chunk has none."""
        values = self.chunk.columns.get(component)
        return values if values is not None else [None] * len(self.chunk)

    def key(self, row: int) -> str:
        return ".".join((c[row] or "") if c is not None else "" for c in self.dimension_columns)

    def report(self, code: str, row: int, component: str | None, value: str | None, **fields):
        location = Location(self.chunk.positions[row], self.key(row), component, value)
        self.findings.add(code, location, flow=self.flow.ref, **fields)


def rows_with(values: Sequence[str | None], wanted: Collection[str | None]) -> list[int]:
    return [i for i, v in enumerate(values) if v in wanted]


def dimension(rows: Rows, dim: Component, scope: frozenset[str] | None, expected: str) -> None:
    """missing-dimension (not on DELETE rows: they delete what matches), unknown-code, outside-scope."""
    values = rows.column(dim.id)
    distinct = set(values)
    if not rows.deleting and not distinct.isdisjoint(ABSENT):
        reason = (
            f"every row of a {rows.operation.value} dataset needs all dimensions of {rows.flow.ref} "
            f"({', '.join(rows.flow.dimensions)}); only a DELETE may leave some out"
        )
        for i in rows_with(values, ABSENT):
            rows.report("missing-dimension", i, dim.id, None, reason=reason)
    distinct.difference_update(ABSENT)
    unknown = distinct - dim.codes if dim.codes is not None else set()
    for i in rows_with(values, unknown) if unknown else ():
        rows.report("unknown-code", i, dim.id, values[i], expected=expected)
    outside = distinct - unknown - scope if scope is not None else set()
    for i in rows_with(values, outside) if outside else ():
        rows.report("outside-scope", i, dim.id, values[i], expected=", ".join(sorted(scope or ())))


def coded(rows: Rows, component: Component, expected: str) -> None:
    """unknown-code for a coded measure or attribute (DELETE rows only flag what to delete)."""
    values = rows.chunk.columns.get(component.id)
    if values is None or component.codes is None or rows.deleting:
        return
    unknown = set(values) - component.codes
    unknown.difference_update(ABSENT)
    for i in rows_with(values, unknown) if unknown else ():
        rows.report("unknown-code", i, component.id, values[i], expected=expected)


def typed(rows: Rows, component: Component) -> None:
    """invalid-value for an uncoded value not of its text type (None, "" and NaN are allowed)."""
    values = rows.chunk.columns.get(component.id)
    rule = checked(component.text_type)
    if values is None or rule is None or component.codes is not None or rows.deleting:
        return
    bad = invalid_values(values, rule)
    for i in rows_with(values, bad) if bad else ():
        rows.report(
            "invalid-value",
            i,
            component.id,
            values[i],
            text_type=component.text_type,
            expected=rule.expected,
        )


def characters(rows: Rows, component: Component) -> None:
    """invalid-character for an uncoded value holding a character SDMX-ML cannot carry (answers
    in SDMX-ML could not send it back). Coded values are checked against their codes, typed
    ones against their type; this is for free text, and for every value of a DELETE row."""
    values = rows.chunk.columns.get(component.id)
    if values is None or bad_character("".join(filter(None, values))) is None:
        return
    for i, value in enumerate(values):
        character = bad_character(value or "")
        if character is not None:
            rows.report("invalid-character", i, component.id, value, character=character)


def bad_character(value: str) -> str | None:
    """The first character of `value` SDMX-ML cannot carry, as U+XXXX; None: none."""
    found = NOT_XML_TEXT.search(value)
    return None if found is None else f"U+{ord(found[0]):04X}"


def mandatory(rows: Rows, attribute: Component, period: Sequence[str | None] | None) -> None:
    """missing-attribute on non-DELETE rows. An observation-level attribute is required only on rows
    that are observations, which `period` (the time column) tells; None = every row."""
    if rows.deleting:
        return
    values = rows.column(attribute.id)
    if set(values).isdisjoint(ABSENT):
        return
    for i in rows_with(values, ABSENT):
        if period is None or period[i] not in ABSENT:
            rows.report("missing-attribute", i, attribute.id, None, level=attribute.level.value)


def time_period(rows: Rows, observation_values: list[str]) -> tuple[list, list]:
    """invalid-period, frequency-mismatch, and missing-dimension for a non-DELETE row that gives an
    observation value (measure or observation-level attribute) without a period (a row without
    period and such values is a series: an attribute-only update or a delete).
    Returns the PERIOD_START and PERIOD_END columns."""
    time = rows.flow.time_dimension or ""
    values = rows.column(time)
    distinct = set(values)
    starts: dict[str | None, str] = {}
    ends: dict[str | None, str] = {}
    for value in distinct.difference(ABSENT):
        try:
            starts[value], ends[value] = periods.period_range(value)  # type: ignore[arg-type]
        except periods.PeriodError as exc:
            for i in rows_with(values, (value,)):
                rows.report("invalid-period", i, time, value, reason=str(exc))
    if not distinct.isdisjoint(ABSENT) and not rows.deleting:
        _observations_without_period(rows, values, observation_values)
    _frequency(rows, values, starts)
    return list(map(starts.get, values)), list(map(ends.get, values))


def _observations_without_period(rows: Rows, values, observation_values: list[str]) -> None:
    time = rows.flow.time_dimension or ""
    given = [c for c in (rows.chunk.columns.get(o) for o in observation_values) if c is not None]
    reason = "the row gives an observation value, which needs a period"
    for i in rows_with(values, ABSENT):
        if any(column[i] not in ABSENT for column in given):
            rows.report("missing-dimension", i, time, None, reason=reason)


def _frequency(rows: Rows, values: Sequence[str | None], valid: dict) -> None:
    """frequency-mismatch; one check per distinct (FREQ, period) pair."""
    freqs = rows.chunk.columns.get(FREQ) if FREQ in rows.flow.dimensions else None
    if freqs is None or not valid:
        return
    distinct_freqs = set(freqs)
    if len(distinct_freqs) == 1:
        (freq,) = distinct_freqs
        pairs = {(freq, p) for p in valid}
    else:
        pairs = set(zip(freqs, values, strict=True))
    bad = {(f, p) for f, p in pairs if p in valid and not periods.frequency_matches(f, p)}
    if not bad:
        return
    time = rows.flow.time_dimension
    for i, pair in enumerate(zip(freqs, values, strict=True)):
        if pair in bad:
            freq = pair[0] or ""
            expected = periods.EXPECTED_FORMS.get(freq, "")
            rows.report("frequency-mismatch", i, time, pair[1], freq=freq, expected=expected)
