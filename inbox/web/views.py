"""Staff pages: the two-pane workspace (the inbox list and a journey's thread), and decrypted media for
entitled staff."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from inbox.common import audit
from inbox.common.access import attachment_or_404, journey_or_404
from inbox.common.phones import COMMON_US_ZONES, number_zones_label, pretty, zone_place
from inbox.extensions import db
from inbox.media.attachments import read_blob
from inbox.models import ATTACHMENT_LABELS, PATHWAYS, Journey, Template, User, utcnow
from inbox.presenters import iso
from inbox.texting import consent
from inbox.texting.contacts import LANGUAGES
from inbox.texting.queries import inbox_counts, inbox_page
from inbox.vocabulary import AttachmentStatus

bp = Blueprint("views", __name__)
DOWNLOAD_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}


@bp.before_request
@login_required
def require_login() -> None:
    """Every staff page needs a live session."""


@bp.get("/")
def inbox() -> ResponseReturnValue:
    """The workspace: the practice's journeys, newest activity first, and no thread open yet."""
    return _workspace(None)


@bp.get("/journeys/<int:journey_id>")
def journey_page(journey_id: int) -> ResponseReturnValue:
    """The workspace with a journey's thread open in the right pane (a direct URL, a reload)."""
    return _workspace(journey_or_404(journey_id))


@bp.get("/journeys/<int:journey_id>/pane")
def journey_pane(journey_id: int) -> ResponseReturnValue:
    """Only the right pane's HTML, for switching threads without a page load."""
    journey = journey_or_404(journey_id)
    context = _journey_context(journey)
    audit.record("journey.view", journey)
    db.session.commit()
    response = Response(render_template("journey.html", **context))
    response.headers["Cache-Control"] = "no-store"
    return response


def _list_filter() -> dict[str, Any]:
    """The list's pathway, open/closed and view filter from the query string (never ePHI)."""
    pathway = request.args.get("pathway") or None
    if pathway not in (None, *PATHWAYS):
        abort(400)
    state = request.args.get("state", "open")
    if state not in ("open", "closed", "all"):
        abort(400)
    views = {view: request.args.get(view) == "1" for view in ("waiting", "mine", "unassigned", "snoozed")}
    return {"pathway": pathway, "state": state, **views}


def _workspace(journey: Journey | None) -> ResponseReturnValue:
    """The two panes: the filtered list on the left, `journey` (if any) on the right."""
    view = _list_filter()
    journeys = inbox_page(current_user, **view)
    counts = inbox_counts(current_user, pathway=view["pathway"], state=view["state"])
    context = _journey_context(journey) if journey else {}
    audit.record("inbox.view", pathway=view["pathway"], snoozed=view["snoozed"])
    if journey:
        audit.record("journey.view", journey)
    db.session.commit()
    path = request.path

    def filter_url(to: str | None = None, **changes: Any) -> str:
        """This page (or `to`) under another filter: the changed keys, the rest kept (false views dropped)."""
        merged = {**view, **changes}
        args = {k: ("1" if v is True else v) for k, v in merged.items() if v not in (None, False)}
        if args.get("state") == "open":
            del args["state"]
        return (to or path) + ("?" + urlencode(args) if args else "")

    return render_template(
        "inbox.html",
        journeys=journeys,
        counts=counts,
        view=view,
        filter_url=filter_url,
        labels=ATTACHMENT_LABELS,
        **({"pathways": PATHWAYS} | context),
    )


def _journey_context(journey: Journey) -> dict[str, Any]:
    """What the thread pane's template needs about one journey."""
    templates = db.session.scalars(
        select(Template)
        .where(
            Template.practice_id == journey.practice_id, Template.mode == "manual", Template.enabled.is_(True)
        )
        .order_by(Template.name)
    ).all()
    staff = db.session.scalars(
        select(User).where(User.practice_id == journey.practice_id, User.active.is_(True))
    ).all()
    others = db.session.scalars(
        select(Journey)
        .where(Journey.contact_id == journey.contact_id, Journey.id != journey.id)
        .order_by(Journey.is_open.desc(), Journey.last_activity_at.desc())
    ).all()
    auto_on = set(
        db.session.scalars(
            select(Template.trigger).where(
                Template.practice_id == journey.practice_id,
                Template.mode == "auto",
                Template.enabled.is_(True),
            )
        )
    )
    contact = journey.contact
    zones = dict(COMMON_US_ZONES)
    if contact.time_zone and contact.time_zone not in zones:
        zones[contact.time_zone] = zone_place(contact.time_zone)  # set over the API from a longer list
    night = consent.quiet_hours(contact, utcnow())  # the composer offers "Send at 8:00 AM" then
    return {
        "zones": zones,
        "number_zones": number_zones_label(contact.phone),
        "quiet_note": consent.quiet_note(contact),
        "other_journeys": others,
        "auto_on": auto_on,
        "journey": journey,
        "contact": contact,
        "badge": consent.badge(contact),
        "phone": pretty(contact.phone),
        "guardian_phone": pretty(contact.guardian_phone) if contact.guardian_phone else "",
        "languages": LANGUAGES,
        "quiet_until": iso(night.until) if night else None,
        "quiet_ends": consent.night_ends(night) if night else "",
        "templates": templates,
        "staff": staff,
        "pathways": PATHWAYS,
    }


@bp.get("/attachments/<int:attachment_id>")
def attachment_file(attachment_id: int) -> ResponseReturnValue:
    """Serve a photo or PDF decrypted, never cached, never sniffed, never rendered as a page."""
    att = attachment_or_404(attachment_id)
    if att.status != AttachmentStatus.READY:
        abort(404)
    variant = "thumb" if request.args.get("variant") == "thumb" else "original"
    download = request.args.get("download") == "1"
    if variant == "thumb" and not att.has_thumbnail:
        abort(404)
    data = read_blob(att, variant)
    action = "attachment.download" if download else f"attachment.view_{variant}"
    audit.record(action, att, journey_id=att.journey_id)
    db.session.commit()
    content_type = "image/jpeg" if variant == "thumb" else att.content_type
    filename = f"attachment-{att.id}.{DOWNLOAD_EXT.get(content_type or '', 'bin')}"
    disposition = "attachment" if download or content_type == "application/pdf" else "inline"
    response = Response(data, mimetype=content_type)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
