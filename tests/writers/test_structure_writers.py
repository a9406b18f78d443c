"""The four structure writers: valid against the official schemas, and faithful to ``Shaped``
(stubs, complete stubs, partial item schemes), languages and container order — checked on a
format-independent summary of each output, parametrized over the formats."""

import json
from dataclasses import dataclass, field

import pytest
from lxml import etree
from sdmx.model import common, v21

from app.formats.media import MediaType
from app.formats.sdmxml import CONTAINERS_21
from app.model.structure import Shaped
from app.writers.structure import WRITERS, write
from app.writers.structure._common import UnsupportedArtefact

from .conftest import artefacts, response

FORMATS = [
    MediaType.STRUCTURE_ML_21,
    MediaType.STRUCTURE_ML_30,
    MediaType.STRUCTURE_JSON_10,
    MediaType.STRUCTURE_JSON_20,
]
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ITEM_TAGS = {"Code", "Concept", "Category", "Agency", "DataProvider", "DataConsumer"}
ITEM_KEYS = {"codes", "concepts", "categories", "agencies", "dataProviders", "dataConsumers"}
COMPONENT_TAGS = {
    "Dimension",
    "TimeDimension",
    "MeasureDimension",
    "Attribute",
    "PrimaryMeasure",
    "Measure",
}


@dataclass
class Artefact:
    """What the tests compare, whatever the format."""

    container: str
    id: str
    version: str | None
    names: dict[str, str]
    external: bool
    partial: bool = False
    items: list[str] = field(default_factory=list)
    components: int = 0
    described: bool = False
    annotated: bool = False
    url: str | None = None


def expected_names(obj) -> dict[str, str]:
    """The names written: all languages; the id in English when sdmx1 kept none (it drops the
    names of provision agreements when reading SDMX-ML 2.1)."""
    return dict(obj.name.localizations) or {"en": obj.id}


def _xml_components(elem) -> int:
    lists = {"DimensionList", "AttributeList", "MeasureList"}
    return sum(
        etree.QName(e.getparent()).localname in lists and etree.QName(e).localname in COMPONENT_TAGS
        for e in elem.iter()
    )


def _xml_items(elem) -> list[str]:
    return [
        e.get("id")
        for e in elem.iter()
        if etree.QName(e).localname in ITEM_TAGS and e.get("id") and e is not elem
    ]


def summarise_xml(body: bytes) -> list[Artefact]:
    root = etree.fromstring(body)
    structures = next(e for e in root if etree.QName(e).localname == "Structures")
    result = []
    for container in structures:
        for elem in container:
            kids = [etree.QName(k).localname for k in elem]
            result.append(
                Artefact(
                    container=etree.QName(container).localname,
                    id=elem.get("id"),
                    version=elem.get("version"),
                    names={
                        n.get(XML_LANG): n.text for n in elem if etree.QName(n).localname == "Name"
                    },
                    external=elem.get("isExternalReference") == "true",
                    partial=elem.get("isPartial") == "true",
                    items=_xml_items(elem),
                    components=_xml_components(elem),
                    described="Description" in kids,
                    annotated="Annotations" in kids,
                    url=elem.get("structureURL"),
                )
            )
    return result


def _json_items(obj: dict) -> list[str]:
    ids = []
    for key in ITEM_KEYS & obj.keys():
        for item in obj[key]:
            ids.append(item["id"])
            ids.extend(_json_items(item))
    return ids


def _json_components(obj: dict) -> int:
    comps = obj.get("dataStructureComponents", {})
    dims = comps.get("dimensionList", {})
    count = sum(len(dims.get(k, [])) for k in ("dimensions", "measureDimensions", "timeDimensions"))
    count += "timeDimension" in dims
    count += len(comps.get("attributeList", {}).get("attributes", []))
    measures = comps.get("measureList", {})
    return count + len(measures.get("measures", [])) + ("primaryMeasure" in measures)


def summarise_json(body: bytes) -> list[Artefact]:
    message = json.loads(body)
    return [
        Artefact(
            container=key,
            id=obj["id"],
            version=obj.get("version"),
            names=obj["names"],
            external=obj.get("isExternalReference", False),
            partial=obj.get("isPartial", False),
            items=_json_items(obj),
            components=_json_components(obj),
            described="descriptions" in obj,
            annotated="annotations" in obj,
            url=next((link.get("href") for link in obj.get("links", []) if "href" in link), None),
        )
        for key, objs in message["data"].items()
        for obj in objs
    ]


def summarise(media_type: MediaType, body: bytes) -> dict[str, Artefact]:
    found = summarise_xml(body) if "xml" in media_type else summarise_json(body)
    return {a.id: a for a in found}


def test_registry_holds_the_four_formats():
    assert set(FORMATS) <= set(WRITERS)


def test_unknown_media_type_names_the_known_ones(dsm_sample):
    with pytest.raises(KeyError, match="expected one of"):
        write(MediaType.JSON, response(artefacts(dsm_sample)))


@pytest.mark.parametrize("media_type", FORMATS)
def test_unsupported_artefact_fails_clearly(media_type):
    hcl = v21.HierarchicalCodelist(id="HCL", maintainer=common.Agency(id="DSM"))
    with pytest.raises(UnsupportedArtefact, match="HierarchicalCodelist HCL"):
        write(media_type, response([hcl]))


