"""audit details without values: rewrite the journey.update events that kept a journey's stage (sealed
at rest) and the patient's dates in plain text, to the names of the fields that changed

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# What journey.update still records by value: ids, flags and the pathway's code (inbox/texting/journeys.py).
KEPT = ("assignee_id", "pathway", "is_open")
BATCH = 1000
EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("detail", sa.JSON),
)


def upgrade():
    """Each old journey.update (no `fields` key) becomes {"fields": [...], and the kept values}."""
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(EVENTS.c.id, EVENTS.c.detail)
            .where(EVENTS.c.action == "journey.update", EVENTS.c.id > last)
            .order_by(EVENTS.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for event_id, detail in rows:
            detail = detail or {}
            if "fields" not in detail:
                named = {"fields": list(detail), **{k: detail[k] for k in KEPT if k in detail}}
                conn.execute(EVENTS.update().where(EVENTS.c.id == event_id).values(detail=named))
        last = rows[-1][0]


def downgrade():
    """The values are gone for good: nothing to put back."""
