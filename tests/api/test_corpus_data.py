"""Real data messages (/work/shared/corpus) posted to DSM after their structures, compared with sdmx1.

Each case loads its structure files through the maintenance API (admin), posts the data messages
through `POST /rest/v2/data/`, and compares what DSM stored with what sdmx1 (`sdmx.read_sdmx` +
`sdmx.to_pandas`) reads from the same file: the same number of observations and the same
(key, period) -> value. Messages of one case hold the same observations in different layouts, so
after the first every other one must be reported unchanged.

Structures the corpus lacks are supplied by small files in `samples/data/`: dataflows for the ECB
test DSDs (their messages name only the DSD; with one dataflow on a DSD DSM takes it) and the
INSEE codelists that INSEE's structure file refers to without holding.
"""

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import sdmx
from lxml import etree

from app.storage import observations as store

CORPUS = Path("/work/shared/corpus")
K = CORPUS / "khaeru__sdmx-test-data"
SAMPLES = Path(__file__).parent / "samples" / "data"
LAYOUTS = ("ts", "ts-ss", "flat", "flat-ss", "xs", "xs-ss", "ts-gf", "ts-gf-ss")

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not available")


@dataclass(frozen=True)
class Case:
    structures: tuple[Path, ...]
    messages: tuple[str, ...]  # paths under K
    dataflow: tuple[str, str, str]
    dsd: Path  # the structure file sdmx1 reads structure-specific messages with
    observations: int
    query: str | None = None  # ?dataflow= where the messages name a DSD that is not there


# rg-xs.xml and sg-xs.xml hold the 2010-08 section twice (the same observations in two
# series): DSM rightly refuses them (test_duplicated_sections_are_refused).
DUPLICATED = {"ECB_EXR/rg-xs.xml", "ECB_EXR/sg-xs.xml"}


def ecb(family: str, dsd_file: str, flow: str, **kwargs) -> Case:
    messages = tuple(
        f"ECB_EXR/{family}-{layout}.xml"
        for layout in LAYOUTS
        if (K / "ECB_EXR" / f"{family}-{layout}.xml").exists()
        and f"ECB_EXR/{family}-{layout}.xml" not in DUPLICATED
    )
    dsd = K / "ECB_EXR" / dsd_file
    dataflow = SAMPLES / f"ecb_exr_{family}_dataflow.xml"
    return Case((dsd, dataflow), messages, ("ECB", flow, "1.0"), dsd, 12, **kwargs)


INSEE_DSD = K / "INSEE/CNA-2010-CONSO-SI-A17-structure.xml"
CASES = {
    "ECB_EXR_NG": ecb("ng", "ng-structure-full.xml", "EXR_NG"),
    # rg-*.xml name ECB_EXR_RG, the DSD in rg-structure-full.xml is ECB_EXR_CG
    "ECB_EXR_CG": ecb("rg", "rg-structure-full.xml", "EXR_RG", query="ECB:EXR_RG(1.0)"),
    "ECB_EXR_SG": ecb("sg", "sg-structure-full.xml", "EXR_SG"),
    # FR1's DSD names FR1:CL_AREA(1.0) and FR1:CL_OBS_STATUS(1.0), beside DSM's lists of the same
    # ids and version: each component must get its own agency's codes
    "INSEE_CNA": Case(
        (SAMPLES / "insee_cna_codelists.xml", INSEE_DSD),
        ("INSEE/CNA-2010-CONSO-SI-A17.xml",),
        ("FR1", "CNA-2010-CONSO-SI-A17", "1.0"),
        INSEE_DSD,
        2,
    ),
}


def load_structures(client, token: str, *paths: Path) -> None:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/xml"}
    for path in paths:
        response = client.post("/rest/v2/structure/", content=path.read_bytes(), headers=headers)
        assert response.status_code in (201, 207), (path.name, response.text)


def post_data(client, token: str, path: Path, dataflow: str | None = None):
    params = {"dataflow": dataflow} if dataflow else {}
    headers = {"authorization": f"Bearer {token}"}
    return client.post("/rest/v2/data/", content=path.read_bytes(), headers=headers, params=params)


def number(text: object) -> float | None:
    value = None if text is None else float(text)
    return None if value is None or math.isnan(value) else value


