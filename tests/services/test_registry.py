"""Registry tests: `samples/registry.xml` holds one artefact of each reference kind and DSM:CL_FREQ in
versions 1.0, 1.1, 2.0.0 and 2.1.0-draft; real agency messages from the shared corpus check the graph on
structures DSM did not write; DSM's own dsd/ and codelists/ files are merged and checked when present.
"""

import copy
from pathlib import Path

import pytest
import sdmx
from lxml import etree
from sdmx.message import StructureMessage
from sdmx.model import common, v21

from app.formats.sdmxml import CONTAINERS_21, NS21
from app.model.query import QuerySyntaxError, StructureQuery
from app.services.registry import Registry, match_items

SAMPLES = Path(__file__).parent / "samples"
CORPUS = Path("/work/shared/corpus/khaeru__sdmx-test-data")
ROOT = Path(__file__).parents[2]


def load(path: Path) -> Registry:
    with open(path, "rb") as f:  # sdmx.read_sdmx(path) leaves the file open
        return Registry(sdmx.read_sdmx(f))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load(SAMPLES / "registry.xml")


def names(artefacts) -> list[str]:
    return [f"{a.maintainer.id}:{a.id}({a.version})" for a in artefacts]


def query(resource, agency=None, id=None, version=None, item=None, api="v2", **kw):
    return StructureQuery.parse(resource, agency, id, version, item, api=api, **kw)


# -- select ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "api", "expected"),
    [
        (None, "v2", ["2.1.0-draft"]),
        ("~", "v2", ["2.1.0-draft"]),
        ("+", "v2", ["2.0.0"]),
        ("*", "v2", ["1.0", "1.1", "2.0.0", "2.1.0-draft"]),
        ("1.*", "v2", ["1.0", "1.1"]),
        ("~.0", "v2", ["1.1"]),
        ("2.*.0", "v2", ["2.0.0", "2.1.0-draft"]),
        ("2.0+.0", "v2", ["2.0.0"]),
        ("1.0,2.1.0-draft", "v2", ["1.0", "2.1.0-draft"]),
        ("1.0.0", "v2", []),
        ("latest", "v1", ["2.1.0-draft"]),
        ("all", "v1", ["1.0", "1.1", "2.0.0", "2.1.0-draft"]),
        ("1.0+1.1", "v1", ["1.0", "1.1"]),
    ],
)
def test_select_versions(registry, version, api, expected):
    agency = "DSM"
    found = registry.select(query("codelist", agency, "CL_FREQ", version, api=api))
    assert [a.version for a in found] == expected


def test_latest_is_per_agency_and_id(registry):
    found = registry.select(query("codelist", "*", "CL_FREQ"))
    assert names(found) == ["DSM:CL_FREQ(2.1.0-draft)", "TEST:CL_FREQ(1.0)"]


@pytest.mark.parametrize(
    ("resource", "agency", "expected"),
    [
        ("organisationscheme", None, ["SDMX:AGENCIES(1.0)", "DSM:DATA_PROVIDERS(1.0)"]),
        ("agencyscheme", None, ["SDMX:AGENCIES(1.0)"]),
        ("dataproviderscheme", None, ["DSM:DATA_PROVIDERS(1.0)"]),
        ("dataconsumerscheme", None, []),
        ("contentconstraint", None, ["DSM:CR_MIG(1.0)", "DSM:CR_MIG_ACTUAL(1.0)"]),
        ("dataconstraint", None, ["DSM:CR_MIG(1.0)", "DSM:CR_MIG_ACTUAL(1.0)"]),
        ("allowedconstraint", None, ["DSM:CR_MIG(1.0)"]),
        ("actualconstraint", None, ["DSM:CR_MIG_ACTUAL(1.0)"]),
        ("dataflow", "DSM", ["DSM:DF_MIG(1.0)", "DSM:DF_OTHER(1.0)"]),
        ("dataflow", "TEST", []),
        ("metadataconstraint", None, []),
        ("transformationscheme", None, []),
        ("valuelist", None, []),
        ("codelist", "TEST", ["TEST:CL_FREQ(1.0)"]),
    ],
)
def test_select_types(registry, resource, agency, expected):
    assert names(registry.select(query(resource, agency))) == expected


