"""safety: crisis-language alerts, office hours, holidays and the practice's safety reply

The pre-loaded welcome, where a practice left it exactly as pre-loaded, now says when texts are read.

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-01 12:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None


WELCOME = (
    "Hi {{ recipient.first_name }}, Welcome to {{ practice.name }}! To communicate with our intake "
    "coordinators about scheduling an appointment, feel free to text this number, send an email to "
    "{{ practice.email }}, or call {{ practice.phone }}. Text STOP to unsubscribe from these messages at any time."
)
NOT_MONITORED = "Texts are not monitored 24/7; in an emergency call 911 or 988. "
WELCOME_NOW = WELCOME.replace("Text STOP", NOT_MONITORED + "Text STOP")
templates = sa.table("templates", sa.column("body", sa.Text))


def upgrade():
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("office_days", sa.String(length=7), server_default="12345", nullable=False)
        )
        batch_op.add_column(sa.Column("office_start", sa.Integer(), server_default="480", nullable=False))
        batch_op.add_column(sa.Column("office_end", sa.Integer(), server_default="1080", nullable=False))
        batch_op.add_column(sa.Column("holidays", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("safety_reply_text", sa.Text(), nullable=True))
    op.create_table(
        "safety_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("ack_line_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ack_line_id"], ["messages.id"], name=op.f("fk_safety_alerts_ack_line_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["users.id"], name=op.f("fk_safety_alerts_acknowledged_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_safety_alerts_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_safety_alerts_journey_id_journeys")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_safety_alerts_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_safety_alerts_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_alerts")),
        sa.UniqueConstraint("message_id", name=op.f("uq_safety_alerts_message_id")),
    )
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_safety_alerts_open", ["practice_id", "acknowledged_at"], unique=False)
        batch_op.create_index("ix_safety_alerts_replies", ["contact_id", "replied_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_alerts_journey_id"), ["journey_id"], unique=False)
    op.execute(templates.update().where(templates.c.body == WELCOME).values(body=WELCOME_NOW))


def downgrade():
    op.execute(templates.update().where(templates.c.body == WELCOME_NOW).values(body=WELCOME))
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_alerts_journey_id"))
        batch_op.drop_index("ix_safety_alerts_replies")
        batch_op.drop_index("ix_safety_alerts_open")
    op.drop_table("safety_alerts")
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.drop_column("safety_reply_text")
        batch_op.drop_column("holidays")
        batch_op.drop_column("office_end")
        batch_op.drop_column("office_start")
        batch_op.drop_column("office_days")