@pytest.mark.parametrize("media_type", FORMATS)
@pytest.mark.parametrize("sample", ["dsm_sample", "ecb_exr", "dsm_files"])
def test_output_is_valid_and_complete(media_type, sample, validate, request):
    message = request.getfixturevalue(sample)
    objects = artefacts(message)
    body = write(media_type, response(objects))
    validate(media_type, body)
    written = summarise(media_type, body)
    assert sorted(written) == sorted(o.id for o in objects)
    for obj in objects:
        out = written[obj.id]
        assert not out.external and not out.partial
        assert out.names == expected_names(obj)
        if isinstance(obj, common.ItemScheme):
            assert sorted(out.items) == sorted(obj.items), obj.id
        if isinstance(obj, common.BaseDataStructureDefinition):
            expected = sum(len(cl) for cl in (obj.dimensions, obj.attributes, obj.measures))
            assert out.components == expected


@pytest.mark.parametrize("media_type", FORMATS)
@pytest.mark.parametrize("complete", [False, True])
def test_stubs_have_no_items_or_components(media_type, complete, dsm_sample, validate):
    body = write(media_type, response(artefacts(dsm_sample), stub=True, complete=complete))
    validate(media_type, body)
    for obj in artefacts(dsm_sample):
        out = summarise(media_type, body)[obj.id]
        assert out.external and not out.items and not out.components
        assert out.names == expected_names(obj)
        assert out.url and out.url.startswith("http://dsm.example/rest/") and obj.id in out.url
    area = summarise(media_type, body)["CL_AREA"]  # has a description and an annotation
    assert area.described is complete and area.annotated is complete


@pytest.mark.parametrize("media_type", FORMATS)
def test_partial_item_schemes_keep_only_the_given_items(media_type, dsm_sample, validate):
    keep = frozenset({"ARM", "KAZ", "MIG", "LAB", "FREQ"})
    resp = response(artefacts(dsm_sample), items=keep)
    body = write(media_type, resp)
    validate(media_type, body)
    written = summarise(media_type, body)
    assert sorted(written["CL_AREA"].items) == ["ARM", "KAZ"] and written["CL_AREA"].partial
    assert sorted(written["CAT_DSM"].items) == ["LAB", "MIG"]  # MIG moves up: POP is not kept
    assert written["CS_MIG"].items == ["FREQ"]
    assert written["CL_SEX"].items == [] and written["CL_SEX"].partial
    assert not written["DSD_MIG"].partial and written["DSD_MIG"].components == 10


def test_partial_codelist_keeps_parent_only_when_written(dsm_sample):
    area = dsm_sample.codelist["CL_AREA"]
    with_parent = write(
        MediaType.STRUCTURE_JSON_20, response([area], items=frozenset({"EECA", "ARM"}))
    )
    without = write(MediaType.STRUCTURE_JSON_20, response([area], items=frozenset({"ARM"})))
    codes = {c["id"]: c for c in json.loads(with_parent)["data"]["codelists"][0]["codes"]}
    assert codes["ARM"]["parent"] == "EECA"
    assert "parent" not in json.loads(without)["data"]["codelists"][0]["codes"][0]


@pytest.mark.parametrize("media_type", [MediaType.STRUCTURE_JSON_10, MediaType.STRUCTURE_JSON_20])
@pytest.mark.parametrize(("lang", "expected"), [("ru", "Пол"), ("en", "Sex"), ("fr", "Sex")])
def test_json_name_is_in_the_response_language(media_type, lang, expected, dsm_sample):
    body = write(media_type, response([dsm_sample.codelist["CL_SEX"]], lang=lang))
    codelist = json.loads(body)["data"]["codelists"][0]
    assert codelist["name"] == expected
    assert codelist["names"] == {"en": "Sex", "ru": "Пол"}
    assert {c["id"]: c["name"] for c in codelist["codes"]}["F"] == (
        "Женщины" if lang == "ru" else "Female"
    )
    assert "Пол".encode() in body  # UTF-8, not \u escapes


CONTAINER_ORDER = {
    MediaType.STRUCTURE_ML_21: list(dict.fromkeys(c for c, _, _ in CONTAINERS_21)),
    MediaType.STRUCTURE_ML_30: None,  # alphabetical in the 3.0 XSD
}


@pytest.mark.parametrize("media_type", [MediaType.STRUCTURE_ML_21, MediaType.STRUCTURE_ML_30])
def test_xml_containers_follow_the_schema_order(media_type, dsm_sample):
    objects = list(reversed(artefacts(dsm_sample)))
    root = etree.fromstring(write(media_type, response(objects)))
    containers = [etree.QName(e).localname for e in root[1]]
    order = CONTAINER_ORDER[media_type] or sorted(containers, key=str.lower)
    assert containers == [c for c in order if c in containers]
    assert len(containers) == len(set(containers))


def test_header_and_declaration(dsm_sample):
    body = write(MediaType.STRUCTURE_ML_21, response([dsm_sample.codelist["CL_SEX"]]))
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    header = etree.fromstring(body)[0]
    assert [etree.QName(e).localname for e in header] == ["ID", "Test", "Prepared", "Sender"]
    assert header[2].text == "2024-05-01T12:00:00+00:00" and header[3].get("id") == "DSM"


def test_one_artefact_may_be_shaped_differently_from_another(dsm_sample):
    resp = response([])
    resp = type(resp)(
        header=resp.header,
        artefacts=(
            Shaped(dsm_sample.structure["DSD_MIG"]),
            Shaped(dsm_sample.codelist["CL_SEX"], stub=True),
        ),
    )
    written = summarise(MediaType.STRUCTURE_ML_21, write(MediaType.STRUCTURE_ML_21, resp))
    assert not written["DSD_MIG"].external and written["CL_SEX"].external
    assert written["CL_SEX"].url is None  # no structure_url configured
