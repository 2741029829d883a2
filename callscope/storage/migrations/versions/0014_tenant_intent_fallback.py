"""a tenant's point on the intent model's trade-off curve: below which confidence a turn is `other`

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_settings") as batch:
        batch.add_column(sa.Column("intent_threshold", sa.Float, nullable=True))
        batch.add_column(sa.Column("spoken_intent_threshold", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_settings") as batch:
        batch.drop_column("spoken_intent_threshold")
        batch.drop_column("intent_threshold")