@pytest.mark.parametrize("resource", ["*", "structure"])
def test_select_any_type_in_container_order(registry, resource):
    found = registry.select(query(resource, "*", "*", "*"))
    assert names(found) == [
        "SDMX:AGENCIES(1.0)",
        "DSM:DATA_PROVIDERS(1.0)",
        "DSM:DF_MIG(1.0)",
        "DSM:DF_OTHER(1.0)",
        "DSM:TOPICS(1.0)",
        "DSM:CAT_MIG(1.0)",
        "DSM:CL_AREA(1.0)",
        "DSM:CL_FREQ(1.0)",
        "DSM:CL_FREQ(1.1)",
        "DSM:CL_FREQ(2.0.0)",
        "DSM:CL_FREQ(2.1.0-draft)",
        "DSM:CL_SEX(1.0)",
        "DSM:CL_UNIT(1.0)",
        "TEST:CL_FREQ(1.0)",
        "DSM:CONCEPTS(1.0)",
        "DSM:DSD_MIG(1.0)",
        "DSM:CR_MIG(1.0)",
        "DSM:CR_MIG_ACTUAL(1.0)",
        "DSM:PA_MIG_P1(1.0)",
    ]


@pytest.mark.parametrize(
    ("agency", "ids", "api", "expected"),
    [
        ("DSM", "CL_AREA,CL_SEX", "v2", ["DSM:CL_AREA(1.0)", "DSM:CL_SEX(1.0)"]),
        ("DSM+TEST", "CL_FREQ", "v1", ["DSM:CL_FREQ(2.1.0-draft)", "TEST:CL_FREQ(1.0)"]),
        ("NOBODY", "*", "v2", []),
    ],
)
def test_select_lists(registry, agency, ids, api, expected):
    assert names(registry.select(query("codelist", agency, ids, api=api))) == expected


@pytest.mark.parametrize(
    ("resource", "id", "version", "item", "expected"),
    [
        ("codelist", "CL_FREQ", "*", "M", ["1.1", "2.0.0", "2.1.0-draft"]),
        ("codelist", "CL_FREQ", "*", "W,Q", ["2.0.0", "2.1.0-draft"]),
        ("codelist", "CL_FREQ", "*", "*", ["1.0", "1.1", "2.0.0", "2.1.0-draft"]),
        ("codelist", "CL_FREQ", "*", "X", []),
        ("categoryscheme", "TOPICS", None, "MIG.ASY", ["1.0"]),
        ("categoryscheme", "TOPICS", None, "ASY", []),  # a nested category needs its path
        ("categoryscheme", "TOPICS", None, "MIG.POP", []),
        ("dataproviderscheme", "DATA_PROVIDERS", None, "P2", ["1.0"]),
    ],
)
def test_select_items(registry, resource, id, version, item, expected):
    found = registry.select(query(resource, "DSM", id, version, item))
    assert [a.version for a in found] == expected


@pytest.mark.parametrize(
    ("resource", "id", "items", "expected"),
    [
        ("categoryscheme", "TOPICS", ("MIG.ASY",), {"MIG", "ASY"}),
        ("categoryscheme", "TOPICS", ("MIG", "POP"), {"MIG", "POP"}),
        ("categoryscheme", "TOPICS", ("MIG.RES", "NOPE"), {"MIG", "RES"}),
        ("codelist", "CL_SEX", ("F", "_T"), {"F", "_T"}),
        ("codelist", "CL_SEX", None, None),
    ],
)
def test_match_items(registry, resource, id, items, expected):
    scheme = registry.latest(resource, "DSM", id)
    assert match_items(scheme, items) == (None if expected is None else frozenset(expected))


# -- references --------------------------------------------------------------------------------------


def refs(registry, resource, id, mode, version=None):
    return names(registry.references(registry.select(query(resource, "DSM", id, version)), mode))


