"""hotpath: an inbound text's follow-up work (a new inquiry's welcome) is a column the worker clears

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-01 13:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_messages_follow_up", ["follow_up"], unique=False)


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_follow_up")
        batch_op.drop_column("follow_up")
