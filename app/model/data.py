"""What a data reader hands to validation and storage: format-independent events.

A reader turns a data message (any format) into a stream of events:

- `MessageStart`: the header facts (id, sender, the structures the message names);
- `DatasetStart`: one dataset: the structure it follows, its raw action word and its dataset-level
  attributes. SDMX-CSV, which has an action and a structure per row, starts a new dataset whenever
  either changes between consecutive rows;
- `Chunk`: up to `CHUNK_SIZE` observations of the current dataset, **columnar**: one list per
  component id (dimensions, `TIME_PERIOD`, the measure(s), attributes at any level), all of equal
  length, `None` where a row has no value. A series-level value is repeated on each of the series'
  rows. A series or group given without observations (a delete, or attribute-only update) is one
  row whose `TIME_PERIOD` is None; dimensions left out of a delete are None too;
- `GroupAttributes`: attribute values of a group (SDMX-ML 2.1 groups), for the partial key given.

A chunk's `positions` say where each row is ("line 40", a JSON path). Few rows ever get a finding,
so readers hand a `Positions`: what each position is made of (a line number, a JSON key), turned
into text only for the rows someone asks about.

Readers never look at a DSD or the database: they report what the message says, with positions,
and raise `MessageError` only for a message they cannot read at all (malformed XML, a CSV without
its header columns...). Whether the content is valid is validation's job.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, overload

CHUNK_SIZE: Final = 10_000
# Columns validation adds to a chunk: the start and end of each period (ISO 8601 date-times).
PERIOD_START: Final = "__period_start"
PERIOD_END: Final = "__period_end"
TIME_PERIOD: Final = "TIME_PERIOD"
OBS_VALUE: Final = "OBS_VALUE"
LINE_POSITION: Final = "line {}"  # the `Positions` template of readers that count lines


class StructureKind(StrEnum):
    DATAFLOW = "dataflow"
    DATASTRUCTURE = "datastructure"
    PROVISIONAGREEMENT = "provisionagreement"


@dataclass(frozen=True)
class StructureRef:
    """The structure a dataset follows, as the message names it (version None = not given)."""

    kind: StructureKind
    agency: str | None
    id: str
    version: str | None = None
    dimension_at_observation: str | None = (
        None  # SDMX-ML header: TIME_PERIOD, a dimension, AllDimensions
    )


@dataclass(frozen=True)
class MessageStart:
    id: str | None = None
    sender: str | None = None
    structures: dict[str, StructureRef] = field(default_factory=dict)  # header structureID -> ref
    format: str = ""  # the reader's name, e.g. "sdmx-ml-2.1-structurespecific"


@dataclass(frozen=True)
class DatasetStart:
    index: int  # 0, 1, ... in message order
    structure: StructureRef | None  # None: the message named no structure (then ?dataflow= must)
    action: (
        str | None
    )  # the raw action word as written (Append, Replace, Delete, Information, M, R, D, I, A...)
    attributes: dict[str, str] = field(default_factory=dict)  # dataset-level attribute values
    position: str = ""  # e.g. "line 12"


class Positions(Sequence[str]):
    """Row positions formatted on demand: `Positions("line {}", [12, 13])[1] == "line 13"`.

    An item that is a str is the position itself; a tuple fills several fields of `template`;
    anything else fills its one field. Equal to any sequence of the same strings."""

    __slots__ = ("items", "template")

    def __init__(self, template: str = "{}", items: list | None = None) -> None:
        self.template = template
        self.items: list = [] if items is None else items

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> "Positions": ...
    def __getitem__(self, index: int | slice) -> "str | Positions":
        if isinstance(index, slice):
            return Positions(self.template, self.items[index])
        item = self.items[index]
        if isinstance(item, str):
            return item
        if isinstance(item, tuple):
            return self.template.format(*item)
        return self.template.format(item)

    def __iter__(self) -> Iterator[str]:
        return map(self.__getitem__, range(len(self.items)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Positions({self.template!r}, {self.items!r})"


@dataclass
class Chunk:
    dataset: int  # DatasetStart.index
    columns: dict[str, list[str | None]]  # component id -> values, all lists of len(positions)
    positions: Sequence[str]  # where each row is, for findings ("line 40"); often `Positions`
    # Where the reader knows it: the rows at which groups of rows begin that repeat the values
    # of the `shared` columns (an SDMX-ML series element and its observations). None: unknown.
    runs: list[int] | None = None
    shared: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class GroupAttributes:
    dataset: int
    key: dict[str, str]  # the group's dimension values
    attributes: dict[str, str]
    position: str = ""


Event = MessageStart | DatasetStart | Chunk | GroupAttributes


class MessageError(ValueError):
    """A message that cannot be read at all (HTTP 400), with where it went wrong."""

    def __init__(self, message: str, position: str = "") -> None:
        super().__init__(f"{message} ({position})" if position else message)
        self.message = message
        self.position = position
