"""SDMX-JSON data readers: 1.0 (SDMX 2.1) and 2.0/2.1 (SDMX 3.0/3.1).

SDMX-JSON sends indexes: series keys such as "0:1:0" and observation arrays
`[measure values..., attribute indexes...]` point into the `values` arrays of the structure
section. This reader resolves them to code ids and reports columnar chunks like every reader.

Decisions:

- The message is streamed (`json_stream`): the header, structure sections and each dataSet's
  own members are decoded whole (pieces up to `PIECE_LIMIT` characters), while a dataSet's
  `series`, `observations` and `dimensionGroupAttributes` are walked member by member into a
  temporary spool (`_Spooled`: memory up to `SPOOL_MEMORY`, then disk). Events are made once the
  body has been read, from that skeleton: the structure section may follow `dataSets` (OECD's 1.0
  responses and the TWG's agri sample do), a dataSet's `action` may follow its `series`, and the
  indexes cannot be resolved before the structure is known. Memory stays bounded whatever the
  size; bodies over `MAX_JSON_BYTES` are refused as before. A member given twice in a spooled
  object is reported twice (`json.loads` would keep the last one only).
- Observations are turned into columns a series (or a batch of flat observations) at a time when
  they are regular (value arrays of one length, indexes of plain integers); anything else goes
  row by row, which reports errors exactly as before.
- 1.0 (`header`, `structure`, `dataSets`) and 2.x (`meta`, `data.structures`, `data.dataSets`,
  each dataSet naming its structure by index) are told apart by their shape.
- Measures: 2.x names them in `measures.observation`; 1.0 (and 2.x without that list) has one,
  `OBS_VALUE`. An attribute entry is an index into its `values` when it is an integer and the
  attribute lists values; otherwise (2.x non-coded) it is the value itself. Lists and objects
  (multi-valued, multi-lingual values) are kept as their JSON text.
- 2.x `dimensionGroupAttributes` become `GroupAttributes` events. Their keys run over all
  dimensions in the order the structure lists them (dataSet, series, then observation level; not
  `keyPosition`, as the official samples show), "" meaning "not in the group".
- The structure a dataset follows comes from the dataSet's and its structure's links,
  preferring a dataflow, then a provision agreement, then a data structure; a link's `urn` is
  preferred to its `href` (`.../dataflow/AGENCY/ID/VERSION`).
- Flat `observations` of a dataSet are keyed over the observation-level dimensions or, when a
  structure also lists series-level ones (the 2.x samples do), over series + observation ones.
- Positions are JSON paths: `dataSets[0].series[0:1:0].observations[3]`.
"""

import json
import marshal
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from operator import itemgetter
from typing import Any, BinaryIO, Final

from app.model.data import (
    CHUNK_SIZE,
    OBS_VALUE,
    DatasetStart,
    Event,
    GroupAttributes,
    MessageError,
    MessageStart,
    StructureKind,
    StructureRef,
)
from app.readers.base import ChunkBuilder, Reader
from app.readers.json_stream import JSONText, TooLarge
from app.readers.registry import register

MEDIA_TYPE_10: Final = "application/vnd.sdmx.data+json;version=1.0.0"
MEDIA_TYPE_20: Final = "application/vnd.sdmx.data+json;version=2.0.0"
MEDIA_TYPE_21: Final = "application/vnd.sdmx.data+json;version=2.1.0"

MAX_JSON_BYTES: Final = 200 * 1024 * 1024
PIECE_LIMIT: Final = 16 * 1024 * 1024  # characters of one value decoded whole (a series...)
SPOOL_MEMORY: Final = 8 * 1024 * 1024  # bytes of spooled members kept in memory, then on disk
SPOOL_BATCH: Final = 256  # members written to the spool at a time
BATCH: Final = 1024  # flat observations turned into columns at a time
POSITION: Final = "{}.observations[{}]"  # the `Positions` template: (where, key) items
STREAMED: Final = ("series", "observations", "dimensionGroupAttributes")