def stored(client, flow_id: tuple[str, str, str]) -> tuple[tuple[str, ...], dict]:
    """DSM's current observations of a dataflow: (key names, {key: value})."""
    flow = client.app.state.structures.flows()[flow_id]
    tables = store.tables_for(flow)
    with client.app.state.engine.connect() as conn:
        rows = store.snapshot(conn, tables, flow.ref)
    width = len(tables.key)
    return tables.key, {row[:width]: number(row[width]) for row in rows}


def sdmx1_reading(path: Path, dsd: Path, names: tuple[str, ...]) -> dict:
    """sdmx1's (key, period) -> value for a message, keyed in DSM's column order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with dsd.open("rb") as file:
            (structure,) = sdmx.read_sdmx(file).structure.values()
        message = sdmx.read_sdmx(io.BytesIO(path.read_bytes()), structure=structure)
    out = {}
    for dataset in message.data:
        series = sdmx.to_pandas(dataset)
        for index, value in series.items():
            labels = dict(zip(series.index.names, index, strict=True))
            out[tuple(str(labels[n]) for n in names)] = number(value)
    return out


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_corpus_messages_store_what_sdmx1_reads(client, admin_token, case: Case):
    load_structures(client, admin_token, *case.structures)
    for n, name in enumerate(case.messages):
        response = post_data(client, admin_token, K / name, case.query)
        assert response.status_code in (200, 201), (name, response.text)
        counts = response.json()["counts"]
        if n == 0:
            assert counts["inserted"] == case.observations, name
        else:
            assert counts["unchanged"] == case.observations, name
            assert counts["inserted"] == counts["updated"] == 0, name
        names, observations = stored(client, case.dataflow)
        expected = sdmx1_reading(K / name, case.dsd, names)
        assert len(expected) == case.observations, name
        assert observations == expected, name


def test_structure_references_its_own_agencys_codelists(client, admin_token):
    """FR1:CL_AREA(1.0) and DSM:CL_AREA(1.0) side by side: FR1's DSD lists FR1's as its child."""
    load_structures(client, admin_token, SAMPLES / "insee_cna_codelists.xml", INSEE_DSD)
    response = client.get(
        "/rest/datastructure/FR1/CNA-2010-CONSO-SI-A17/1.0",
        params={"references": "children"},
        headers={"accept": "application/vnd.sdmx.structure+xml;version=2.1"},
    )
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    codelists = {(e.get("agencyID"), e.get("id")) for e in root.iter("{*}Codelist") if e.get("id")}
    assert ("FR1", "CL_AREA") in codelists
    assert ("DSM", "CL_AREA") not in codelists


def test_structure_without_its_codelists_is_refused(client, admin_token):
    """INSEE's structure file refers to five codelists it does not hold: DSM is right to refuse."""
    headers = {"authorization": f"Bearer {admin_token}", "content-type": "application/xml"}
    refused = client.post("/rest/v2/structure/", content=INSEE_DSD.read_bytes(), headers=headers)
    assert refused.status_code == 422
    for codelist in ("CL_AREA", "CL_FREQ", "CL_OBS_STATUS", "CL_TIME_COLLECT", "CL_UNIT"):
        assert f"Codelist FR1:{codelist}(1.0), which is not defined" in refused.text
    data = post_data(client, admin_token, K / "INSEE/CNA-2010-CONSO-SI-A17.xml")
    assert data.status_code == 404
    assert data.json()["findings"][0]["code"] == "unknown-structure"


@pytest.mark.parametrize(
    ("message", "dsd_file", "dataflow"),
    [
        ("ECB_EXR/rg-xs.xml", "rg-structure-full.xml", "ECB:EXR_RG(1.0)"),
        ("ECB_EXR/sg-xs.xml", "sg-structure-full.xml", None),
    ],
)
def test_duplicated_sections_are_refused(client, admin_token, message, dsd_file, dataflow):
    family = message.split("/")[1][:2]
    load_structures(
        client, admin_token, K / "ECB_EXR" / dsd_file, SAMPLES / f"ecb_exr_{family}_dataflow.xml"
    )
    response = post_data(client, admin_token, K / message, dataflow)
    assert response.status_code == 422
    codes = {f["code"] for f in response.json()["findings"]}
    assert codes == {"duplicate-observation"}
