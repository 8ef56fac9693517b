"""Automations: auto templates fired by their triggers, always through the consent decision.

- welcome: every new journey or inquiry (journeys.open_journey calls send_welcome)
- appointment: an appointment time set on a journey (appointment_set)
- paperwork: a day before paperwork is due (tick)
- followup: FOLLOWUP_AFTER with no word from the contact since our last text (tick)
Quiet hours and opt-in are the decision's business: a text created at 22:00 waits until 08:00.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Exists, bindparam, exists, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from inbox.extensions import db
from inbox.models import Journey, Message, Template, utcnow
from inbox.texting.outbox import Blocked, compose
from inbox.texting.templating import TemplateError, placeholder_values, render
from inbox.vocabulary import Direction, Kind

log = logging.getLogger(__name__)
PAPERWORK_NOTICE = timedelta(days=1)
FOLLOWUP_AFTER = timedelta(days=7)


_AUTO_TEMPLATE = select(Template).where(  # built once: every new inquiry's welcome asks it
    Template.practice_id == bindparam("practice_id"),
    Template.mode == "auto",
    Template.trigger == bindparam("trigger"),
    Template.enabled.is_(True),
)


def auto_template(practice_id: int, trigger: str) -> Template | None:
    """The practice's enabled auto template for a trigger."""
    return db.session.scalar(_AUTO_TEMPLATE, {"practice_id": practice_id, "trigger": trigger})


def fire(
    journey: Journey, trigger: str, now: datetime | None = None, *, by_contact: bool = False
) -> Message | None:
    """Compose the trigger's template for this journey; None if there is none or consent blocks it.

    `by_contact`: the person's own text or form fired it (see outbox.compose)."""
    template = auto_template(journey.practice_id, trigger)
    if template is None:
        return None
    practice = journey.contact.practice
    try:
        body = render(template.body, placeholder_values(practice, journey.contact, None, journey))
        return compose(
            journey, body, kind=Kind.AUTOMATED, template_id=template.id, now=now, by_contact=by_contact
        )
    except Blocked:
        return None  # an opted-out contact gets no automation
    except TemplateError:
        log.warning("auto template id=%s has an unknown placeholder; nothing sent", template.id)
        return None


def send_welcome(journey: Journey, *, by_contact: bool = False) -> Message | None:
    """The welcome text to a new journey or inquiry, when the practice has it on; `by_contact` when the
    person's own text or web form opened the journey."""
    if not journey.contact.practice.welcome_enabled:
        return None
    return fire(journey, "welcome", by_contact=by_contact)


def appointment_set(journey: Journey) -> Message | None:
    """Confirm a newly set appointment time."""
    if journey.appointment_at is None:
        return None
    return fire(journey, "appointment")


def _sent_since(trigger: str, after: datetime | ColumnElement[int]) -> Exists:
    """A clause: this journey got the trigger's automated text after `after` (a time or a message id;
    the id is an SQL expression)."""
    sent = aliased(Message)
    newer = sent.id > after if not isinstance(after, datetime) else sent.created_at >= after
    return (
        exists()
        .where(
            sent.journey_id == Journey.id,
            sent.kind == Kind.AUTOMATED,
            sent.template_id.in_(select(Template.id).where(Template.trigger == trigger)),
            newer,
        )
        .correlate(Journey)
    )


def tick(now: datetime | None = None) -> int:
    """Fire the time-based automations that are due; returns how many texts were composed."""
    now = now or utcnow()
    paperwork_due = db.session.scalars(
        select(Journey).where(
            Journey.is_open.is_(True),
            Journey.paperwork_due_at > now,
            Journey.paperwork_due_at <= now + PAPERWORK_NOTICE,
            ~_sent_since("paperwork", now - PAPERWORK_NOTICE * 2),
        )
    ).all()
    inbound = aliased(Message)
    last_inbound = (
        select(func.coalesce(func.max(inbound.id), 0))
        .where(inbound.journey_id == Journey.id, inbound.direction == Direction.INBOUND)
        .correlate(Journey)
        .scalar_subquery()
    )
    quiet = db.session.scalars(
        select(Journey).where(
            Journey.is_open.is_(True),
            Journey.last_activity_at <= now - FOLLOWUP_AFTER,
            ~_sent_since("followup", last_inbound),
        )
    ).all()
    fired = sum(fire(j, "paperwork", now) is not None for j in paperwork_due)
    fired += sum(fire(j, "followup", now) is not None for j in quiet)
    db.session.commit()
    return fired