DSD_CHILDREN = [
    "DSM:CL_AREA(1.0)",
    "DSM:CL_FREQ(1.1)",
    "DSM:CL_SEX(1.0)",  # SEX has no local representation: its concept's core representation applies
    "DSM:CL_UNIT(1.0)",
    "DSM:CONCEPTS(1.0)",
]


@pytest.mark.parametrize(
    ("resource", "id", "mode", "expected"),
    [
        ("dataflow", "DF_MIG", "none", []),
        ("dataflow", "DF_MIG", "children", ["DSM:DSD_MIG(1.0)"]),
        (
            "dataflow",
            "DF_MIG",
            "parents",
            ["DSM:CAT_MIG(1.0)", "DSM:CR_MIG(1.0)", "DSM:CR_MIG_ACTUAL(1.0)", "DSM:PA_MIG_P1(1.0)"],
        ),
        (
            "dataflow",
            "DF_MIG",
            "parentsandsiblings",
            [
                "DSM:DATA_PROVIDERS(1.0)",
                "DSM:TOPICS(1.0)",
                "DSM:CAT_MIG(1.0)",
                "DSM:CR_MIG(1.0)",
                "DSM:CR_MIG_ACTUAL(1.0)",
                "DSM:PA_MIG_P1(1.0)",
            ],
        ),
        (
            "dataflow",
            "DF_MIG",
            "descendants",
            [
                "DSM:CL_AREA(1.0)",
                "DSM:CL_FREQ(1.0)",  # via the FREQ concept's core representation
                "DSM:CL_FREQ(1.1)",
                "DSM:CL_SEX(1.0)",
                "DSM:CL_UNIT(1.0)",
                "DSM:CONCEPTS(1.0)",
                "DSM:DSD_MIG(1.0)",
            ],
        ),
        (
            "dataflow",
            "DF_MIG",
            "all",
            [
                "DSM:DATA_PROVIDERS(1.0)",
                "DSM:TOPICS(1.0)",
                "DSM:CAT_MIG(1.0)",
                "DSM:CL_AREA(1.0)",
                "DSM:CL_FREQ(1.0)",
                "DSM:CL_FREQ(1.1)",
                "DSM:CL_SEX(1.0)",
                "DSM:CL_UNIT(1.0)",
                "DSM:CONCEPTS(1.0)",
                "DSM:DSD_MIG(1.0)",
                "DSM:CR_MIG(1.0)",
                "DSM:CR_MIG_ACTUAL(1.0)",
                "DSM:PA_MIG_P1(1.0)",
            ],
        ),
        ("datastructure", "DSD_MIG", "children", DSD_CHILDREN),
        ("datastructure", "DSD_MIG", "parents", ["DSM:DF_MIG(1.0)", "DSM:DF_OTHER(1.0)"]),
        ("datastructure", "DSD_MIG", "dataflow", ["DSM:DF_MIG(1.0)", "DSM:DF_OTHER(1.0)"]),
        (
            "dataflow",
            "DF_MIG",
            "codelist",
            DSD_CHILDREN[:1] + ["DSM:CL_FREQ(1.0)"] + DSD_CHILDREN[1:4],
        ),
        ("dataflow", "DF_MIG", "conceptscheme", ["DSM:CONCEPTS(1.0)"]),
        ("dataflow", "DF_MIG", "allowedconstraint", ["DSM:CR_MIG(1.0)"]),
        ("dataflow", "DF_MIG", "dataconstraint", ["DSM:CR_MIG(1.0)", "DSM:CR_MIG_ACTUAL(1.0)"]),
        ("dataflow", "DF_MIG", "agencyscheme", []),  # a maintainer is not a reference
        (
            "dataflow",
            "DF_MIG",
            ["children", "provisionagreement"],
            ["DSM:DSD_MIG(1.0)", "DSM:PA_MIG_P1(1.0)"],
        ),
        ("codelist", "CL_SEX", "parents", ["DSM:CONCEPTS(1.0)", "DSM:DSD_MIG(1.0)"]),
        ("codelist", "CL_SEX", "children", []),
        (
            "codelist",
            "CL_SEX",
            "ancestors",
            [
                "DSM:DF_MIG(1.0)",
                "DSM:DF_OTHER(1.0)",
                "DSM:CAT_MIG(1.0)",
                "DSM:CONCEPTS(1.0)",
                "DSM:DSD_MIG(1.0)",
                "DSM:CR_MIG(1.0)",
                "DSM:CR_MIG_ACTUAL(1.0)",
                "DSM:PA_MIG_P1(1.0)",
            ],
        ),
        ("codelist", "CL_SEX", "dataflow", ["DSM:DF_MIG(1.0)", "DSM:DF_OTHER(1.0)"]),
        ("categoryscheme", "TOPICS", "categorisation", ["DSM:CAT_MIG(1.0)"]),
        ("categorisation", "CAT_MIG", "children", ["DSM:DF_MIG(1.0)", "DSM:TOPICS(1.0)"]),
        (
            "provisionagreement",
            "PA_MIG_P1",
            "children",
            ["DSM:DATA_PROVIDERS(1.0)", "DSM:DF_MIG(1.0)"],
        ),
        ("dataproviderscheme", "DATA_PROVIDERS", "parents", ["DSM:PA_MIG_P1(1.0)"]),
        ("contentconstraint", "CR_MIG", "children", ["DSM:DF_MIG(1.0)"]),
    ],
)
def test_references(registry, resource, id, mode, expected):
    version = "*" if resource == "codelist" else None
    assert refs(registry, resource, id, mode, version) == expected


