"""The "Opt-out requests to confirm" list: texts that read like an opt-out, each to confirm or dismiss
(docs/API.md). Thin: the rules live in texting.revocations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from inbox.common import audit
from inbox.common.inputs import json_object
from inbox.common.transactions import retried
from inbox.extensions import db
from inbox.models import OptOutRequest
from inbox.presenters import opt_out_request_json
from inbox.texting import consent, revocations

bp = Blueprint("optouts", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every page and call here needs a live staff session."""


def _request_or_404(request_id: int) -> OptOutRequest:
    """An opt-out request of the user's practice (another practice's does not exist for them)."""
    found = db.session.get(OptOutRequest, request_id)
    if found is None or found.practice_id != current_user.practice_id:
        abort(404)
    return found


def _waiting_json() -> list[dict[str, Any]]:
    """The practice's undecided requests, oldest first, with business days left on its calendar."""
    zone = current_user.practice.timezone
    return [
        opt_out_request_json(
            r, revocations.business_days_left(r.created_at, zone), revocations.due_on(r.created_at, zone)
        )
        for r in revocations.waiting(current_user.practice_id)
    ]


def _conflict(message: str) -> ResponseReturnValue:
    """A 409 with a reason a person can read."""
    return jsonify(error=message), 409


def _busy() -> ResponseReturnValue:
    """The 409 when the database kept refusing the change for a colleague's at the same moment."""
    return _conflict("Someone changed this contact at the same moment. Try again.")


@bp.get("/opt-out-requests")
def page() -> ResponseReturnValue:
    """The list staff work through (the page fills it from the API, which audits what it shows)."""
    return render_template("opt_out_requests.html")


@bp.get("/api/opt-out-requests")
def list_requests() -> ResponseReturnValue:
    """The undecided requests as JSON (the texts are ePHI: audited)."""
    requests = _waiting_json()
    audit.record("opt_out_requests.list", count=len(requests))
    db.session.commit()
    return jsonify(requests=requests, open=len(requests))


@bp.post("/api/opt-out-requests/<int:request_id>/confirm")
@retried(busy=_busy)
def confirm(request_id: int) -> ResponseReturnValue:
    """Staff confirm the opt-out: recorded with the text as evidence, the one confirmation text queued."""
    found = _request_or_404(request_id)
    try:
        reply = revocations.confirm(found, current_user)
    except revocations.AlreadyDecided as exc:
        db.session.rollback()
        return _conflict(str(exc))
    audit.record(
        "opt_out_request.confirm", found, contact_id=found.contact_id, confirmation=reply is not None
    )
    audit.record("consent.change", found.contact, state="opted_out", via="opt_out_request")
    db.session.commit()
    return jsonify(
        decision=found.decision,
        consent=consent.badge(found.contact),
        confirmation_id=reply.id if reply else None,
    )


@bp.post("/api/opt-out-requests/<int:request_id>/dismiss")
@retried(busy=_busy)
def dismiss(request_id: int) -> ResponseReturnValue:
    """Staff judge it was not an opt-out; the reason is required and kept with who decided."""
    found = _request_or_404(request_id)
    reason = json_object().get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return jsonify(error="say why this is not an opt-out"), 400
    if len(reason) > revocations.MAX_REASON:
        return jsonify(error=f"a reason can be at most {revocations.MAX_REASON} characters"), 400
    try:
        revocations.dismiss(found, current_user, reason.strip())
    except revocations.AlreadyDecided as exc:
        db.session.rollback()
        return _conflict(str(exc))
    audit.record("opt_out_request.dismiss", found, contact_id=found.contact_id)
    db.session.commit()
    return jsonify(decision=found.decision)


def init_app(app: Flask) -> None:
    """Register the list and give every logged-in page its count for the top bar."""
    app.register_blueprint(bp)

    @app.context_processor
    def opt_out_count() -> dict[str, Any]:
        """How many opt-out requests wait (the nav link's count); nothing for a page without a login."""
        if not current_user.is_authenticated or current_user.must_change_password:
            return {}
        return {"opt_out_requests_open": consent.open_opt_out_requests(current_user.practice_id)}
