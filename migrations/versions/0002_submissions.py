"""submissions, original messages, dataset attributes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:21:58.648600
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_attributes",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("dataflow", sa.String(length=300), nullable=False),
        sa.Column("attribute", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("opened_by", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_dataset_attributes")),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("dataflow", sa.String(length=300), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=True),
        sa.Column("format", sa.String(length=60), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("reverts", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_table(
        "submission_blobs",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_blobs_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "seq", name=op.f("pk_submission_blobs")),
    )


def downgrade() -> None:
    op.drop_table("submission_blobs")
    op.drop_table("submissions")
    op.drop_table("dataset_attributes")
