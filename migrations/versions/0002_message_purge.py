"""retention: purged tombstone and Twilio deletion receipt on messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('twilio_deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_retention', ['practice_id', 'purged_at', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_retention')
        batch_op.drop_column('twilio_deleted_at')
        batch_op.drop_column('purged_at')