def test_references_exclude_the_selection(registry):
    everything = registry.select(query("*", "*", "*", "*"))
    for mode in ("parents", "children", "all", "descendants", "ancestors", "codelist"):
        assert registry.references(everything, mode) == []


def test_references_unknown_mode(registry):
    with pytest.raises(QuerySyntaxError, match="references"):
        registry.references(registry.dataflows(), "cousins")


# -- shape -------------------------------------------------------------------------------------------


def shaped(registry, resource, id, mode, detail, item=None):
    selected = registry.select(query(resource, "DSM", id, None, item))
    referenced = registry.references(selected, mode)
    q = query(resource, "DSM", id, None, item)
    return {
        f"{s.artefact.id}({s.artefact.version})": (
            s.stub,
            s.complete,
            None if s.items is None else sorted(s.items),
        )
        for s in registry.shape(selected, referenced, detail, q.items)
    }


@pytest.mark.parametrize(
    ("detail", "selected", "referenced"),
    [
        ("full", (False, False, None), (False, False, None)),
        ("raw", (False, False, None), (False, False, None)),
        ("allstubs", (True, False, None), (True, False, None)),
        ("allcompletestubs", (True, True, None), (True, True, None)),
        ("referencestubs", (False, False, None), (True, False, None)),
        ("referencecompletestubs", (False, False, None), (True, True, None)),
    ],
)
def test_shape_details(registry, detail, selected, referenced):
    result = shaped(registry, "datastructure", "DSD_MIG", "children", detail)
    assert result.pop("DSD_MIG(1.0)") == selected
    assert set(result) == {
        "CL_AREA(1.0)",
        "CL_FREQ(1.1)",
        "CL_SEX(1.0)",
        "CL_UNIT(1.0)",
        "CONCEPTS(1.0)",
    }
    assert set(result.values()) == {referenced}


def test_shape_referencepartial_dataflow(registry):
    result = shaped(registry, "dataflow", "DF_MIG", "all", "referencepartial")
    assert result == {
        "DF_MIG(1.0)": (False, False, None),
        "DATA_PROVIDERS(1.0)": (False, False, ["P1"]),
        "TOPICS(1.0)": (False, False, ["ASY", "MIG"]),
        "CAT_MIG(1.0)": (False, False, None),
        "CL_AREA(1.0)": (False, False, ["AM", "GE"]),  # the allowed constraint, not the actual one
        "CL_FREQ(1.0)": (False, False, None),  # not used by the DSD (reached through the concept)
        "CL_FREQ(1.1)": (False, False, ["A"]),
        "CL_SEX(1.0)": (False, False, None),  # not constrained
        "CL_UNIT(1.0)": (False, False, None),
        "CONCEPTS(1.0)": (
            False,
            False,
            ["FREQ", "OBS_VALUE", "REF_AREA", "SEX", "TIME_PERIOD", "UNIT"],
        ),
        "DSD_MIG(1.0)": (False, False, None),
        "CR_MIG(1.0)": (False, False, None),
        "CR_MIG_ACTUAL(1.0)": (False, False, None),
        "PA_MIG_P1(1.0)": (False, False, None),
    }


