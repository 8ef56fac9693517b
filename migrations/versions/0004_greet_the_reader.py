"""templates: the pre-loaded ones greet the reader, the guardian when the number texted is theirs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000

Only bodies still exactly as pre-loaded change; a practice's own wording is left alone.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD, NEW = "Hi {{ contact.first_name }}", "Hi {{ recipient.first_name }}"
PRELOADED = [
    "Hi {{ contact.first_name }}, this is {{ staff.first_name }} from {{ practice.name }}. When is a good time for a short intake call?",
    "Hi {{ contact.first_name }}, could you reply with a photo of the front and back of your insurance card? Thank you! {{ practice.name }}",
    "Hi {{ contact.first_name }}, Welcome to {{ practice.name }}! To communicate with our intake coordinators about scheduling an appointment, feel free to text this number, send an email to {{ practice.email }}, or call {{ practice.phone }}. Text STOP to unsubscribe from these messages at any time.",
    "Hi {{ contact.first_name }}, this confirms your appointment with {{ practice.name }} on {{ journey.appointment_time }}. Reply here if you need to reschedule.",
    "Hi {{ contact.first_name }}, a reminder from {{ practice.name }}: please complete your intake paperwork before your first appointment. Questions? Call {{ practice.phone }}.",
    "Hi {{ contact.first_name }}, {{ practice.name }} checking in. Is there anything we can help you with? Reply here or call {{ practice.phone }}.",
]
templates = sa.table("templates", sa.column("body", sa.Text))


def upgrade():
    for body in PRELOADED:
        op.execute(templates.update().where(templates.c.body == body).values(body=body.replace(OLD, NEW, 1)))


def downgrade():
    for body in PRELOADED:
        new = body.replace(OLD, NEW, 1)
        op.execute(templates.update().where(templates.c.body == new).values(body=body))
