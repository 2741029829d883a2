"""report rows know which earlier contact a repeat repeats, and whether the customer is known (first-contact
resolution and repeat drivers read them); `callscope reports reindex` fills them for contacts stored before

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("report_contacts", sa.Column("repeat_of", sa.String(36), nullable=True))
    op.add_column("report_contacts", sa.Column("known_customer", sa.Boolean(), nullable=True))
    op.create_index("ix_report_contacts_repeat_of", "report_contacts", ["repeat_of"])


def downgrade() -> None:
    op.drop_index("ix_report_contacts_repeat_of", "report_contacts")
    op.drop_column("report_contacts", "known_customer")
    op.drop_column("report_contacts", "repeat_of")