def test_shape_referencepartial_unconstrained_dataflow(registry):
    result = shaped(registry, "dataflow", "DF_OTHER", "descendants", "referencepartial")
    assert result["CL_AREA(1.0)"] == result["CL_FREQ(1.1)"] == (False, False, None)
    assert result["CONCEPTS(1.0)"][2] == [
        "FREQ",
        "OBS_VALUE",
        "REF_AREA",
        "SEX",
        "TIME_PERIOD",
        "UNIT",
    ]


def test_shape_referencepartial_agencies(registry):
    selected = registry.select(query("agencyscheme"))
    referenced = registry.references(
        registry.select(query("dataflow", "DSM", "DF_MIG")), "children"
    )
    result = registry.shape(referenced, selected, "referencepartial")
    # DSM maintains the DSD's children, SDMX the agency scheme itself; TEST and OTHER maintain nothing
    # returned (sdmx1 adds a scheme's maintainer to the scheme's items, hence SDMX is an item)
    assert result[-1].items == frozenset({"DSM", "SDMX"})


def test_shape_items(registry):
    result = shaped(registry, "categoryscheme", "TOPICS", "categorisation", "full", "MIG.ASY")
    assert result == {
        "TOPICS(1.0)": (False, False, ["ASY", "MIG"]),
        "CAT_MIG(1.0)": (False, False, None),
    }


# -- lookups -----------------------------------------------------------------------------------------


def test_lookups(registry):
    assert registry.get("codelist", "DSM", "CL_FREQ", "1.1").version == "1.1"
    assert registry.get("codelist", "DSM", "CL_FREQ", "9.0") is None
    assert registry.get("organisationscheme", "DSM", "DATA_PROVIDERS", "1.0").id == "DATA_PROVIDERS"
    assert registry.latest("codelist", "DSM", "CL_FREQ").version == "2.1.0-draft"
    assert registry.latest("codelist", "DSM", "NOPE") is None
    assert names(registry.dataflows()) == ["DSM:DF_MIG(1.0)", "DSM:DF_OTHER(1.0)"]
    assert len(registry) == 19


@pytest.mark.parametrize(
    ("resource", "id", "version", "expected"),
    [
        ("codelist", "CL_FREQ", "1.1", ["DSM:DSD_MIG(1.0)"]),
        ("codelist", "CL_FREQ", "2.0.0", []),
        ("datastructure", "DSD_MIG", "1.0", ["DSM:DF_MIG(1.0)", "DSM:DF_OTHER(1.0)"]),
        ("conceptscheme", "CONCEPTS", "1.0", ["DSM:DSD_MIG(1.0)"]),
    ],
)
def test_dependents(registry, resource, id, version, expected):
    assert names(registry.dependents(registry.get(resource, "DSM", id, version))) == expected


def test_index_is_built_once(registry, monkeypatch):
    """Queries read the index; they never walk the message again."""
    monkeypatch.setattr(StructureMessage, "iter_objects", None)
    assert registry.select(query("codelist", "*", "*", "*"))
    assert registry.references(registry.dataflows(), "all")


# -- real structure messages -------------------------------------------------------------------------


def corpus(path: str) -> Registry:
    file = CORPUS / path
    if not file.exists():
        pytest.skip(f"corpus file {file} not present")
    return load(file)


