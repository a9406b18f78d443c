"""SDMX-ML data readers on real messages (/work/shared/corpus), checked against sdmx1.

For each message: the same number of observations as sdmx1 reads, and the same (key, period) ->
value mapping (NaN and missing both None). Structure-specific 2.1 messages are read by sdmx1
with their DSD from the corpus. sdmx1 cannot read the SDMX-ML 3.0 structures these 3.0 data
messages need, and pysdmx's data reader needs its `data` extra (pyarrow), which DSM does not
install; those messages, and 2.1 ones whose DSD is not in the corpus, are checked against a
whole-document lxml reading instead (fine for a test, never for the server).
"""

import functools
import io
import math
import warnings
from pathlib import Path

import pytest
import sdmx
from lxml import etree

from app.model.data import Chunk, DatasetStart
from app.readers.sdmx_ml_formats import READERS

CORPUS = Path("/work/shared/corpus")
K = CORPUS / "khaeru__sdmx-test-data"
PYSDMX = CORPUS / "bis-med-it__pysdmx/tests/io"
SDMX_DL = CORPUS / "nbbrd__sdmx-dl/sdmx-dl-format-xml/src/test/resources/tests/sdmxdl/format/xml"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not available")

ECB_DSD = {"ng": "ng-structure-full.xml", "rg": "rg-structure-full.xml", "sg": "sg-structure.xml"}
ECB = [
    f"{family}-{layout}.xml"
    for family in ECB_DSD
    for layout in ("flat", "flat-ss", "ts", "ts-ss", "ts-gf", "ts-gf-ss", "xs", "xs-ss")
    if (K / "ECB_EXR" / f"{family}-{layout}.xml").exists()
]
WITH_SDMX1: dict[str, Path | None] = {  # message -> the structure sdmx1 needs (None: generic)
    **{f"ECB_EXR/{name}": K / "ECB_EXR" / ECB_DSD[name[:2]] for name in ECB},
    "ISTAT/22_289.xml": K / "ISTAT/22_289-structure.xml",
    "INSEE/CNA-2010-CONSO-SI-A17.xml": K / "INSEE/CNA-2010-CONSO-SI-A17-structure.xml",
    "recorded-decoded/ISTAT_47_850_data_A.001001+001002.AUTP.ALL.ALL.1.xml": None,
    "WB/gh-78.xml": None,
    "ESTAT/footer.xml": None,
    str(PYSDMX / "xml/sdmx21/reader/samples/generic_dataser_groups.xml"): None,
    str(PYSDMX / "xml/sdmx21/reader/samples/message_str_usage_urn.xml"): None,
    str(PYSDMX / "xml/sdmx21/reader/samples/header_xmlns.xml"): None,
    str(SDMX_DL / "other/sdmx-GenericData21.xml"): None,
    str(SDMX_DL / "ecb/EcbDataKeys.xml"): None,  # 120 series, 25 observations
}
WITH_DOM = [
    K / "ESTAT/NAMA_10_GDP-ss.xml",  # DataSet in the DSD's namespace
    K / "IMF/PCPS.xml",
    PYSDMX / "xml/sdmx21/reader/samples/estat_data.xml",
    SDMX_DL / "other/sdmx-compactData21.xml",
    PYSDMX / "xml/sdmx30/reader/samples/data_dataflow_3.0.xml",
    PYSDMX / "xml/sdmx30/reader/samples/data_datastructure_3.0_series.xml",
    PYSDMX / "xml/sdmx30/reader/samples/data_prov_agree_3.0.xml",
    PYSDMX / "samples/dataset_with_nulls.xml",
]

Mapping = dict[tuple[tuple[str, str | None], ...], str | None]


@functools.cache
def dsd(structure: Path) -> object:
    with structure.open("rb") as file:  # sdmx1 leaves a file it opened itself unclosed
        (definition,) = sdmx.read_sdmx(file).structure.values()
    return definition


