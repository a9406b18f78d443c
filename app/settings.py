"""DSM's one settings object. Every setting comes from a `DSM_`-prefixed environment variable (or a
`.env` file in the working directory) and is checked when the server starts: a bad value stops the
start with a message naming the variable. Lower layers get values as arguments, never this object.
"""

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of a DSM server (see docs/configuration.md, generated from these fields)."""

    model_config = SettingsConfigDict(env_prefix="DSM_", env_file=".env", extra="ignore")

    database_url: Annotated[
        str,
        Field(
            description="SQLAlchemy URL of the database: a SQLite file (the default, in the working "
            "directory) or `postgresql+psycopg://user@host:5432/dsm`."
        ),
    ] = "sqlite:///dsm.db"
    host: Annotated[str, Field(description="Address `dsm serve` listens on.")] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535, description="Port `dsm serve` listens on.")] = 8000
    structure_paths: Annotated[
        list[Path],
        Field(
            description="Folders or files of SDMX-ML structure messages that seed an empty database "
            '(JSON list in the environment, e.g. `["dsd", "codelists"]`).'
        ),
    ] = [BUNDLED / "dsd", BUNDLED / "codelists"]
    secret_key: Annotated[
        str | None,
        Field(
            description="Server secret for hashing bearer tokens (HMAC-SHA-256). If unset, one is "
            "generated once and kept in `dsm.secret` beside the SQLite database; PostgreSQL "
            "deployments must set it."
        ),
    ] = None
    public_url: Annotated[
        str,
        Field(
            description="Public base URL of the server (behind a proxy), used in `structureURL` of stubs. Empty: the base URL of each request."
        ),
    ] = ""
    max_body_bytes: Annotated[
        int, Field(gt=0, description="Largest request body accepted, in bytes (413 beyond).")
    ] = 200 * 1024 * 1024
    max_expanded_bytes: Annotated[
        int,
        Field(
            gt=0, description="Largest size a gzip-compressed message may expand to (413 beyond)."
        ),
    ] = 2 * 1024 * 1024 * 1024
    max_response_observations: Annotated[
        int,
        Field(
            gt=0,
            description="Most observations one data query answers (413 beyond, before anything "
            "is sent: narrow the query, or page with v2 `limit` and `offset`).",
        ),
    ] = 20_000_000
    worker_threads: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            description="Threads one server process runs request handlers in (their database "
            "work). More only add GIL contention: with 16 clients, 4 threads answered a single "
            "series 1.3-1.8x as often as AnyIO's default of 40 (SQLite and PostgreSQL).",
        ),
    ] = 4
    response_cache_mb: Annotated[
        int,
        Field(
            ge=0,
            description="Memory for whole answers (up to 256 kB each) of anonymous data "
            "queries, served again while no commit, structure or grant change and no end of "
            'an embargo has come since (0: off). See docs/api.md, "The response cache".',
        ),
    ] = 32
    response_cache_disk_mb: Annotated[
        int,
        Field(
            ge=0,
            description="Disk for whole answers larger than 256 kB (full exports) of anonymous "
            "data queries, written to a file as they are first sent and served from it under "
            "the same rules as the memory part (0: off).",
        ),
    ] = 1024
    response_cache_dir: Annotated[
        str,
        Field(
            description="Where the response cache makes its folder of answer files (one per "
            "server process, removed when the process stops); empty: the system's temporary "
            "directory.",
        ),
    ] = ""
    gzip_level: Annotated[
        int,
        Field(
            ge=1,
            le=9,
            description="zlib level of gzip'd answers (for clients sending Accept-Encoding: "
            "gzip, as requests, httpx, sdmx1 and pandas do). 1, nginx's default, compressed an "
            "SDMX-CSV export at ~350 MB/s to 1/10 of its size; 9, Starlette's default, at "
            "~19 MB/s to 1/14, on the event loop.",
        ),
    ] = 1
    max_url_length: Annotated[
        int, Field(gt=0, description="Longest request target accepted, in characters (414 beyond).")
    ] = 8192
    cors_origins: Annotated[
        list[str], Field(description='Origins allowed by CORS (JSON list); `["*"]` allows any.')
    ] = ["*"]
    log_level: Annotated[str, Field(description="Python log level name.")] = "INFO"
    auto_setup: Annotated[
        bool | None,
        Field(
            description="Upgrade the database and seed the bundled structures on start. Default: "
            "on for SQLite, off for other databases (run `dsm db upgrade` and `dsm load` there)."
        ),
    ] = None

    redis_url: Annotated[
        str | None,
        Field(
            description="Redis URL (`redis://127.0.0.1:6379/0`) of the store that every server "
            "process counts rate limits and uploads in progress in. Unset: each process counts on "
            "its own, which is right for a single process; several worker processes or hosts need "
            "Redis. If Redis cannot be reached, requests are still served: DSM logs a warning and "
            "counts in the process until Redis answers again."
        ),
    ] = None
    redis_prefix: Annotated[
        str,
        Field(
            min_length=1,
            description="Prefix of every Redis key DSM writes (several deployments can share one "
            "Redis with different prefixes).",
        ),
    ] = "dsm:"
    rate_limit: Annotated[
        int,
        Field(
            ge=0,
            description="Requests per minute allowed for one bearer token (429 with Retry-After "
            "beyond); 0 turns the limit off.",
        ),
    ] = 600
    rate_limit_anonymous: Annotated[
        int,
        Field(
            ge=0,
            description="Requests per minute allowed for one client IP address without a token, "
            "and failed token attempts per minute from one address (429 with Retry-After beyond); "
            "0 turns the limit off.",
        ),
    ] = 120
    max_concurrent_uploads: Annotated[
        int,
        Field(
            ge=0,
            description="Data submissions of one data provider (an admin: of that user) in "
            "progress at once; one more is refused with 429 and recorded as rejected. 0: no cap.",
        ),
    ] = 2
    session_hours: Annotated[
        int,
        Field(
            ge=1,
            le=24 * 30,
            description="Lifetime of the token that `POST /api/login` issues (a portal session), "
            "in hours.",
        ),
    ] = 8
    oidc_issuer: Annotated[
        str | None,
        Field(
            description="OpenID Connect issuer whose bearer JWTs DSM accepts, exactly as in their "
            "`iss` claim (e.g. `https://sso.example.org/realms/dsm` for Keycloak). Unset: OpenID "
            "Connect is off. See docs/identity.md."
        ),
    ] = None
    oidc_audience: Annotated[
        str | None,
        Field(
            validate_default=True,
            description="The `aud` a JWT must carry to be accepted (e.g. `dsm`); required when "
            "`DSM_OIDC_ISSUER` is set.",
        ),
    ] = None
    oidc_jwks_url: Annotated[
        str | None,
        Field(
            description="URL of the issuer's signing keys (JWKS). Unset: the `jwks_uri` of "
            "`{issuer}/.well-known/openid-configuration`, read once on first use."
        ),
    ] = None
    oidc_role_claim: Annotated[
        str,
        Field(
            description="Dotted path of the JWT claim that lists a user's roles "
            "(Keycloak realm roles: `realm_access.roles`; client roles: "
            "`resource_access.CLIENT.roles`)."
        ),
    ] = "realm_access.roles"
    oidc_role_prefix: Annotated[
        str,
        Field(
            description="Prefix of the role names that mean DSM roles: with `dsm-`, the values "
            "`dsm-admin`, `dsm-provider` and `dsm-partner` count (the strongest wins) and others "
            "are ignored. Empty: the bare names `admin`, `provider`, `partner` (for client roles)."
        ),
    ] = "dsm-"
    oidc_provider_claim: Annotated[
        str,
        Field(description="Dotted path of the claim holding a provider's data provider id."),
    ] = "dsm_provider"
    oidc_groups_claim: Annotated[
        str, Field(description="Dotted path of the claim listing a user's groups (for grants).")
    ] = "groups"
    oidc_name_claim: Annotated[
        str,
        Field(description="Dotted path of the claim naming the user (`sub` when it is missing)."),
    ] = "preferred_username"

    @field_validator("oidc_issuer", "oidc_jwks_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an https:// (or http://) URL")
        return value or None

    @field_validator("oidc_audience")
    @classmethod
    def _audience_with_issuer(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("oidc_issuer") and not value:
            raise ValueError("must be set when DSM_OIDC_ISSUER is (the `aud` DSM's tokens carry)")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if not value:  # `DSM_REDIS_URL=` (empty) means no Redis
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def setup_on_start(self) -> bool:
        return self.is_sqlite if self.auto_setup is None else self.auto_setup
