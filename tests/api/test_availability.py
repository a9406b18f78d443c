"""Availability queries over HTTP (v1 availableconstraint, v2 availability) on both databases:
exact and available modes with keys and c[] filters, componentID, counts and time span,
references, empty answers, errors, caching; sdmx1 and pysdmx read the answers."""

import io

import pytest
import sdmx
from lxml import etree

CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE"
)
ROWS = [
    "A,KAZ,UZB,F,_T,NSO,2021,1100,A,PS",
    "A,KAZ,UZB,F,_T,NSO,2022,1200,A,PS",
    "A,KAZ,UZB,M,_T,NSO,2022,2100,A,PS",
    "A,KAZ,RUS,_T,_T,NSO,2023,41000,A,PS",
    "A,KAZ,TJK,M,_T,NSO,2023,900,A,PS",
]
V1 = "/rest/availableconstraint/DSM,DF_FOREIGN_POP,1.0"
V2 = "/rest/v2/availability/dataflow/DSM/DF_FOREIGN_POP/1.0"
ALL_DIMS = ("FREQ", "REF_AREA", "CITIZENSHIP", "SEX", "AGE", "DATA_SOURCE")


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


def read(body: bytes) -> tuple[dict[str, set[str]] | None, dict[str, str]]:
    """(values per KeyValue of the one CubeRegion, None if it is the excluded empty region that
    says nothing is available; annotations by id)."""
    root = etree.fromstring(body)
    regions = root.findall(".//{*}CubeRegion")
    assert len(regions) == 1
    values = None
    if regions[0].get("include") == "false":
        assert len(regions[0]) == 0
    else:
        values = {
            kv.get("id"): {v.text for v in kv.findall("{*}Value")}
            for kv in regions[0].findall("{*}KeyValue")
        }
    notes = {a.get("id"): a.findtext("{*}AnnotationTitle") for a in root.iter("{*}Annotation")}
    return values, notes


def test_exact_whole_dataflow_v2(loaded):
    response = loaded.get(V2)
    assert response.status_code == 200, response.text
    assert "structure+xml;version=3.0.0" in response.headers["content-type"].replace(" ", "")
    values, notes = read(response.content)
    assert values == {
        "FREQ": {"A"},
        "REF_AREA": {"KAZ"},
        "CITIZENSHIP": {"UZB", "RUS", "TJK"},
        "SEX": {"F", "M", "_T"},
        "AGE": {"_T"},
        "DATA_SOURCE": {"NSO"},
    }
    assert notes == {
        "obs_count": "5",
        "series_count": "4",
        "time_period_start": "2021-01-01T00:00:00",
        "time_period_end": "2023-12-31T23:59:59",
    }


@pytest.mark.parametrize(
    ("path", "params", "expected", "counts"),
    [
        (  # v1 key with a + list
            f"{V1}/A.KAZ.UZB.F+M../all/all",
            {},
            {"CITIZENSHIP": {"UZB"}, "SEX": {"F", "M"}},
            ("3", "2", "2021-01-01T00:00:00", "2022-12-31T23:59:59"),
        ),
        (  # v1 periods
            f"{V1}/all/all/all",
            {"startPeriod": "2023"},
            {"CITIZENSHIP": {"RUS", "TJK"}, "SEX": {"M", "_T"}},
            ("2", "2", "2023-01-01T00:00:00", "2023-12-31T23:59:59"),
        ),
        (  # v2 c[] filter on a dimension, and on time
            f"{V2}/*.*.*.*.*.*/*",
            {"c[SEX]": "M,_T", "c[TIME_PERIOD]": "ge:2023"},
            {"CITIZENSHIP": {"RUS", "TJK"}, "SEX": {"M", "_T"}},
            ("2", "2", "2023-01-01T00:00:00", "2023-12-31T23:59:59"),
        ),
        (  # v2 several keys (OR)
            f"{V2}/A.KAZ.RUS.*.*.*,A.KAZ.TJK.*.*.*",
            {},
            {"CITIZENSHIP": {"RUS", "TJK"}, "SEX": {"M", "_T"}},
            ("2", "2", "2023-01-01T00:00:00", "2023-12-31T23:59:59"),
        ),
    ],
)
def test_exact_mode(loaded, path, params, expected, counts):
    response = loaded.get(path, params=params)
    assert response.status_code == 200, response.text
    values, notes = read(response.content)
    assert {k: values[k] for k in expected} == expected
    assert set(values) == set(ALL_DIMS)
    assert (
        notes["obs_count"],
        notes["series_count"],
        notes["time_period_start"],
        notes["time_period_end"],
    ) == counts


