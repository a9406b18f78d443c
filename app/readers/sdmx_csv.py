"""SDMX-CSV data readers: 1.0 (`DATAFLOW` column), 2.0 and 2.1 (`STRUCTURE`, `STRUCTURE_ID`, `ACTION`).

One generator serves the three versions; only the control columns differ. Decisions:

- Rows are turned into columns a small batch at a time (`BATCH_ROWS`), so per-row and per-cell
  loops run in C. Text without quotes (or lone CRs) needs no CSV parser: a batch of lines is
  joined and split on the delimiter once and the columns are slices of that list. From the first
  block with a quote on, `csv.reader` reads the rest. A new `DatasetStart` begins whenever the
  control cells (structure type, structure id, action) change.
- Bytes are decoded a block at a time with strict UTF-8 (a BOM is allowed on line 1), so a wrong
  encoding is reported on its physical line. Positions are physical lines ("line 7" is where the
  record starts; a quoted field may carry the record over several lines), formatted only when
  asked for (`Positions`).
- The delimiter is the character after the first header term (`DATAFLOW` or `STRUCTURE[..]`);
  the 2.0 specification allows `;` and other locale separators.
- Header terms are reduced to ids: `DIM: Name` (labels=both) -> `DIM`, `ATTR[]`/`ATTR[en;fr]` ->
  `ATTR`. Cells under labels=both are reduced the same way when the part before ": " has no
  space (codes never do; free text such as "Note: see x y" usually does).
  labels=name (a `STRUCTURE_NAME` column) is read as "each component column is followed by its
  name column", which the specification says; custom columns would break that pairing.
  `SERIES_KEY`/`OBS_KEY` are dropped (they repeat the dimensions).
- Multi-valued and multi-lingual cells (`A;B`, `en:x;fr:y`) are kept as raw text.
- 2.0 and 2.1 share columns; a 2.1 message is recognisable only by a Merge action `M`. Sniffing
  therefore says 2.1 when an ACTION cell in the first bytes is `M`, and 2.0 otherwise. The action
  is reported as written either way.
- `csv.field_size_limit` is process-wide; this module sets it to `FIELD_SIZE_LIMIT` on import.
"""

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice, repeat
from typing import BinaryIO, Final

from app.model.data import (
    CHUNK_SIZE,
    Chunk,
    DatasetStart,
    Event,
    MessageError,
    MessageStart,
    Positions,
    StructureKind,
    StructureRef,
)
from app.readers.base import Reader
from app.readers.registry import register

MEDIA_TYPE_10: Final = "application/vnd.sdmx.data+csv;version=1.0.0"
MEDIA_TYPE_20: Final = "application/vnd.sdmx.data+csv;version=2.0.0"
MEDIA_TYPE_21: Final = "application/vnd.sdmx.data+csv;version=2.1.0"

FIELD_SIZE_LIMIT: Final = 1 << 20  # 1 MiB per cell
LINE_SIZE_LIMIT: Final = 2 << 20  # 2 Mi characters per physical line (cells: 1 MiB)
BLOCK_SIZE: Final = 1 << 20  # bytes decoded at a time
BATCH_ROWS: Final = 200  # rows transposed at a time (few, so they die young for the GC)
DELIMITERS: Final = ",;\t|"

DATAFLOW, STRUCTURE, STRUCTURE_ID, STRUCTURE_NAME, ACTION = (
    "DATAFLOW",
    "STRUCTURE",
    "STRUCTURE_ID",
    "STRUCTURE_NAME",
    "ACTION",
)
DROPPED_COLUMNS: Final = frozenset({"SERIES_KEY", "OBS_KEY"})
STRUCTURE_KINDS: Final = {
    "dataflow": StructureKind.DATAFLOW,
    "datastructure": StructureKind.DATASTRUCTURE,
    "dataprovision": StructureKind.PROVISIONAGREEMENT,
}

_HEADER = re.compile(rb"^(?:\xef\xbb\xbf)?(DATAFLOW|STRUCTURE)(\[[^\]\r\n]*\])?([,;\t|])")
_REF = re.compile(r"^(?:([A-Za-z0-9_@$.\-]+):)?([A-Za-z0-9_@$\-]+)(?:\(([^()]*)\))?$")

csv.field_size_limit(FIELD_SIZE_LIMIT)


