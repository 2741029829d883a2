"""report rows carry each contact's QA answers as one short pattern (a letter per question of its form), so the QA
report reads the narrow report table once instead of every answer row; reviewed answers get a partial index

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("report_contacts", sa.Column("qa_form", sa.String(80), nullable=True))
    op.add_column("report_contacts", sa.Column("qa_pattern", sa.String(100), nullable=True))
    op.create_index(
        "ix_qa_answers_reviewed",
        "qa_answers",
        ["tenant"],
        postgresql_where=sa.text("override_by IS NOT NULL"),
        sqlite_where=sa.text("override_by IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_qa_answers_reviewed", "qa_answers")
    op.drop_column("report_contacts", "qa_pattern")
    op.drop_column("report_contacts", "qa_form")
