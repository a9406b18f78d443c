"""Findings: what validation reports, as data with a stable code, a message and a place.

Each kind of finding is one `Kind` in `KINDS`: a kebab-case code that clients may rely on, a severity,
a message template that says where and what was expected, and whether it is a provider-scope
finding (those make the submission a 403, not a 422).

`Findings` keeps at most `cap` findings and only counts the rest, so a message with a million bad
rows costs a bounded amount of memory; messages are formatted only for the findings it keeps.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Final, Literal

Severity = Literal["error", "warning"]
DEFAULT_CAP: Final = 1000
EXPECTED_LIMIT: Final = 12  # codes named in a message before it says "... (N codes)"


@dataclass(frozen=True)
class Location:
    """Where a finding is: the reader's position ("line 40"), the row's series key (dimension values
    joined with "." in DSD order, missing ones empty), the component and the value in question."""

    position: str | None = None
    series_key: str | None = None
    component: str | None = None
    value: str | None = None

    def describe(self) -> str:
        parts = [self.position or ""]
        if self.series_key is not None:
            parts.append(f"series {self.series_key!r}")
        return ", ".join(p for p in parts if p) or "in the message"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    location: Location

    def as_dict(self) -> dict:
        location = {k: v for k, v in asdict(self.location).items() if v is not None}
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "location": location,
        }


@dataclass(frozen=True)
class Kind:
    code: str
    template: str  # str.format fields: where, component, value, and those the check passes
    severity: Severity = "error"
    scope: bool = False  # a provider-scope finding: HTTP 403 rather than 422


KINDS: Final = {
    kind.code: kind
    for kind in (
        Kind(
            "unknown-component",
            "{component!r} ({where}) is not a component of {flow}; expected one of {expected}",
        ),
        Kind(
            "missing-dimension",
            "{component} has no value ({where}); {reason}",
        ),
        Kind(
            "unknown-code",
            "Code {value!r} of {component} ({where}) is not allowed for {flow}; "
            "expected one of {expected}",
        ),
        Kind(
            "outside-scope",
            "Code {value!r} of {component} ({where}) is outside the data you may provide "
            "to {flow}; expected one of {expected}",
            scope=True,
        ),
        Kind(
            "invalid-period",
            "{value!r} of {component} ({where}) is not an SDMX time period ({reason}); "
            "expected e.g. 2020, 2020-S1, 2020-Q3, 2020-07, 2020-W05, 2020-07-15",
        ),
        Kind(
            "frequency-mismatch",
            "Period {value!r} ({where}) does not fit FREQ {freq!r}; expected {expected}",
        ),
        Kind(
            "invalid-value",
            "{value!r} of {component} ({where}) is not a valid {text_type} value; expected {expected}",
        ),
        Kind(
            "invalid-character",
            "{value!r} of {component} ({where}) holds the control character {character}, which "
            "SDMX-ML cannot carry; expected text without control characters other than tab, "
            "line feed and carriage return",
        ),
        Kind(
            "missing-attribute",
            "Mandatory attribute {component} has no value ({where}); {flow} requires it "
            "at {level} level",
        ),
        Kind("attribute-level", "{component} ({where}): {reason}"),
    )
}


def expected_list(values: Iterable[str], limit: int = EXPECTED_LIMIT) -> str:
    """ "A, B, C" sorted, cut after `limit` values: "A, B, ... (259 codes)"."""
    ordered = sorted(values)
    if len(ordered) <= limit:
        return ", ".join(ordered)
    return f"{', '.join(ordered[:limit])}, ... ({len(ordered)} codes)"


VALUE_LIMIT: Final = 200  # characters of a message's value kept in a finding


def clip(text: str | None, limit: int = VALUE_LIMIT) -> str | None:
    """A hostile 12 MB value must not come back (and be stored) whole in a report."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _clipped(location: Location) -> Location:
    return Location(
        clip(location.position),
        clip(location.series_key),
        clip(location.component),
        clip(location.value),
    )


class Findings:
    """A bounded collector: keeps the first `cap` findings, counts all of them."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self._kept: list[Finding] = []
        self.counts: Counter[str] = Counter()  # code -> number found, kept or not
        self.errors = 0
        self.total = 0
        self._scope_errors = 0

    def add(self, code: str, location: Location, **fields: object) -> None:
        """Record a finding of kind `code`; `fields` fill its message template."""
        kind = KINDS[code]
        self.total += 1
        self.counts[code] += 1
        if kind.severity == "error":
            self.errors += 1
            self._scope_errors += kind.scope
        if len(self._kept) < self.cap:
            location = _clipped(location)
            message = kind.template.format(
                where=location.describe(),
                component=location.component,
                value=location.value,
                **fields,
            )
            self._kept.append(Finding(code, kind.severity, message, location))

    def error(
        self,
        code: str,
        message: str,
        *,
        position: str | None = None,
        series_key: str | None = None,
        component: str | None = None,
        value: str | None = None,
        scope: bool = False,
    ) -> None:
        """Record an error found outside the row checks, with its message already written: the
        set-based checks in SQL (duplicate-observation, inconsistent-attribute), a malformed message,
        a refused request. Codes need not be in KINDS; they are still counted against the cap."""
        self.total += 1
        self.counts[code] += 1
        self.errors += 1
        self._scope_errors += scope
        if len(self._kept) < self.cap:
            location = _clipped(Location(position, series_key, component, value))
            self._kept.append(Finding(code, "error", clip(message, 4 * VALUE_LIMIT), location))

    @property
    def truncated(self) -> bool:
        return self.total > len(self._kept)

    @property
    def has_errors(self) -> bool:
        return self.errors > 0

    @property
    def has_scope_errors(self) -> bool:
        return self._scope_errors > 0

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._kept)

    def __len__(self) -> int:
        return len(self._kept)

    def as_list(self) -> list[dict]:
        """The kept findings, JSON-ready (location fields that are None left out)."""
        return [finding.as_dict() for finding in self._kept]