def test_ecb_exr():
    reg = corpus("ECB_EXR/ng-structure-full.xml")
    (dsd,) = reg.select(query("datastructure", "ECB", "ECB_EXR_NG", "1.0"))
    children = names(reg.references([dsd], "children"))
    assert children == [
        "ECB:CL_EXR_TYPE(1.0)",
        "ECB:CL_EXR_VAR(1.0)",
        "ISO:CL_CURRENCY(1.0)",
        "SDMX:CL_CONF_STATUS(1.0)",
        "SDMX:CL_DECIMALS(1.0)",
        "SDMX:CL_FREQ(1.0)",
        "SDMX:CL_OBS_STATUS(1.0)",
        "SDMX:CL_UNIT_MULT(1.0)",
        "ECB:ECB_CONCEPTS(1.0)",
        "SDMX:CROSS_DOMAIN_CONCEPTS(1.0)",
    ]
    currency = reg.get("codelist", "ISO", "CL_CURRENCY", "1.0")
    assert names(reg.dependents(currency)) == ["ECB:ECB_CONCEPTS(1.0)", "ECB:ECB_EXR_NG(1.0)"]
    partial = reg.shape([dsd], reg.references([dsd], "children"), "referencepartial")
    concepts = {s.artefact.id: s.items for s in partial if s.artefact.id.endswith("CONCEPTS")}
    assert concepts["ECB_CONCEPTS"] == frozenset({"CURRENCY_DENOM", "EXR_TYPE", "EXR_VAR"})


def test_unicef_constraint_keyset_and_provision_agreement():
    reg = corpus("UNICEF/GLOBAL_DATAFLOW-structure.xml")
    flows = reg.select(query("dataflow", "UNICEF", "GLOBAL_DATAFLOW"))
    referenced = reg.references(flows, "all")
    assert "UNICEF:GLOBAL_DATAFLOW_UNICEF_UNICEF(1.0)" in names(referenced)
    items = {s.artefact.id: s.items for s in reg.shape(flows, referenced, "referencepartial")}
    assert items["CL_SEX"] == frozenset({"F", "M", "_T"})  # from the allowed DataKeySet
    assert items["DATA_PROVIDERS"] == frozenset({"UNICEF"})
    assert names(reg.select(query("organisationscheme", "UNICEF"))) == [
        "UNICEF:AGENCIES(1.0)",
        "UNICEF:DATA_PROVIDERS(1.0)",
    ]


def test_insee_categorisation():
    reg = corpus("INSEE/CNA-2010-CONSO-SI-A17-structure.xml")
    flows = reg.dataflows()
    (categorisation,) = reg.references(flows, "categorisation")
    assert names(reg.references([categorisation], "categoryscheme")) == [
        "FR1:CLASSEMENT_DATAFLOWS(1.0)"
    ]
    # the scheme is a sibling of the dataflow, not an ancestor or descendant
    assert reg.references(flows, "categoryscheme") == []
    assert names(reg.references(flows, "parentsandsiblings"))[0] == "FR1:CLASSEMENT_DATAFLOWS(1.0)"
    (scheme,) = reg.select(
        query("categoryscheme", "FR1", "CLASSEMENT_DATAFLOWS", None, "COMPTA-NAT.CRA")
    )
    assert match_items(scheme, ("COMPTA-NAT.CRA",)) == frozenset({"COMPTA-NAT", "CRA"})


@pytest.mark.parametrize(
    "path",
    [
        "ISTAT/22_289-structure.xml",
        "ESTAT/esms-structure.xml",
        "recorded-decoded/ILO_CL_ECO_parentsandsiblings-structure.xml",
        "ECB_EXR/rg-structure-full.xml",
    ],
)
def test_every_dsd_reaches_its_codelists(path):
    reg = corpus(path)
    for dsd in reg.select(query("datastructure", "*", "*", "*")):
        found = reg.references([dsd], "descendants")
        assert all(reg.key(a) is not None for a in found)
        for artefact in found:
            assert dsd in reg.references([artefact], "ancestors")


# -- DSM's own structure files -----------------------------------------------------------------------


