"""Web Push over HTTP (docs/API.md): the VAPID public key, a browser's subscription stored and removed, the
"Alerts on this device" page, and the service worker at the site's root. The rules are inbox/notify."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from inbox.common.inputs import json_object, parse_id
from inbox.extensions import db
from inbox.notify import subscriptions
from inbox.presenters import iso

bp = Blueprint("push", __name__)


def _bad(exc: subscriptions.BadSubscription) -> ResponseReturnValue:
    """A 400 naming the field the browser's subscription got wrong."""
    return jsonify(error=str(exc), field=exc.field), 400


@bp.get("/api/push/key")
@login_required
def public_key() -> ResponseReturnValue:
    """The application server key browsers subscribe with."""
    return jsonify(key=current_app.config["INBOX_VAPID_PUBLIC_KEY"])


@bp.post("/api/push/subscriptions")
@login_required
def subscribe() -> ResponseReturnValue:
    """Store this browser's PushSubscription (`{endpoint, keys: {p256dh, auth}}`) as the caller's."""
    try:
        checked = subscriptions.check(json_object())
    except subscriptions.BadSubscription as exc:
        return _bad(exc)
    row = subscriptions.subscribe(current_user, checked, request.headers.get("User-Agent", ""))
    answer = {"id": row.id, "device": row.device}
    db.session.commit()
    return jsonify(subscription=answer), 201


@bp.delete("/api/push/subscriptions")
@login_required
def unsubscribe() -> ResponseReturnValue:
    """Remove one of the caller's own subscriptions, by `endpoint` (this browser) or `id` (the list)."""
    data = json_object()
    endpoint, subscription_id = data.get("endpoint"), parse_id(data.get("id"))
    if isinstance(endpoint, str) and endpoint:
        found = subscriptions.unsubscribe(current_user, endpoint=endpoint)
    elif subscription_id is not None:
        found = subscriptions.unsubscribe(current_user, subscription_id=subscription_id)
    else:
        return jsonify(error="give the endpoint or the id of the subscription", field="endpoint"), 400
    if not found:
        return jsonify(error="no such subscription of yours"), 404
    db.session.commit()
    return "", 204


@bp.get("/account/alerts")
@login_required
def alerts_page() -> ResponseReturnValue:
    """Alerts on this device: turn Web Push on or off here, and see which browsers have it."""
    devices = [
        {"id": d.id, "device": d.device, "since": iso(d.created_at), "last": iso(d.last_success_at)}
        for d in subscriptions.devices_of(current_user)
    ]
    return render_template("account_alerts.html", devices=devices)


@bp.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """The service worker, from the site's root so that its scope is the whole site. No login: the
    browser checks it for updates whether or not anyone is logged in, and it holds nothing secret."""
    source = Path(current_app.static_folder or "static", "sw.js").read_bytes()  # a few kB
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # browsers look for a new version on each visit
    response.headers["Service-Worker-Allowed"] = "/"
    return response


def init_app(app: Flask) -> None:
    """Register the routes."""
    app.register_blueprint(bp)
