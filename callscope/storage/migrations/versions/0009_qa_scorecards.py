"""QA scorecards: tenants' evaluation forms, each contact's answers with supervisors' overrides, the report row's
score, and API keys bound to an agent (an agent sees its own scores where its tenant allows)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_forms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant", sa.String(100), nullable=False, index=True),
        sa.Column("form_id", sa.String(60), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant", "form_id", "version", name="uq_qa_forms_version"),
    )
    op.create_table(
        "qa_answers",
        sa.Column(
            "interaction_id",
            sa.String(36),
            sa.ForeignKey("interactions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("question", sa.String(60), primary_key=True),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("form_id", sa.String(60), nullable=False),
        sa.Column("automatic", sa.String(3), nullable=False),
        sa.Column("answer", sa.String(3), nullable=False),
        sa.Column("override_by", sa.String(16), nullable=True),
        sa.Column("override_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_qa_answers_tenant_question", "qa_answers", ["tenant", "question"])
    op.add_column("report_contacts", sa.Column("qa_score", sa.Float(), nullable=True))
    op.add_column("api_keys", sa.Column("agent", sa.String(100), nullable=True))
    op.add_column("tenant_settings", sa.Column("agents_see_own_qa", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenant_settings", "agents_see_own_qa")
    op.drop_column("api_keys", "agent")
    op.drop_column("report_contacts", "qa_score")
    op.drop_index("ix_qa_answers_tenant_question", "qa_answers")
    op.drop_table("qa_answers")
    op.drop_table("qa_forms")
