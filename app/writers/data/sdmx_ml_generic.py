"""SDMX-ML 2.1 generic data writers: GenericData and GenericTimeSeriesData.

Every component is an element: `gen:SeriesKey`/`gen:Attributes` on series, `gen:ObsDimension`
(or, flat, `gen:ObsKey`), `gen:ObsValue` and `gen:Attributes` on observations, dataset-level
attributes in `gen:Attributes` first thing in the dataset. Missing values (None) are left out.
"""

from collections.abc import Iterable, Iterator

from app.formats.media import MediaType
from app.model.response import DataResponse, DatasetBlock
from app.writers.data import register
from app.writers.data._ml import (
    NS21,
    Escaper,
    Layout,
    chunked,
    field_writer,
    flow_ref_21,
    layout,
    number,
    quote,
    text,
    timestamp,
    xml_namespaces,
)
from app.writers.data.sdmx_ml import require_time_series

VALUE = '<gen:Value id="{id}" value="'


def _observation(row: tuple, lay: Layout, key: str, attributes, esc: Escaper) -> str:
    measure = lay.measure
    out = "<gen:Obs>" + key
    if measure is not None and row[measure] is not None:
        out += f'<gen:ObsValue value="{number(row[measure])}"/>'
    if values := attributes(row, esc.cache, esc):
        out += "<gen:Attributes>" + values + "</gen:Attributes>"
    return out + "</gen:Obs>"


def _dataset_body(rows: Iterable[tuple], lay: Layout) -> Iterator[str]:
    esc = Escaper()
    obs_attributes = field_writer(lay.obs_attributes, VALUE, '"/>')
    if lay.flat:
        obs_key = field_writer(lay.obs_key, VALUE, '"/>')
        for row in rows:
            key = "<gen:ObsKey>" + obs_key(row, esc.cache, esc) + "</gen:ObsKey>"
            yield _observation(row, lay, key, obs_attributes, esc)
        return
    series_key = field_writer(lay.series_key, VALUE, '"/>')
    series_attributes = field_writer(lay.series_attributes, VALUE, '"/>')
    key_slice = lay.series_slice
    obs_dim = lay.obs_key[0][0]
    current: tuple | None = None
    for row in rows:
        series = row[key_slice]
        if series != current:
            if current is not None:
                yield "</gen:Series>"
            current = series
            head = "<gen:Series><gen:SeriesKey>" + series_key(row, esc.cache, esc)
            head += "</gen:SeriesKey>"
            if values := series_attributes(row, esc.cache, esc):
                head += "<gen:Attributes>" + values + "</gen:Attributes>"
            yield head
        if lay.observations and row[obs_dim] is not None:
            key = f'<gen:ObsDimension value="{esc(row[obs_dim])}"/>'
            yield _observation(row, lay, key, obs_attributes, esc)
    if current is not None:
        yield "</gen:Series>"


def _dataset_open(block: DatasetBlock, sid: str, lay: Layout) -> str:
    out = f"<mes:DataSet structureRef={quote(sid)} action={quote(block.action)}"
    if block.valid_from is not None:
        out += f" validFromDate={quote(timestamp(block.valid_from))}"
    if block.valid_to is not None:
        out += f" validToDate={quote(timestamp(block.valid_to))}"
    out += ">"
    values = [(k, v) for k, v in block.attributes.items() if v is not None]
    if lay.dataset_attributes and values:
        out += "<gen:Attributes>"
        out += "".join(f"<gen:Value id={quote(k)} value={quote(v)}/>" for k, v in values)
        out += "</gen:Attributes>"
    return out


def _message(response: DataResponse, root: str) -> Iterator[str]:
    lay = layout(response)
    sid = response.flow.id
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:{root}'
        f"{xml_namespaces(NS21, 'mes', 'com', 'gen')}>"
        f"<mes:Header><mes:ID>{text(response.id)}</mes:ID><mes:Test>false</mes:Test>"
        f"<mes:Prepared>{timestamp(response.prepared)}</mes:Prepared>"
        f"<mes:Sender id={quote(response.sender)}/>"
        f"<mes:Structure structureID={quote(sid)}"
        f" dimensionAtObservation={quote(response.dimension_at_observation)}>"
        f"{flow_ref_21(response)}</mes:Structure></mes:Header>"
    )
    for block in response.datasets:
        yield _dataset_open(block, sid, lay)
        yield from _dataset_body(block.rows, lay)
        yield "</mes:DataSet>"
    yield f"</mes:{root}>"


@register(MediaType.DATA_ML_21_GENERIC)
def write_21(response: DataResponse) -> Iterator[bytes]:
    """SDMX-ML 2.1 GenericData."""
    return chunked(_message(response, "GenericData"))


@register(MediaType.DATA_ML_21_GENERIC_TS)
def write_21_ts(response: DataResponse) -> Iterator[bytes]:
    """SDMX-ML 2.1 GenericTimeSeriesData (time at the observation level only)."""
    require_time_series(response, MediaType.DATA_ML_21_GENERIC_TS)
    return chunked(_message(response, "GenericTimeSeriesData"))
