"""Data queries over HTTP, v1 and v2, against data loaded through the submission API, on both
databases. Results are read from SDMX-ML 2.1 structure-specific output (parsed here) so the tests
see exactly what a client sees."""

import time
from datetime import datetime

import pytest
from lxml import etree

CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE"
)
ROWS = [
    f"A,{area},{cit},{sex},_T,NSO,{year},{value},A,PS"
    for area, cit, base in (("KAZ", "UZB", 1000), ("KAZ", "RUS", 40000), ("KGZ", "UZB", 300))
    for sex, factor in (("F", 1), ("M", 2))
    for year, value in ((y, base * factor + y - 2015) for y in range(2015, 2024))
]  # 3 x 2 = 6 series x 9 years = 54 observations


def csv(rows, action: str = "I") -> bytes:
    body = [HEADER] + [f"dataflow,DSM:DF_FOREIGN_POP(1.0),{action},{r}" for r in rows]
    return ("\n".join(body) + "\n").encode()


def load(client, token, rows, action="I"):
    response = client.post(
        "/rest/v2/data/",
        content=csv(rows, action),
        headers={"authorization": f"Bearer {token}", "content-type": CSV20},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def observations(response) -> dict[tuple, str | None]:
    """{(series key..., period): value} from an SDMX-ML 2.1 structure-specific message."""
    root = etree.fromstring(response.content)
    found = {}
    for dataset in root.iter("{*}DataSet"):
        for series in dataset.iter("Series"):
            key = tuple(series.get(d) for d in ("REF_AREA", "CITIZENSHIP", "SEX"))
            for obs in series.iter("Obs"):
                found[(*key, obs.get("TIME_PERIOD"))] = obs.get("OBS_VALUE")
    return found


@pytest.fixture
def loaded(client, admin_token):
    load(client, admin_token, ROWS)
    return client


def get(client, path, **headers):
    headers.setdefault("accept", SS21)
    return client.get(path, headers=headers)


COUNTS = [
    ("/rest/data/DF_FOREIGN_POP", 54),
    ("/rest/data/DSM,DF_FOREIGN_POP/all", 54),
    ("/rest/data/DSM,DF_FOREIGN_POP,1.0/A.KAZ....", 36),
    ("/rest/data/DSM%2CDF_FOREIGN_POP%2C1.0/A.KAZ+KGZ.UZB...", 36),
    ("/rest/data/DF_FOREIGN_POP/A.KAZ.UZB.F../", 9),
    ("/rest/data/DF_FOREIGN_POP/A.KAZ.UZB.F..?startPeriod=2020&endPeriod=2021", 2),
    ("/rest/data/DF_FOREIGN_POP/A.KAZ.UZB.F..?startPeriod=2020-07&endPeriod=2020-Q3", 1),
    ("/rest/data/DF_FOREIGN_POP/.....?firstNObservations=2", 12),
    ("/rest/data/DF_FOREIGN_POP/.....?lastNObservations=1", 6),
    ("/rest/data/DF_FOREIGN_POP/.....?firstNObservations=1&lastNObservations=1", 12),
    ("/rest/data/DF_FOREIGN_POP/all/DSM,KAZ_STAT", 0),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/A.KAZ.*.*.*.*", 36),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0/A.KAZ.UZB.F.*.*,A.KGZ.*.M.*.*", 18),
    ("/rest/v2/data/*/DSM/DF_FOREIGN_POP/~/*?c[TIME_PERIOD]=ge:2019+le:2020", 12),
    ("/rest/v2/data/*/DSM/DF_FOREIGN_POP/~/*?c[TIME_PERIOD]=ge:2019 le:2020", 12),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/*?c[CITIZENSHIP]=RUS,UZB&c[SEX]=ne:F", 27),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP?c[OBS_VALUE]=gt:40000", 17),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP?c[CITIZENSHIP]=sw:U", 36),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP?limit=5&offset=50", 4),
    ("/rest/v2/data/datastructure/DSM/DSD_FOREIGN_POP/~/*", 54),
]


@pytest.mark.parametrize(("path", "count"), COUNTS)
def test_queries_select_the_right_observations(loaded, path, count):
    response = get(loaded, path)
    if count == 0:
        assert response.status_code == 404
        return
    assert response.status_code == 200, response.text
    assert len(observations(response)) == count


def test_answers_read_in_small_steps_are_the_same(loaded, admin_token, monkeypatch):
    """Rows are fetched first in HEAD_FETCHES steps (PostgreSQL: a head query of HEAD_ROWS + 1
    rows, then a server-side cursor), then in batches of STREAM_ROWS: made tiny, every answer
    crosses their boundaries, and none may change."""
    from app.storage import data_queries

    auth = {"authorization": f"Bearer {admin_token}"}  # computed, not from the response cache
    before = {p: (observations(get(loaded, p, **auth)), n) for p, n in COUNTS if n}
    monkeypatch.setattr(data_queries, "HEAD_FETCHES", (2, 3))
    monkeypatch.setattr(data_queries, "HEAD_ROWS", 5)
    monkeypatch.setattr(data_queries, "STREAM_ROWS", 4)
    for path, (expected, count) in before.items():
        response = get(loaded, path, **auth)
        assert observations(response) == expected, path
        assert response.content.count(b"<Obs ") == count, path  # none twice


def test_head_answers_the_headers_of_get(loaded, admin_token):
    """HEAD: the status and headers GET would give, without the body (RFC 9110), on data and
    structure queries, anonymous or not, found or not."""
    auth = {"authorization": f"Bearer {admin_token}"}
    for path, headers in [
        ("/rest/data/DF_FOREIGN_POP/A.KAZ.UZB.F..", {}),
        ("/rest/data/DF_FOREIGN_POP/A.KAZ.UZB.F..", auth),
        ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0/A.KAZ.*.*.*.*", {"accept": CSV20}),
        ("/rest/dataflow/DSM/DF_FOREIGN_POP", {}),
        ("/rest/data/DF_FOREIGN_POP/A.KGZ.CHN.F..", {}),  # no results: 404
    ]:
        headers = {**headers, "accept-encoding": "identity"}  # Content-Length of the plain body
        got = loaded.get(path, headers=headers)
        head = loaded.head(path, headers=headers)
        assert head.status_code == got.status_code, path
        assert head.content == b"" and got.content, path
        for name in ("etag", "last-modified", "content-type", "vary"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
        # the length of the body GET sends (its message id and time may differ by a digit)
        assert abs(int(head.headers["content-length"]) - len(got.content)) <= 2, path


def test_values_and_attributes_are_exactly_what_was_stored(loaded):
    found = observations(
        get(loaded, "/rest/data/DF_FOREIGN_POP/A.KGZ.UZB.M..?startPeriod=2016&endPeriod=2016")
    )
    assert found == {("KGZ", "UZB", "M", "2016"): "601"}
    root = etree.fromstring(get(loaded, "/rest/data/DF_FOREIGN_POP/A.KGZ.UZB.M..").content)
    series = next(root.iter("Series"))
    assert series.get("UNIT_MEASURE") == "PS"
    assert next(series.iter("Obs")).get("OBS_STATUS") == "A"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/rest/data/DF_NOTHING", 404),
        ("/rest/data/DF_FOREIGN_POP/A.KAZ", 400),  # too few key positions
        ("/rest/data/DF_FOREIGN_POP?detail=everything", 400),
        ("/rest/data/DF_FOREIGN_POP?startPeriod=2020-Q5", 400),
        ("/rest/data/DF_FOREIGN_POP?firstNObservations=0", 400),
        ("/rest/data/DF_FOREIGN_POP?updatedAfter=yesterday", 400),
        ("/rest/data/DF_FOREIGN_POP?dimensionAtObservation=NOPE", 400),
        ("/rest/v2/data/dataflow/DSM/DF_NOTHING/~/*", 404),
        ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/*?c[NOPE]=1", 400),
        ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/*?c[OBS_VALUE]=gt:lots", 400),
        ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/A.RUS.*.*.*.*", 204),
        ("/rest/v2/data/nonsense/DSM/DF_FOREIGN_POP/~/*", 400),
    ],
)
def test_bad_and_empty_queries(loaded, path, status):
    response = get(loaded, path)
    assert response.status_code == status, response.text
    if status >= 400:
        assert b"ErrorMessage" in response.content


def test_detail_and_dimension_at_observation(loaded):
    keys_only = etree.fromstring(
        get(loaded, "/rest/data/DF_FOREIGN_POP/A.KAZ....?detail=serieskeysonly").content
    )
    assert len(list(keys_only.iter("Series"))) == 4 and not list(keys_only.iter("Obs"))
    data_only = get(loaded, "/rest/data/DF_FOREIGN_POP/A.KAZ....?detail=dataonly").text
    assert "OBS_STATUS" not in data_only and "UNIT_MEASURE" not in data_only
    flat = etree.fromstring(
        get(
            loaded, "/rest/data/DF_FOREIGN_POP/A.KAZ....?dimensionAtObservation=AllDimensions"
        ).content
    )
    assert not list(flat.iter("Series")) and len(list(flat.iter("Obs"))) == 36
    cross = etree.fromstring(
        get(
            loaded, "/rest/data/DF_FOREIGN_POP/A.KAZ....?dimensionAtObservation=CITIZENSHIP"
        ).content
    )
    assert {o.get("CITIZENSHIP") for o in cross.iter("Obs")} == {"UZB", "RUS"}


def test_conditional_requests_follow_the_data(loaded, admin_token):
    path = "/rest/data/DF_FOREIGN_POP/A.KAZ...."
    first = get(loaded, path)
    tag = first.headers["etag"]
    assert get(loaded, path, **{"if-none-match": tag}).status_code == 304
    time.sleep(0.01)
    load(loaded, admin_token, ["A,KAZ,UZB,F,_T,NSO,2023,5,A,PS"])
    second = get(loaded, path, **{"if-none-match": tag})
    assert second.status_code == 200 and second.headers["etag"] != tag


def test_as_of_history_and_updated_after_are_exact(client, admin_token):
    """Replay a sequence of submissions and check every past state."""
    states = []  # (visible_from of each submission, expected current data after it)
    steps = [
        (ROWS[:3], "I"),
        (["A,KAZ,UZB,F,_T,NSO,2016,7,E,PS", ROWS[3]], "I"),  # revise 2016, add 2018
        (["A,KAZ,UZB,F,_T,NSO,2015,,,"], "D"),  # delete 2015
        (["A,KAZ,UZB,F,_T,NSO,2015,999,A,PS"], "I"),  # re-add 2015
    ]
    expected: dict[tuple, str] = {}
    for rows, action in steps:
        report = load(client, admin_token, rows, action)
        for row in rows:
            parts = row.split(",")
            key = (parts[1], parts[2], parts[3], parts[6])
            if action == "D":
                expected.pop(key, None)
            else:
                expected[key] = parts[7]
        detail = client.get(
            f"/api/submissions/{report['id']}", headers={"authorization": f"Bearer {admin_token}"}
        ).json()
        states.append((detail["visible_from"], dict(expected)))
    path = "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/A.KAZ.UZB.F.*.*"
    for moment, state in states:
        response = get(client, f"{path}?asOf={moment.replace('+', '%2B')}")
        assert observations(response) == state, moment
    assert observations(get(client, path)) == states[-1][1]
    # changes after the second submission: the deletion then the re-add of 2015 -> 2015 current
    after = states[1][0].replace("+", "%2B")
    changed = etree.fromstring(get(client, f"{path}?updatedAfter={after}").content)
    actions = [
        d.get("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific}action")
        for d in changed.iter("{*}DataSet")
    ]
    assert actions == ["Replace"]
    # changes after the first: 2016 revised, 2018 added, 2015 deleted and re-added
    after_first = states[0][0].replace("+", "%2B")
    assert set(observations(get(client, f"{path}?updatedAfter={after_first}"))) == {
        ("KAZ", "UZB", "F", "2015"),
        ("KAZ", "UZB", "F", "2016"),
        ("KAZ", "UZB", "F", "2018"),
    }
    # a deletion shows as a Delete dataset
    load(client, admin_token, ["A,KAZ,UZB,F,_T,NSO,2017,,,"], "D")
    last = datetime.fromisoformat(states[-1][0])
    deleted = etree.fromstring(
        get(client, f"{path}?updatedAfter={last.isoformat().replace('+', '%2B')}").content
    )
    blocks = {
        d.get("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific}action"): d
        for d in deleted.iter("{*}DataSet")
    }
    assert "Delete" in blocks
    assert [o.get("TIME_PERIOD") for o in blocks["Delete"].iter("Obs")] == ["2017"]
    history = etree.fromstring(get(client, f"{path}?includeHistory=true").content)
    versions = [
        (
            o.getparent()
            .getparent()
            .get(
                "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific}validFromDate"
            ),
            o.get("TIME_PERIOD"),
            o.get("OBS_VALUE"),
        )
        for o in history.iter("Obs")
    ]
    assert ("2016", "1001") in [(p, v) for _, p, v in versions]
    assert ("2016", "7") in [(p, v) for _, p, v in versions]
    # 2015 (first, then re-added), 2016 (first, revised), 2017, 2018; the deletion of 2015 and
    # of 2017 closed versions and opened none
    assert sorted((p, v) for _, p, v in versions) == [
        ("2015", "1000"),
        ("2015", "999"),
        ("2016", "1001"),
        ("2016", "7"),
        ("2017", "1002"),
        ("2018", "1003"),
    ]


def test_v2_attributes_and_measures_parameters(loaded):
    base = "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/~/A.KAZ.UZB.F.*.*"
    no_values = etree.fromstring(get(loaded, f"{base}?measures=none").content)
    assert [o.get("OBS_VALUE") for o in no_values.iter("Obs")] == [None] * 9
    series_only = get(loaded, f"{base}?attributes=series").text
    assert "UNIT_MEASURE" in series_only and "OBS_STATUS" not in series_only
    none = get(loaded, f"{base}?attributes=none").text
    assert "UNIT_MEASURE" not in none and "OBS_VALUE" in none


def test_answers_over_the_published_limit_are_refused_before_anything_is_sent(loaded):
    """DSM_MAX_RESPONSE_OBSERVATIONS: 413 with an SDMX error naming the limit; within it, or
    paged below it with `limit`, the answer comes."""
    loaded.app.state.settings.max_response_observations = 20
    too_big = get(loaded, "/rest/data/DF_FOREIGN_POP", accept="application/json")
    assert too_big.status_code == 413
    assert too_big.json()["errors"][0]["code"] == 130
    assert "20 observations" in too_big.json()["errors"][0]["title"] + too_big.text
    assert get(loaded, "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP?limit=20").status_code == 200
    assert get(loaded, "/rest/data/DF_FOREIGN_POP/A.KAZ.UZB.F..").status_code == 200
    history = get(loaded, "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP?includeHistory=true")
    assert history.status_code == 413
    assert get(loaded, "/rest/data/DF_FOREIGN_POP/.....?lastNObservations=1").status_code == 200
    loaded.app.state.settings.max_response_observations = 54
    assert get(loaded, "/rest/data/DF_FOREIGN_POP").status_code == 200