def read(path: Path) -> tuple[list[dict[str, str | None]], list[DatasetStart]]:
    """Our observation rows (series-only rows left out) and dataset starts."""
    body = path.read_bytes()
    (reader,) = [r for r in READERS if r.sniff(body[:65536])]
    rows, starts, at_obs = [], [], {}
    for event in reader.read(io.BytesIO(body)):
        if isinstance(event, DatasetStart):
            starts.append(event)
            ref = event.structure
            at_obs[event.index] = ref.dimension_at_observation if ref else "TIME_PERIOD"
        elif isinstance(event, Chunk):
            dim = at_obs[event.dataset]
            for i in range(len(event)):
                row = {k: v[i] for k, v in event.columns.items()}
                if dim == "AllDimensions" or row.get(dim) is not None:
                    rows.append(row)
    return rows, starts


def mapping(
    rows: list[dict[str, str | None]], dims: set[str], measure: str = "OBS_VALUE"
) -> Mapping:
    return {tuple(sorted((d, row.get(d)) for d in dims)): row.get(measure) for row in rows}


def value(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "NaN":
        return None
    return str(v)


@pytest.mark.parametrize("name", sorted(WITH_SDMX1))
def test_same_observations_as_sdmx1(name: str) -> None:
    path = Path(name) if name.startswith("/") else K / name
    structure = WITH_SDMX1[name]
    kwargs = {}
    if structure is not None:
        kwargs["structure"] = dsd(structure)
    with warnings.catch_warnings(), path.open("rb") as file:
        warnings.simplefilter("ignore")
        message = sdmx.read_sdmx(file, **kwargs)
    expected: Mapping = {}
    count = 0
    for dataset in message.data:
        for obs in dataset.obs:
            key = {k: str(v.value) for k, v in obs.key.values.items()}
            expected[tuple(sorted(key.items()))] = value(obs.value)
            count += 1
    rows, starts = read(path)
    assert len(starts) == len(message.data)
    assert len(rows) == count
    dims = {d for key in expected for d, _ in key}
    assert mapping(rows, dims) == expected


def dom_reading(path: Path) -> tuple[int, Mapping, set[str]]:
    """An independent whole-document reading of structure-specific data: every Obs merged with its
    Series (3.0 measures other than OBS_VALUE are taken as named in the sample)."""
    root = etree.parse(str(path)).getroot()
    rows = []
    for obs in root.iter("Obs"):
        parent = obs.getparent()
        row = dict(parent.attrib) if parent.tag == "Series" else {}
        row.update(obs.attrib)
        rows.append({k: v for k, v in row.items() if not k.startswith("{")})
    measures = {"OBS_VALUE", "M1", "A"}
    attributes = {"OBS_STATUS", "OBS_CONF", "AVAILABILITY", "COLLECTION", "ATT1", "ATT2", "CONF_STATUS", "DECIMALS", "TIME_FORMAT", "COMMENT_OBS", "OBS_PRE_BREAK", "UNIT_MEASURE", "UNIT_MULT", "TITLE", "COMMENT_TS", "OBS_FLAG", "CONF_STATUS_OBS"}  # fmt: skip
    dims = {k for row in rows for k in row} - measures - attributes
    measure = next((m for m in measures if any(m in row for row in rows)), "OBS_VALUE")
    return len(rows), mapping([{**r, measure: value(r.get(measure))} for r in rows], dims, measure), dims  # fmt: skip


@pytest.mark.parametrize("path", WITH_DOM, ids=lambda p: p.name)
def test_same_observations_as_a_whole_document_reading(path: Path) -> None:
    count, expected, dims = dom_reading(path)
    rows, _ = read(path)
    measure = next((m for m in ("OBS_VALUE", "M1", "A") if any(m in r for r in rows)), "OBS_VALUE")
    assert len(rows) == count
    assert mapping(rows, dims, measure) == expected
