"""The official SDMX REST OpenAPI documents (/work/shared/sdmx-rest/, kept unchanged there), patched
in memory for conformance tests, and the realistic path parameters that make generated requests
reach DSM's seeded structures instead of ending in 404.

The patches fix the documents' known defects (the shared README lists them) and split each document
in two: the structure operations, and the data operations (data, availability, schema queries).
Metadata and registration queries are cut out: DSM serves no reference metadata and keeps no
registrations. Nothing here describes DSM: the documents stay the specification, and a status or
media type DSM sends that they do not declare is a test failure to explain, not something to add
here.
"""

import copy
import functools
import os
from pathlib import Path
from typing import Any

import yaml

SHARED = Path(os.environ.get("DSM_SDMX_REST_DIR", "/work/shared/sdmx-rest"))
V1_DOCUMENT = SHARED / "sdmx-rest-v1.5.0.yaml"
V2_DOCUMENT = SHARED / "sdmx-rest-v2.2.2.yaml"
V1_MOUNT = "/rest"
V2_MOUNT = "/rest/v2"

# The data operations (by first path segment); every other operation is a structure query.
V1_DATA = ("/data/", "/availableconstraint/", "/schema/")
V2_DATA = ("/data/", "/availability/", "/schema/")
# Operations DSM does not implement, cut out explicitly rather than left to fail with 404: reference
# metadata queries (DSM stores no metadata sets; REST 1.5.0 has no such path, only the structure
# queries for metadata structures and flows, which answer 404 or 501) and registration queries
# (DSM keeps provision agreements, not registrations).
V2_NOT_IMPLEMENTED = ("/metadata/", "/registration/")

# docs/api.md: the types DSM's catalog (SDMX-ML 2.1 elements) cannot hold answer 501, not 404.
NOT_IMPLEMENTED_TYPES = frozenset(
    {
        "transformationscheme",
        "rulesetscheme",
        "userdefinedoperatorscheme",
        "customtypescheme",
        "namepersonalisationscheme",
        "namealiasscheme",
        "vtlmappingscheme",
        "structuremap",
        "representationmap",
        "conceptschememap",
        "categoryschememap",
        "organisationschememap",
        "reportingtaxonomymap",
        "hierarchy",
        "hierarchyassociation",
        "valuelist",
        "metadataconstraint",
        "metadataprovisionagreement",
        "metadataproviderscheme",
    }
)


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


@functools.cache
def _v1() -> dict[str, Any]:
    raw = _read(V1_DOCUMENT)
    # Defect: the 12 VTL scheme paths answer `$ref: '#/components/responses/510'`, never defined.
    raw["components"]["responses"].setdefault("510", {"description": "Not implemented (VTL)"})
    raw["servers"] = [{"url": f"http://testserver{V1_MOUNT}"}]
    return raw


@functools.cache
def _v2() -> dict[str, Any]:
    raw = _read(V2_DOCUMENT)
    # Defect: both registration queries name `resourceIDs` where they mean their own parameter.
    # Patched for a document that loads whole, although the registration paths are cut below.
    params = raw["components"]["parameters"]
    params.setdefault(
        "registrationID",
        {
            "in": "path",
            "name": "registrationID",
            "required": True,
            "schema": {"type": "string"},
        },
    )
    _replace_ref(raw, "/registration/id/{registrationID}", "resourceIDs", "registrationID")
    _replace_ref(raw, "/registration/provider/{agencyID}/{providerID}", "resourceIDs", "providers")
    raw["paths"] = {p: v for p, v in raw["paths"].items() if not p.startswith(V2_NOT_IMPLEMENTED)}
    raw["servers"] = [{"url": f"http://testserver{V2_MOUNT}"}]
    return raw


def _replace_ref(raw: dict[str, Any], path: str, old: str, new: str) -> None:
    for parameter in raw["paths"][path]["get"]["parameters"]:
        if parameter.get("$ref") == f"#/components/parameters/{old}":
            parameter["$ref"] = f"#/components/parameters/{new}"


def document(api: str, part: str = "structure") -> dict[str, Any]:
    """The patched document for `v1` (REST 1.5.0, mount /rest) or `v2` (REST 2.2.2, /rest/v2),
    cut to its `structure` or its `data` operations."""
    raw = copy.deepcopy(_v1() if api == "v1" else _v2())
    data = V1_DATA if api == "v1" else V2_DATA
    raw["paths"] = {p: v for p, v in raw["paths"].items() if p.startswith(data) == (part == "data")}
    return raw


