"""The catalog tables (owned by the Alembic migrations in migrations/; this module and the newest
migration must describe the same schema, which tests/storage/test_migrations.py checks).

- `artefacts`: one row per maintainable structure artefact, its SDMX-ML 2.1 element kept as text.
  The database is authoritative for structures: files only seed it.
- `registry_state`: one row; `revision` goes up with every structure change, so every server process
  can tell in one cheap query whether its in-memory registry is stale (and ETags follow it).
- `users`, `tokens`: principals and their bearer tokens (only an HMAC-SHA-256 of a token is kept).
- `grants`, `restrictions`: who may do what on which dataflows, and the dataflows hidden from
  everyone without read_confidential (docs/protection.md).
- `audit_log`: append-only (triggers refuse UPDATE and DELETE).
"""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

artefacts = Table(
    "artefacts",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("resource", String(40), nullable=False),  # REST resource name, e.g. "codelist"
    Column("agency", String(100), nullable=False),
    Column("id", String(255), nullable=False),
    Column("version", String(50), nullable=False),
    Column("is_final", Boolean, nullable=False, default=False),
    Column("xml", Text, nullable=False),  # the artefact's SDMX-ML 2.1 element
    Column("sha256", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("resource", "agency", "id", "version", name="uq_artefacts_ref"),
)

registry_state = Table(
    "registry_state",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # admin | provider | partner
    Column("provider", String(100)),  # data provider id (DATA_PROVIDERS scheme) for providers
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("groups", Text),  # space-separated group names (grants can name a group)
    Column("password_hash", String(255)),  # argon2 (pwdlib), for the portal's password login
)

tokens = Table(
    "tokens",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),  # HMAC-SHA-256 hex
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("label", String(200)),  # what the token is for, e.g. "login" for a portal session
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # when the submission's versions become visible (its commit time; a release time once
    # embargoes exist); None for rejected and dry-run submissions
    Column("visible_from", DateTime(timezone=True)),
    Column("principal", String(200), nullable=False),
    Column("provider", String(100)),
    Column("dataflow", String(300)),  # AGENCY:ID(VERSION) of the (first) dataflow
    Column("action", String(100)),  # operations applied, e.g. "merge" or "merge,delete"
    Column("format", String(60)),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),  # bytes as received
    Column("status", String(20), nullable=False),  # accepted | rejected | dry-run
    Column("http_status", Integer, nullable=False),
    Column("counts", Text, nullable=False),  # JSON
    Column("report", Text, nullable=False),  # JSON: the whole report as answered
    Column("reverts", Integer),  # the submission this one reverted
    Index("ix_submissions_visible_from", "visible_from"),
)

# The original message of each accepted submission, gzip-compressed, in pieces of up to 1 MiB.
submission_blobs = Table(
    "submission_blobs",
    metadata,
    Column(
        "submission_id", Integer, ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Dataset-level attribute values, versioned like observations.
dataset_attributes = Table(
    "dataset_attributes",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("dataflow", String(300), nullable=False),
    Column("attribute", String(100), nullable=False),
    Column("value", Text, nullable=False),
    Column("provider", String(100)),
    Column("opened_by", Integer, nullable=False),
    Column("closed_by", Integer),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_to", DateTime(timezone=True)),
)

# grantee: "user:NAME", "group:NAME" or "role:ROLE" (anonymous, partner, provider);
# dataflow: a pattern matched against "AGENCY:ID(VERSION)" (fnmatch: "*", "DSM:DF_ASYLUM*");
# action: read | read_confidential | read_embargoed | write | admin
grants = Table(
    "grants",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("grantee", String(220), nullable=False),
    Column("dataflow", String(300), nullable=False),
    Column("action", String(30), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200)),
    UniqueConstraint("grantee", "dataflow", "action", name="uq_grants_rule"),
)

# Dataflows (patterns as in grants) that only principals with read_confidential may see at all.
restrictions = Table(
    "restrictions",
    metadata,
    Column("dataflow", String(300), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("principal", String(200)),  # None: anonymous
    Column("role", String(20), nullable=False),
    Column("action", String(60), nullable=False),  # e.g. submission, grant.add, read.confidential
    Column("target", String(500)),  # what was acted on: a dataflow, a submission, a user, a path
    Column("outcome", String(40), nullable=False),  # e.g. accepted, rejected, ok, denied
    Column("client", String(100)),  # the client's address
    Column("detail", Text),  # JSON; never a secret or a message body
)
