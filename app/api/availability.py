"""SDMX REST data availability: v1 `/rest/availableconstraint/{flow}/{key}/{provider}/{componentID}`
and v2 `/rest/v2/availability/{context}/{agencyID}/{resourceID}/{version}/{key}/{componentID}`.

The path and parameters are a data query's (keys, providers, `c[...]`, periods, `updatedAfter`),
plus `mode` and `references`; the answer is a structure message negotiated like structure
queries. Registered before the structure router, whose `/rest/{resource}/...` would match too."""

from hashlib import sha1
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app.api.caching import http_date, not_modified
from app.api.deps import AccessDep, ClockDep, SettingsDep, StructuresDep, audit_reads
from app.api.structure import OFFERS
from app.errors import BadRequest
from app.formats.media import MediaType
from app.model.data_query import parse_v1, parse_v2
from app.model.query import Api, QuerySyntaxError
from app.services.availability import AvailabilityQuery, answer, parse_options
from app.writers.negotiate import content_type, negotiate, pick_language

router = APIRouter(tags=["availability"])

_JSON = {MediaType.STRUCTURE_JSON_10, MediaType.STRUCTURE_JSON_20}
_RESPONSES = {
    200: {"description": "An actual ContentConstraint describing the data that exist"},
    304: {"description": "Not modified"},
    400: {"description": "Syntax error, or an unknown component"},
    404: {"description": "No such dataflow"},
    406: {"description": "Not acceptable"},
    501: {"description": "The query matches several dataflows"},
}
Mode = Annotated[str | None, Query(description="exact (default) or available")]
References = Annotated[
    str | None,
    Query(
        description="none, all, datastructure, conceptscheme, codelist, dataproviderscheme, "
        "dataflow (v2: a comma-separated list)"
    ),
]


def _answer(
    request: Request,
    structures: StructuresDep,
    settings: SettingsDep,
    access: AccessDep,
    clock: ClockDep,
    api: Api,
    parse,  # type: ignore[no-untyped-def]
    component: str | None,
) -> Response:
    params = dict(request.query_params)
    try:
        data_query = parse(params)
    except QuerySyntaxError as exc:
        raise BadRequest(str(exc)) from exc
    mode, references, components = parse_options(
        params.get("mode"), params.get("references"), component, api
    )
    query = AvailabilityQuery(data_query, components, mode, references)
    media_type = negotiate(OFFERS[api], request.headers.get("accept"), params.get("format"))
    lang = pick_language(request.headers.get("accept-language"))
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    found = answer(
        structures,
        query,
        media_type,
        lang,
        base + ("/rest/v2/structure" if api == "v2" else "/rest"),
        access,
        clock.now(),
    )
    fingerprint = f"{request.url.path}?{request.url.query}|{media_type}|{lang}|{found.version}"
    tag = f'W/"{sha1(fingerprint.encode()).hexdigest()[:24]}"'
    headers = {
        "ETag": tag,
        "Last-Modified": http_date(found.modified),
        "Cache-Control": "no-cache",
        "Vary": "Accept, Accept-Language, Authorization",
    }
    if media_type in _JSON:
        headers["Content-Language"] = lang
    audit_reads(request, access, found.audit, found.flow_ref)
    if not_modified(request, tag, found.modified):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=content_type(media_type), headers=headers)


_V1 = "/rest/availableconstraint/{flow}"


@router.get(
    _V1, responses=_RESPONSES, summary="Availability (v1), all keys", response_class=Response
)
@router.get(
    _V1 + "/{key}", responses=_RESPONSES, summary="Availability (v1)", response_class=Response
)
@router.get(
    _V1 + "/{key}/{provider}",
    responses=_RESPONSES,
    summary="Availability (v1) from some providers",
    response_class=Response,
)
@router.get(
    _V1 + "/{key}/{provider}/{componentID}",
    responses=_RESPONSES,
    summary="Availability (v1) of one dimension",
    response_class=Response,
)
def availability_v1(
    request: Request,
    structures: StructuresDep,
    settings: SettingsDep,
    access: AccessDep,
    clock: ClockDep,
    flow: Annotated[str, Path(description="ID, AGENCY,ID or AGENCY,ID,VERSION")],
    key: str | None = None,
    provider: str | None = None,
    componentID: str | None = None,  # noqa: N803
    mode: Mode = None,
    references: References = None,
) -> Response:
    return _answer(
        request,
        structures,
        settings,
        access,
        clock,
        "v1",
        lambda p: parse_v1(flow, key, provider, p),
        componentID,
    )


_V2 = "/rest/v2/availability/{context}/{agencyID}/{resourceID}"


@router.get(
    _V2, responses=_RESPONSES, summary="Availability (v2), latest version", response_class=Response
)
@router.get(
    _V2 + "/{version}",
    responses=_RESPONSES,
    summary="Availability (v2), all keys",
    response_class=Response,
)
@router.get(
    _V2 + "/{version}/{key}",
    responses=_RESPONSES,
    summary="Availability (v2)",
    response_class=Response,
)
@router.get(
    _V2 + "/{version}/{key}/{componentID}",
    responses=_RESPONSES,
    summary="Availability (v2) of some dimensions",
    response_class=Response,
)
def availability_v2(
    request: Request,
    structures: StructuresDep,
    settings: SettingsDep,
    access: AccessDep,
    clock: ClockDep,
    context: str,
    agencyID: str,  # noqa: N803
    resourceID: str,  # noqa: N803
    version: str = "~",
    key: str | None = None,
    componentID: str | None = None,  # noqa: N803
    mode: Mode = None,
    references: References = None,
) -> Response:
    if context == "*":
        raise BadRequest(
            "context: availability needs one of dataflow, datastructure, provisionagreement"
        )
    return _answer(
        request,
        structures,
        settings,
        access,
        clock,
        "v2",
        lambda p: parse_v2(context, agencyID, resourceID, version, key, p),
        componentID,
    )
