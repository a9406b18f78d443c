"""SDMX REST structure queries (v1 `/rest/{resource}/...`, v2 `/rest/v2/structure/{type}/...`) and
structure maintenance (v2 POST, PUT, DELETE). Parse, call the structure service, answer."""

from hashlib import sha1
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app.api.caching import http_date, not_modified
from app.api.deps import AccessDep, AdminDep, SettingsDep, StructuresDep, actor
from app.errors import BadRequest, Invalid, NotFound, NotImplementedResource, TooLarge
from app.formats.media import MediaType
from app.model.query import RESOURCES, Api, QuerySyntaxError, StructureQuery
from app.services.structures import Outcome, flow_ref, read_structure_message, render
from app.writers.messages import SubmissionResult, submit_structure_response
from app.writers.negotiate import Offer, content_type, negotiate, pick_language
from app.writers.structure._common import KINDS, URN_PREFIX

router = APIRouter(tags=["structure"])

_ALIASES = {
    "sdmx-ml-2.1": MediaType.STRUCTURE_ML_21,
    "sdmx-ml-3.0": MediaType.STRUCTURE_ML_30,
    "sdmx-json-1.0": MediaType.STRUCTURE_JSON_10,
    "sdmx-json-2.0": MediaType.STRUCTURE_JSON_20,
    "structure": MediaType.STRUCTURE_ML_21,
}
_TYPES = (
    MediaType.STRUCTURE_ML_21,
    MediaType.STRUCTURE_ML_30,
    MediaType.STRUCTURE_JSON_10,
    MediaType.STRUCTURE_JSON_20,
)
OFFERS: dict[Api, Offer] = {
    "v1": Offer(
        _TYPES,
        MediaType.STRUCTURE_ML_21,
        MediaType.STRUCTURE_ML_21,
        MediaType.STRUCTURE_JSON_10,
        {**_ALIASES, "xml": MediaType.STRUCTURE_ML_21, "json": MediaType.STRUCTURE_JSON_10},
    ),
    "v2": Offer(
        _TYPES,
        MediaType.STRUCTURE_ML_30,
        MediaType.STRUCTURE_ML_30,
        MediaType.STRUCTURE_JSON_20,
        {**_ALIASES, "xml": MediaType.STRUCTURE_ML_30, "json": MediaType.STRUCTURE_JSON_20},
    ),
}
_JSON_TYPES = {MediaType.STRUCTURE_JSON_10, MediaType.STRUCTURE_JSON_20}
# VTL schemes and SDMX 3.0 maps cannot be stored by DSM (SDMX-ML 2.1 catalog): 501, not 404.
NOT_IMPLEMENTED = frozenset(
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

References = Annotated[
    str | None,
    Query(
        description="none, parents, parentsandsiblings, "
        "children, descendants, all, ancestors (v2) or a type"
    ),
]
Detail = Annotated[
    str | None,
    Query(
        description="full, allstubs, referencestubs, "
        "referencepartial, allcompletestubs, referencecompletestubs, raw (v2)"
    ),
]
Format = Annotated[
    str | None,
    Query(
        description="Convenience for Accept: sdmx-ml-2.1, sdmx-ml-3.0, "
        "sdmx-json-1.0, sdmx-json-2.0, xml, json"
    ),
]


def _answer(
    request: Request,
    structures: StructuresDep,
    settings: SettingsDep,
    access: AccessDep,
    api: Api,
    segments: tuple[str | None, ...],
    references: str | None,
    detail: str | None,
    format_: str | None,
) -> Response:
    resource = segments[0] or ""
    if resource not in RESOURCES:
        raise NotFound(
            f"Unknown structure resource {resource!r}; expected one of "
            + ", ".join(sorted(RESOURCES - {"*", "all"}))
        )
    if resource in NOT_IMPLEMENTED:
        raise NotImplementedResource(f"DSM does not store {resource} artefacts")
    try:
        query = StructureQuery.parse(*segments, references=references, detail=detail, api=api)
    except QuerySyntaxError as exc:
        raise BadRequest(str(exc)) from exc
    media_type = negotiate(OFFERS[api], request.headers.get("accept"), format_)
    lang = pick_language(request.headers.get("accept-language"))
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    registry, _, _ = structures.current()
    hidden = frozenset(ref for ref in map(flow_ref, registry.dataflows()) if not access.sees(ref))
    rendered = render(
        structures,
        query,
        media_type,
        lang,
        base + ("/rest/v2/structure" if api == "v2" else "/rest"),
        request.url.path,
        hidden,
    )
    fingerprint = f"{request.url.path}?{request.url.query}|{media_type}|{lang}|{sorted(hidden)}"
    tag = f'W/"{rendered.revision}-{sha1(fingerprint.encode()).hexdigest()[:16]}"'
    headers = {
        "ETag": tag,
        "Last-Modified": http_date(rendered.stamp),
        "Cache-Control": "no-cache",
        "Vary": "Accept, Accept-Language, Authorization",  # GZipMiddleware adds Accept-Encoding
    }
    if media_type in _JSON_TYPES:
        headers["Content-Language"] = lang
    if not_modified(request, tag, rendered.stamp):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=content_type(media_type), headers=headers)


_V1 = "/rest/{resource}"
_V2 = "/rest/v2/structure/{resource}"
_RESPONSES = {
    200: {"description": "A structure message", "content": {t.value: {} for t in _TYPES}},
    304: {"description": "Not modified"},
    400: {"description": "Syntax error"},
    404: {"description": "No results"},
    406: {"description": "Not acceptable"},
    501: {"description": "Not implemented"},
}


