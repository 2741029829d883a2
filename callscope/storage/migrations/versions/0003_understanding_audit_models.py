"""analysis details, repeat contacts, audit log, tenant retention, model versions, categories

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("customer_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("analysis", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("categories", sa.JSON(), nullable=True))
        batch.create_index("ix_interactions_customer_hash", ["customer_hash"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(length=100), nullable=False, index=True),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "tenant_settings",
        sa.Column("tenant", sa.String(length=100), primary_key=True),
        sa.Column("audio_retention_days", sa.Integer(), nullable=True),
        sa.Column("contact_retention_days", sa.Integer(), nullable=True),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(length=100), nullable=False, index=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(length=100), nullable=False, index=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("categories", "model_versions", "tenant_settings", "audit_events"):
        op.drop_table(table)
    with op.batch_alter_table("interactions") as batch:
        batch.drop_index("ix_interactions_customer_hash")
        for column in ("categories", "analysis", "customer_hash"):
            batch.drop_column(column)
