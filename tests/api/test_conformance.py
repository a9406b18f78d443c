r"""The REST API never answers 500 and conforms to the official SDMX REST OpenAPI documents.

Two sweeps for structure queries and two for data, availability and schema queries (on the demo
data, app.services.demo, loaded through the import path first), both in-process through the `client` fixture (so on SQLite and, when configured,
PostgreSQL):

1. Schemathesis generates requests from the official documents (REST 1.5.0 mounted at /rest, REST
   2.2.2 at /rest/v2), cut to their structure operations and patched for their known defects by
   `sdmx_rest_overlay`. Half the generated path parameters are swapped for values from the seeded
   structures (DSM, CL_AREA, KAZ, `~` ...) so requests reach data instead of ending in 404; negative
   examples (values outside the documents' patterns) are mixed in. Checks: no 5xx except 501 for the
   types docs/api.md lists; every status the operation declares; for 200, a Content-Type the
   document declares, equal to what the Accept header negotiates, over a body that parses.
   Schemathesis's own transport is not used: the `client` fixture already runs the app's lifespan
   (migrate, seed), and the cases are sent through it (`Case.as_transport_kwargs`).
2. A deterministic sweep of awkward but plausible requests (empty lists, wildcards in odd places,
   encoded separators, Cyrillic, very long ids, junk parameters and headers) over both APIs:
   status below 500 (or 501 as documented) and every 4xx body an SDMX error message.

Findings (schemathesis 4.32, REST 1.5.0 and 2.2.2): DSM sends no status code and no 200 media type
the documents leave out, and no request in either sweep gets a 5xx other than the documented 501.
Where DSM and the documents disagree, the documents are at fault, and the declared 400 covers it:
- REST 1.5.0 `agencies` carries the data-provider pattern (`AGENCY,PROVIDER`, first character any
  of `[A-Za-z0-9_@$-]`), so it generates agencies like `0` or `A,B`; SDMX agency ids start with a
  letter (the document's own `agencyID` says so) and DSM answers 400 naming the expected syntax.
- REST 2.2.2 list patterns such as `^\*|[A-Za-z\d_@$-]+$` lack a group, so `*Q` or a trailing
  `é` match; DSM answers 400.
- REST 2.2.2 declares `asOf` on structure queries; DSM keeps no structure history and ignores it
  (unknown parameters are ignored, docs/api.md), answering the current structures.

Data, availability and schema queries: every status DSM sends is declared (v1 data 404 for no
results, v2 data 204, 406 for types DSM does not write, 501 for several matching dataflows and
metadata contexts). One media type is not: on /rest/ (REST 1.5.0, SDMX 2.1 era) DSM also answers
SDMX-ML 3.0, SDMX-CSV 2.0, SDMX-JSON 2.0 (and structure 3.0 types for availability) when a client
names them; an extension, see V1_EXTENSIONS. The sweep found three server bugs (5xx), pinned by
strict xfails in test_data_server_bugs: integers over 2**63 (firstNObservations, offset), c[] on a
dataset-level attribute, a NUL byte in a schema resourceID, and on PostgreSQL a NUL byte in a
v1 provider reference.
"""

import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
import schemathesis.checks
import sdmx_rest_overlay as overlay  # tests/api/ is on sys.path (rootdir-relative imports)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.services import demo
from app.writers.data import WRITERS

ML21 = "application/vnd.sdmx.structure+xml;version=2.1"
ML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON10 = "application/vnd.sdmx.structure+json;version=1.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"

# Examples per API: enough to reach every operation several times, small enough that both sweeps
# together stay well under a minute on SQLite on two cores.
MAX_EXAMPLES = 100
DATA_MAX_EXAMPLES = 60  # per API over its three data operations; 200s stream real demo data

# Accept header -> the media type DSM must answer 200 with (docs/api.md, "Formats and negotiation");
# None: DSM offers nothing acceptable, so any 200 is wrong (406 expected).
NEGOTIATED = {
    "v1": {
        None: ML21,
        "*/*": ML21,
        "application/xml": ML21,
        "application/json": JSON10,
        ML21: ML21,
        JSON10: JSON10,
    },
    "v2": {
        None: ML30,
        "*/*": ML30,
        "application/xml": ML30,
        "application/json": JSON20,
        ML21: ML21,
        JSON10: JSON10,
        ML30: ML30,
        JSON20: JSON20,
        "application/vnd.sdmx.structure+xml;version=3.1.0": None,
        "application/vnd.sdmx.structure+json;version=2.1.0": None,
    },
}
ACCEPTS = {
    api: tuple(sorted((a for a in table if a is not None), key=str))
    for api, table in NEGOTIATED.items()
}