def _add_get_routes(api: Api, prefix: str) -> None:
    names = ("agencyID", "resourceID", "version", "itemID")
    for depth in range(len(names) + 1):
        path = prefix + "".join(f"/{{{n}}}" for n in names[:depth])

        def endpoint(
            request: Request,
            structures: StructuresDep,
            settings: SettingsDep,
            access: AccessDep,
            resource: Annotated[str, Path(description="Structure type")],
            references: References = None,
            detail: Detail = None,
            format: Format = None,  # noqa: A002 - the public parameter name
            _api: Api = api,
            _depth: int = depth,
        ) -> Response:
            params = request.path_params
            segments = (resource, *(params.get(n) for n in names[:_depth]))
            return _answer(
                request, structures, settings, access, _api, segments, references, detail, format
            )

        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            responses=_RESPONSES,
            summary=f"Structure query ({api}, {depth} path segments)",
            operation_id=f"structure_{api}_{depth}",
            response_class=Response,
            name=f"structure_{api}_{depth}",
        )


_add_get_routes(
    "v2", _V2
)  # before v1, whose `/rest/{resource}/...` would also match `/rest/v2/...`
_add_get_routes("v1", _V1)


# --- Maintenance ----------------------------------------------------------------------------------


async def _body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"Request body larger than the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise BadRequest("Empty request body; send an SDMX-ML structure message")
    return data


def _stored(resource: str) -> str:
    """The catalog's (REST v1) name for a v2 structure type."""
    return {"dataconstraint": "contentconstraint"}.get(resource, resource)


def _urn(resource: str, agency: str, ident: str, version: str) -> str:
    kind = next((k for k in KINDS.values() if resource in (k.resource21, k.resource30)), None)
    if kind is None:
        return f"{URN_PREFIX}.{resource}={agency}:{ident}({version})"
    return f"{URN_PREFIX}.{kind.package}.{kind.cls21}={agency}:{ident}({version})"


def _results(outcome: Outcome, action_new: str = "Append") -> list[SubmissionResult]:
    results = []
    for records, action, status, text in (
        (outcome.created, action_new, "Success", "created"),
        (outcome.replaced, "Replace", "Success", "replaced"),
        (
            outcome.unchanged,
            action_new,
            "Warning",
            "already stored with identical content; unchanged",
        ),
    ):
        results += [SubmissionResult(_urn(*r.key), action, status, text) for r in records]
    return results


_SUBMIT_MEDIA = "application/xml; charset=utf-8"


@router.post(
    "/rest/v2/structure",
    status_code=201,
    summary="Submit structures (admin)",
    responses={
        201: {"description": "All created"},
        207: {"description": "Some unchanged"},
        401: {"description": "No token"},
        403: {"description": "Not an admin"},
        409: {"description": "Exists with other content"},
        422: {"description": "Invalid structures"},
    },
)
async def submit(
    request: Request, structures: StructuresDep, settings: SettingsDep, principal: AdminDep
) -> Response:
    """Create the artefacts of an SDMX-ML 2.1 or 3.0 structure message; all or nothing. An artefact
    already stored with identical content is reported unchanged (207); with other content, 409."""
    records = read_structure_message(await _body(request, settings.max_body_bytes))
    if not records:
        raise Invalid("The structure message holds no artefacts")
    outcome = structures.write(records, allow_replace=False, actor=actor(request, principal))
    status = 201 if not outcome.unchanged else 207
    body = submit_structure_response(_results(outcome), principal.name)
    return Response(body, status_code=status, media_type=_SUBMIT_MEDIA)


_ONE = "/rest/v2/structure/{resource}/{agencyID}/{resourceID}/{version}"


@router.put(
    _ONE,
    summary="Create or replace one artefact (admin)",
    responses={
        200: {"description": "Replaced"},
        201: {"description": "Created"},
        409: {"description": "Others depend on it"},
        422: {"description": "Invalid"},
    },
)
async def replace(
    request: Request,
    structures: StructuresDep,
    settings: SettingsDep,
    principal: AdminDep,
    resource: str,
    agencyID: str,
    resourceID: str,  # noqa: N803
    version: str,
) -> Response:
    """Create or replace the artefact named by the path with the one in the body."""
    records = read_structure_message(await _body(request, settings.max_body_bytes))
    key = (_stored(resource), agencyID, resourceID, version)
    if [r.key for r in records] != [key]:
        raise BadRequest(
            f"The body must hold exactly {resource} {agencyID}:{resourceID}({version})"
            f"; it holds {', '.join(':'.join(r.key) for r in records) or 'nothing'}"
        )
    outcome = structures.write(records, allow_replace=True, actor=actor(request, principal))
    status = 201 if outcome.created else 200
    body = submit_structure_response(_results(outcome), principal.name)
    return Response(body, status_code=status, media_type=_SUBMIT_MEDIA)


@router.delete(
    _ONE,
    summary="Delete one artefact (admin)",
    responses={
        404: {"description": "No such artefact"},
        409: {"description": "Others depend on it"},
    },
)
def remove(
    request: Request,
    structures: StructuresDep,
    principal: AdminDep,
    resource: str,
    agencyID: str,  # noqa: N803
    resourceID: str,
    version: str,
) -> Response:  # noqa: N803
    """Delete one artefact, unless other structures (or data) depend on it."""
    structures.delete(_stored(resource), agencyID, resourceID, version, actor(request, principal))
    body = submit_structure_response(
        [SubmissionResult(_urn(resource, agencyID, resourceID, version), "Delete", "Success")],
        principal.name,
    )
    return Response(body, media_type=_SUBMIT_MEDIA)
