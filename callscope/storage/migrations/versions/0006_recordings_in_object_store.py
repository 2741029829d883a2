"""recordings in an object store: the blob row keeps the object's key and size (old rows keep their bytes) and
the key of the sealed original where the tenant keeps it

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audio_blobs") as batch:
        batch.add_column(sa.Column("object_key", sa.String(400), nullable=True))
        batch.add_column(sa.Column("size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("original_key", sa.String(400), nullable=True))
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table("tenant_settings") as batch:
        batch.add_column(sa.Column("keep_original_audio", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_settings") as batch:
        batch.drop_column("keep_original_audio")
    with op.batch_alter_table("audio_blobs") as batch:
        batch.drop_column("original_key")
        batch.drop_column("size")
        batch.drop_column("object_key")
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
