"""vocabulary: CHECK constraints hold each state and kind column to the product's words

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:10:00.000000

The lists are written out here, not imported from inbox.vocabulary, so this migration keeps meaning
what it meant when it ran; a later change of the vocabulary gets a migration of its own.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _in(column, *words):
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


CHECKS = {
    'contacts': {'consent_state': _in('consent_state', 'unknown', 'pending', 'opted_in', 'opted_out')},
    'journeys': {'pathway': _in('pathway', 'intake', 'waitlist', 'current')},
    'messages': {
        'direction': _in('direction', 'inbound', 'outbound', 'activity'),
        'kind': _in(
            'kind', 'inbound', 'web_request', 'staff', 'automated', 'opt_in_request', 'keyword_reply',
            'activity', 'note',
        ),
        'status': _in(
            'status', 'received', 'logged', 'held_for_consent', 'scheduled', 'queued', 'sending',
            'unconfirmed', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled',
        ),
    },
    'attachments': {
        'status': _in('status', 'pending', 'ready', 'unavailable', 'redacted', 'purged'),
        'label': 'label IS NULL OR ' + _in('label', 'insurance_front', 'insurance_back', 'photo_id', 'other'),
    },
    'consent_events': {'state': _in('state', 'unknown', 'pending', 'opted_in', 'opted_out')},
}


def upgrade():
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, condition in checks.items():
                batch_op.create_check_constraint(f'ck_{table}_{column}', condition)


def downgrade():
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in checks:
                batch_op.drop_constraint(f'ck_{table}_{column}', type_='check')
