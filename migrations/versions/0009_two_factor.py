"""two-factor: TOTP enrolments (sealed secret), one-time recovery codes, the login step still owed,
and the practice switch that makes everyone enrol

Revision ID: 0009
Revises: 0007e
Create Date: 2026-12-01 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0007e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('two_factors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_ct', sa.LargeBinary(), nullable=False),
    sa.Column('last_step', sa.Integer(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_two_factors_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_two_factors')),
    sa.UniqueConstraint('uid', name=op.f('uq_two_factors_uid')),
    sa.UniqueConstraint('user_id', name=op.f('uq_two_factors_user_id'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('two_factor_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['two_factor_id'], ['two_factors.id'], name=op.f('fk_recovery_codes_two_factor_id_two_factors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_two_factor_id'), ['two_factor_id'], unique=False)
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_two_factor', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_step', sa.String(length=12), nullable=True))
        batch_op.create_check_constraint('ck_staff_sessions_pending_step', "pending_step IN ('code', 'enrol')")


def downgrade():
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.drop_constraint('ck_staff_sessions_pending_step', type_='check')
        batch_op.drop_column('pending_step')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('require_two_factor')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_two_factor_id'))
    op.drop_table('recovery_codes')
    op.drop_table('two_factors')
