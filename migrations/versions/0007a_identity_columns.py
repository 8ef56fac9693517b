"""identities sealed, step 1 of 3: the sealed columns, the uids they are bound to, the number's digest

Revision ID: 0007a
Revises: 0006
Create Date: 2026-12-01 13:00:00.000000

Nullable for now: step 2 fills them in batches (resumable), step 3 drops the plaintext and tightens.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007a'
down_revision = '0006'
branch_labels = None
depends_on = None

SEALED = {
    'contacts': ('phone', 'first_name', 'last_name', 'email', 'guardian_name', 'guardian_phone'),
    'journeys': ('stage',),
    'consent_events': ('evidence',),
}


def upgrade():
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('uid', sa.String(length=32), nullable=True))
            for column in columns:
                batch_op.add_column(sa.Column(f'{column}_ct', sa.LargeBinary(), nullable=True))
            if table == 'contacts':
                batch_op.add_column(sa.Column('phone_index', sa.LargeBinary(length=32), nullable=True))


def downgrade():
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'contacts':
                batch_op.drop_column('phone_index')
            for column in columns:
                batch_op.drop_column(f'{column}_ct')
            batch_op.drop_column('uid')
