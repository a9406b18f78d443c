"""A dataflow compiled for the hot path: plain sets and tuples, built once per structure revision.

Validation and storage never walk sdmx1 objects per observation; they use these lookups
(DESIGN.md, "Compile each DSD once").
"""

from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    """Where an attribute's value is attached."""

    DATASET = "dataset"
    SERIES = "series"  # attached to all (or some) dimensions, or to a group
    OBSERVATION = "observation"


@dataclass(frozen=True)
class Component:
    id: str
    role: str  # "dimension" | "time" | "measure" | "attribute"
    codes: frozenset[str] | None = None  # allowed codes (codelist cut by the dataflow's constraint)
    text_type: str | None = None  # SDMX text type of an uncoded representation (e.g. "Decimal")
    level: Level = Level.OBSERVATION  # attributes only
    mandatory: bool = False  # attributes only


@dataclass(frozen=True)
class CompiledFlow:
    """Everything validation and storage need to know about one dataflow."""

    agency: str
    id: str
    version: str
    dsd: tuple[str, str, str]  # agency, id, version of its DSD
    dimensions: tuple[str, ...]  # series dimensions in DSD order (the time dimension excluded)
    time_dimension: str | None
    measure: str
    components: dict[str, Component]
    # provider id -> dimension id -> allowed codes (from provision agreement constraints)
    provider_scopes: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.agency}:{self.id}({self.version})"

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.components.values() if c.role == "attribute")

    def attributes_at(self, level: Level) -> tuple[str, ...]:
        return tuple(
            c.id for c in self.components.values() if c.role == "attribute" and c.level == level
        )