def test_available_mode_drops_each_dimensions_own_selection(loaded):
    response = loaded.get(
        f"{V2}/*.*.UZB.*.*.*", params={"mode": "available", "c[TIME_PERIOD]": "ge:2022"}
    )
    values, notes = read(response.content)
    # CITIZENSHIP without its own key position: every citizenship with data from 2022
    assert values["CITIZENSHIP"] == {"UZB", "RUS", "TJK"}
    # SEX keeps CITIZENSHIP=UZB and the period
    assert values["SEX"] == {"F", "M"}
    # counts are the whole query's; the time span drops the query's own period selection
    assert (notes["obs_count"], notes["series_count"]) == ("2", "2")
    assert (notes["time_period_start"], notes["time_period_end"]) == (
        "2021-01-01T00:00:00",
        "2022-12-31T23:59:59",
    )
    exact, _ = read(loaded.get(f"{V2}/*.*.UZB.*.*.*", params={"c[SEX]": "F"}).content)
    available, _ = read(
        loaded.get(f"{V2}/*.*.UZB.*.*.*", params={"c[SEX]": "F", "mode": "available"}).content
    )
    assert exact["SEX"] == {"F"} and available["SEX"] == {"F", "M"}
    assert exact["CITIZENSHIP"] == available["CITIZENSHIP"] == {"UZB"}


def test_available_mode_v1(loaded):
    values, _ = read(loaded.get(f"{V1}/A.KAZ.RUS.../all/all", params={"mode": "available"}).content)
    assert values["CITIZENSHIP"] == {"UZB", "RUS", "TJK"}
    assert values["SEX"] == {"_T"}


@pytest.mark.parametrize(
    ("path", "dimensions", "time"),
    [
        (f"{V1}/all/all/SEX", {"SEX"}, False),
        (f"{V1}/all/all/TIME_PERIOD", set(), True),
        (f"{V2}/*/SEX,CITIZENSHIP", {"SEX", "CITIZENSHIP"}, False),
        (f"{V2}/*/*", set(ALL_DIMS), True),
    ],
)
def test_component_id_restricts_dimensions(loaded, path, dimensions, time):
    values, notes = read(loaded.get(path).content)
    assert set(values or {}) == dimensions
    assert ("time_period_start" in notes) is time
    assert notes["obs_count"] == "5"


def test_nothing_matches_is_an_excluded_empty_region(loaded):
    response = loaded.get(f"{V2}/*.ARM.*.*.*.*")
    assert response.status_code == 200
    values, notes = read(response.content)
    assert values is None
    assert (notes["obs_count"], notes["series_count"]) == ("0", "0")
    # available mode: REF_AREA alone could change that, but nothing else is possible with ARM
    values, _ = read(loaded.get(f"{V2}/*.ARM.*.*.*.*", params={"mode": "available"}).content)
    assert values is None


def test_no_data_stored_yet(client):
    values, notes = read(client.get(V2).content)
    assert values is None and notes["obs_count"] == "0"


@pytest.mark.parametrize(
    ("references", "expected"),
    [
        ("none", set()),
        ("all", {"Dataflow", "DataStructure", "Codelist", "ConceptScheme", "DataProviderScheme"}),
        ("codelist", {"Codelist"}),
        ("datastructure", {"DataStructure"}),
        ("dataflow", {"Dataflow"}),
        ("dataproviderscheme", {"DataProviderScheme"}),
    ],
)
def test_references(loaded, references, expected):
    body = loaded.get(f"{V1}/all/all/all", params={"references": references}).content
    root = etree.fromstring(body)
    structures = root.find("{*}Structures")
    kinds = {etree.QName(e).localname for container in structures for e in container}
    assert kinds == expected | {"ContentConstraint"}


