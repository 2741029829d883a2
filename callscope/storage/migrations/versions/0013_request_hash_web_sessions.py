"""an idempotency key remembers the request it answered (a different body under the same key is a 409), and the
report pages' sessions are server-side random ids that logout and key revocation end

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("interactions", sa.Column("request_hash", sa.String(64), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_sessions_key_id", "web_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_key_id", "web_sessions")
    op.drop_table("web_sessions")
    op.drop_column("interactions", "request_hash")
