"""The team's workspace API (docs/API.md): naming a contact, internal notes with @mentions, and each
person's Mentions list. Thin: the workflows are texting/contacts.py and texting/notes.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from inbox.common import audit
from inbox.common.access import contact_or_404, journey_or_404
from inbox.common.inputs import bad_request, json_object, parse_id
from inbox.extensions import db
from inbox.presenters import mention_json, message_json
from inbox.texting import contacts, notes

bp = Blueprint("workspace", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every call needs a live staff session."""


@bp.patch("/api/contacts/<int:contact_id>")
def update_contact(contact_id: int) -> ResponseReturnValue:
    """Name or correct a contact (first/last name, email, guardian, preferred language)."""
    contact = contact_or_404(contact_id)
    try:
        changed = contacts.update_contact(contact, json_object(), current_user)
    except contacts.ContactChangeError as exc:
        db.session.rollback()
        return bad_request(str(exc))
    db.session.commit()
    return jsonify(contact=contacts.contact_fields(contact), changed=changed)


@bp.post("/api/journeys/<int:journey_id>/notes")
def add_note(journey_id: int) -> ResponseReturnValue:
    """An internal note in the thread, with @mentions: staff only, never sent to the contact."""
    journey = journey_or_404(journey_id)
    data = json_object()
    try:
        body = notes.note_body(data.get("body"))
        mentioned = notes.mentioned_staff(journey, data.get("mentions"))
    except notes.NoteError as exc:
        return bad_request(str(exc))
    except notes.UnknownMention as exc:
        return jsonify(error=str(exc)), 422
    note = notes.add_note(journey, current_user, body, mentioned)
    payload = message_json(note)
    db.session.commit()
    return jsonify(message=payload), 201


def _mentions_payload() -> dict[str, Any]:
    """The user's mentions, newest first, and how many are unread."""
    found = notes.mentions_of(current_user)
    audit.record("mentions.list", count=len(found))  # the list shows contact names and note snippets
    return {"mentions": [mention_json(m) for m in found], "unread": notes.unread_mentions(current_user)}


@bp.get("/api/mentions")
def list_mentions() -> ResponseReturnValue:
    """The notes that mention the user, newest first, with the unread count."""
    payload = _mentions_payload()
    db.session.commit()
    return jsonify(payload)


@bp.post("/api/mentions/read")
def read_mentions() -> ResponseReturnValue:
    """Mark the user's mentions read: those of one journey (`journey_id`), or all of them."""
    data = json_object()
    journey_id = None
    if data.get("journey_id") is not None:
        journey_id = parse_id(data["journey_id"]) if isinstance(data["journey_id"], int) else None
        if journey_id is None:
            return bad_request("journey_id must be the id of a journey")
        journey_or_404(journey_id)
    marked = notes.read_mentions(current_user, journey_id)
    db.session.commit()
    return jsonify(marked=marked, unread=notes.unread_mentions(current_user))


@bp.get("/mentions")
def mentions_page() -> ResponseReturnValue:
    """The Mentions list: every note that named the user, unread ones first to the eye."""
    payload = _mentions_payload()
    db.session.commit()
    return render_template("mentions.html", **payload)


def init_app(app: Flask) -> None:
    """Register the workspace API and give every logged-in page its unread mentions for the top bar."""
    app.register_blueprint(bp)

    @app.context_processor
    def mention_count() -> dict[str, Any]:
        """How many mentions the user has not opened (the nav link's count)."""
        if not current_user.is_authenticated or current_user.must_change_password:
            return {}
        return {"mentions_unread": notes.unread_mentions(current_user)}
