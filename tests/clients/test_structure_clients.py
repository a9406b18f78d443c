"""sdmx1 and pysdmx read DSM's structures over real HTTP, as their users would (see
../shared/CLIENTS.md for what each client sends)."""

import io
import json

import pytest
import sdmx
from pysdmx.api.qb import (
    ApiVersion,
    RestService,
    StructureFormat,
    StructureQuery,
    StructureReference,
    StructureType,
)
from pysdmx.io import read_sdmx

DATAFLOWS = {
    "DF_FOREIGN_POP",
    "DF_WORK_PERMITS",
    "DF_FOREIGN_ENTRY",
    "DF_FOREIGN_EXIT",
    "DF_ASYLUM_APP",
    "DF_ASYLUM_DEC",
    "DF_CITIZENS_ABROAD",
    "DF_LABOUR_EMIG",
}


def _sdmx1_client(base: str, versions: list[str] | None = None) -> sdmx.Client:
    source = {
        "id": "DSM_TEST",
        "name": "DSM under test",
        "url": base,
        "supports": {"preview": False, "provisionagreement": False},
    }
    if versions:
        source["versions"] = versions
    sdmx.add_source(json.dumps(source), override=True)
    return sdmx.Client("DSM_TEST")


def _check_sdmx1_message(message: sdmx.message.StructureMessage) -> None:
    # sdmx1's 3.0 reader takes `<str:AttributeRelationship><str:Dataflow/>` (a dataset-level
    # attribute, as the 3.0 schema writes it) for a reference to an unnamed dataflow and adds a
    # placeholder "(missing id)"; every real dataflow is there.
    assert set(message.dataflow) - {"(missing id)"} == DATAFLOWS
    for flow in (message.dataflow[i] for i in DATAFLOWS):
        dsd = flow.structure
        assert dsd.id in message.structure and not dsd.is_external_reference
        for dimension in dsd.dimensions:
            assert dimension.concept_identity is not None
    assert "CS_MIGRATION" in message.concept_scheme
    area = message.codelist["CL_AREA"]
    assert area["UZB"].name.localizations == {"en": "Uzbekistan", "ru": "Узбекистан"}
    assert message.dataflow["DF_FOREIGN_POP"].name.localizations["ru"]
    concept = message.concept_scheme["CS_MIGRATION"]["CITIZENSHIP"]
    assert concept.description.localizations["ru"] and concept.description.localizations["en"]


def test_sdmx1_v1_client(live_server):
    client = _sdmx1_client(f"{live_server}/rest")
    message = client.dataflow(
        "all", agency_id="DSM", version="latest", params={"references": "all"}
    )
    _check_sdmx1_message(message)
    dsd_message = client.datastructure("DSD_WORK_PERMITS", agency_id="DSM", version="1.0")
    assert "CL_PERMIT_TYPE" in dsd_message.codelist


def test_sdmx1_v2_client(live_server):
    """sdmx1's SDMX-ML 3.0 reader (2.28) cannot read a `str:DataProviderSchemes` container, which
    `references=all` includes through provision agreements; descendants it reads. With the 2.1
    Accept header (sdmx1 picks the reader from the content type) it reads `references=all` too."""
    client = _sdmx1_client(f"{live_server}/rest/v2", ["3.0.0"])
    message = client.dataflow(
        "*", agency_id="DSM", version="~", params={"references": "descendants"}
    )
    _check_sdmx1_message(message)
    message = client.dataflow(
        "*",
        agency_id="DSM",
        version="~",
        params={"references": "all"},
        headers={"Accept": "application/vnd.sdmx.structure+xml;version=2.1"},
    )
    _check_sdmx1_message(message)
    assert "DATA_PROVIDERS" in message.organisation_scheme


@pytest.mark.parametrize(
    ("path", "api", "structure_format"),
    [
        ("/rest", ApiVersion.V1_5_0, StructureFormat.SDMX_ML_2_1),
        ("/rest/v2", ApiVersion.V2_0_0, StructureFormat.SDMX_ML_3_0),
        ("/rest/v2", ApiVersion.V2_0_0, StructureFormat.SDMX_JSON_2_0_0),
    ],
)
def test_pysdmx_rest_service(live_server, path, api, structure_format):
    service = RestService(
        f"{live_server}{path}", api, structure_format=structure_format, timeout=30
    )
    query = StructureQuery(
        StructureType.DATAFLOW,
        "DSM",
        "*",
        "~" if path.endswith("v2") else "latest",
        references=StructureReference.ALL,
    )
    message = read_sdmx(io.BytesIO(service.structure(query)), validate=False)
    flows = {f.id for f in message.get_dataflows()}
    assert flows == DATAFLOWS
    dsds = {d.id for d in message.get_data_structure_definitions()}
    assert {f"DSD_{f[3:]}" for f in DATAFLOWS} <= dsds
    permits = next(
        d for d in message.get_data_structure_definitions() if d.id == "DSD_WORK_PERMITS"
    )
    citizenship = next(c for c in permits.components if c.id == "CITIZENSHIP")
    assert "KAZ" in {code.id for code in citizenship.local_codes.codes}
    codelists = {c.id for c in message.get_codelists()}
    assert {"CL_AREA", "CL_SEX", "CL_AGE", "CL_DATA_SOURCE"} <= codelists


def test_pysdmx_reads_a_url_with_accept_any(live_server):
    message = read_sdmx(
        f"{live_server}/rest/dataflow/DSM/DF_ASYLUM_DEC/latest?references=descendants"
    )
    assert [f.id for f in message.get_dataflows()] == ["DF_ASYLUM_DEC"]
