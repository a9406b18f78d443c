"""SDMX-JSON data readers: 1.0 (SDMX 2.1) and 2.0/2.1 (SDMX 3.0/3.1).

SDMX-JSON sends indexes: series keys such as "0:1:0" and observation arrays
`[measure values..., attribute indexes...]` point into the `values` arrays of the structure
section. This reader resolves them to code ids and reports columnar chunks like every reader.

Decisions:

- The message is parsed whole with the standard `json` module, refusing bodies over
  `MAX_JSON_BYTES`. Streaming (ijson) would not remove the need to hold the data: the structure
  section may follow `dataSets` (OECD's 1.0 responses do), and the indexes cannot be resolved
  before it is read. JSON data uploads are expected to be small; large loads should use CSV/XML.
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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from app.readers.registry import register

MEDIA_TYPE_10: Final = "application/vnd.sdmx.data+json;version=1.0.0"
MEDIA_TYPE_20: Final = "application/vnd.sdmx.data+json;version=2.0.0"
MEDIA_TYPE_21: Final = "application/vnd.sdmx.data+json;version=2.1.0"

MAX_JSON_BYTES: Final = 200 * 1024 * 1024

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


def _load(stream: BinaryIO) -> dict:
    body = stream.read(MAX_JSON_BYTES + 1)
    if len(body) > MAX_JSON_BYTES:
        raise MessageError(
            f"SDMX-JSON message over {MAX_JSON_BYTES} bytes; expected at most that"
            " (JSON is read whole; send large data as SDMX-CSV or SDMX-ML)"
        )
    try:
        tree = json.loads(body)
    except json.JSONDecodeError as e:
        raise MessageError(
            f"Malformed JSON: {e.msg}", f"line {e.lineno}, column {e.colno}"
        ) from None
    except UnicodeDecodeError as e:
        raise MessageError(
            f"Bytes not UTF-8 ({e.reason}); expected UTF-8 JSON", f"byte {e.start + 1}"
        ) from None
    if not isinstance(tree, dict):
        raise MessageError("JSON is not an object; expected an SDMX-JSON data message")
    return tree


def read_json(stream: BinaryIO, *, name: str, chunk_size: int = CHUNK_SIZE) -> Iterator[Event]:
    """Events of an SDMX-JSON data message (1.0 or 2.x, told apart by shape)."""
    tree = _load(stream)
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
    builder = ChunkBuilder(index, chunk_size)
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
    observations: dict,
    where: str,
) -> Iterator[Event]:
    measures, obs_attrs = s.measures, s.attrs.get("observation", [])
    n = len(measures)
    for key, values in observations.items():
        here = f"{where}.observations[{key}]"
        row = _key(obs_dims, key, here)
        values = values or []
        row.update(zip(measures, map(_text, values[:n]), strict=False))
        row.update(_attributes(obs_attrs, values[n:], here))
        builder.add(here, head, row)
        if builder.full:
            yield builder.take()


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
