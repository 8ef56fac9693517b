"""workspace: a journey can be snoozed until a time (scheduled follow-ups reuse messages.not_before)

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-01 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('journeys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('journeys', schema=None) as batch_op:
        batch_op.drop_column('snoozed_until')
