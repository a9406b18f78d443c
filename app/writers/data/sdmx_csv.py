"""SDMX-CSV data writers: 1.0 (`DATAFLOW` column) and 2.0 (`STRUCTURE`, `STRUCTURE_ID`,
`ACTION`), streamed as ~64 kB byte chunks.

Columns: the structure columns, then (2.0, `keys`) `SERIES_KEY`/`OBS_KEY`, the dimensions in DSD
order (the time dimension last), the measure, the attributes (row order, then the dataset-level
ones the rows do not carry, repeated on every row). Missing values are empty cells.

Decisions:

- Speed: rows go through one `itemgetter` (DSD order) plus constant prefix and suffix tuples,
  and the C `csv.writer` does quoting and `None` -> "" (measured over 1M rows/s for the plain
  case). Labels, normalised periods and keys take a slower per-row path.
- Plain exports (`_exported`: stored rows unchanged, in output order, no per-cell transform)
  skip row objects altogether: `app.storage.csv_export` has the database hand over CSV lines
  (PostgreSQL COPY) or raw tuples joined a batch at a time (SQLite), about twice as fast, and
  byte-identical (tests/api/test_store_exports.py compares both paths).
- 2.0 always writes `ACTION`: the header goes out before later dataset blocks are known, and
  the specification says the column should be there. 1.0 cannot say Delete: a Delete block is
  a ValueError (the caller refuses such requests before streaming).
- `labels=name` is SDMX-CSV 2.0 only (an id column followed by a name column); 1.0 writes it as
  `both` so the output still carries ids. `labels=both`: `ID: Name` in component headers and in
  coded cells (1.0 keeps the plain `DATAFLOW` and `OBS_VALUE` header terms, as its
  specification says). Uncoded values (periods, numbers, free text) are never labelled.
  `Labels` has no dataflow name, so the structure cell keeps its id and `STRUCTURE_NAME` is empty.
- `serieskeysonly`/`nodata` write one row per series with empty observation cells.
- History blocks carry no validity columns (SDMX-CSV has none): each version is written as rows.
"""

from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from operator import itemgetter
from typing import Final

from app.formats.media import MediaType
from app.model.response import DataResponse, DatasetBlock
from app.writers.data import register
from app.writers.data._rows import (
    CHUNK_SIZE,
    Layout,
    check_action,
    layout,
    normalized_period,
    series_heads,
)

ACTION_LETTERS: Final = {"Information": "I", "Append": "A", "Replace": "R", "Delete": "D"}

Transform = Callable[[object], object]