URN_CLASSES: Final = {
    "Dataflow": StructureKind.DATAFLOW,
    "ProvisionAgreement": StructureKind.PROVISIONAGREEMENT,
    "DataStructure": StructureKind.DATASTRUCTURE,
}
LINK_PREFERENCE: Final = (
    StructureKind.DATAFLOW,
    StructureKind.PROVISIONAGREEMENT,
    StructureKind.DATASTRUCTURE,
)
_URN = re.compile(r"\.(Dataflow|ProvisionAgreement|DataStructure)=([^:]+):([^(]+)(?:\(([^)]*)\))?")
_HREF = re.compile(r"/(dataflow|provisionagreement|datastructure)/([^/]+)/([^/]+)/([^/?#]+)")


def _text(value: Any) -> str | None:
    """A JSON value as the text SDMX would write: numbers as written, lists/objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "NaN" if value != value else repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _value_id(value: Any) -> str | None:
    """The id of a structure `values` entry: `id` (coded), else `value` (2.x) or `name` (1.0)."""
    if isinstance(value, dict):
        for key in ("id", "value", "name"):
            if key in value:
                return _text(value[key])
        return None
    return _text(value)


@dataclass
class _Component:
    id: str
    values: list[str | None]
    position: int = -1  # keyPosition (dimensions)
    parts: dict[str, str | None] = field(init=False)  # a key part ("3" or "") -> its value
    indexes: dict[int | None, str | None] = field(init=False)  # an attribute index -> its value

    def __post_init__(self) -> None:
        self.parts = {str(i): v for i, v in enumerate(self.values)}
        self.parts[""] = None
        self.indexes = dict(enumerate(self.values))  # type: ignore[arg-type]
        self.indexes[None] = None


@dataclass
class _Structure:
    """One structure section, reduced to what resolving indexes needs."""

    links: list
    dims: dict[str, list[_Component]]  # level -> dimensions
    attrs: dict[str, list[_Component]]  # level -> attributes
    measures: list[str]
    key_order: list[_Component] = field(default_factory=list)  # dataSet, series, obs dims

    @classmethod
    def parse(cls, section: dict) -> "_Structure":
        def components(group: dict | None) -> dict[str, list[_Component]]:
            return {
                level: [
                    _Component(
                        c["id"],
                        [_value_id(v) for v in c.get("values") or []],
                        c.get("keyPosition", -1),
                    )
                    for c in items or []
                ]
                for level, items in (group or {}).items()
            }

        dims = components(section.get("dimensions"))
        attrs = components(section.get("attributes"))
        measures = [m["id"] for m in (section.get("measures") or {}).get("observation") or []]
        ordered = [d for level in ("dataSet", "series", "observation") for d in dims.get(level, [])]
        return cls(section.get("links") or [], dims, attrs, measures or [OBS_VALUE], ordered)


def _ref(links: list | None) -> StructureRef | None:
    found: dict[StructureKind, StructureRef] = {}
    for link in links or []:
        if not isinstance(link, dict):
            continue
        if (m := _URN.search(link.get("urn") or "")) is not None:
            kind = URN_CLASSES[m.group(1)]
            found.setdefault(kind, StructureRef(kind, m.group(2), m.group(3), m.group(4)))
        elif (m := _HREF.search(link.get("href") or "")) is not None:
            kind = StructureKind(m.group(1))
            found.setdefault(kind, StructureRef(kind, m.group(2), m.group(3), m.group(4)))
    return next((found[k] for k in LINK_PREFERENCE if k in found), None)


class _Spooled:
    """A JSON object's members on a temporary file until they are read: `items()`, `bool()`
    and `iter()` (the keys) behave as the dict would, read in order, once or more.

    Each member is marshalled on its own and written in batches of bytes: bytes are nothing to
    the garbage collector, so decoded members die young instead of piling up for full
    collections (which, in a server holding many objects, would cost more than the reading)."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self.count = 0
        self.batch: list[bytes] = []

    def add(self, key: str, value: Any) -> None:
        self.batch.append(marshal.dumps((key, value)))
        self.count += 1
        if len(self.batch) >= SPOOL_BATCH:
            self._write()

    def _write(self) -> None:
        if self.batch:
            data = marshal.dumps(self.batch)
            self.file.write(len(data).to_bytes(8, "little"))
            self.file.write(data)
            self.batch = []

    def items(self) -> Iterator[tuple[str, Any]]:
        self._write()
        self.file.seek(0)
        while size := int.from_bytes(self.file.read(8), "little"):
            yield from map(marshal.loads, marshal.loads(self.file.read(size)))

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def __bool__(self) -> bool:
        return self.count > 0

    def close(self) -> None:
        self.file.close()


