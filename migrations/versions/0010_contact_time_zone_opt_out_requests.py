"""consent: a contact's own time zone for quiet hours, and opt-out requests for staff to confirm

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.create_table('opt_out_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=12), nullable=True),
    sa.Column('reason_ct', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint("decision IS NULL OR decision IN ('confirmed', 'dismissed', 'superseded')", name=op.f('ck_opt_out_requests_decision')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_opt_out_requests_contact_id_contacts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_opt_out_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_opt_out_requests_message_id_messages')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_opt_out_requests_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opt_out_requests')),
    sa.UniqueConstraint('message_id', name=op.f('uq_opt_out_requests_message_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_opt_out_requests_uid'))
    )
    with op.batch_alter_table('opt_out_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opt_out_requests_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_opt_out_requests_open', ['practice_id', 'decided_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('opt_out_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_opt_out_requests_open')
        batch_op.drop_index(batch_op.f('ix_opt_out_requests_contact_id'))
    op.drop_table('opt_out_requests')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
