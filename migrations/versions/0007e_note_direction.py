"""vocabulary: internal notes have a direction of their own ("note"), beside inbound, outbound, activity

Revision ID: 0007e
Revises: 0007d
Create Date: 2026-12-01 13:40:00.000000
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007e'
down_revision = '0007d'
branch_labels = None
depends_on = None


def _in(column, *words):
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint('ck_messages_direction', type_='check')
        batch_op.create_check_constraint(
            'ck_messages_direction', _in('direction', 'inbound', 'outbound', 'activity', 'note')
        )


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint('ck_messages_direction', type_='check')
        batch_op.create_check_constraint('ck_messages_direction', _in('direction', 'inbound', 'outbound', 'activity'))