class _Skeleton:
    """Pass one: the body walked into a tree of small values and spooled objects."""

    def __init__(self, stream: BinaryIO) -> None:
        self.text = JSONText(stream, MAX_JSON_BYTES)
        self.spools: list[_Spooled] = []

    def read(self) -> Any:
        text = self.text
        if text.peek() != "{":
            tree = self.piece("The message")
        else:
            tree = {}
            for key in text.members():
                if key == "dataSets":
                    tree[key] = self.datasets("dataSets")
                elif key == "data" and text.peek() == "{":
                    data = tree[key] = {}
                    for inner in text.members():
                        data[inner] = (
                            self.datasets("data.dataSets")
                            if inner == "dataSets"
                            else self.piece(f"data.{inner}")
                        )
                else:
                    tree[key] = self.piece(key)
        text.end()
        return tree

    def piece(self, what: str) -> Any:
        try:
            return self.text.value(PIECE_LIMIT)
        except TooLarge:
            raise self.too_large(what) from None

    def too_large(self, what: str) -> MessageError:
        return MessageError(
            f"{what} is over {PIECE_LIMIT} characters of JSON; expected smaller parts"
            " (send such data as SDMX-CSV or SDMX-ML)",
            what,
        )

    def datasets(self, what: str) -> Any:
        if self.text.peek() != "[":
            return self.piece(what)
        return [self.dataset(f"{what}[{index}]") for index in self.text.elements()]

    def dataset(self, what: str) -> Any:
        text = self.text
        if text.peek() != "{":
            return self.piece(what)
        dataset: dict[str, Any] = {}
        for key in text.members():
            if key in STREAMED and text.peek() == "{":
                spool = _Spooled()
                self.spools.append(spool)
                try:
                    for member, value in text.items(PIECE_LIMIT):
                        spool.add(member, value)
                except TooLarge as e:
                    raise self.too_large(f"{what}.{key}[{e.args[0]}]") from None
                dataset[key] = spool
            else:
                dataset[key] = self.piece(f"{what}.{key}")
        return dataset


def read_json(stream: BinaryIO, *, name: str, chunk_size: int = CHUNK_SIZE) -> Iterator[Event]:
    """Events of an SDMX-JSON data message (1.0 or 2.x, told apart by shape)."""
    skeleton = _Skeleton(stream)
    try:
        tree = skeleton.read()
        yield from _events(tree, name, chunk_size)
    finally:
        for spool in skeleton.spools:
            spool.close()


def _events(tree: Any, name: str, chunk_size: int) -> Iterator[Event]:
    if not isinstance(tree, dict):
        raise MessageError("JSON is not an object; expected an SDMX-JSON data message")
    if "data" in tree or "meta" in tree:  # 2.x
        header = tree.get("meta") or {}
        data = tree.get("data") or {}
        sections, datasets = data.get("structures"), data.get("dataSets")
        expected = "data.structures"
    else:  # 1.0
        header = tree.get("header") or {}
        sections, datasets = [tree.get("structure")], tree.get("dataSets")
        expected = "structure"
    if not sections or not all(isinstance(s, dict) for s in sections):
        raise MessageError(f"SDMX-JSON data message without {expected}; expected it")
    structures = [_Structure.parse(s) for s in sections]
    sender = header.get("sender")
    yield MessageStart(
        id=_text(header.get("id")),
        sender=_text(sender.get("id")) if isinstance(sender, dict) else None,
        structures={str(i): r for i, s in enumerate(structures) if (r := _ref(s.links))},
        format=name,
    )
    for index, dataset in enumerate(datasets or []):
        where = f"dataSets[{index}]"
        try:
            yield from _dataset(index, dataset, structures, chunk_size, where)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, MessageError):
                raise
            raise MessageError(
                f"Unexpected content ({type(e).__name__}: {e}); expected an SDMX-JSON dataSet",
                where,
            ) from None


