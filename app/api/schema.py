"""SDMX REST schema queries: v1 `/rest/schema/{context}/{agencyID}/{resourceID}/{version}` and v2
`/rest/v2/schema/{context}/{agencyID}/{resourceID}/{version}`: the XML Schema of the
structure-specific data a context accepts, so producers can validate before they send.

The codes each component may take are those the context allows: the DSD's codelists cut by
constraints attached to the DSD (`datastructure`), also by those attached to the dataflow
(`dataflow`), also by the provider's scope (`provisionagreement`). v2 answers the same SDMX-ML 2.1
schema when asked for it (DSM writes no SDMX-ML 3.0 schemas: a request for one is 406).
Registered before the structure router, whose `/rest/{resource}/...` would match too."""

from hashlib import sha1
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sdmx.model import common, v21

from app.api.caching import http_date, not_modified
from app.api.deps import AccessDep, StructuresDep
from app.auth.access import Access
from app.errors import BadRequest, NotAcceptable, NotFound, NotImplementedResource
from app.model.data_query import DataQuery
from app.model.dsd import CompiledFlow
from app.model.query import Api, QuerySyntaxError, StructureQuery, parse_versions
from app.services.compile import compile_flow
from app.services.data import resolve_flow
from app.services.structures import Structures
from app.writers.schema import MEDIA_TYPE, SchemaRequest, write

router = APIRouter(tags=["schema"])

CONTEXTS: Final = ("datastructure", "dataflow", "provisionagreement")
_ACCEPTABLE: Final = ("*/*", "application/*", "application/xml", "text/xml", MEDIA_TYPE)
_RESPONSES = {
    200: {"description": "An XML Schema", "content": {MEDIA_TYPE: {}}},
    304: {"description": "Not modified"},
    400: {"description": "Syntax error"},
    404: {"description": "No such artefact"},
    406: {"description": "Not acceptable (only the SDMX-ML 2.1 schema is written)"},
    501: {"description": "Metadata contexts; several matching artefacts"},
}


def _check_accept(accept: str | None) -> None:
    if not accept:
        return
    for part in accept.split(","):
        essence, *params = (p.strip().replace(" ", "") for p in part.split(";"))
        if any(p in ("q=0", "q=0.0") for p in params):
            continue
        if essence in _ACCEPTABLE[:4]:
            return
        if essence == "application/vnd.sdmx.schema+xml" and all(
            p in ("version=2.1",) or not p.startswith("version=") for p in params
        ):
            return
    raise NotAcceptable(f"DSM writes schemas as {MEDIA_TYPE} only (SDMX-ML 2.1)")


def _flow_ref(artefact: object) -> str | None:
    """The dataflow a dataflow or provision agreement stands for (None for a DSD)."""
    flow = getattr(artefact, "structure_usage", artefact)
    if not isinstance(flow, common.BaseDataflow):
        return None
    return f"{flow.maintainer.id}:{flow.id}({flow.version})"


def _one(structures: Structures, resource: str, query: StructureQuery, access: Access) -> object:
    registry, _, _ = structures.current()
    found = [
        a
        for a in registry.select(query)
        if (ref := _flow_ref(a)) is None or access.sees(ref)  # a restricted dataflow is not there
    ]
    if not found:
        raise NotFound(f"No {resource} matches {','.join(query.ids or ('*',))}")
    if len(found) > 1:
        raise NotImplementedResource(f"The query matches several {resource}s; name one")
    return found[0]


def _compiled(
    structures: Structures,
    access: Access,
    api: Api,
    context: str,
    agency: str,
    ident: str,
    version: str,
) -> tuple[CompiledFlow, object]:
    """The compiled flow whose component codes the schema enumerates, and the artefact."""
    versions = parse_versions(version, api)
    query = StructureQuery(
        resource=context, agencies=(agency,), ids=(ident,), versions=versions, api=api
    )
    artefact = _one(structures, context, query, access)
    if context == "datastructure":
        registry, _, _ = structures.current()
        attached = [
            c
            for c in registry
            if isinstance(c, common.BaseContentConstraint) and any(t is artefact for t in c.content)
        ]
        usage = v21.DataflowDefinition(
            id=artefact.id, maintainer=artefact.maintainer, version=artefact.version
        )
        usage.structure = artefact
        return compile_flow(usage, attached, []), artefact
    data_query = DataQuery(
        api=api, context=context, agencies=(agency,), ids=(ident,), versions=versions
    )
    flow, _ = resolve_flow(structures, data_query, access)
    if context == "provisionagreement":
        provider = getattr(artefact.data_provider, "id", None)
        flow = _scoped(flow, flow.provider_scopes.get(provider, {}))
    return flow, artefact