def _media(value: str) -> tuple[str, str | None]:
    """(type/subtype, version) of a media type, ignoring spaces, charset and case."""
    main, *params = (part.strip() for part in value.lower().split(";"))
    version = next((p.split("=", 1)[1] for p in params if p.startswith("version=")), None)
    return main, version


# --- Schemathesis: the official documents ---------------------------------------------------------


def _schema(api: str) -> Any:
    raw = overlay.document(api)
    schema = schemathesis.openapi.from_dict(raw)
    versions = overlay.V2_VERSIONS if api == "v2" else overlay.V1_VERSIONS
    # The hook sees path parameters serialized: v2's arrays are already comma-joined strings.
    choice = st.sampled_from

    def seeded(path_parameters: dict[str, Any], resource: str) -> st.SearchStrategy:
        realistic = {
            "agencyID": choice(overlay.AGENCIES),
            "resourceID": choice(overlay.IDS_BY_TYPE.get(resource, overlay.ANY_IDS)),
            "version": choice(versions),
            "itemID": choice(overlay.ITEMS),
        }
        return st.fixed_dictionaries(
            {name: realistic.get(name, st.just(value)) for name, value in path_parameters.items()}
        )

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        resource = overlay.resource_of(context.operation.path, path_parameters)
        swapped = seeded(path_parameters, resource)
        for name in ("structureType", "itemSchemeType"):
            if name in path_parameters:
                # v2: most of the enumerated types answer 501; favour the ones DSM stores.
                types = st.sampled_from((*overlay.IDS_BY_TYPE, "*"))
                swapped = types.flatmap(
                    lambda t, name=name: seeded({**path_parameters, name: t}, t)
                )
        # Mostly the seeded values (first: Hypothesis favours, and shrinks towards, the first
        # branch); otherwise what the document's patterns generated.
        return st.one_of(swapped, swapped, st.just(path_parameters))

    @schema.hook
    def flatmap_headers(context, headers):
        # Neither document declares Accept; send the types it declares for 200 and the generic ones.
        headers = dict(headers or {})
        return st.sampled_from((None, *ACCEPTS[api])).map(
            lambda accept: headers if accept is None else {**headers, "Accept": accept}
        )

    return schema


SCHEMAS = {api: _schema(api) for api in ("v1", "v2")}
CHECKS = [
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    # Not response_schema_conformance: the documents type every body as a plain string, which an
    # SDMX-JSON object can never be; bodies are validated against the SDMX schemas in tests/writers.
    # Not not_a_server_error: 501 is an answer DSM documents; _check_status below decides.
]


def _check_status(case: Any, response: Any) -> None:
    resource = overlay.resource_of(case.operation.path, case.path_parameters or {})
    if response.status_code == 501:
        assert resource in overlay.NOT_IMPLEMENTED_TYPES, f"501 for {resource}: {response.text}"
    else:
        assert response.status_code < 500, response.text
    if resource in overlay.NOT_IMPLEMENTED_TYPES:
        # Checked before anything else about the request, so a 501 whatever the rest says; only
        # the URL-length guard (414), ahead of routing, comes first.
        assert response.status_code in (501, 414), response.text


