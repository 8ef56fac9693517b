"""safety: why an alert fired (level, cue, about, source), its tracked reply, the escalation chain, the
on-call rota and staff's own phones (sealed)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:10:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_minutes", sa.Integer(), server_default="5", nullable=False))
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("cue", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("about", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=8), server_default="sms", nullable=False))
        batch_op.add_column(sa.Column("reply_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalation_step", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_safety_alerts_reply_id_messages"), "messages", ["reply_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_safety_alerts_escalate_at"), ["escalate_at"], unique=False)
    op.create_table(
        "safety_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("twilio_sid", sa.String(length=40), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["safety_alerts.id"], name=op.f("fk_safety_escalations_alert_id_safety_alerts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_safety_escalations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_escalations")),
        sa.UniqueConstraint("alert_id", "step", "user_id", name="uq_safety_escalations_step_user"),
    )
    with op.batch_alter_table("safety_escalations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_escalations_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_escalations_twilio_sid"), ["twilio_sid"], unique=False)
    op.create_table(
        "on_call_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("shift", sa.String(length=12), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_on_call_slots_practice_id_practices")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_on_call_slots_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_slots")),
        sa.UniqueConstraint("practice_id", "shift", "rank", name="uq_on_call_slots_shift_rank"),
    )
    op.create_table(
        "staff_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("phone_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_phones_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_phones")),
        sa.UniqueConstraint("uid", name=op.f("uq_staff_phones_uid")),
        sa.UniqueConstraint("user_id", name=op.f("uq_staff_phones_user_id")),
    )


def downgrade():
    op.drop_table("staff_phones")
    op.drop_table("on_call_slots")
    with op.batch_alter_table("safety_escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_escalations_twilio_sid"))
        batch_op.drop_index(batch_op.f("ix_safety_escalations_alert_id"))
    op.drop_table("safety_escalations")
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_alerts_escalate_at"))
        batch_op.drop_constraint(batch_op.f("fk_safety_alerts_reply_id_messages"), type_="foreignkey")
        for column in ("escalate_at", "escalation_step", "reply_id", "source", "about", "cue", "level"):
            batch_op.drop_column(column)
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.drop_column("escalation_minutes")
