"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import EngineDep
from app.storage.engine import current_revision, head_revision, ping

router = APIRouter(tags=["operations"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:  # nothing to wait for: no worker thread
    return {"status": "ok"}


@router.get(
    "/health/ready",
    summary="The database is reachable and migrated to head",
    responses={503: {"description": "Not ready"}},
)
def ready(engine: EngineDep) -> JSONResponse:
    head = head_revision()
    try:
        ping(engine)
        current = current_revision(engine)
    except Exception as exc:  # any driver error means "not reachable"
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, 503)
    if current != head:
        return JSONResponse({"status": "migrations pending", "current": current, "head": head}, 503)
    return JSONResponse({"status": "ok", "migration": current})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
