"""themes found among a tenant's unnamed contacts, one row per run

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "theme_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant", sa.String(100), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("contacts", sa.Integer, nullable=False),
        sa.Column("themes", sa.JSON, nullable=False),
        sa.Column("unassigned", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("theme_runs")
