"""report figures per contact (with its categories); full-text search (PostgreSQL tsvector, SQLite FTS5)

Revision ID: 0004
Revises: 0003

These objects are written by `callscope.search.index_contact` and are not SQLAlchemy models
(see `callscope.search.include_object`, which keeps them out of the drift comparison). A trigger on `outcomes`
copies each reported outcome into its contact's report row, so reports never join the two tables.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "report_contacts",
        sa.Column(
            "interaction_id",
            sa.String(length=36),
            sa.ForeignKey("interactions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("routed_queue", sa.String(length=100), nullable=True),
        sa.Column("predicted_p50_s", sa.Float(), nullable=True),
        sa.Column("predicted_p90_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("sentiment_start", sa.Float(), nullable=True),
        sa.Column("sentiment_end", sa.Float(), nullable=True),
        sa.Column("silence_s", sa.Float(), nullable=True),
        sa.Column("silence_ratio", sa.Float(), nullable=True),
        sa.Column("longest_silence_s", sa.Float(), nullable=True),
        sa.Column("overtalk_s", sa.Float(), nullable=True),
        sa.Column("overtalk_ratio", sa.Float(), nullable=True),
        sa.Column("repeat", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("actual_s", sa.Float(), nullable=True),
        sa.Column("resolution", sa.String(length=100), nullable=True),
        sa.Column("outcome_queue", sa.String(length=100), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),  # "|name|name|": one scan filters and counts them
    )
    for name, columns in {
        "ix_report_contacts_tenant_day": ["tenant", "day"],
        "ix_report_contacts_tenant_created": ["tenant", "created_at"],
        "ix_report_contacts_tenant_intent": ["tenant", "intent"],
        "ix_report_contacts_tenant_queue": ["tenant", "queue"],
        "ix_report_contacts_tenant_agent": ["tenant", "agent"],
    }.items():
        op.create_index(name, "report_contacts", columns)
    if dialect == "postgresql":
        # the search vector lives apart so that report scans read a narrow table
        op.create_table(
            "report_search",
            sa.Column(
                "interaction_id",
                sa.String(length=36),
                sa.ForeignKey("report_contacts.interaction_id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("document", postgresql.TSVECTOR(), nullable=False),
        )
        op.execute("CREATE INDEX ix_report_search_document ON report_search USING gin (document)")
        op.execute(
            "CREATE FUNCTION report_contacts_outcome() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN UPDATE report_contacts SET actual_s = NULL, resolution = NULL, "
            "outcome_queue = NULL WHERE interaction_id = OLD.interaction_id; RETURN OLD; END IF; "
            "UPDATE report_contacts SET actual_s = NEW.handle_time_s, resolution = NEW.resolution, "
            "outcome_queue = NEW.queue WHERE interaction_id = NEW.interaction_id; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER report_contacts_outcome AFTER INSERT OR UPDATE OR DELETE ON outcomes "
            "FOR EACH ROW EXECUTE FUNCTION report_contacts_outcome()"
        )
    elif dialect == "sqlite":
        for event, row in (("INSERT", "new"), ("UPDATE", "new")):
            op.execute(
                f"CREATE TRIGGER report_contacts_outcome_{event.lower()} AFTER {event} ON outcomes BEGIN "
                f"UPDATE report_contacts SET actual_s = {row}.handle_time_s, resolution = {row}.resolution, "
                f"outcome_queue = {row}.queue WHERE interaction_id = {row}.interaction_id; END"
            )
        op.execute(
            "CREATE TRIGGER report_contacts_outcome_delete AFTER DELETE ON outcomes BEGIN "
            "UPDATE report_contacts SET actual_s = NULL, resolution = NULL, outcome_queue = NULL "
            "WHERE interaction_id = old.interaction_id; END"
        )
        # rowid = report_contacts.rowid; the trigger keeps deleted contacts out of search.
        op.execute("CREATE VIRTUAL TABLE report_search USING fts5(body, tokenize = 'porter unicode61')")
        op.execute(
            "CREATE TRIGGER report_contacts_unsearch AFTER DELETE ON report_contacts "
            "BEGIN DELETE FROM report_search WHERE rowid = old.rowid; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("unsearch", "outcome_insert", "outcome_update", "outcome_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS report_contacts_{name}")
        op.execute("DROP TABLE IF EXISTS report_search")
    else:
        op.execute("DROP TRIGGER IF EXISTS report_contacts_outcome ON outcomes")
        op.execute("DROP FUNCTION IF EXISTS report_contacts_outcome()")
        op.execute("DROP TABLE IF EXISTS report_search")
    op.drop_table("report_contacts")
