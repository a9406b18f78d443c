"""What the SDMX-ML data writers share: namespaces, escaping, the row layout, chunked output.

Speed comes from three habits: output is plain strings joined into ~64 kB chunks (no element
trees); code and period values are escaped once and remembered (they repeat on every row);
observations are formatted from a precomputed list of (column index, ` NAME="`) pairs.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final
from xml.sax.saxutils import escape

from app.model.dsd import Level
from app.model.response import DataResponse

ROOT: Final = "http://www.sdmx.org/resources/sdmxml/schemas/"
NS21: Final = {
    "mes": ROOT + "v2_1/message",
    "com": ROOT + "v2_1/common",
    "ss": ROOT + "v2_1/data/structurespecific",
    "gen": ROOT + "v2_1/data/generic",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
NS30: Final = {
    "mes": ROOT + "v3_0/message",
    "com": ROOT + "v3_0/common",
    "ss": ROOT + "v3_0/data/structurespecific",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
URN_PREFIX: Final = "urn:sdmx:org.sdmx.infomodel.datastructure."
CHUNK_SIZE: Final = 64 * 1024
ALL_DIMENSIONS: Final = "AllDimensions"
_ATTR_ENTITIES: Final = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_CACHE_LIMIT: Final = 50_000


def xml_namespaces(ns: dict[str, str], *prefixes: str) -> str:
    return "".join(f' xmlns:{p}="{ns[p]}"' for p in prefixes)


def text(value: object) -> str:
    """A value as XML text (element content)."""
    return escape(str(value))


def number(value: object) -> str:
    """An observation value as text: floats without a trailing `.0`, strings escaped."""
    if type(value) is float:
        s = repr(value)
        if s.endswith(".0"):
            return s[:-2]
        return {"nan": "NaN", "inf": "INF", "-inf": "-INF"}.get(s, s)
    return escape(str(value), _ATTR_ENTITIES)


class Escaper:
    """Escape attribute values, remembering them: codes and periods repeat on every row."""

    def __init__(self) -> None:
        self.cache: dict[object, str] = {}

    def __call__(self, value: object) -> str:
        try:
            return self.cache[value]
        except KeyError:
            pass
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        escaped = self.cache[value] = escape(str(value), _ATTR_ENTITIES)
        return escaped


def timestamp(moment: datetime) -> str:
    """xs:dateTime, seconds precision (with the offset when the datetime has one)."""
    return moment.replace(microsecond=0).isoformat()


def dsd_namespace(response: DataResponse) -> str:
    """The structure-specific target namespace: the DSD URN with ObsLevelDim (SDMX 2.1/3.0
    convention for schemas derived from a DSD)."""
    agency, dsd_id, version = response.flow.dsd
    return (
        f"{URN_PREFIX}DataStructure={agency}:{dsd_id}({version})"
        f":ObsLevelDim:{response.dimension_at_observation}"
    )


def flow_urn(response: DataResponse) -> str:
    flow = response.flow
    return response.structure_urn or f"{URN_PREFIX}Dataflow={flow.agency}:{flow.id}({flow.version})"


def flow_ref_21(response: DataResponse, com: str = "com") -> str:
    """`com:StructureUsage` with the dataflow's `Ref` (SDMX-ML 2.1)."""
    flow = response.flow
    return (
        f"<{com}:StructureUsage><Ref agencyID={quote(flow.agency)} id={quote(flow.id)}"
        f' version={quote(flow.version)} class="Dataflow" package="datastructure"/>'
        f"</{com}:StructureUsage>"
    )


def quote(value: object) -> str:
    return f'"{escape(str(value), _ATTR_ENTITIES)}"'