def declared_200_types(raw: dict[str, Any], path: str) -> list[str]:
    """The media types an operation's 200 response declares (after following its $ref)."""
    response = raw["paths"][path]["get"]["responses"]["200"]
    if "$ref" in response:
        response = raw["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return list(response.get("content", {}))


# --- Realistic parameters (the seeded bundled structures) -----------------------------------------

AGENCIES = ("DSM", "SDMX", "all", "*", "DSM+SDMX", "DSM,SDMX")
IDS_BY_TYPE = {
    "dataflow": ("DF_FOREIGN_POP", "DF_WORK_PERMITS", "DF_ASYLUM_APP", "DF_LABOUR_EMIG"),
    "datastructure": ("DSD_FOREIGN_POP", "DSD_ASYLUM_DEC", "DSD_CITIZENS_ABROAD"),
    "codelist": ("CL_AREA", "CL_SEX", "CL_AGE", "CL_FREQ"),
    "conceptscheme": ("CS_MIGRATION",),
    "categoryscheme": ("MIGRATION_TOPICS",),
    "categorisation": ("CAT_DF_FOREIGN_POP_STOCKS", "CAT_DF_LABOUR_EMIG_LABOUR"),
    "agencyscheme": ("AGENCIES",),
    "dataproviderscheme": ("DATA_PROVIDERS",),
    "organisationscheme": ("AGENCIES", "DATA_PROVIDERS"),
    "provisionagreement": ("PA_KAZ_STAT_FOREIGN_POP", "PA_KGZ_LABOUR_WORK_PERMITS"),
    "contentconstraint": ("CR_DF_FOREIGN_POP", "CR_PA_KAZ_STAT_FOREIGN_POP"),
    "dataconstraint": ("CR_DF_FOREIGN_POP", "CR_PA_KAZ_STAT_FOREIGN_POP"),
    "actualconstraint": ("CR_DF_FOREIGN_POP",),
    "allowedconstraint": ("CR_DF_FOREIGN_POP", "CR_PA_KAZ_STAT_FOREIGN_POP"),
}
ANY_IDS = (
    "all",
    "*",
    "DF_FOREIGN_POP",
    "CL_AREA",
    "CS_MIGRATION",
    "CL_SEX+CL_AGE",
    "CL_SEX,CL_AGE",
)
V1_VERSIONS = ("1.0", "latest", "all", "1.0+latest")
V2_VERSIONS = ("1.0", "~", "*", "+", "1.0,~", "1.*", "1.+.0", "1~.0")
ITEMS = ("KAZ", "KGZ", "F", "M", "_T", "KAZ_STAT", "DSM", "STOCKS", "STOCKS.POP", "all", "*")


def resource_of(path: str, path_parameters: dict[str, Any]) -> str:
    """The structure type a request asks for: the v2 type parameter, else the v1 first segment."""
    for name in ("structureType", "itemSchemeType"):
        if name in path_parameters:
            return str(path_parameters[name])
    return path.strip("/").split("/", 1)[0]


# --- Realistic parameters for data queries (the demo data, app.services.demo) --------------------

# Dataflow references as v1 writes them, with the dataflow id each one resolves to.
V1_FLOWS = {
    "DF_FOREIGN_POP": "DF_FOREIGN_POP",
    "DSM,DF_WORK_PERMITS": "DF_WORK_PERMITS",
    "DSM,DF_WORK_PERMITS,1.0": "DF_WORK_PERMITS",
    "DSM,DF_ASYLUM_APP,latest": "DF_ASYLUM_APP",
    "DSM,DF_ASYLUM_DEC,1.0": "DF_ASYLUM_DEC",
    "DF_FOREIGN_ENTRY": "DF_FOREIGN_ENTRY",
    "DSM,DF_CITIZENS_ABROAD": "DF_CITIZENS_ABROAD",
    "DSM,DF_LABOUR_EMIG,1.0": "DF_LABOUR_EMIG",
}
# v2 and schema contexts: (context, resourceID) -> the dataflow whose dimensions a key follows.
CONTEXTS = {
    ("dataflow", "DF_FOREIGN_POP"): "DF_FOREIGN_POP",
    ("dataflow", "DF_WORK_PERMITS"): "DF_WORK_PERMITS",
    ("dataflow", "DF_FOREIGN_EXIT"): "DF_FOREIGN_EXIT",
    ("dataflow", "DF_ASYLUM_DEC"): "DF_ASYLUM_DEC",
    ("datastructure", "DSD_FOREIGN_POP"): "DF_FOREIGN_POP",
    ("datastructure", "DSD_ASYLUM_DEC"): "DF_ASYLUM_DEC",
    ("provisionagreement", "PA_KAZ_STAT_FOREIGN_POP"): "DF_FOREIGN_POP",
    ("provisionagreement", "PA_KGZ_LABOUR_WORK_PERMITS"): "DF_WORK_PERMITS",
    ("*", "DF_LABOUR_EMIG"): "DF_LABOUR_EMIG",
}
PROVIDERS = ("DSM,KAZ_STAT", "KAZ_STAT", "all", "KAZ_STAT+KGZ_LABOUR", "DSM,ARM_MIG+DSM,UZB_STAT")
V1_DATA_VERSIONS = ("1.0", "latest")
V2_DATA_VERSIONS = ("1.0", "~", "*", "1.*", "+")
# Codes present in the demo data, by dimension; a dimension not listed is left out or `_T`.
CODES = {
    "FREQ": ("A", "Q"),
    "REF_AREA": ("KAZ", "KGZ", "RUS", "ARM", "UZB"),
    "CITIZENSHIP": ("_T", "FOR", "UZB", "RUS", "UKR"),
    "COUNTERPART_AREA": ("_T", "RUS", "TUR", "KAZ"),
    "SEX": ("F", "M", "_T"),
    "AGE": ("_T", "Y_LT14", "Y18T34"),
}
PERIODS = ("2019", "2020-Q1", "2021-07", "2020-S1", "2019-01-01", "2015", "2024-12-31", "1999")
C_FILTERS = (
    {"TIME_PERIOD": "ge:2019+le:2020"},
    {"TIME_PERIOD": "2021"},
    {"SEX": "F"},
    {"REF_AREA": "KAZ,KGZ"},
    {"SEX": "ne:_T", "FREQ": "A"},
    {"CITIZENSHIP": "sw:U"},
    {"OBS_VALUE": "gt:1000"},
)
COMPONENT_IDS = ("all", "*", "SEX", "REF_AREA", "TIME_PERIOD", "SEX,REF_AREA", "FREQ")
DATETIMES = ("2019-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "2020-06-30T12:00:00+05:00")
