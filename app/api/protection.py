"""Data protection under `/api/`: grants and restricted dataflows (admin), embargoed releases
(the provider's own, or all for an admin) and the audit log (admin)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, Field

from app.api.deps import AdminDep, ClockDep, EngineDep, PrincipalDep, StructuresDep, actor
from app.api.submissions import parse_release
from app.errors import BadRequest, Unauthorized
from app.services import access as policy
from app.services import releases
from app.storage import audit as audit_store

router = APIRouter(tags=["data protection"])


class GrantIn(BaseModel):
    grantee: str = Field(description="user:NAME, group:NAME or role:ROLE (anonymous, ...)")
    dataflow: str = Field(description="AGENCY:ID(VERSION) or a pattern: *, DSM:DF_ASYLUM*")
    action: str = Field(description="read, read_confidential, read_embargoed, write or admin")


@router.get("/api/grants", summary="Grants (admin)")
def grants(engine: EngineDep, principal: AdminDep, grantee: str | None = None) -> list[dict]:
    return policy.grants(engine, grantee)


@router.post("/api/grants", status_code=201, summary="Add a grant (admin)")
def add_grant(
    request: Request, body: GrantIn, engine: EngineDep, principal: AdminDep, clock: ClockDep
) -> dict:
    pk = policy.grant(
        engine, actor(request, principal), body.grantee, body.dataflow, body.action, clock.now()
    )
    return {"id": pk, **body.model_dump()}


@router.delete("/api/grants/{grant}", status_code=204, summary="Remove a grant (admin)")
def remove_grant(request: Request, grant: int, engine: EngineDep, principal: AdminDep) -> Response:
    policy.revoke_grant(engine, actor(request, principal), grant)
    return Response(status_code=204)


@router.get("/api/restrictions", summary="Restricted dataflows (admin)")
def restrictions(engine: EngineDep, principal: AdminDep) -> list[dict]:
    return policy.restrictions(engine)


@router.put(
    "/api/restrictions/{dataflow}",
    summary="Restrict a dataflow (admin): only read_confidential sees it",
    responses={200: {"description": "Already restricted"}, 201: {"description": "Restricted"}},
)
def restrict(
    request: Request, dataflow: str, engine: EngineDep, principal: AdminDep, clock: ClockDep
) -> Response:
    added = policy.restrict(engine, actor(request, principal), dataflow, clock.now())
    return Response(status_code=201 if added else 200)


@router.delete("/api/restrictions/{dataflow}", status_code=204, summary="Lift a restriction")
def unrestrict(request: Request, dataflow: str, engine: EngineDep, principal: AdminDep) -> Response:
    policy.unrestrict(engine, actor(request, principal), dataflow)
    return Response(status_code=204)


@router.get("/api/releases", summary="Scheduled (embargoed) releases: own, or all for an admin")
def scheduled(engine: EngineDep, principal: PrincipalDep, clock: ClockDep) -> list[dict]:
    if principal is None:
        raise Unauthorized("Releases need a bearer token")
    return releases.scheduled(engine, principal, clock.now())


class MoveIn(BaseModel):
    releaseAt: str = Field(description="ISO 8601 date-time with offset, in the future")  # noqa: N815


@router.put("/api/releases/{submission}", summary="Move a release time (before it happens)")
def move(
    request: Request,
    submission: int,
    body: Annotated[MoveIn, Body()],
    structures: StructuresDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> dict:
    if principal is None:
        raise Unauthorized("Releases need a bearer token")
    release_at = parse_release(body.releaseAt)
    if release_at is None:
        raise BadRequest("releaseAt is empty")
    return releases.move(
        structures.engine,
        structures.flows(),
        actor(request, principal),
        principal,
        submission,
        release_at,
        clock.now(),
    )


@router.delete(
    "/api/releases/{submission}", status_code=204, summary="Cancel a release (before it happens)"
)
def cancel(
    request: Request,
    submission: int,
    structures: StructuresDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> Response:
    if principal is None:
        raise Unauthorized("Releases need a bearer token")
    releases.cancel(
        structures.engine,
        structures.flows(),
        actor(request, principal),
        principal,
        submission,
        clock.now(),
    )
    return Response(status_code=204)


@router.get("/api/audit", summary="The audit log (admin), newest first")
def audit(
    engine: EngineDep,
    principal: AdminDep,
    who: Annotated[str | None, Query(alias="principal", description="A user name")] = None,
    action: Annotated[str | None, Query(description="Prefix: submission, read, grant...")] = None,
    target: Annotated[str | None, Query(description="Prefix of the target")] = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict]:
    with engine.connect() as conn:
        return audit_store.listing(
            conn,
            principal=who,
            action=action,
            target=target,
            outcome=outcome,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
