r"""The structure API never answers 500 and conforms to the official SDMX REST OpenAPI documents.

Two sweeps, both in-process through the `client` fixture (so on SQLite and, when configured,
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

ML21 = "application/vnd.sdmx.structure+xml;version=2.1"
ML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON10 = "application/vnd.sdmx.structure+json;version=1.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"

# Examples per API: enough to reach every operation several times, small enough that both sweeps
# together stay well under a minute on SQLite on two cores.
MAX_EXAMPLES = 100

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
