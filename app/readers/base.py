"""What every data reader is, and the helper that builds columnar chunks.

A reader module defines a `Reader` and registers it in `app.readers.registry`; the registry asks
each reader in turn whether it handles a media type, or failing that, the first bytes of a body.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import BinaryIO, Protocol

from app.model.data import CHUNK_SIZE, Chunk, Event, Positions


class ReadFunction(Protocol):
    def __call__(self, stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Event]: ...


@dataclass(frozen=True)
class Reader:
    """A data message format DSM reads."""

    name: str  # e.g. "sdmx-ml-2.1-structurespecific"
    media_types: tuple[
        str, ...
    ]  # essences with version, e.g. "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
    sniff: "SniffFunction"  # True when the first bytes (up to 64 kB) look like this format
    read: ReadFunction


class SniffFunction(Protocol):
    def __call__(self, head: bytes) -> bool: ...


class ChunkBuilder:
    """Collects rows into columnar chunks: `add` rows, take a `Chunk` when `full`, `flush` at the end.

    Rows may name different components: a column first seen on row n is back-filled with None.
    A row's position is given as a `Positions` item (e.g. a line number for `template` "line {}").
    """

    def __init__(self, dataset: int, chunk_size: int = CHUNK_SIZE, template: str = "{}") -> None:
        self.dataset = dataset
        self.chunk_size = chunk_size
        self.template = template
        self._columns: dict[str, list[str | None]] = {}
        self._positions: list = []
        self._runs: list[int] | None = []  # where each add_columns group began; None: add() too
        self._shared: frozenset[str] | None = None  # columns every group repeats

    def add(self, position: object, *parts: dict[str, str | None]) -> None:
        """Add one row made of several dicts (e.g. series values and observation values)."""
        self._runs = None
        n = len(self._positions)
        columns = self._columns
        seen = 0
        for part in parts:
            for key, value in part.items():
                column = columns.get(key)
                if column is None:
                    column = columns[key] = [None] * n
                elif len(column) > n:  # the same component twice in one row: last one wins
                    column[n] = value
                    continue
                column.append(value)
                seen += 1
        if seen != len(columns):
            for column in columns.values():
                if len(column) == n:
                    column.append(None)
        self._positions.append(position)

    def add_columns(
        self,
        positions: Sequence[object],
        head: dict[str, str | None],
        given: dict[str, Sequence[str | None]],
    ) -> None:
        """Add rows given as columns, each of len(positions), after the values `head` repeats on
        each row; a component in both takes the column. Columns are created in `head` then
        `given` order, as `add` would create them row by row. `given` is emptied."""
        n, m = len(self._positions), len(positions)
        columns = self._columns
        if self._runs is not None:
            self._runs.append(n)
            repeated = frozenset(head).difference(given)
            self._shared = repeated if self._shared is None else self._shared & repeated
        touched = len(head)
        for key, value in head.items():
            column = columns.get(key)
            if column is None:
                columns[key] = column = [None] * n
            values = given.pop(key, None)
            column.extend(repeat(value, m) if values is None else values)
        touched += len(given)
        for key, values in given.items():
            column = columns.get(key)
            if column is None:
                columns[key] = column = [None] * n
            column.extend(values)
        if len(columns) != touched:
            for column in columns.values():
                if len(column) == n:
                    column.extend(repeat(None, m))
        self._positions.extend(positions)

    @property
    def rows(self) -> int:
        return len(self._positions)

    @property
    def full(self) -> bool:
        return len(self._positions) >= self.chunk_size

    def take(self) -> Chunk | None:
        """The rows collected so far as a chunk (None if there are none), and start afresh."""
        if not self._positions:
            return None
        chunk = Chunk(self.dataset, self._columns, Positions(self.template, self._positions))
        if self._runs:
            chunk.runs, chunk.shared = self._runs, self._shared or frozenset()
        self._columns, self._positions = {k: [] for k in self._columns}, []
        self._runs, self._shared = [], None
        return chunk
