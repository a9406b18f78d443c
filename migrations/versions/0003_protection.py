"""data protection: grants, restricted dataflows, audit log, passwords and groups, releases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:00:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# What every deployment starts with: the public reads, partners and providers read, providers
# write (within their provision agreements). An admin can remove or narrow any of them.
DEFAULT_GRANTS = [
    ("role:anonymous", "*", "read"),
    ("role:partner", "*", "read"),
    ("role:provider", "*", "read"),
    ("role:provider", "*", "write"),
]

APPEND_ONLY = "audit_log is append-only"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("groups", sa.Text(), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("label", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_submissions_visible_from"), "submissions", ["visible_from"])
    grants = op.create_table(
        "grants",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("grantee", sa.String(length=220), nullable=False),
        sa.Column("dataflow", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_grants")),
        sa.UniqueConstraint("grantee", "dataflow", "action", name="uq_grants_rule"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        grants,
        [
            {"grantee": g, "dataflow": d, "action": a, "created_at": now, "created_by": "dsm"}
            for g, d, a in DEFAULT_GRANTS
        ],
    )
    op.create_table(
        "restrictions",
        sa.Column("dataflow", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("dataflow", name=op.f("pk_restrictions")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    _append_only()


def _append_only() -> None:
    """The database itself refuses to change or remove an audit record."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("restrictions")
    op.drop_table("grants")
    op.drop_index(op.f("ix_submissions_visible_from"), table_name="submissions")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("label")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
        batch.drop_column("groups")
