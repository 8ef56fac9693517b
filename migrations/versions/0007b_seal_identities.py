"""identities sealed, step 2 of 3: seal every existing identifier, in committed batches

Revision ID: 0007b
Revises: 0007a
Create Date: 2026-12-01 13:00:00.000000

Each batch commits on its own, so an interrupted run keeps what it sealed and the next `flask db upgrade`
goes on from the first row still unsealed (rows whose uid is NULL). Progress goes to the migration log.
The data keys and the index key are the running app's (INBOX_DATA_KEYS, INBOX_INDEX_KEY).
"""
import logging
import os
import secrets

from alembic import op
import sqlalchemy as sa

from inbox.crypto import keyring, phone_digest


# revision identifiers, used by Alembic.
revision = '0007b'
down_revision = '0007a'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')
BATCH = int(os.environ.get('INBOX_SEAL_BATCH', '2000'))
# The associated data of each sealed value is "<purpose>:<uid>", as inbox.models declares them.
SEALED = {
    'contacts': {column: f'contact.{column}' for column in
                 ('phone', 'first_name', 'last_name', 'email', 'guardian_name', 'guardian_phone')},
    'journeys': {'stage': 'journey.stage'},
    'consent_events': {'evidence': 'consent.evidence'},
}
EMPTY_IS_NULL = {'first_name', 'last_name', 'stage'}  # read back as "" (EncryptedField(empty=""))


def seal_table(bind, table, purposes):
    ring = keyring()
    columns = ', '.join(['id', 'practice_id', *purposes])
    total = bind.execute(sa.text(f'SELECT count(*) FROM {table}')).scalar()
    done = bind.execute(sa.text(f'SELECT count(*) FROM {table} WHERE uid IS NOT NULL')).scalar()
    assignments = ', '.join(['uid = :uid', *(f'{c}_ct = :{c}_ct' for c in purposes)])
    if table == 'contacts':
        assignments += ', phone_index = :phone_index'
    update = sa.text(f'UPDATE {table} SET {assignments} WHERE id = :id AND uid IS NULL')
    if done:
        log.info('sealing %s: %d/%d were sealed by an earlier run; going on', table, done, total)
    while True:
        # A fresh transaction per batch: what it seals is committed before the next one starts.
        with bind.engine.begin() as conn:
            rows = conn.execute(
                sa.text(f'SELECT {columns} FROM {table} WHERE uid IS NULL ORDER BY id LIMIT :n'), {'n': BATCH}
            ).mappings().all()
            if not rows:
                break
            params = []
            for row in rows:
                uid = secrets.token_hex(16)
                values = {'id': row['id'], 'uid': uid}
                for column, purpose in purposes.items():
                    plain = row[column]
                    empty = plain is None or (column in EMPTY_IS_NULL and plain == '')
                    values[f'{column}_ct'] = None if empty else ring.seal(plain.encode(), f'{purpose}:{uid}')
                if table == 'contacts':
                    values['phone_index'] = phone_digest(row['practice_id'], row['phone'])
                params.append(values)
            conn.execute(update, params)
        done += len(rows)
        log.info('sealing %s: %d/%d', table, done, total)


def upgrade():
    bind = op.get_bind()
    with op.get_context().autocommit_block():
        for table, purposes in SEALED.items():
            seal_table(bind, table, purposes)


def downgrade():
    pass  # step 1's downgrade drops the sealed columns; the plaintext is still there until step 3
