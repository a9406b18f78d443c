"""The application factory: `create_app(settings)` wires settings, the database, the structure
registry, the shared counters, middleware, routers and the one exception handler."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from sqlalchemy.exc import SQLAlchemyError

from app import __doc__ as description
from app.api import (
    availability,
    data,
    errors,
    health,
    login,
    protection,
    schema,
    structure,
    submissions,
    users,
)
from app.api.caching import CachedAnswers, ResponseCache
from app.api.middleware import HeadAsGet, Metrics, RequestContext
from app.api.ratelimit import RateLimit, UploadSlots
from app.auth.oidc import Claims, OidcVerifier
from app.auth.tokens import resolve_secret
from app.clock import Clock
from app.services.access import Grants
from app.services.audit import AuditSink
from app.services.counters import open_counters
from app.services.structures import Structures, upgrade_observation_tables
from app.settings import Settings
from app.storage.engine import make_engine, upgrade

log = logging.getLogger("dsm")

VERSION = "0.1.0"


def setup_database(settings: Settings, structures: Structures) -> None:
    """Upgrade the database (catalog and observation-table indexes) and seed the bundled
    structures into an empty one."""
    upgrade(structures.engine)
    if structures.is_empty():
        structures.load_files(settings.structure_paths)
    upgrade_observation_tables(structures)


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    """The OpenID Connect verifier when an issuer is configured (no network until first use)."""
    if not settings.oidc_issuer or not settings.oidc_audience:
        return None
    claims = Claims(
        role=settings.oidc_role_claim,
        role_prefix=settings.oidc_role_prefix,
        provider=settings.oidc_provider_claim,
        groups=settings.oidc_groups_claim,
        name=settings.oidc_name_claim,
    )
    return OidcVerifier(
        settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url, claims
    )


def _document_optional_auth(app: FastAPI) -> None:
    """The SDMX REST reads (GET under /rest/) take a bearer token when there is one and answer
    anonymous requests too (grants decide what each sees): say so in the OpenAPI document,
    where FastAPI would mark the token as required."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            for path, operations in document["paths"].items():
                get = operations.get("get")
                if path.startswith("/rest/") and get and get.get("security"):
                    get["security"] = [{}, *get["security"]]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _read_structures(structures: Structures) -> None:
    """Read the structures before the first request: an answer is stamped with the revision
    known when it began, and the first one would otherwise begin with none (and never be
    served from the response cache). A database not set up yet is read on the first request,
    as before."""
    try:
        structures.current()
    except SQLAlchemyError as exc:
        log.warning("structures not readable at start (%s); read on the first request", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    structures = Structures(engine)
    metrics = Metrics()
    counters = open_counters(settings.redis_url, settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        app.state.secret = resolve_secret(settings.secret_key, settings.database_url)
        if settings.setup_on_start:
            setup_database(settings, structures)
        _read_structures(structures)
        app.state.audit = AuditSink(engine)
        try:
            yield
        finally:
            app.state.audit.close()
            app.state.responses.close()
            await counters.close()
            engine.dispose()

    app = FastAPI(
        title="DSM — Data Sharing Mechanism",
        version=VERSION,
        description=(description or "")
        + "\n\nSDMX REST v1 (SDMX 2.1) under `/rest/` and v2 (SDMX 3.0) under `/rest/v2/`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.structures = structures
    app.state.metrics = metrics
    app.state.clock = Clock()
    app.state.counters = counters
    app.state.uploads = UploadSlots(counters, settings.max_concurrent_uploads)
    app.state.oidc = oidc_verifier(settings)
    app.state.grants = Grants(engine)
    app.state.responses = ResponseCache(
        engine,
        settings.response_cache_mb * 1024 * 1024,
        lambda: (structures.revision, app.state.grants.generation),
        app.state.clock,
        settings.response_cache_disk_mb * 1024 * 1024,
        settings.response_cache_dir,
    )
    errors.install(app)
    app.include_router(health.router)
    # data submission before structures: `/rest/v2/data` must not be read as a structure type
    app.include_router(submissions.router)
    app.include_router(protection.router)
    app.include_router(users.router)
    app.include_router(login.router)
    app.include_router(data.router)
    app.include_router(availability.router)
    app.include_router(schema.router)
    app.include_router(structure.router)
    # the last added runs first: request context, CORS (so a 429 carries CORS headers too), rate
    # limit, gzip, then the answers of the response cache (before routing)
    app.add_middleware(CachedAnswers, cache=app.state.responses)
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=settings.gzip_level)
    app.add_middleware(
        RateLimit,
        counters=counters,
        per_token=settings.rate_limit,
        anonymous=settings.rate_limit_anonymous,
        clock=app.state.clock,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=[
            "ETag",
            "Last-Modified",
            "Location",
            "X-Request-ID",
            "Content-Language",
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
        ],
    )
    app.add_middleware(HeadAsGet)  # inside RequestContext: the access log says HEAD
    app.add_middleware(RequestContext, metrics=metrics, max_url_length=settings.max_url_length)
    _document_optional_auth(app)
    return app
