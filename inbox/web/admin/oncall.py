"""Admin → On call: who is texted when a safety alert waits unacknowledged (texting.oncall holds the rules).

The same address takes the page's form or a JSON object (docs/API.md); either is checked whole before
anything is stored, and a malformed one is a 400 that says what is wrong. Saved changes are audited by
field name (`oncall.update`), never with a number.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from inbox.extensions import db
from inbox.models import Practice
from inbox.texting import oncall
from inbox.web.auth import admin_required

bp = Blueprint("oncall", __name__, url_prefix="/admin")


def from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The page's fields as the JSON shape: a blank number keeps the one on file, "remove" drops it."""
    slots = {
        shift: {rank: form.get(f"{shift}_{rank}", "") for rank in oncall.RANKS} for shift in oncall.SHIFTS
    }
    phones: dict[str, str] = {}
    for key, value in form.items():
        if key.startswith("phone_") and value.strip():
            phones[key.removeprefix("phone_")] = value
        elif key.startswith("remove_phone_"):
            phones[key.removeprefix("remove_phone_")] = ""
    return {"slots": slots, "escalation_minutes": form.get("escalation_minutes", ""), "phones": phones}


def rota_json(practice: Practice) -> dict[str, Any]:
    """The rota as the JSON answer gives it: ids, minutes, and numbers masked to their last 4 digits."""
    slots = oncall.rota(practice.id)
    people = oncall.staff_of(practice.id)
    phones = oncall.phones_of([u.id for u in people])
    return {
        "slots": {
            shift: {
                name: (u.id if (u := slots[shift, rank]) else None) for name, rank in oncall.RANKS.items()
            }
            for shift in oncall.SHIFTS
        },
        "escalation_minutes": practice.escalation_minutes,
        "phones": {str(u.id): oncall.masked(phones.get(u.id)) or None for u in people},
    }


def _page(error: str | None = None, typed: MultiDict[str, str] | None = None) -> ResponseReturnValue:
    """The form: the four slots, the minutes, and everyone's own number (masked); `typed` re-shows a
    refused form as it was sent."""
    practice = current_user.practice
    people = oncall.staff_of(practice.id)
    chosen = {
        f"{shift}_{name}": str(user.id) if (user := oncall.rota(practice.id)[shift, rank]) else ""
        for shift in oncall.SHIFTS
        for name, rank in oncall.RANKS.items()
    }
    chosen["escalation_minutes"] = str(practice.escalation_minutes)
    if typed is not None:
        chosen.update({k: v for k, v in typed.items() if k in chosen})
    phones = oncall.phones_of([u.id for u in people])
    return render_template(
        "admin/on_call.html",
        people=people,
        shifts=oncall.SHIFTS,
        ranks=oncall.RANKS,
        chosen=chosen,
        masked={u.id: oncall.masked(phones.get(u.id)) for u in people},
        typed=typed or MultiDict(),
        error=error,
        limits=(oncall.MIN_MINUTES, oncall.MAX_MINUTES),
    ), (400 if error else 200)


@bp.route("/on-call", methods=["GET", "POST"])
@admin_required
def index() -> ResponseReturnValue:
    """Show the rota, or save a change to it (form or JSON)."""
    practice = current_user.practice
    if request.method == "GET":
        if request.accept_mimetypes.best == "application/json":
            return jsonify(rota_json(practice))
        return _page()
    as_json = request.is_json
    data: Any = request.get_json(silent=True) if as_json else from_form(request.form)
    try:
        if as_json and data is None:
            raise oncall.RotaError("the body is not JSON")
        change = oncall.parse_rota(practice, data)
    except oncall.RotaError as exc:
        db.session.rollback()
        message = f"Not saved: {exc}."
        return (jsonify(error=message), 400) if as_json else _page(message, request.form)
    changed = oncall.save_rota(practice, change, current_user)
    db.session.commit()
    if as_json:
        return jsonify({**rota_json(practice), "changed": changed})
    flash("On-call rota saved." if changed else "Nothing changed.", "info")
    return redirect(url_for("oncall.index"))