def _check_200(api: str, case: Any, response: Any, raw: dict[str, Any]) -> None:
    if response.status_code != 200:
        return
    accept = (case.headers or {}).get("Accept")
    expected = NEGOTIATED[api][accept]
    assert expected is not None, f"200 although {accept} is not offered"
    received = _media(response.headers["content-type"])
    assert received == _media(expected), (accept, response.headers["content-type"])
    declared = {_media(t) for t in overlay.declared_200_types(raw, case.operation.path)}
    assert received in declared, (received, declared)
    if received[0].endswith("+json"):
        assert "data" in json.loads(response.content)
    else:
        root = etree.fromstring(response.content)
        assert etree.QName(root).localname == "Structure"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_structure_api_conforms_to_official_openapi(client, api):
    schema = SCHEMAS[api]
    raw = overlay.document(api)
    mount = overlay.V1_MOUNT if api == "v1" else overlay.V2_MOUNT
    strategy = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    statuses: Counter[int] = Counter()

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=f"http://testserver{mount}")
        response = client.request(
            kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs["headers"]
        )
        statuses[response.status_code] += 1
        _check_status(case, response)
        case.validate_response(response, checks=CHECKS)
        _check_200(api, case, response, raw)

    run()
    print(f"{api}: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    # The realistic parameters must reach the seeded structures, or the sweep proves little.
    assert statuses[200] * 20 >= sum(statuses.values()), statuses


# --- A deterministic sweep of awkward requests ---------------------------------------------------

LONG = "A" * 300
# Segments that SDMX clients, proxies and typos produce; each replaces one path segment of a
# realistic query in turn.
AWKWARD_SEGMENTS = (
    "+",
    ",",
    ",,",
    "++",
    "~",
    "*",
    "all",
    "latest",
    "1.0+",
    "+1.0",
    "1+.0.0",
    "1.0.0.0.0",
    "01.0",
    "1.*",
    "1.+.0",
    "-1",
    "99999999999999999999.0",
    "%2C",
    "%2B",
    "DSM%2BSDMX",
    "DSM%2CSDMX",
    "%D0%9A%D0%90%D0%97",  # КАЗ
    "КАЗ",
    "..",
    ".",
    "KAZ.",
    ".KAZ",
    "latest/latest",
    "%00",
    "%20",
    "a%2Fb",
    "%25",
    "@$-",
    LONG,
)
V1_BASES = (
    ("dataflow", "DSM", "DF_FOREIGN_POP", "latest"),
    ("codelist", "DSM", "CL_AREA", "1.0", "KAZ"),
)
V2_BASES = (
    ("dataflow", "DSM", "DF_FOREIGN_POP", "~"),
    ("codelist", "DSM", "CL_AREA", "1.0", "KAZ"),
)
AWKWARD_QUERIES = (
    "references=",
    "detail=",
    "references=none&references=all",
    "detail=full&detail=allstubs",
    "references=junk",
    "detail=junk",
    "references=ancestors",
    "detail=raw",
    "references=codelist&detail=referencepartial",
    "references=all&detail=referencestubs",
    "references=descendants&detail=allcompletestubs",
    "format=",
    "format=junk",
    "format=sdmx-csv",
    "format=sdmx-json-2.0&format=sdmx-ml-2.1",
    "format=json&references=all",
    "references=%00",
    "detail=%FF",
    "asOf=yesterday",
    "=&&&=x",
    f"references={LONG}",
)
AWKWARD_HEADERS = (
    {"Accept": "junk"},
    {"Accept": ""},
    {"Accept": "text/html"},
    {"Accept": "application/vnd.sdmx.structure+xml;version=9.9"},
    {"Accept": "application/vnd.sdmx.structure+json"},
    {"Accept": "application/json;q=0"},
    {"Accept": "*/*;q=abc"},
    {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"},
    {"Accept": "application/json, application/xml;q=0.5"},
    {"Accept": "application/xml;version=2.1, */*;q=0.1"},
    {"Accept-Language": "ru"},
    {"Accept-Language": "kk, ru;q=0.5"},
    {"Accept-Language": "*"},
    {"Accept-Language": "ru;q=abc"},
    {"Accept-Language": "ЖЖ".encode()},  # raw UTF-8 bytes on the wire
    {"Accept-Language": ""},
    {"If-Modified-Since": "junk"},
    {"If-Modified-Since": "Mon, 99 Foo 2020 99:99:99 GMT"},
    {"If-Modified-Since": "0"},
    {"If-Modified-Since": "2999-01-01T00:00:00Z"},
    {"If-Modified-Since": "Tue, 15 Nov 1994 08:12:31 GMT"},
    {"If-Modified-Since": "2020-02-30"},
    {"If-None-Match": "*"},
    {"If-None-Match": "junk, W/"},
    {"Accept-Encoding": "gzip;q=abc, br"},
)


def _sweep(api: str) -> list[tuple[str, dict[str, Any]]]:
    """(path?query, headers) pairs: one awkward part each, on a realistic query."""
    prefix, bases = ("/rest", V1_BASES) if api == "v1" else ("/rest/v2/structure", V2_BASES)
    requests: list[tuple[str, dict[str, Any]]] = []
    for base in bases:
        for position in range(len(base)):
            for segment in AWKWARD_SEGMENTS:
                parts = list(base)
                parts[position] = segment
                requests.append((prefix + "/" + "/".join(parts), {}))
        path = prefix + "/" + "/".join(base)
        requests += [(f"{path}?{query}", {}) for query in AWKWARD_QUERIES]
        requests += [(path, headers) for headers in AWKWARD_HEADERS]
        requests += [(path + "/", {}), (path + "//", {}), (path + "/extra/segments", {})]
    requests += [
        (prefix, {}),
        (prefix + "/", {}),
        (prefix + "/hierarchy/DSM", {}),
        (prefix + "/transformationscheme/DSM/all/" + ("latest" if api == "v1" else "~"), {}),
        (prefix + "/nosuchtype/DSM", {}),
        (prefix + "/" + LONG * 30, {}),  # past DSM_MAX_URL_LENGTH: 414
    ]
    return requests


def _error_code(response: Any) -> Any:
    """The code of the SDMX error message in a response body (XML or JSON)."""
    media = _media(response.headers.get("content-type", ""))[0]
    if "json" in media:
        return json.loads(response.content)["errors"][0]["code"]
    root = etree.fromstring(response.content)
    (message,) = root.iter("{*}ErrorMessage")
    assert etree.QName(root).localname == "Error"
    return message.get("code")


def _sweep_problem(response: Any) -> str | None:
    status = response.status_code
    path = response.request.url.path
    resource = path.removeprefix("/rest/v2/structure/").removeprefix("/rest/").split("/")[0]
    if status >= 500 and not (status == 501 and resource in overlay.NOT_IMPLEMENTED_TYPES):
        return f"{status}: {response.text[:300]}"
    if 400 <= status < 600:
        try:
            code = _error_code(response)
        except Exception as exc:  # noqa: BLE001 - any unreadable body is the finding
            return f"{status} without an SDMX error message ({exc!r}): {response.text[:200]}"
        if code in (None, ""):
            return f"{status} error message without a code"
    return None


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_awkward_requests_never_fail_the_server(client, api):
    problems, statuses = [], Counter()
    for url, headers in _sweep(api):
        response = client.get(url, headers=headers)
        statuses[response.status_code] += 1
        problem = _sweep_problem(response)
        if problem:
            problems.append(f"GET {url} {headers}: {problem}")
    print(
        f"{api}: {sum(statuses.values())} awkward requests, statuses {dict(sorted(statuses.items()))}"
    )
    assert not problems, "\n".join(problems)


# --- Schemathesis: data, availability and schema queries on the demo data --------------------------

CSV10, CSV20 = (
    "application/vnd.sdmx.data+csv;version=1.0.0",
    "application/vnd.sdmx.data+csv;version=2.0.0",
)
GENERIC21 = "application/vnd.sdmx.genericdata+xml;version=2.1"
DATA_JSON10 = "application/vnd.sdmx.data+json;version=1.0.0"
DATA_JSON20 = "application/vnd.sdmx.data+json;version=2.0.0"
DATA_ML30 = "application/vnd.sdmx.data+xml;version=3.0.0"
SCHEMA21 = "application/vnd.sdmx.schema+xml;version=2.1"


def _data_negotiated(api: str) -> dict[str | None, str | None]:
    """Accept -> the data type DSM must answer 200 with: every type it writes (app.formats.media),
    SDMX-CSV with its options, the generic types, and REST 2.2's newer versions (406)."""
    default, json_type = (GENERIC21, DATA_JSON10) if api == "v1" else (DATA_ML30, DATA_JSON20)
    table: dict[str | None, str | None] = {t.value: t.value for t in WRITERS}
    table |= {None: default, "*/*": default, "application/xml": default}
    table |= {"application/json": json_type, f"{CSV20};labels=both;timeFormat=normalized": CSV20}
    table |= {f"{CSV10};labels=name;keys=both": CSV10, f"{CSV20};keys=series": CSV20}
    table |= {f"{CSV20};labels=junk": None}  # 400, never 200
    for newer in ("json;version=2.1.0", "csv;version=2.1.0", "xml;version=3.1.0"):
        table[f"application/vnd.sdmx.data+{newer}"] = None
    return table


AVAILABILITY_NEGOTIATED = NEGOTIATED
SCHEMA_NEGOTIATED: dict[str | None, str | None] = {
    None: SCHEMA21,
    "*/*": SCHEMA21,
    "application/xml": SCHEMA21,
    SCHEMA21: SCHEMA21,
    "application/vnd.sdmx.schema+xml;version=3.0.0": None,  # DSM writes no SDMX-ML 3.0 schema
    ML21: None,  # declared by both documents for schema queries; DSM writes XML Schema only
}
# REST 1.5.0 predates SDMX 3.0 and lists only the 2.1-era data and structure types; DSM also writes
# SDMX-ML 3.0, SDMX-CSV 2.0 and SDMX-JSON 2.0 on /rest/ when a client names them in Accept. An
# extension, not a defect of either side: the generic types and the default stay the declared ones.
V1_EXTENSIONS = {_media(t) for t in (DATA_ML30, CSV20, DATA_JSON20, ML30, JSON20)}


def _kind(path: str) -> str:
    return path.strip("/").split("/", 1)[0]  # data, availableconstraint/availability, schema


def _negotiated(api: str, path: str) -> dict[str | None, str | None]:
    kind = _kind(path)
    if kind == "data":
        return _data_negotiated(api)
    return SCHEMA_NEGOTIATED if kind == "schema" else AVAILABILITY_NEGOTIATED[api]


def _data_schema(api: str, dimensions: dict[str, tuple[str, ...]]) -> Any:
    """The data part of a document, with hooks that swap in the demo data's flows, keys (as many
    positions as the flow has dimensions, read from the app), providers, periods and filters."""
    schema = schemathesis.openapi.from_dict(overlay.document(api, "data"))
    v1 = api == "v1"
    choice = st.sampled_from

    def key(flow: str) -> st.SearchStrategy:
        def position(dimension: str) -> st.SearchStrategy:
            codes = overlay.CODES.get(dimension, ("_T", "XX"))
            lists = st.lists(choice(codes), min_size=2, max_size=2, unique=True)
            return st.one_of(st.just("" if v1 else "*"), choice(codes), lists.map("+".join))

        one = st.tuples(*map(position, dimensions[flow])).map(".".join)
        if v1:
            return st.one_of(one, st.just("all"))
        return st.one_of(one, st.just("*"), st.lists(one, min_size=2, max_size=2).map(",".join))

    def realistic(path: str) -> st.SearchStrategy:
        versions = overlay.V1_DATA_VERSIONS if v1 else overlay.V2_DATA_VERSIONS
        components = choice(overlay.COMPONENT_IDS)
        if v1 and path.startswith(("/data/", "/availableconstraint/")):
            return choice(sorted(overlay.V1_FLOWS)).flatmap(
                lambda flow: st.fixed_dictionaries(
                    {
                        "flow": st.just(flow),
                        "key": key(overlay.V1_FLOWS[flow]),
                        "provider": st.one_of(st.just("all"), choice(overlay.PROVIDERS)),
                        "componentID": components,
                    }
                )
            )
        contexts = sorted(c for c in overlay.CONTEXTS if c[0] != "*" or path.startswith("/data/"))
        return choice(contexts).flatmap(
            lambda pair: st.fixed_dictionaries(
                {
                    "context": st.just(pair[0]),
                    "agencyID": choice(("DSM", "DSM") if v1 or "schema" in path else ("DSM", "*")),
                    "resourceID": st.just(pair[1]),
                    "version": choice(versions),
                    "key": key(overlay.CONTEXTS[pair]),
                    "componentID": components,
                }
            )
        )

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        path = context.operation.path
        swapped = realistic(path).map(
            lambda values: {name: values.get(name, v) for name, v in path_parameters.items()}
        )
        return st.one_of(swapped, swapped, st.just(path_parameters))

    @schema.hook
    def flatmap_query(context, query):
        # The hook sees the query serialized: `c` is already `c[COMPONENT]` keys.
        path, query = context.operation.path, dict(query or {})
        extra = st.fixed_dictionaries({}, optional=_realistic_query(api, path))
        filters = (
            st.just({})
            if v1 or "/schema/" in path
            else st.one_of(
                st.just({}),
                choice(overlay.C_FILTERS).map(lambda c: {f"c[{k}]": v for k, v in c.items()}),
            )
        )
        realistic_query = st.tuples(extra, filters).map(lambda pair: pair[0] | pair[1])
        return st.one_of(realistic_query, realistic_query.map(lambda r: query | r), st.just(query))

    @schema.hook
    def flatmap_headers(context, headers):
        headers = dict(headers or {})
        accepts = sorted((a for a in _negotiated(api, context.operation.path) if a), key=str)
        return st.sampled_from((None, *accepts)).map(
            lambda accept: headers if accept is None else {**headers, "Accept": accept}
        )

    return schema


def _realistic_query(api: str, path: str) -> dict[str, st.SearchStrategy]:
    """Optional query parameters with values that select demo data, by operation."""
    choice = st.sampled_from
    if path.startswith("/schema/"):
        dimension = choice(("TIME_PERIOD", "AllDimensions", "SEX", "REF_AREA"))
        return {"dimensionAtObservation": dimension, "explicitMeasure": choice(("true", "false"))}
    common = {"updatedAfter": choice(overlay.DATETIMES)}
    if api == "v1":
        common |= {"startPeriod": choice(overlay.PERIODS), "endPeriod": choice(overlay.PERIODS)}
    if not path.startswith("/data/"):
        references = ("none", "all", "codelist", "dataproviderscheme", "dataflow")
        return common | {"mode": choice(("exact", "available")), "references": choice(references)}
    counts = choice(("1", "2", "3"))
    common |= {
        "firstNObservations": counts,
        "lastNObservations": counts,
        "dimensionAtObservation": choice(("TIME_PERIOD", "AllDimensions", "SEX", "REF_AREA")),
        "includeHistory": choice(("false", "true")),
        "labels": choice(("id", "name", "both")),
        "timeFormat": choice(("original", "normalized")),
        "keys": choice(("none", "obs", "series", "both")),
    }
    if api == "v1":
        return common | {"detail": choice(("full", "dataonly", "serieskeysonly", "nodata"))}
    return common | {
        "attributes": choice(("dsd", "msd", "none", "all", "UNIT_MEASURE,OBS_STATUS")),
        "measures": choice(("all", "none", "OBS_VALUE")),
        "offset": choice(("0", "5")),
        "limit": choice(("1", "10", "1000")),
        "asOf": choice(overlay.DATETIMES),
        "sort": choice(("*", "TIME_PERIOD:desc", "REF_AREA+SEX")),
    }


# Documented 501s of data operations (docs/api.md): a query matching several dataflows, metadata
# schema contexts. Anything else at 5xx is a finding.
DOCUMENTED_501 = ("several dataflows", "several dataflow", "no reference metadata", "several ")


def _check_data_status(response: Any) -> None:
    if response.status_code == 501:
        assert any(reason in response.text for reason in DOCUMENTED_501), response.text
    else:
        assert response.status_code < 500, response.text


def _check_data_200(api: str, case: Any, response: Any, raw: dict[str, Any]) -> None:
    path = case.operation.path
    accept = (case.headers or {}).get("Accept")
    expected = _negotiated(api, path)[accept]
    assert expected is not None, f"200 although {accept} is not offered"
    received = _media(response.headers["content-type"])
    assert received == _media(expected), (accept, response.headers["content-type"])
    declared = {_media(t) for t in overlay.declared_200_types(raw, path)}
    assert received in declared or (api == "v1" and received in V1_EXTENSIONS), received
    if received[0].endswith("+json"):
        body = json.loads(response.content)
        assert "data" in body or "dataSets" in body, list(body)
    elif received[0].endswith("+csv"):
        lines = response.content.decode().splitlines()
        assert len(lines) >= 2 and "," in lines[0], lines[:2]
    else:
        name = etree.QName(etree.fromstring(response.content)).localname
        wanted = {"data": "Data", "schema": "schema"}.get(_kind(path), "Structure")
        assert name.endswith(wanted) if wanted == "Data" else name == wanted, name


@pytest.fixture
def demo_client(client):
    """The client, its database holding the demo data (loaded through the import path)."""
    structures = client.app.state.structures
    flows = structures.flows()
    loaded = dict(demo.load(client.app.state.engine, flows, expanded_limit=1 << 30))
    assert set(loaded) == set(demo.GENERATORS)
    return client


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_data_api_conforms_to_official_openapi(demo_client, api):
    client = demo_client
    dimensions = {
        ident: flow.dimensions
        for (_, ident, _), flow in client.app.state.structures.flows().items()
    }
    schema = _data_schema(api, dimensions)
    raw = overlay.document(api, "data")
    mount = overlay.V1_MOUNT if api == "v1" else overlay.V2_MOUNT
    strategy = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    statuses: Counter[tuple[str, int]] = Counter()
    bodies = Counter()

    @given(case=strategy)
    @settings(
        max_examples=DATA_MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=f"http://testserver{mount}")
        response = client.request(
            kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs["headers"]
        )
        statuses[_kind(case.operation.path), response.status_code] += 1
        _check_data_status(response)
        extension = (
            response.status_code == 200
            and api == "v1"
            and (_media(response.headers["content-type"]) in V1_EXTENSIONS)
        )
        case.validate_response(response, checks=CHECKS[:1] if extension else CHECKS)
        if response.status_code == 200:
            _check_data_200(api, case, response, raw)
            bodies[_kind(case.operation.path)] += bool(response.content)

    run()
    print(f"{api} data: {sum(statuses.values())} requests, {dict(sorted(statuses.items()))}")
    ok = sum(n for (_, status), n in statuses.items() if status == 200)
    assert ok * 10 >= sum(statuses.values()), statuses
    assert bodies["data"] and bodies["schema"] and sum(bodies.values()) >= 3, bodies


# --- Awkward requests to data, availability and schema paths ---------------------------------------

# (API, path segments): realistic queries on DF_FOREIGN_POP (FREQ.REF_AREA.CITIZENSHIP.SEX.AGE.
# DATA_SOURCE) whose segments are replaced in turn by AWKWARD_SEGMENTS and DATA_SEGMENTS.
DATA_BASES = (
    ("v1", ("/rest/data", "DSM,DF_FOREIGN_POP,1.0", "A.KAZ..F..", "all")),
    ("v1", ("/rest/availableconstraint", "DSM,DF_FOREIGN_POP,1.0", "A.KAZ....", "all", "SEX")),
    ("v1", ("/rest/schema", "dataflow", "DSM", "DF_FOREIGN_POP", "1.0")),
    ("v2", ("/rest/v2/data", "dataflow", "DSM", "DF_FOREIGN_POP", "1.0", "A.KAZ.*.F.*.*")),
    ("v2", ("/rest/v2/availability", "dataflow", "DSM", "DF_FOREIGN_POP", "~", "*", "SEX")),
    ("v2", ("/rest/v2/schema", "provisionagreement", "DSM", "PA_KAZ_STAT_FOREIGN_POP", "~")),
)
DATA_SEGMENTS = (
    "A.KAZ",  # too few positions
    "A.KAZ.......",  # too many
    "A.KAZ..F...+",
    "+.+.+.+.+.+",
    "A.KAZ+KAZ..F..",
    "a.kaz....",
    "*.*.*.*.*.*",
    "A.KAZ.*.F.*.*,",
    ",A.KAZ.*.F.*.*",
    "A.KAZ.*.F.*.*,A.KGZ.*.*.*.*",
    "A.KAZ.*.F.*.*,A.KGZ",
    "A.%2A.*.F.*.*",
    "A.K%C3%84Z.*.*.*.*",
    "A." + "KAZ+" * 500 + "KGZ.....",
    "DSM,KAZ_STAT+",
    "DSM,,KAZ_STAT",
    "DSM,KAZ_STAT,1.0",
    "DSM,DF_FOREIGN_POP,1.0,extra",
    "DF_FOREIGN_POP,1.0",
    "DSM,DF_FOREIGN_POP,latest",
    "DSM,DF_FOREIGN_POP,~",
    "DSM,DF_*",
    "TIME_PERIOD,SEX",
    "OBS_VALUE",
    "metadataflow",
    "metadatastructure",
    "provisionagreement",
    "datastructure",
)
BIG = "99999999999999999999"  # over 2**63: the database driver refuses the bound integer
DATA_QUERIES = (
    "startPeriod=2020-13",
    "startPeriod=2020-Q5",
    "startPeriod=2020-W53&endPeriod=2020-D366",
    "startPeriod=2020-02-30",
    "startPeriod=99999",
    "startPeriod=-2020",
    "startPeriod=2021&endPeriod=2019",
    "startPeriod=2019&startPeriod=2020",
    "endPeriod=2020-S3",
    "startPeriod=2019-01-01T00:00:00",
    "c[TIME_PERIOD]=ge:",
    "c[TIME_PERIOD]=zz:2019",
    "c[TIME_PERIOD]=ge:2019+le:2020+gt:2018",
    "c[TIME_PERIOD]=ge:2019 le:2020",
    "c[TIME_PERIOD]=ge:junk",
    "c[]=F",
    "c=F",
    "c[SEX]=",
    "c[SEX]=F,M,,",
    "c[SEX]=eq:F+ne:M",
    "c[SEX]=F&c[SEX]=M",
    "c[NOPE]=1",
    "c[SEX][x]=1",
    "c[sex]=F",
    "c[OBS_VALUE]=gt:abc",
    "c[OBS_VALUE]=gt:1e400",
    "c[REF_AREA]=co:%25",
    "c[REF_AREA]=sw:",
    "c[COMMENT_DSET]=co:DSM",
    f"firstNObservations={BIG}",
    "firstNObservations=0",
    "firstNObservations=-1",
    "lastNObservations=1e3",
    "lastNObservations=1&lastNObservations=2",
    "offset=-1",
    f"offset={BIG}",
    "offset=9223372036854775807",
    "limit=0",
    "limit=-5",
    "limit=1&offset=1&limit=2",
    "detail=serieskeysonly&detail=nodata",
    "detail=junk",
    "dimensionAtObservation=NOPE",
    "dimensionAtObservation=AllDimensions&format=structurespecifictimeseriesdata",
    "dimensionAtObservation=",
    "includeHistory=maybe",
    "includeHistory=true&format=csv",
    "updatedAfter=junk",
    "updatedAfter=2999-01-01T00:00:00Z&format=sdmx-csv-1.0",
    "asOf=junk",
    "asOf=0001-01-01T00:00:00Z",
    "sort=junk:sideways",
    "attributes=",
    "attributes=NOPE",
    "measures=nope",
    "labels=junk&format=csv",
    "format=csv&labels=both&timeFormat=normalized&keys=both",
    "format=csv&keys=series&keys=obs",
    "mode=junk",
    "mode=available&mode=exact",
    "references=junk",
    "references=valuelist",
    "explicitMeasure=maybe",
    "deletion=yes",
    "reportingYearStartDay=--13-45",
    "=&&&=x",
)
DATA_HEADERS = (
    {"Accept": f"{CSV20};labels=junk"},
    {"Accept": f"{CSV10};labels=name;timeFormat=normalized;keys=both"},
    {"Accept": "application/vnd.sdmx.data+csv"},
    {"Accept": "application/vnd.sdmx.data+json;version=2.1.0"},
    {"Accept": f"{GENERIC21};q=0, {DATA_ML30};q=0.5"},
    {"Accept": "application/vnd.sdmx.schema+xml;version=3.0.0"},
    {"Accept": "text/csv"},
    {"Accept": ML21},
    {"If-None-Match": 'W/"x", *'},
    {"If-Modified-Since": "Mon, 01 Jan 2100 00:00:00 GMT"},
)


# Server bugs the sweep found (5xx), since fixed; test_fixed_server_bugs_stay_fixed keeps them so.
DATA_BUGS = {
    "huge int": (
        "integer query parameters above 2**63 reach the database driver unchecked: 500 "
        "OverflowError (SQLite), not 400",
        f"/rest/data/DSM,DF_FOREIGN_POP,1.0/A.KAZ..F../all?firstNObservations={BIG}",
        f"/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0/A.KAZ.*.F.*.*?firstNObservations={BIG}",
        f"/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0/A.KAZ.*.F.*.*?offset={BIG}",
    ),
    "c[] dataset attribute": (
        "a c[] filter on a dataset-level attribute looks for a column the observation table "
        "lacks: 500 KeyError('COMMENT_DSET') in app/storage/data_queries.py _condition",
        "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0/A.KAZ.*.F.*.*?c[COMMENT_DSET]=co:DSM",
        "/rest/v2/availability/dataflow/DSM/DF_FOREIGN_POP/~/*/SEX?c[COMMENT_DSET]=co:DSM",
    ),
    "NUL in schema id": (
        "a NUL byte in a schema resourceID goes into the 404 error message, which lxml refuses "
        "to write: 500 ValueError in app/writers/messages.py error_xml",
        "/rest/schema/dataflow/DSM/%00/1.0",
        "/rest/v2/schema/provisionagreement/DSM/%00/~",
    ),
    "NUL in provider": (
        "PostgreSQL only: a NUL byte in the v1 providerRef is bound as a text parameter: 500 "
        "psycopg.DataError (text fields cannot contain NUL bytes), not 400 or 404",
        "/rest/data/DSM,DF_FOREIGN_POP,1.0/A.KAZ..F../%00",
        "/rest/availableconstraint/DSM,DF_FOREIGN_POP,1.0/A.KAZ..../%00/SEX",
    ),
}
BUG_URLS = {url for _, *urls in DATA_BUGS.values() for url in urls}


def _data_sweep() -> list[tuple[str, str, dict[str, Any]]]:
    """(API, path?query, headers): one awkward part each, on a realistic data query."""
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for api, (prefix, *base) in DATA_BASES:
        # The structure segments once per API (the three operations share their path parsing).
        segments = DATA_SEGMENTS + (AWKWARD_SEGMENTS if prefix.endswith("/data") else ())
        for position in range(len(base)):
            for segment in segments:
                parts = list(base)
                parts[position] = segment
                requests.append((api, prefix + "/" + "/".join(parts), {}))
        path = prefix + "/" + "/".join(base)
        requests += [(api, f"{path}?{query}", {}) for query in DATA_QUERIES]
        requests += [(api, path, headers) for headers in AWKWARD_HEADERS + DATA_HEADERS]
        requests += [(api, path + "/", {}), (api, path + "//", {}), (api, path + "/extra", {})]
    return [r for r in requests if r[1] not in BUG_URLS]


def _data_sweep_problem(response: Any) -> str | None:
    if response.status_code == 501 and any(r in response.text for r in DOCUMENTED_501):
        return None
    if response.status_code == 501:
        return f"undocumented 501: {response.text[:300]}"
    return _sweep_problem(response)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_awkward_data_requests_never_fail_the_server(demo_client, api):
    problems, statuses = [], Counter()
    for _, url, headers in (r for r in _data_sweep() if r[0] == api):
        try:
            response = demo_client.get(url, headers=headers)
        except Exception as exc:  # noqa: BLE001 - the test client re-raises what answers 500
            statuses[500] += 1
            problems.append(f"GET {url} {headers}: 500 ({exc!r})")
            continue
        statuses[response.status_code] += 1
        problem = _data_sweep_problem(response)
        if problem:
            problems.append(f"GET {url} {headers}: {problem}")
    print(
        f"{api}: {sum(statuses.values())} awkward data requests, {dict(sorted(statuses.items()))}"
    )
    assert statuses[200] >= 10, statuses
    assert not problems, "\n".join(problems)


@pytest.fixture
def few_data(client, admin_token):
    """The client, its database holding four DF_FOREIGN_POP observations (POST /rest/v2/data/)."""
    header = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    header += "TIME_PERIOD,OBS_VALUE,COMMENT_DSET"
    rows = [
        f"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,UZB,{sex},_T,NSO,{year},10,DSM"
        for sex in "FM"
        for year in (2019, 2020)
    ]
    response = client.post(
        "/rest/v2/data/",
        content="\n".join([header, *rows]).encode(),
        headers={"authorization": f"Bearer {admin_token}", "content-type": CSV20},
    )
    assert response.status_code in (200, 201), response.text
    return client


@pytest.mark.parametrize("bug", sorted(DATA_BUGS))
def test_fixed_server_bugs_stay_fixed(few_data, bug):
    _, *urls = DATA_BUGS[bug]
    for url in urls:
        try:
            response = few_data.get(url)
        except Exception as exc:  # noqa: BLE001 - the test client re-raises what answers 500
            pytest.fail(f"GET {url}: 500 {exc!r}")
        assert 400 <= response.status_code < 500, (url, response.text)