def merged_dsm_structures() -> bytes | None:
    """All artefacts of dsd/ and codelists/ in one mes:Structure (they reference each other)."""
    files = sorted((ROOT / "dsd").glob("*.xml")) + sorted((ROOT / "codelists").glob("*.xml"))
    if not files:
        return None
    ns = NS21
    root = etree.Element(
        etree.QName(ns["mes"], "Structure"), nsmap={k: v for k, v in ns.items() if k != "xml"}
    )
    header = etree.SubElement(root, etree.QName(ns["mes"], "Header"))
    etree.SubElement(header, etree.QName(ns["mes"], "ID")).text = "MERGED"
    etree.SubElement(header, etree.QName(ns["mes"], "Test")).text = "true"
    etree.SubElement(header, etree.QName(ns["mes"], "Prepared")).text = "2024-01-01T00:00:00"
    etree.SubElement(header, etree.QName(ns["mes"], "Sender"), id="DSM")
    structures = etree.SubElement(root, etree.QName(ns["mes"], "Structures"))
    trees = [
        etree.parse(str(f), etree.XMLParser(resolve_entities=False, no_network=True)) for f in files
    ]
    for container in dict.fromkeys(c for c, _, _ in CONTAINERS_21):
        found = [copy.deepcopy(e) for t in trees for e in t.iterfind(f".//str:{container}/*", ns)]
        if found:
            etree.SubElement(structures, etree.QName(ns["str"], container)).extend(found)
    return etree.tostring(root)


def test_dsm_structures(tmp_path):
    merged = merged_dsm_structures()
    if merged is None:
        pytest.skip("no DSM structure files in dsd/ or codelists/ yet")
    (tmp_path / "merged.xml").write_bytes(merged)
    reg = load(tmp_path / "merged.xml")
    flows = reg.dataflows()
    assert flows
    for flow in flows:
        (dsd,) = reg.references([flow], "children")
        codelists = reg.references([flow], "codelist")
        assert codelists, f"{flow} reaches no codelist"
        assert reg.select(query("dataflow", flow.maintainer.id, flow.id, str(flow.version))) == [
            flow
        ]
        assert flow in reg.dependents(dsd)
        shaped = reg.shape([flow], reg.references([flow], "all"), "referencepartial")
        assert shaped[0].artefact is flow


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("AM", "GE"), {"AM", "GE"}),  # providers add up; an intersection would leave nothing
        (("AM", "AM"), {"AM"}),  # and they do restrict what the dataflow allows (AM, GE)
    ],
)
def test_referencepartial_unions_provider_constraints(codes, expected):
    """Each provision agreement constrains one provider: a dataflow's codes are their union."""
    with open(SAMPLES / "registry.xml", "rb") as f:
        msg = sdmx.read_sdmx(f)
    flow, dsd = msg.dataflow["DF_MIG"], msg.structure["DSD_MIG"]
    area = dsd.dimensions.get("REF_AREA")
    pa1 = msg.provisionagreement["PA_MIG_P1"]
    pa2 = common.ProvisionAgreement(
        id="PA_MIG_P2", version="1.0", maintainer=pa1.maintainer, structure_usage=flow
    )
    msg.provisionagreement["PA_MIG_P2"] = pa2
    for pa, code in zip((pa1, pa2), codes, strict=True):
        region = common.CubeRegion(
            included=True,
            member={
                area: v21.MemberSelection(values_for=area, values=[v21.MemberValue(value=code)])
            },
        )
        msg.constraint[f"CR_{pa.id}"] = v21.ContentConstraint(
            id=f"CR_{pa.id}",
            version="1.0",
            maintainer=pa.maintainer,
            role=common.ConstraintRole(role=common.ConstraintRoleType.allowable),
            content={pa},
            data_content_region=[region],
        )
    reg = Registry(msg)
    (selected,) = reg.select(query("dataflow", "DSM", "DF_MIG"))
    items = {
        s.artefact.id: s.items
        for s in reg.shape([selected], reg.references([selected], "all"), "referencepartial")
    }
    assert items["CL_AREA"] == frozenset(expected)
    (pa,) = reg.select(query("provisionagreement", "DSM", "PA_MIG_P2"))
    items = {
        s.artefact.id: s.items
        for s in reg.shape([pa], reg.references([pa], "descendants"), "referencepartial")
    }
    assert items["CL_AREA"] == frozenset({codes[1]})
