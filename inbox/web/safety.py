"""The crisis safety net's API (docs/API.md): the practice's open alerts, and acknowledging them."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from inbox.common import audit
from inbox.common.access import journey_or_404
from inbox.common.inputs import bad_request, clean, json_object
from inbox.extensions import db
from inbox.presenters import safety_alert_json
from inbox.texting import safety

bp = Blueprint("safety", __name__, url_prefix="/api")


@bp.before_request
@login_required
def require_login() -> None:
    """Every call needs a live staff session."""


@bp.get("/safety-alerts")
def list_alerts() -> ResponseReturnValue:
    """Every unacknowledged alert of the practice, oldest first: the top bar's count and the popups."""
    practice = current_user.practice
    alerts = [safety_alert_json(practice, a) for a in safety.open_alerts(practice.id)]
    audit.record("safety.list", count=len(alerts))  # the popups show names and snippets
    db.session.commit()
    return jsonify(alerts=alerts, count=len(alerts))


@bp.post("/journeys/<int:journey_id>/safety-ack")
def acknowledge(journey_id: int) -> ResponseReturnValue:
    """Acknowledge the journey's open alerts, with an optional note kept in the thread."""
    journey = journey_or_404(journey_id)
    note = json_object().get("note")
    if note is not None and not isinstance(note, str):
        return bad_request("note must be text")
    note = " ".join(clean(note or "").split()) or None
    if note and len(note) > safety.MAX_NOTE:
        return bad_request(f"a note can be at most {safety.MAX_NOTE} characters")
    try:
        message_ids = safety.acknowledge(journey, current_user, note)
    except safety.NothingToAcknowledge as exc:
        db.session.rollback()
        return jsonify(error=str(exc)), 409
    db.session.commit()
    return jsonify(journey_id=journey.id, message_ids=message_ids)
