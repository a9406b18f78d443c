"""SDMX-ML structure-specific data writers: 2.1 (StructureSpecificData and the TimeSeries variant)
and 3.0 (StructureSpecificData).

Every component value is an XML attribute: dimensions and series attributes on `Series`, the
observation dimension (or, flat, the whole key), the measure and observation attributes on `Obs`,
dataset-level attributes on `DataSet`. Missing values (None) are left out, never written as "".

A big block of stored rows in time series has its `Obs` elements built by the database
(`app.storage.xml_export`, `_body`), with the same bytes as the rows written here.

Order of this file: the element pieces shared by both versions, the dataset body, then the
header and root of each version and the registered writers.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Final

from app.errors import NotAcceptable
from app.formats.media import MediaType
from app.model.response import DataResponse, DatasetBlock
from app.writers.data import register, register_many
from app.writers.data._ml import (
    NS21,
    NS30,
    Escaper,
    Layout,
    chunked,
    dsd_namespace,
    field_writer,
    flow_ref_21,
    flow_urn,
    layout,
    number,
    quote,
    text,
    timestamp,
    xml_namespaces,
)

# rows: a smaller block is written from the rows read. Below this the store's elements cost more
# than they save (SQLite, 2026-12-04: 600 rows answered at 190 req/s that way, 290 from the rows;
# 7,200 rows: 28 and 27); the store's first fetches stop here (HEAD_FETCHES)
EXPORTED_FROM: Final = 2_000


def _body(block: DatasetBlock, lay: Layout, time_series: bool) -> Iterator[str]:
    """`Series`/`Obs` elements for the rows of one dataset: the observations built by the
    database when the block is a stored statement's rows written as they are, in time series
    (`app.storage.xml_export`), and has at least EXPORTED_FROM rows (re-running the query costs
    more than a few rows are worth)."""
    rows: Iterable[tuple] = block.rows
    if block.export is None or lay.flat or not lay.observations or not time_series:
        return _dataset_body(rows, lay)
    first = list(islice(rows, EXPORTED_FROM))
    if len(first) < EXPORTED_FROM:
        return _dataset_body(first, lay)
    measure = () if lay.measure is None else ((lay.measure, lay.measure_id),)
    fields = lay.series_key + lay.series_attributes
    esc = Escaper()

    def head(values: tuple) -> str:
        written = (
            f' {name}="{esc(v)}"'
            for (_, name), v in zip(fields, values, strict=True)
            if v is not None
        )
        return "<Series" + "".join(written) + ">"

    return block.export.elements(
        fields,
        lay.obs_key + measure + lay.obs_attributes,
        head,
        lambda cells, opened: _dataset_body(cells, lay, opened),
    )


def _dataset_body(rows: Iterable[tuple], lay: Layout, opened: str | None = None) -> Iterator[str]:
    """`Series`/`Obs` elements for the rows of one dataset; `opened`: a series element already
    written and left open (the rows may continue it)."""
    esc = Escaper()
    cache = esc.cache
    key_fields = field_writer(lay.obs_key, ' {id}="', '"')
    obs_fields = field_writer(lay.obs_attributes, ' {id}="', '"')
    measure = lay.measure
    measure_prefix = f' {lay.measure_id}="'
    if lay.flat:
        for row in rows:
            value = (
                ""
                if measure is None or row[measure] is None
                else (measure_prefix + number(row[measure]) + '"')
            )
            yield "<Obs" + key_fields(row, cache, esc) + value + obs_fields(row, cache, esc) + "/>"
        return
    series_fields = field_writer(lay.series_key + lay.series_attributes, ' {id}="', '"')
    key = lay.series_slice
    observations = lay.observations
    obs_dim = lay.obs_key[0][0]
    current: tuple | None = None
    for row in rows:
        series = row[key]
        if series != current:
            head = "<Series" + series_fields(row, cache, esc) + (">" if observations else "/>")
            # the first row continues the series left open, if any, or closes it
            if (current is not None and observations) or opened not in (None, head):
                yield "</Series>"
            if head != opened:
                yield head
            current, opened = series, None
        if observations and row[obs_dim] is not None:
            value = (
                ""
                if measure is None or row[measure] is None
                else (measure_prefix + number(row[measure]) + '"')
            )
            yield "<Obs" + key_fields(row, cache, esc) + value + obs_fields(row, cache, esc) + "/>"
    if (current is not None and observations) or opened is not None:
        yield "</Series>"


def _dataset_attributes(block: DatasetBlock, lay: Layout) -> str:
    if not lay.dataset_attributes:
        return ""
    return "".join(f" {k}={quote(v)}" for k, v in block.attributes.items() if v is not None)


def _set_attributes(block: DatasetBlock, prefix: str) -> str:
    out = f" {prefix}:action={quote(block.action)}"
    if block.valid_from is not None:
        out += f" {prefix}:validFromDate={quote(timestamp(block.valid_from))}"
    if block.valid_to is not None:
        out += f" {prefix}:validToDate={quote(timestamp(block.valid_to))}"
    return out


def _header(response: DataResponse, structure: str) -> str:
    return (
        f"<mes:Header><mes:ID>{text(response.id)}</mes:ID><mes:Test>false</mes:Test>"
        f"<mes:Prepared>{timestamp(response.prepared)}</mes:Prepared>"
        f"<mes:Sender id={quote(response.sender)}/>{structure}</mes:Header>"
    )


def _message(
    response: DataResponse,
    root: str,
    namespaces: str,
    structure: str,
    dataset_open: Callable[[DatasetBlock, Layout], str],
) -> Iterator[str]:
    lay = layout(response)
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:{root}{namespaces}>'
    yield _header(response, structure)
    for block in response.datasets:
        yield dataset_open(block, lay)
        yield from _body(
            block, lay, response.dimension_at_observation == response.flow.time_dimension
        )
        yield "</mes:DataSet>"
    yield f"</mes:{root}>"


# --- SDMX-ML 2.1 --------------------------------------------------------------------------------


def _write_21(response: DataResponse, root: str) -> Iterator[bytes]:
    ns = dsd_namespace(response)
    sid = response.flow.id
    namespaces = xml_namespaces(NS21, "mes", "com", "ss", "xsi") + f" xmlns:ns1={quote(ns)}"
    structure = (
        f"<mes:Structure structureID={quote(sid)} namespace={quote(ns)}"
        f" dimensionAtObservation={quote(response.dimension_at_observation)}>"
        f"{flow_ref_21(response)}</mes:Structure>"
    )

    def dataset_open(block: DatasetBlock, lay: Layout) -> str:
        return (
            f'<mes:DataSet ss:structureRef={quote(sid)} xsi:type="ns1:DataSetType"'
            f' ss:dataScope="DataStructure"{_set_attributes(block, "ss")}'
            f"{_dataset_attributes(block, lay)}>"
        )

    return chunked(_message(response, root, namespaces, structure, dataset_open))


@register(MediaType.DATA_ML_21_SS)
def write_21(response: DataResponse) -> Iterator[bytes]:
    """SDMX-ML 2.1 StructureSpecificData."""
    return _write_21(response, "StructureSpecificData")


@register(MediaType.DATA_ML_21_SS_TS)
def write_21_ts(response: DataResponse) -> Iterator[bytes]:
    """SDMX-ML 2.1 StructureSpecificTimeSeriesData (time at the observation level only)."""
    require_time_series(response, MediaType.DATA_ML_21_SS_TS)
    return _write_21(response, "StructureSpecificTimeSeriesData")


def require_time_series(response: DataResponse, media_type: MediaType) -> None:
    if response.dimension_at_observation != response.flow.time_dimension:
        raise NotAcceptable(
            f"{media_type} carries time series only; dimensionAtObservation is"
            f" {response.dimension_at_observation!r}, expected"
            f" {response.flow.time_dimension!r}"
        )


# --- SDMX-ML 3.0 --------------------------------------------------------------------------------


@register(MediaType.DATA_ML_30)
def write_30(response: DataResponse) -> Iterator[bytes]:
    """SDMX-ML 3.0 StructureSpecificData; the dataflow is referenced by URN."""
    return write_30_many([response])


@register_many(MediaType.DATA_ML_30)
def write_30_many(responses: Sequence[DataResponse]) -> Iterator[bytes]:
    """SDMX-ML 3.0 StructureSpecificData for one or several dataflows: one `Structure` in the
    header per dataflow (namespace prefixes ns1, ns2...), then each dataflow's datasets."""
    sids = _structure_ids(responses)
    namespaces = xml_namespaces(NS30, "mes", "com", "ss", "xsi") + "".join(
        f" xmlns:ns{n}={quote(dsd_namespace(r))}" for n, r in enumerate(responses, 1)
    )
    structures = "".join(
        f"<mes:Structure structureID={quote(sid)} namespace={quote(dsd_namespace(r))}"
        f" dimensionAtObservation={quote(r.dimension_at_observation)}>"
        f"<com:StructureUsage>{text(flow_urn(r))}</com:StructureUsage></mes:Structure>"
        for r, sid in zip(responses, sids, strict=True)
    )

    def parts() -> Iterator[str]:
        yield '<?xml version="1.0" encoding="UTF-8"?>\n'
        yield f"<mes:StructureSpecificData{namespaces}>"
        yield _header(responses[0], structures)
        for n, (response, sid) in enumerate(zip(responses, sids, strict=True), 1):
            lay = layout(response)
            for block in response.datasets:
                yield (
                    f'<mes:DataSet ss:structureRef={quote(sid)} xsi:type="ns{n}:DataSetType"'
                    f"{_set_attributes(block, 'ss')}{_dataset_attributes(block, lay)}>"
                )
                yield from _body(
                    block, lay, response.dimension_at_observation == response.flow.time_dimension
                )
                yield "</mes:DataSet>"
        yield "</mes:StructureSpecificData>"

    return chunked(parts())


def _structure_ids(responses: Sequence[DataResponse]) -> list[str]:
    """Each dataflow's id, made unique within the message (an XML ID) when two share one."""
    seen: dict[str, int] = {}
    result = []
    for response in responses:
        sid = response.flow.id
        seen[sid] = seen.get(sid, 0) + 1
        result.append(sid if seen[sid] == 1 else f"{sid}_{seen[sid]}")
    return result