def test_references_all_read_by_sdmx1(loaded):
    response = loaded.get(f"{V1}/all/all/all", params={"references": "all"})
    message = sdmx.read_sdmx(io.BytesIO(response.content))
    constraint = message.constraint["DF_FOREIGN_POP_AVAILABILITY"]
    assert constraint.role.role.name == "actual"
    assert constraint.content == {message.dataflow["DF_FOREIGN_POP"]}
    dsd = message.structure["DSD_FOREIGN_POP"]
    region = constraint.data_content_region[0]
    members = {dim.id: {v.value for v in sel.values} for dim, sel in region.member.items()}
    assert members["CITIZENSHIP"] == {"UZB", "RUS", "TJK"}
    assert "CL_AREA" in message.codelist and "KAZ" in message.codelist["CL_AREA"]
    assert [d.id for d in dsd.dimensions][:2] == ["FREQ", "REF_AREA"]
    notes = {a.id: str(a.title) for a in constraint.annotations}
    assert notes["obs_count"] == "5"


def test_v1_application_xml_is_sdmx_ml_21(loaded):
    response = loaded.get(f"{V1}/all/all/all", headers={"accept": "application/xml"})
    assert "version=2.1" in response.headers["content-type"]
    message = sdmx.read_sdmx(io.BytesIO(response.content))
    assert message.constraint["DF_FOREIGN_POP_AVAILABILITY"].data_content_region


@pytest.mark.parametrize("accept", ["application/vnd.sdmx.structure+xml;version=3.0.0", None])
def test_pysdmx_reads_v2_availability(loaded, accept):
    from pysdmx.io import read_sdmx

    headers = {"accept": accept} if accept else {}
    response = loaded.get(f"{V2}/*/*", params={"c[SEX]": "F"}, headers=headers)
    message = read_sdmx(io.BytesIO(response.content), validate=True)
    (constraint,) = message.get_availability_constraints()
    assert (constraint.obs_count, constraint.series_count) == (2, 1)
    values = {kv.id: {v.value for v in kv.values} for kv in constraint.cube_region.key_values}
    assert values["SEX"] == {"F"} and values["CITIZENSHIP"] == {"UZB"}


def test_pysdmx_reads_an_empty_availability(loaded):
    from pysdmx.io import read_sdmx

    response = loaded.get(f"{V2}/*.ARM.*.*.*.*/*")
    (constraint,) = read_sdmx(io.BytesIO(response.content)).get_availability_constraints()
    assert constraint.obs_count == 0
    assert constraint.cube_region.key_values == () and not constraint.cube_region.is_included


@pytest.mark.parametrize(
    "accept",
    [
        "application/vnd.sdmx.structure+json;version=1.0.0",
        "application/vnd.sdmx.structure+json;version=2.0.0",
    ],
)
def test_json_formats(loaded, accept):
    response = loaded.get(f"{V2}/*/SEX", headers={"accept": accept})
    assert response.status_code == 200
    body = response.json()["data"]
    constraint = (body.get("dataConstraints") or body.get("contentConstraints"))[0]
    region = constraint["cubeRegions"][0]
    assert [kv["id"] for kv in region["keyValues"]] == ["SEX"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (f"{V2}/*/*", {"mode": "maybe"}, 400),
        (f"{V2}/*/*", {"references": "categoryscheme"}, 400),
        (f"{V2}/*/NOPE", {}, 400),
        (f"{V2}/A.KAZ/*", {}, 400),
        (f"{V2}/*/*", {"c[NOPE]": "x"}, 400),
        ("/rest/v2/availability/dataflow/DSM/DF_NOPE/1.0/*/*", {}, 404),
        ("/rest/availableconstraint/DF_NOPE/all/all/all", {}, 404),
        ("/rest/v2/availability/*/DSM/DF_FOREIGN_POP/1.0/*/*", {}, 400),
    ],
)
def test_errors(loaded, path, params, status):
    response = loaded.get(path, params=params)
    assert response.status_code == status, response.text
    assert b"ErrorMessage" in response.content


def test_conditional_requests_follow_the_data(loaded, admin_token):
    first = loaded.get(f"{V2}/*/*")
    tag = first.headers["etag"]
    assert loaded.get(f"{V2}/*/*", headers={"if-none-match": tag}).status_code == 304
    body = f"{HEADER}\ndataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,KGZ,F,_T,NSO,2023,5,A,PS\n"
    loaded.post(
        "/rest/v2/data/",
        content=body.encode(),
        headers={"authorization": f"Bearer {admin_token}", "content-type": CSV20},
    )
    second = loaded.get(f"{V2}/*/*", headers={"if-none-match": tag})
    assert second.status_code == 200
    values, notes = read(second.content)
    assert "KGZ" in values["CITIZENSHIP"] and notes["obs_count"] == "6"
