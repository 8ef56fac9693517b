"""identities sealed, step 3 of 3: drop the plaintext columns; uids, numbers and digests become required

Revision ID: 0007c
Revises: 0007b
Create Date: 2026-12-01 13:00:00.000000

Refuses (and changes nothing) while any row is still unsealed, so no identifier is ever dropped unsealed.
On SQLite the file is then rebuilt, so that no page of it still holds a dropped plaintext value.
There is no way back: the downgrade cannot recreate plaintext (decrypt with the app if ever needed).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007c'
down_revision = '0007b'
branch_labels = None
depends_on = None

SEALED = {
    'contacts': ('phone', 'first_name', 'last_name', 'email', 'guardian_name', 'guardian_phone'),
    'journeys': ('stage',),
    'consent_events': ('evidence',),
}


def upgrade():
    bind = op.get_bind()
    for table in SEALED:
        left = bind.execute(sa.text(f'SELECT count(*) FROM {table} WHERE uid IS NULL')).scalar()
        if left:
            raise RuntimeError(f'{table}: {left} rows are not sealed yet; run `flask db upgrade` again')
    sqlite = bind.dialect.name == 'sqlite'
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contacts_practice_phone', type_='unique')
        for column in SEALED['contacts']:
            batch_op.drop_column(column)
        batch_op.alter_column('uid', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('phone_ct', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column('phone_index', existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_contacts_uid'), ['uid'])
        batch_op.create_unique_constraint('uq_contacts_practice_phone_index', ['practice_id', 'phone_index'])
    for table in ('journeys', 'consent_events'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in SEALED[table]:
                batch_op.drop_column(column)
            batch_op.alter_column('uid', existing_type=sa.String(length=32), nullable=False)
            batch_op.create_unique_constraint(batch_op.f(f'uq_{table}_uid'), ['uid'])
    if sqlite:
        # The dropped columns' bytes linger in free pages and in the write-ahead log until the file is
        # rebuilt: VACUUM writes only live rows, and a truncating checkpoint empties the log.
        with op.get_context().autocommit_block():
            bind.exec_driver_sql('VACUUM')
            bind.exec_driver_sql('PRAGMA wal_checkpoint(TRUNCATE)')


def downgrade():
    raise NotImplementedError('sealed identifiers cannot be turned back into plaintext columns')