class _Columns:
    """The header and the per-row recipe for one message."""

    def __init__(self, response: DataResponse, version: str) -> None:
        self.response = response
        self.version = version
        self.layout: Layout = layout(response)
        lay = self.layout
        labels = response.csv_labels if response.labels is not None else "id"
        if version == "1.0" and labels == "name":
            labels = "both"
        self.labels = labels
        self.attributes = lay.attribute_ids(response)
        index = {c: i for i, c in enumerate(response.columns)}
        self.row_attributes = tuple(index[a] for a in self.attributes if a in index)
        self.extra = self.attributes[len(self.row_attributes) :]
        self.picks = (*lay.dsd_order, lay.measure, *self.row_attributes)
        self.ids = (*(lay.dimensions[i] for i in lay.dsd_order), response.flow.measure)
        self.ids += self.attributes
        flow = response.flow
        self.ref = flow.ref
        self.keys = response.csv_keys if version == "2.0" else "none"
        time = flow.time_dimension or "TIME_PERIOD"
        self.time_position = self.ids.index(time)

    def header(self) -> list[str]:
        flow_measure = self.response.flow.measure
        names: list[str] = []
        for cid in self.ids:
            name = self._component_name(cid)
            if (
                self.labels == "both"
                and name
                and not (self.version == "1.0" and cid == flow_measure)
            ):
                names.append(f"{cid}: {name}")
            elif self.labels == "name":
                names += [cid, name or ""]
            else:
                names.append(cid)
        if self.version == "1.0":
            return ["DATAFLOW", *names]
        control = ["STRUCTURE", "STRUCTURE_ID"]
        if self.labels == "name":
            control.append("STRUCTURE_NAME")
        control.append("ACTION")
        if self.keys in ("series", "both"):
            control.append("SERIES_KEY")
        if self.keys in ("obs", "both"):
            control.append("OBS_KEY")
        return [*control, *names]

    def _component_name(self, cid: str) -> str | None:
        labels = self.response.labels
        return labels.component(cid) if labels is not None else None

    def prefix(self, block: DatasetBlock) -> tuple:
        if self.version == "1.0":
            return (self.ref,)
        action = ACTION_LETTERS[block.action]
        if self.labels == "name":
            return ("dataflow", self.ref, "", action)
        return ("dataflow", self.ref, action)

    def suffix(self, block: DatasetBlock) -> tuple:
        return tuple(block.attributes.get(a) for a in self.extra)

    def transforms(self) -> list[tuple[int, Transform]]:
        """(cell position, function) for cells that labels or normalised periods change."""
        out: list[tuple[int, Transform]] = []
        if self.response.csv_time_format == "normalized":
            out.append((self.time_position, _normalize))
        if self.labels in ("both", "name"):
            flow = self.response.flow
            for position, cid in enumerate(self.ids):
                component = flow.components.get(cid)
                if component is not None and component.codes is not None:
                    out.append((position, self._labeller(cid)))
        return out

    def _labeller(self, cid: str) -> Transform:
        labels = self.response.labels
        assert labels is not None
        cache: dict[object, object] = {}
        both = self.labels == "both"

        def label(value: object) -> object:
            if value is None:
                return (None, None) if not both else None
            found = cache.get(value)
            if found is None:
                name = labels.code(cid, str(value))
                found = (f"{value}: {name}" if name else value) if both else (value, name)
                if len(cache) < 100_000:
                    cache[value] = found
            return found

        return label


def _normalize(value: object) -> object:
    return normalized_period(value) if isinstance(value, str) else value


def _key(values: Iterable[object]) -> str:
    return ".".join("" if v is None else str(v) for v in values)


def _cells(columns: _Columns, block: DatasetBlock) -> tuple[Iterable[tuple], tuple]:
    """The cells of each CSV row of a block after the structure columns, and the cells that
    end every row (dataset-level attributes the rows do not carry)."""
    lay = columns.layout
    rows: Iterable[tuple] = block.rows
    if not lay.observations:
        rows = series_heads(rows, lay.key_width) if not lay.flat else rows
        blank = {lay.obs_dimension, lay.measure, *lay.obs_attributes} if not lay.flat else set()
        blank.add(lay.measure)
        rows = (tuple(None if i in blank else v for i, v in enumerate(r)) for r in rows)
    suffix = columns.suffix(block)
    transforms = columns.transforms()
    if not transforms and columns.keys == "none":  # the hot path
        in_order = columns.picks == tuple(range(len(columns.response.columns)))
        if in_order:
            return rows, suffix  # rows are already in output order
        return map(itemgetter(*columns.picks), rows), suffix
    pick = itemgetter(*columns.picks)
    return _slow_rows(columns, rows, pick, suffix, transforms), ()


def _exported(columns: _Columns, block: DatasetBlock) -> bool:
    """Whether the block's lines can come straight from the store (`app.storage.csv_export`):
    the block has stored rows unchanged (current data, not updatedAfter, every measure), and
    the message writes them as they are, in their order (labels=id, timeFormat=original,
    keys=none, observations: detail full or dataonly). Anything else takes the row path."""
    return (
        block.export is not None
        and columns.layout.observations
        and columns.keys == "none"
        and not columns.transforms()
        and columns.picks == tuple(range(len(columns.response.columns)))
    )


def _slow_rows(columns, rows, pick, suffix, transforms) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    lay = columns.layout
    n_dims = len(lay.dsd_order)
    series_positions = [p for p, i in enumerate(lay.dsd_order) if lay.flat or i < lay.key_width]
    if lay.flat:  # no series: the key without the time dimension
        time = columns.time_position
        series_positions = [p for p in range(n_dims) if p != time]
    keys = columns.keys
    pairs = columns.labels == "name"
    for row in rows:
        cells = list(pick(row))
        extra: list = []
        if keys in ("series", "both"):
            extra.append(_key(cells[p] for p in series_positions))
        if keys in ("obs", "both"):
            extra.append(_key(cells[:n_dims]))
        for position, transform in transforms:
            cells[position] = transform(cells[position])
        cells += suffix
        if pairs:
            cells = _pairs(cells, columns)
        yield (*extra, *cells)


