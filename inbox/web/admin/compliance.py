"""Compliance for admins: the audit trail on screen and as CSV, and a contact's proof of consent.

Both are themselves audited, and both only ever read the admin's own practice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import joinedload

from inbox.common import audit
from inbox.common.access import contact_or_404
from inbox.common.inputs import query_int
from inbox.extensions import db
from inbox.models import AuditEvent, ConsentEvent, User
from inbox.web.auth import admin_required

bp = Blueprint("compliance", __name__, url_prefix="/admin")
MAX_ROWS = 100_000
PAGE = 100  # audit events per screen


# What a spreadsheet may read as the start of a formula (or a DDE command) when a CSV is opened: OWASP's
# CSV-injection list (= + - @, tab, carriage return: Excel skips the last two and reads what follows),
# a line feed for the same reason, and the full-width = + - @, which some East Asian Excel setups read
# as their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text and never runs: text that could start a formula gets a
    leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_download(filename: str, header: list[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download that is never cached; every export goes through it, so no cell can run."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _when(name: str) -> datetime | None:
    """An ISO date or datetime from the query string (400 when malformed); without an offset it is the
    practice's local time, as the admin who typed it means it (a date is its local midnight)."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        abort(400)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_user.practice.timezone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00, or 9999-12-31 west of Greenwich
        abort(400)


def _audit_query(args: Mapping[str, str]) -> Select[AuditEvent]:
    """The practice's audit events matching the viewer's filters (staff, journey, action, dates)."""
    query = select(AuditEvent).where(AuditEvent.practice_id == current_user.practice_id)
    if user_id := query_int("user_id"):
        query = query.where(AuditEvent.user_id == user_id)
    if journey_id := query_int("journey_id"):
        # The journey itself, or anything done inside it (photos, messages, consent from its page).
        query = query.where(
            or_(
                and_(AuditEvent.target_type == "journeys", AuditEvent.target_id == journey_id),
                AuditEvent.detail["journey_id"].as_integer() == journey_id,
            )
        )
    if action := args.get("action", "").strip():
        # "message" finds message.redact, message.send...; "message.redact" finds just that.
        query = query.where(or_(AuditEvent.action == action, AuditEvent.action.startswith(action + ".")))
    if since := _when("from"):
        query = query.where(AuditEvent.created_at >= since)
    if until := _when("to"):
        query = query.where(AuditEvent.created_at < until)
    return query


@bp.get("/audit")
@admin_required
def audit_log() -> ResponseReturnValue:
    """The audit trail on screen, newest first, a page at a time, with the same filters as the export."""
    query = _audit_query(request.args)
    if before := query_int("before"):
        query = query.where(AuditEvent.id < before)
    events = db.session.scalars(
        query.options(joinedload(AuditEvent.user)).order_by(AuditEvent.id.desc()).limit(PAGE + 1)
    ).all()
    filters = {k: v for k, v in request.args.items() if k != "before" and v}
    audit.record("audit.view", filters=filters)
    db.session.commit()
    staff = db.session.scalars(
        select(User).where(User.practice_id == current_user.practice_id).order_by(User.first_name, User.email)
    ).all()
    return render_template(
        "admin/audit.html",
        events=events[:PAGE],
        more=events[PAGE - 1].id if len(events) > PAGE else None,
        staff=staff,
        filters=filters,
        tz=ZoneInfo(current_user.practice.timezone),
    )


@bp.get("/audit.csv")
@admin_required
def audit_csv() -> ResponseReturnValue:
    """The practice's audit trail, filtered by staff member, journey, action and date."""
    events = db.session.scalars(
        _audit_query(request.args)
        .options(joinedload(AuditEvent.user))
        .order_by(AuditEvent.id)
        .limit(MAX_ROWS)
    ).all()
    audit.record("audit.export", rows=len(events), filters=dict(request.args))
    db.session.commit()
    return csv_download(
        "audit.csv",
        ["id", "time", "user_id", "user", "action", "target_type", "target_id", "ip", "detail"],
        (
            [
                e.id,
                e.created_at.isoformat(),
                e.user_id,
                e.user.email if e.user else "",
                e.action,
                e.target_type or "",
                e.target_id or "",
                e.ip or "",
                e.detail or {},
            ]
            for e in events
        ),
    )


@bp.get("/contacts/<int:contact_id>/consent.csv")
@admin_required
def consent_csv(contact_id: int) -> ResponseReturnValue:
    """Proof of consent: the contact's whole ledger with sources, exact sentences, actors and SIDs."""
    contact = contact_or_404(contact_id)
    events = db.session.scalars(
        select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id)
    ).all()
    audit.record("consent.export", contact, rows=len(events))
    db.session.commit()
    return csv_download(
        f"consent-contact-{contact.id}.csv",
        # Each row names the person and number, so a printed or forwarded row still proves whose consent.
        ["id", "time", "contact", "phone", "channel", "state", "source", "evidence", "actor", "message_sid"],
        (
            [
                e.id,
                e.created_at.isoformat(),
                contact.full_name,
                contact.phone,
                e.channel,
                e.state,
                e.source,
                e.evidence or "",
                e.actor.email if e.actor else "",
                e.message_sid or "",
            ]
            for e in events
        ),
    )
