"""report rollups: figures pre-summed per tenant, day and dimensions, monthly handling-time histograms, and the
marks that triggers on the report rows leave for the days (and months) to rebuild; every existing day starts marked

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DIMENSIONS = ("channel", "intent", "queue", "agent", "categories", "qa_form", "qa_pattern")
MEASURES = (
    "contacts", "handled", "actual_sum", "transfers", "repeats",
    "pva_n", "pva_predicted", "pva_actual", "pva_abs_error", "pva_error", "pva_within",
    "sentiment_n", "sentiment_sum", "start_n", "start_sum", "end_n", "end_sum", "negative",
    "talk_n", "silence_sum", "longest_n", "longest_sum", "overtalk_n", "overtalk_sum", "high_silence", "high_overtalk",
    "qa_n", "qa_sum",
    "known", "repeated", "repeat_contacts", "repeat_seconds", "repeats_voice", "repeats_sms", "repeats_chat",
)  # fmt: skip
FLOATS = ("_sum", "_predicted", "_actual", "_error", "_seconds")
# the marks a change of a report row leaves: its own day, and the day of the contact it repeats
MARK_PG = (
    "INSERT INTO report_marks (tenant, day, scope) VALUES ({r}.tenant, {r}.day, 'd'); "
    "IF {r}.repeat_of IS NOT NULL THEN INSERT INTO report_marks (tenant, day, scope) "
    "SELECT tenant, day, 'd' FROM report_contacts WHERE interaction_id = {r}.repeat_of; END IF; "
)
MARK_SQLITE = (
    "INSERT INTO report_marks (tenant, day, scope) VALUES ({r}.tenant, {r}.day, 'd'); "
    "INSERT INTO report_marks (tenant, day, scope) "
    "SELECT tenant, day, 'd' FROM report_contacts WHERE interaction_id = {r}.repeat_of; "
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "report_rollup",
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        *[sa.Column(d, sa.Text() if d == "categories" else sa.String(100), nullable=True) for d in DIMENSIONS],
        *[sa.Column(m, sa.Float() if m.endswith(FLOATS) else sa.Integer(), nullable=False) for m in MEASURES],
    )
    op.create_index("ix_report_rollup_tenant_level_day", "report_rollup", ["tenant", "level", "day"])
    op.create_table(
        "report_rollup_hist",
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        *[sa.Column(d, sa.String(100), nullable=True) for d in ("channel", "intent", "queue", "agent")],
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("ix_report_rollup_hist_tenant_level_month", "report_rollup_hist", ["tenant", "level", "month"])
    op.create_table(
        "report_marks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(1), nullable=False),
    )
    op.create_index("ix_report_marks_tenant_scope", "report_marks", ["tenant", "scope"])
    # the conversation report's worst contacts: read in score order, not sorted from every row
    op.execute(
        "CREATE INDEX ix_report_contacts_talk_score ON report_contacts "
        "(tenant, (coalesce(silence_ratio, 0) + coalesce(overtalk_ratio, 0)) DESC)"
    )
    # the repeats of each contact (first-contact resolution, repeat drivers), read from the index alone
    op.execute(
        "CREATE INDEX ix_report_contacts_repeats ON report_contacts (tenant, repeat_of, actual_s, channel) "
        "WHERE repeat_of IS NOT NULL"
    )
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION report_contacts_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP <> 'INSERT' THEN " + MARK_PG.format(r="OLD") + "END IF; "
            "IF TG_OP <> 'DELETE' THEN " + MARK_PG.format(r="NEW") + "RETURN NEW; END IF; "
            "RETURN OLD; END $$"
        )
        op.execute(
            "CREATE TRIGGER report_contacts_mark AFTER INSERT OR UPDATE OR DELETE ON report_contacts "
            "FOR EACH ROW EXECUTE FUNCTION report_contacts_mark()"
        )
    else:
        for event, rows in (("insert", ["new"]), ("update", ["old", "new"]), ("delete", ["old"])):
            body = "".join(MARK_SQLITE.format(r=r) for r in rows)
            op.execute(f"CREATE TRIGGER report_contacts_mark_{event} AFTER {event.upper()} ON report_contacts "
                       f"BEGIN {body}END")  # fmt: skip
    op.execute("INSERT INTO report_marks (tenant, day, scope) SELECT DISTINCT tenant, day, 'd' FROM report_contacts")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER report_contacts_mark ON report_contacts")
        op.execute("DROP FUNCTION report_contacts_mark()")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER report_contacts_mark_{event}")
    op.execute("DROP INDEX ix_report_contacts_talk_score")
    op.execute("DROP INDEX ix_report_contacts_repeats")
    op.drop_table("report_marks")
    op.drop_table("report_rollup_hist")
    op.drop_table("report_rollup")