def _resolve(component: _Component, entry: Any, where: str) -> str | None:
    """An attribute or dimension entry: an index into the component's values, or a value."""
    if entry is None:
        return None
    if isinstance(entry, int) and not isinstance(entry, bool) and component.values:
        if 0 <= entry < len(component.values):
            return component.values[entry]
        raise MessageError(
            f"{component.id} index {entry}; expected 0 to {len(component.values) - 1}", where
        )
    return _text(entry)


def _attributes(components: list[_Component], entries: Any, where: str) -> dict[str, str | None]:
    entries = entries or []
    return {c.id: _resolve(c, e, where) for c, e in zip(components, entries, strict=False)}


def _key(dims: list[_Component], key: str, where: str) -> dict[str, str | None]:
    parts = key.split(":") if key != "" else []
    if len(parts) != len(dims):
        raise MessageError(f"Key '{key}' has {len(parts)} parts; expected {len(dims)}", where)
    return {
        d.id: _resolve(d, int(p) if p else None, where) for d, p in zip(dims, parts, strict=True)
    }


def _dataset(
    index: int, dataset: dict, structures: list[_Structure], chunk_size: int, where: str
) -> Iterator[Event]:
    number = dataset.get("structure", 0)
    if not isinstance(number, int) or not 0 <= number < len(structures):
        raise MessageError(f"structure {number!r}; expected 0 to {len(structures) - 1}", where)
    s = structures[number]
    fixed = {d.id: d.values[0] if d.values else None for d in s.dims.get("dataSet", [])}
    attributes = _attributes(s.attrs.get("dataSet", []), dataset.get("attributes"), where)
    yield DatasetStart(
        index,
        _ref([*(dataset.get("links") or []), *s.links]),
        _text(dataset.get("action")),
        {k: v for k, v in attributes.items() if v is not None},
        position=where,
    )
    for key, entries in (dataset.get("dimensionGroupAttributes") or {}).items():
        here = f"{where}.dimensionGroupAttributes[{key}]"
        group_key = _key(s.key_order, key, here)
        values = _attributes(s.attrs.get("dimensionGroup", []), entries, here)
        yield GroupAttributes(
            index,
            {k: v for k, v in group_key.items() if v is not None},
            {k: v for k, v in values.items() if v is not None},
            here,
        )
    builder = ChunkBuilder(index, chunk_size, POSITION)
    series_dims, obs_dims = s.dims.get("series", []), s.dims.get("observation", [])
    for key, series in (dataset.get("series") or {}).items():
        here = f"{where}.series[{key}]"
        head = {**fixed, **_key(series_dims, key, here)}
        head.update(_attributes(s.attrs.get("series", []), series.get("attributes"), here))
        observations = series.get("observations") or {}
        if not observations:
            builder.add(here, head, dict.fromkeys(d.id for d in obs_dims))
        yield from _observations(builder, s, obs_dims, head, observations, here)
    flat = dataset.get("observations") or {}
    if flat and len(next(iter(flat)).split(":")) == len(series_dims) + len(obs_dims) != len(
        obs_dims
    ):
        obs_dims = series_dims + obs_dims  # flat keys over the series and observation dimensions
    yield from _observations(builder, s, obs_dims, fixed, flat, where)
    if (chunk := builder.take()) is not None:
        yield chunk