def _scoped(flow: CompiledFlow, scope: dict[str, frozenset[str]]) -> CompiledFlow:
    components = dict(flow.components)
    for name, allowed in scope.items():
        component = components.get(name)
        if component is not None:
            codes = allowed if component.codes is None else component.codes & allowed
            components[name] = type(component)(**{**component.__dict__, "codes": codes})
    return type(flow)(**{**flow.__dict__, "components": components})


def _answer(
    request: Request,
    structures: StructuresDep,
    access: AccessDep,
    api: Api,
    context: str,
    agency: str,
    ident: str,
    version: str,
    dimension_at_observation: str | None,
    explicit_measure: str | None,
) -> Response:
    if context in ("metadatastructure", "metadataflow", "metadataprovisionagreement"):
        raise NotImplementedResource("DSM serves no reference metadata, so no metadata schemas")
    if context not in CONTEXTS:
        raise BadRequest(f"context={context!r}; expected one of {', '.join(CONTEXTS)}")
    if explicit_measure not in (None, "true", "false"):
        raise BadRequest(f"explicitMeasure={explicit_measure!r}; expected true or false")
    _check_accept(request.headers.get("accept"))
    try:
        flow, artefact = _compiled(structures, access, api, context, agency, ident, version)
    except QuerySyntaxError as exc:
        raise BadRequest(str(exc)) from exc
    time = flow.time_dimension or "TIME_PERIOD"
    at_obs = dimension_at_observation or time
    if at_obs not in (time, "AllDimensions", *flow.dimensions):
        raise BadRequest(
            f"dimensionAtObservation={at_obs!r}; expected {time}, AllDimensions or one of "
            + ", ".join(flow.dimensions)
        )
    schema = SchemaRequest(
        flow,
        context,
        artefact.maintainer.id,  # type: ignore[attr-defined]
        artefact.id,  # type: ignore[attr-defined]
        str(artefact.version),  # type: ignore[attr-defined]
        at_obs,
    )
    _, revision, stamp = structures.current()
    fingerprint = f"{request.url.path}?{request.url.query}|{revision}"
    tag = f'W/"{revision}-{sha1(fingerprint.encode()).hexdigest()[:16]}"'
    headers = {"ETag": tag, "Last-Modified": http_date(stamp), "Cache-Control": "no-cache"}
    if not_modified(request, tag, stamp):
        return Response(status_code=304, headers=headers)
    return Response(write(schema), media_type=f"{MEDIA_TYPE}; charset=utf-8", headers=headers)


AtObs = Annotated[
    str | None, Query(description="TIME_PERIOD (default), a dimension id or AllDimensions")
]
Explicit = Annotated[
    str | None,
    Query(description="true or false; DSM's DSDs have no measure dimension, so no effect"),
]


@router.get(
    "/rest/schema/{context}/{agencyID}/{resourceID}",
    responses=_RESPONSES,
    summary="Data schema (v1), latest version",
    response_class=Response,
)
@router.get(
    "/rest/schema/{context}/{agencyID}/{resourceID}/{version}",
    responses=_RESPONSES,
    summary="Data schema (v1)",
    response_class=Response,
)
def schema_v1(
    request: Request,
    structures: StructuresDep,
    access: AccessDep,
    context: str,
    agencyID: str,  # noqa: N803
    resourceID: str,  # noqa: N803
    version: str = "latest",
    dimensionAtObservation: AtObs = None,  # noqa: N803
    explicitMeasure: Explicit = None,  # noqa: N803
) -> Response:
    return _answer(
        request,
        structures,
        access,
        "v1",
        context,
        agencyID,
        resourceID,
        version,
        dimensionAtObservation,
        explicitMeasure,
    )


@router.get(
    "/rest/v2/schema/{context}/{agencyID}/{resourceID}",
    responses=_RESPONSES,
    summary="Data schema (v2), latest version",
    response_class=Response,
)
@router.get(
    "/rest/v2/schema/{context}/{agencyID}/{resourceID}/{version}",
    responses=_RESPONSES,
    summary="Data schema (v2)",
    response_class=Response,
)
def schema_v2(
    request: Request,
    structures: StructuresDep,
    access: AccessDep,
    context: str,
    agencyID: str,  # noqa: N803
    resourceID: str,  # noqa: N803
    version: str = "~",
    dimensionAtObservation: AtObs = None,  # noqa: N803
    explicitMeasure: Explicit = None,  # noqa: N803
) -> Response:
    return _answer(
        request,
        structures,
        access,
        "v2",
        context,
        agencyID,
        resourceID,
        version,
        dimensionAtObservation,
        explicitMeasure,
    )
