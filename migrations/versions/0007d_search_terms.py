"""search: the sealed index, one keyed digest per word, name prefix or number spelling

Revision ID: 0007d
Revises: 0007c
Create Date: 2026-12-01 13:30:00.000000

Empty at first: `flask --app inbox reindex` fills it from the sealed values (new texts index themselves).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007d'
down_revision = '0007c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=16), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(message_id IS NULL) <> (contact_id IS NULL)', name=op.f('ck_search_terms_one_owner')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_search_terms_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_search_terms_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_search_terms_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_terms'))
    )
    with op.batch_alter_table('search_terms', schema=None) as batch_op:
        batch_op.create_index('ix_search_terms_lookup', ['practice_id', 'digest', 'message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_terms_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_terms_contact_id'), ['contact_id'], unique=False)


def downgrade():
    op.drop_table('search_terms')