@dataclass(frozen=True)
class Layout:
    """Where things are in a row, and which columns each element carries."""

    series_key: tuple[tuple[int, str], ...]  # (column index, dimension id) of the series key
    obs_key: tuple[tuple[int, str], ...]  # the observation dimension, or every key column (flat)
    measure: int | None  # column of the measure (None: do not write values)
    measure_id: str
    series_attributes: tuple[tuple[int, str], ...]
    obs_attributes: tuple[tuple[int, str], ...]
    dataset_attributes: bool  # write the block's dataset-level attributes
    observations: bool  # write observations (False: serieskeysonly, nodata)
    flat: bool
    structure_id: str

    @property
    def series_slice(self) -> slice:
        indexes = [i for i, _ in self.series_key]
        if indexes and indexes == list(range(indexes[0], indexes[-1] + 1)):
            return slice(indexes[0], indexes[-1] + 1)
        raise ValueError("series dimensions must be consecutive columns")


def layout(response: DataResponse) -> Layout:
    """Read the row layout of ``response`` (see `app.model.response`)."""
    columns = response.columns
    flow = response.flow
    index = {name: i for i, name in enumerate(columns)}
    detail = response.detail
    with_attributes = detail in ("full", "nodata")
    attributes = [a for a in response.attributes if a in index] if with_attributes else []
    levels = {a: flow.components[a].level if a in flow.components else None for a in attributes}
    flat = response.dimension_at_observation == ALL_DIMENSIONS
    time_series = response.dimension_at_observation == flow.time_dimension
    # An attribute attached to series keys may still vary with the observation dimension of a
    # cross-sectional message, so outside time series it goes on the observation.
    on_series = (
        {a for a in attributes if levels[a] == Level.SERIES} if not flat and time_series else set()
    )
    non_key = {flow.measure, *response.attributes}
    if flat:
        obs_key = tuple((i, c) for i, c in enumerate(columns) if c not in non_key)
        series_key: tuple[tuple[int, str], ...] = ()
    else:
        obs_key = ((index[response.dimension_at_observation], response.dimension_at_observation),)
        series_key = tuple((index[d], d) for d in response.series_dimensions)
    return Layout(
        series_key=series_key,
        obs_key=obs_key,
        measure=index.get(flow.measure) if detail in ("full", "dataonly") else None,
        measure_id=flow.measure,
        series_attributes=tuple((index[a], a) for a in attributes if a in on_series),
        obs_attributes=tuple(
            (index[a], a) for a in attributes if a not in on_series and levels[a] != Level.DATASET
        ),
        dataset_attributes=with_attributes,
        observations=detail in ("full", "dataonly") or flat,
        flat=flat,
        structure_id=flow.id,
    )


def chunked(parts: Iterable[str], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Join string pieces into UTF-8 chunks of about ``size`` characters."""
    buffer: list[str] = []
    length = 0
    for part in parts:
        buffer.append(part)
        length += len(part)
        if length >= size:
            yield "".join(buffer).encode()
            buffer.clear()
            length = 0
    if buffer:
        yield "".join(buffer).encode()


@lru_cache(maxsize=256)
def field_writer(
    fields: tuple[tuple[int, str], ...], before: str, after: str
) -> Callable[[tuple, dict, Escaper], str]:
    """A function ``(row, cache, escaper) -> str`` writing ``before + value + after`` for each
    non-missing ``(column, component id)`` of ``fields``: `{id}` in ``before`` is the component id.

    Generated as straight-line code (one `if` per field, the escape cache read inline): on the
    per-observation path a generic loop over fields costs twice as much. Generating one takes
    longer than answering a single-series query, so each is kept for the layouts that recur.
    """
    lines = ["def write(row, cache, escaper):", "    out = ''"]
    for index, name in fields:
        lines.append(f"    v = row[{int(index)}]")
        lines.append("    if v is not None:")
        lines.append(
            f"        out += {before.format(id=name)!r} + (cache.get(v) or escaper(v)) + {after!r}"
        )
    lines.append("    return out")
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - ids are DSD component ids (XML NCNames)
    return namespace["write"]