def _text_blocks(stream: BinaryIO) -> Iterator[str]:
    """`stream` as blocks of whole lines of text: strict UTF-8, a BOM allowed at the start.

    Decoding a block at a time keeps the per-line cost in C; a decoding error is placed on its
    physical line by counting the newlines before it."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    rest = ""
    lines_before = 0
    while block := stream.read(BLOCK_SIZE):
        try:
            text = rest + decoder.decode(block)
        except UnicodeDecodeError as e:
            line = lines_before + block.count(b"\n", 0, max(e.start, 0)) + 1
            raise MessageError(
                f"Bytes not UTF-8 ({e.reason}); expected UTF-8 text", f"line {line}"
            ) from None
        lines_before += block.count(b"\n")
        cut = text.rfind("\n") + 1
        if cut:
            yield text[:cut]
        rest = text[cut:]
        if len(rest) > LINE_SIZE_LIMIT:
            raise MessageError(
                f"Line longer than {LINE_SIZE_LIMIT} characters; expected shorter lines",
                f"line {lines_before + 1}",
            )
    try:
        rest += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise MessageError(
            "Bytes not UTF-8 (truncated character at the end); expected UTF-8 text",
            f"line {lines_before + 1}",
        ) from None
    if rest:
        yield rest


def _strip_label(value: str) -> str:
    """`ID: Name` -> `ID` when the part before ": " looks like an id (no space)."""
    head, sep, _ = value.partition(": ")
    return head if sep and " " not in head else value


def _column_id(term: str) -> str:
    return _strip_label(term).split("[", 1)[0]


class _Layout:
    """What the header row says: where the control columns are and which columns are components."""

    def __init__(self, header: list[str], version: str) -> None:
        self.width = len(header)
        terms = [_column_id(t) for t in header]
        self.labels = any(": " in t for t in header)
        expected = [DATAFLOW] if version == "1.0" else [STRUCTURE, STRUCTURE_ID]
        for field, name in enumerate(expected):
            if field >= len(terms) or terms[field] != name:
                found = f"'{header[field]}'" if field < len(terms) else "nothing"
                raise MessageError(
                    f"Header field {field + 1} is {found}; expected {name}"
                    f" (SDMX-CSV {version}: {', '.join(expected)} first)",
                    "line 1",
                )
        self.kind = None if version == "1.0" else 0
        self.ref = 0 if version == "1.0" else 1
        self.action = terms.index(ACTION) if version != "1.0" and ACTION in terms else None
        control = [i for i in (self.kind, self.ref, self.action) if i is not None]
        pairs = STRUCTURE_NAME in terms  # labels=name: each component column + its name column
        self.components: list[tuple[str, int]] = []
        skip = False
        for i, term in enumerate(terms):
            if skip:
                skip = False
                continue
            if i in control or term == STRUCTURE_NAME or term in DROPPED_COLUMNS:
                continue
            if any(term == seen for seen, _ in self.components):
                raise MessageError(f"Column {term} appears twice (field {i + 1})", "line 1")
            self.components.append((term, i))
            skip = pairs
        self.control = control  # the fields whose change starts a dataset
        self._names = dict(zip(control, range(len(control)), strict=True))

    def dataset(self, cells: tuple[str, ...], index: int, line: int) -> DatasetStart:
        """The DatasetStart for the control cells of a row (in `control` order)."""
        where = f"line {line}"
        kind = StructureKind.DATAFLOW
        if self.kind is not None:
            word = cells[self._names[self.kind]]
            kind = STRUCTURE_KINDS.get(word.lower())
            if kind is None:
                raise MessageError(
                    f"STRUCTURE is '{word}'; expected dataflow, datastructure or dataprovision",
                    where,
                )
        text = _strip_label(cells[self._names[self.ref]])
        match = _REF.match(text)
        if match is None:
            column = DATAFLOW if self.kind is None else STRUCTURE_ID
            raise MessageError(f"{column} is '{text}'; expected AGENCY:ID(VERSION)", where)
        agency, id_, version = match.groups()
        action = cells[self._names[self.action]] or None if self.action is not None else None
        return DatasetStart(
            index, StructureRef(kind, agency, id_, version or None), action, position=where
        )


def _delimiter(first: str, version: str) -> str:
    match = _HEADER.match(first.encode()[:4096])
    expected = DATAFLOW if version == "1.0" else STRUCTURE
    if match is None or match.group(1).decode() != expected:
        found = first[:40].rstrip("\r\n")
        raise MessageError(
            f"Header starts '{found}'; expected {expected} then a delimiter (SDMX-CSV {version})",
            "line 1",
        )
    return match.group(3).decode()


def read_csv(
    stream: BinaryIO, *, version: str, name: str, chunk_size: int = CHUNK_SIZE
) -> Iterator[Event]:
    """Events of an SDMX-CSV message of `version` ("1.0", "2.0" or "2.1")."""
    blocks = _text_blocks(stream)
    head = next(blocks, "")
    first = io.StringIO(head, newline="").readline()
    if not first.strip():
        raise MessageError("Empty message; expected an SDMX-CSV header line", "line 1")
    delimiter = _delimiter(first, version)
    batch = min(BATCH_ROWS, chunk_size)
    plain = _plain(first)
    if plain is not None and plain.endswith("\n"):
        layout = _Layout(plain[:-1].split(delimiter), version)
        records = _records(chain([head[len(first) :]], blocks), delimiter, layout.width, batch)
    else:  # a quoted header: the CSV parser from the start
        reader = _csv_reader(chain([head], blocks), delimiter)
        try:
            layout = _Layout(next(reader), version)
        except csv.Error as e:
            raise MessageError(f"Malformed CSV: {e}", f"line {reader.line_num}") from None
        records = _csv_records(reader, 0, layout.width, batch)
    yield MessageStart(format=name)
    yield from _rows(records, layout, chunk_size)


# A batch of records: one sequence of cells per header field, and the line each record starts on.
Records = Iterator[tuple[list[Sequence[str]], Sequence[int]]]


def _plain(text: str) -> str | None:
    """`text` with CRLF line ends made LF, or None when it needs a CSV parser (a quote, a lone CR)."""
    if '"' in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    return text


def _csv_reader(blocks: Iterable[str], delimiter: str):  # type: ignore[no-untyped-def]
    lines = chain.from_iterable(io.StringIO(text, newline="") for text in blocks)
    return csv.reader(lines, delimiter=delimiter, strict=True)


def _records(blocks: Iterator[str], delimiter: str, width: int, batch: int) -> Records:
    """The records after a one-line header, `batch` at a time. Plain text is split on the
    delimiter; the first block that is not plain hands itself and the rest to `csv.reader`."""
    delimiters = repeat(delimiter)
    line = 1
    for text in blocks:
        plain = _plain(text)
        lines = plain.split("\n") if plain is not None else []
        if plain is None or (
            len(plain) > FIELD_SIZE_LIMIT and max(map(len, lines)) > FIELD_SIZE_LIMIT
        ):  # quotes, or a cell the CSV parser must refuse with its own message
            yield from _csv_records(
                _csv_reader(chain([text], blocks), delimiter), line, width, batch
            )
            return
        if not lines[-1]:
            lines.pop()  # the text ended with a line break
        for begin in range(0, len(lines), batch):
            part = lines[begin : begin + batch]
            if "" not in part and set(map(str.count, part, delimiters)) == {width - 1}:
                cells = delimiter.join(part).split(delimiter)
                yield [cells[i::width] for i in range(width)], range(line + 1, line + len(part) + 1)
            else:  # blank lines or a ragged row
                rows, starts = _irregular(
                    [p.split(delimiter) if p else [] for p in part], line, width
                )
                if rows:
                    yield list(map(list, zip(*rows, strict=True))), starts
            line += len(part)


def _csv_records(reader, offset: int, width: int, batch: int) -> Records:  # type: ignore[no-untyped-def]
    """The records `reader` gives, `batch` at a time; it starts after line `offset`."""
    line = offset + reader.line_num  # the last physical line read
    try:
        while rows := list(islice(reader, batch)):
            end = offset + reader.line_num
            if end - line == len(rows) and set(map(len, rows)) == {width}:
                starts: Sequence[int] = range(line + 1, end + 1)
            else:  # blank lines, records over several lines, or a ragged row
                rows, starts = _irregular(rows, line, width)
            line = end
            if rows:
                yield list(zip(*rows, strict=True)), starts
    except csv.Error as e:
        raise MessageError(f"Malformed CSV: {e}", f"line {offset + reader.line_num}") from None


class _Columns:
    """Rows of one dataset collected as columns; `add` yields a Chunk whenever one is full.

    A component column keeps one string object per distinct value (`seen`, reset with each
    chunk) and turns "" into None on the way in. Done a small batch at a time, while the cells
    are fresh in the CPU cache, this costs little, and validation then hashes a few hundred
    distinct strings per column instead of ten thousand new ones. A column whose values are
    mostly distinct (measures) stops sharing for the rest of the chunk: it would only cost."""

    def __init__(self, layout: _Layout, chunk_size: int) -> None:
        self.layout = layout
        self.chunk_size = chunk_size
        self.fields = [i for _, i in layout.components]
        self.columns: list[list[str | None]] = [[] for _ in self.fields]
        self.seen: list[dict[str, str | None] | None] = [{"": None} for _ in self.fields]
        self.starts: list[int] = []

    def add(
        self, cells: list[Sequence[str]], starts: Sequence[int], begin: int, end: int, dataset: int
    ) -> Iterator[Chunk]:
        """Add records `begin` to `end` of a batch."""
        while begin < end:
            stop = min(end, begin + self.chunk_size - len(self.starts))
            whole = begin == 0 and stop == len(starts)
            size = len(self.starts) + stop - begin
            for k, i in enumerate(self.fields):
                values = cells[i] if whole else cells[i][begin:stop]
                seen, column = self.seen[k], self.columns[k]
                if seen is None:
                    column.extend([v or None for v in values] if "" in values else values)
                else:
                    column.extend(map(seen.setdefault, values, values))
                    if len(seen) > size // 2 + 1:
                        self.seen[k] = None
            self.starts.extend(starts if whole else starts[begin:stop])
            begin = stop
            if len(self.starts) >= self.chunk_size:
                yield self.take(dataset)

    def take(self, dataset: int) -> Chunk:
        out: dict[str, list[str | None]] = {}
        for (name, _), column in zip(self.layout.components, self.columns, strict=True):
            if self.layout.labels:
                column = [_strip_label(v) if v else None for v in column]
            out[name] = column
        chunk = Chunk(dataset, out, Positions("line {}", self.starts))
        self.columns = [[] for _ in self.fields]
        self.seen = [{"": None} for _ in self.fields]
        self.starts = []
        return chunk


def _rows(records: Records, layout: _Layout, chunk_size: int) -> Iterator[Event]:
    """Dataset starts and chunks. A batch whose control cells all equal the current ones (one
    `count` per control column) goes in whole; otherwise it is cut where they change."""
    collected = _Columns(layout, chunk_size)
    current: tuple[str, ...] | None = None
    index = -1
    for cells, starts in records:
        n, begin = len(starts), 0
        keys = [cells[i] for i in layout.control]
        if current is None or any(k.count(c) != n for k, c in zip(keys, current, strict=True)):
            for i, cell in enumerate(zip(*keys, strict=True)):
                if cell != current:
                    yield from collected.add(cells, starts, begin, i, index)
                    if collected.starts:
                        yield collected.take(index)
                    current, index, begin = cell, index + 1, i
                    yield layout.dataset(cell, index, starts[i])
        yield from collected.add(cells, starts, begin, n, index)
    if collected.starts:
        yield collected.take(index)


def _line_breaks(row: list[str]) -> int:
    return sum(f.count("\n") + f.count("\r") - f.count("\r\n") for f in row)


def _irregular(rows: list[list[str]], line: int, width: int) -> tuple[list[list[str]], list[int]]:
    """The rows without blank lines, and the line each starts on; MessageError on a ragged row."""
    kept: list[list[str]] = []
    starts: list[int] = []
    for row in rows:
        start = line + 1
        line = start + _line_breaks(row)
        if not row:
            continue
        if len(row) != width:
            raise MessageError(
                f"Row has {len(row)} fields; expected {width} as in the header", f"line {start}"
            )
        kept.append(row)
        starts.append(start)
    return kept, starts


def _sniff(head: bytes, word: bytes) -> bool:
    match = _HEADER.match(head)
    return match is not None and match.group(1) == word


def _has_merge_action(head: bytes) -> bool:
    """True when an ACTION cell in the first bytes is `M` (Merge exists only in SDMX-CSV 2.1)."""
    match = _HEADER.match(head)
    if match is None:
        return False
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    rows = csv.reader(text.splitlines(), delimiter=match.group(3).decode())
    try:
        header = [_column_id(t) for t in next(rows)]
        field = header.index(ACTION)
        return any(len(row) > field and row[field] == "M" for row in rows)
    except (ValueError, StopIteration, csv.Error):
        return False


def _reader(version: str, media_type: str, sniff) -> Reader:
    name = f"sdmx-csv-{version}"

    def read(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Event]:
        return read_csv(stream, version=version, name=name, chunk_size=chunk_size)

    return register(Reader(name, (media_type,), sniff, read))


# Sniffing order matters: 2.1 (needs an M action) is asked before 2.0.
READER_10 = _reader("1.0", MEDIA_TYPE_10, lambda head: _sniff(head, b"DATAFLOW"))
READER_21 = _reader(
    "2.1", MEDIA_TYPE_21, lambda head: _sniff(head, b"STRUCTURE") and _has_merge_action(head)
)
READER_20 = _reader("2.0", MEDIA_TYPE_20, lambda head: _sniff(head, b"STRUCTURE"))