def _observations(
    builder: ChunkBuilder,
    s: _Structure,
    obs_dims: list[_Component],
    head: dict[str, str | None],
    observations: Any,
    where: str,
) -> Iterator[Event]:
    """The rows of `observations` (a series' or the flat ones), a batch at a time: as columns
    when the batch is regular, else row by row."""
    items = iter(observations.items())
    while batch := list(islice(items, BATCH)):
        keys, entries = zip(*batch, strict=True)
        columns = _columns(s, obs_dims, keys, entries)
        if columns is None:
            yield from _rows(builder, s, obs_dims, head, batch, where)
            continue
        positions = list(zip(repeat(where), keys))
        begin = 0
        while begin < len(keys):
            end = begin + builder.chunk_size - builder.rows
            part = {k: v[begin:end] for k, v in columns.items()}
            builder.add_columns(positions[begin:end], head, part)
            begin = end
            if builder.full:
                yield builder.take()  # type: ignore[misc]


def _rows(
    builder: ChunkBuilder,
    s: _Structure,
    obs_dims: list[_Component],
    head: dict[str, str | None],
    observations: list[tuple[str, Any]],
    where: str,
) -> Iterator[Event]:
    measures, obs_attrs = s.measures, s.attrs.get("observation", [])
    n = len(measures)
    for key, values in observations:
        here = f"{where}.observations[{key}]"
        row = _key(obs_dims, key, here)
        values = values or []
        row.update(zip(measures, map(_text, values[:n]), strict=False))
        row.update(_attributes(obs_attrs, values[n:], here))
        builder.add((where, key), head, row)
        if builder.full:
            yield builder.take()


def _columns(
    s: _Structure, obs_dims: list[_Component], keys: Sequence[str], entries: Sequence[Any]
) -> dict[str, Sequence[str | None]] | None:
    """The batch as columns (dimensions, measures, attributes, as `_rows` orders a row), or None
    when a row is not plain: value arrays of different lengths or not arrays, keys of the wrong
    length, an index out of range or not an integer (then `_rows` says what is wrong)."""
    if set(map(type, entries)) != {list} or len(widths := set(map(len, entries))) != 1:
        return None
    (width,) = widths
    columns: dict[str, Sequence[str | None]] = {}
    try:
        if len(obs_dims) == 1 and "" not in keys:
            columns[obs_dims[0].id] = list(map(obs_dims[0].parts.__getitem__, keys))
        else:
            parts = [key.split(":") if key else [] for key in keys]
            if set(map(len, parts)) != {len(obs_dims)}:
                return None
            for i, dim in enumerate(obs_dims):
                columns[dim.id] = list(map(dim.parts.__getitem__, map(itemgetter(i), parts)))
        measures, attrs = s.measures, s.attrs.get("observation", [])
        for i, measure in enumerate(measures[:width]):
            columns[measure] = _texts(list(map(itemgetter(i), entries)))
        for i, attr in enumerate(attrs[: max(width - len(measures), 0)]):
            values = list(map(itemgetter(len(measures) + i), entries))
            if not attr.values:
                columns[attr.id] = _texts(values)
            elif set(map(type, values)) <= {int, type(None)}:
                columns[attr.id] = list(map(attr.indexes.__getitem__, values))
            else:
                return None
    except KeyError:
        return None
    return columns


def _texts(values: list[Any]) -> list[str | None]:
    """`_text` of each value, with the common columns (strings, whole numbers) done in C."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        return values
    if kinds == {int}:
        return list(map(str, values))
    return list(map(_text, values))


def _sniff(head: bytes, version: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return False
    if b'"header"' in text and (b'"dataSets"' in text or b'"structure"' in text):
        return version == "1.0"
    is_data = b"sdmx-json-data-schema" in text or b'"structures"' in text
    return version != "1.0" and is_data and (b"/2.1/" in text) == (version == "2.1")


def _reader(version: str, media_type: str) -> Reader:
    name = f"sdmx-json-{version}"

    def read(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Event]:
        return read_json(stream, name=name, chunk_size=chunk_size)

    return register(Reader(name, (media_type,), lambda head: _sniff(head, version), read))


READER_10 = _reader("1.0", MEDIA_TYPE_10)
READER_20 = _reader("2.0", MEDIA_TYPE_20)
READER_21 = _reader("2.1", MEDIA_TYPE_21)