def _pairs(cells: list, columns: _Columns) -> list:
    """labels=name: each cell followed by its name cell (coded cells arrive as (id, name))."""
    out: list = []
    for cell in cells:
        if type(cell) is tuple:
            out += cell
        else:
            out += (cell, None)
    return out


def _quoted(cells: Iterable[object]) -> str:
    """One CSV line the careful way: text as written, floats without a trailing `.0`, quotes
    where RFC 4180 needs them."""
    out = []
    for cell in cells:
        if cell is None:
            out.append("")
            continue
        if type(cell) is float:
            text = repr(cell)
            text = text[:-2] if text.endswith(".0") else text
        else:
            text = str(cell)
        if any(c in text for c in _SPECIAL):
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return ",".join(out)


_SPECIAL: Final = (",", '"', "\n", "\r")
# rows, per database: a smaller block is written from the rows read, since the store's lines come
# from running its query again. That costs SQLite little: from 200 rows its lines are faster
# (2026-12-04: 1,440 rows at 237 req/s against 181 from the rows; 600 rows the same); PostgreSQL
# a COPY's start (a single series took 6.8 ms instead of 4.0 ms). The store's first fetches stop
# at each of these (HEAD_FETCHES).
EXPORTED_FROM: Final = {"sqlite": 200, "postgresql": 2_000}
_EMPTY: Final = {None: ""}


def write_csv(response: DataResponse, version: str) -> Iterator[bytes]:
    """The SDMX-CSV `version` ("1.0" or "2.0") message of `response`, as byte chunks.

    Each line is joined in C: `map(dict.get, cells, cells)` turns None into "" and leaves the
    rest, then a check of the line (the right number of commas, no quote, no line break) proves
    that no cell needed quoting. Anything else (a comma inside a value, a number that is not
    text) goes through `_quoted`. The structure cells and the dataset-level tail are constant
    per block and written as text."""
    columns = _Columns(response, version)
    header = columns.header()
    buffer: list[str] = [_quoted(header) + "\r\n"]
    size = 0
    join, get = ",".join, _EMPTY.get
    for block in response.datasets:
        check_action(block.action)
        if version == "1.0" and block.action == "Delete":
            raise ValueError("SDMX-CSV 1.0 cannot express deletions (no ACTION column)")
        rows, tail = _cells(columns, block)
        head = _quoted(columns.prefix(block)) + ","
        end = ("," + _quoted(tail) if tail else "") + "\r\n"
        exported = _exported(columns, block)
        if exported:  # only a big block: a small one is written from the rows read
            least = EXPORTED_FROM[block.export.dialect]  # type: ignore[union-attr]
            first = list(islice(rows, least))
            exported = len(first) == least
            rows = chain(first, rows)
        if exported:
            if buffer:
                yield "".join(buffer).encode()
                buffer.clear()
                size = 0
            yield from block.export.chunks(head, end, _quoted)  # type: ignore[union-attr]
            continue
        commas = len(header) - len(columns.prefix(block)) - len(tail) - 1
        append = buffer.append
        for cells in rows:
            try:
                line = join(map(get, cells, cells))
            except TypeError:
                line = _quoted(cells)
            else:
                if line.count(",") != commas or '"' in line or "\n" in line or "\r" in line:
                    line = _quoted(cells)
            line = head + line + end
            append(line)
            size += len(line)
            if size >= CHUNK_SIZE:
                yield "".join(buffer).encode()
                buffer.clear()
                size = 0
    if buffer:
        yield "".join(buffer).encode()


@register(MediaType.DATA_CSV_10)
def write_csv_10(response: DataResponse) -> Iterator[bytes]:
    return write_csv(response, "1.0")


@register(MediaType.DATA_CSV_20)
def write_csv_20(response: DataResponse) -> Iterator[bytes]:
    return write_csv(response, "2.0")
