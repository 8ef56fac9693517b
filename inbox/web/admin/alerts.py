"""Admin → Safety alerts: the accountability record of every alert of the practice. When it came, from
where and why, whom the escalation texted when and how that went, who acknowledged it when with what
note, and how long that took; on screen (newest first, a page at a time), one by one, and as CSV.

The note is the person's situation in staff's words (ePHI, sealed in the thread's activity line), so
every view and export is an audit event, like the audit log's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from inbox.common import audit
from inbox.common.inputs import query_int
from inbox.extensions import db
from inbox.models import Journey, Message, SafetyAlert, SafetyEscalation, utcnow
from inbox.vocabulary import ALERT_SOURCES, RISK_CATEGORIES, RISK_LEVELS
from inbox.web.admin.compliance import MAX_ROWS, csv_download
from inbox.web.auth import admin_required

bp = Blueprint("alerts", __name__, url_prefix="/admin")
PAGE = 50
ACK_WORDS = "acknowledged the safety alert"  # texting.safety.acknowledge's activity line


@dataclass(frozen=True)
class AlertRecord:
    """One alert as the accountability page and its CSV show it."""

    alert: SafetyAlert
    note: str  # the acknowledgement's note ("" when none, "(redacted)" when its line was)
    seconds: int | None  # from the alert to its acknowledgement (None: still open)

    @property
    def risk(self) -> str:
        """Category and level as staff read them: "Suicide · Plan, method or intent"."""
        words = [RISK_CATEGORIES.get(self.alert.category, self.alert.category)]
        if self.alert.level:
            words.append(RISK_LEVELS.get(self.alert.level, self.alert.level))
        return " · ".join(words)

    @property
    def source(self) -> str:
        """Where the words came from: a text, the website form, phone intake."""
        return ALERT_SOURCES.get(self.alert.source, self.alert.source)


def took(seconds: int | None) -> str:
    """A duration as people say it: "45 s", "4 min 30 s", "2 h 5 min", "3 d 4 h"."""
    if seconds is None:
        return ""
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days} d {hrs} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _note(line: Message | None) -> str:
    """The note of an acknowledgement's activity line ("Dana Reyes acknowledged …: <note>")."""
    if line is None:
        return ""
    if line.body is None:
        return "(redacted)"
    _, found, note = line.body.partition(ACK_WORDS + ": ")
    return note if found else ""


def records(alerts: list[SafetyAlert]) -> list[AlertRecord]:
    """The alerts with their notes (one query for every acknowledgement line) and times to acknowledge."""
    line_ids = [a.ack_line_id for a in alerts if a.ack_line_id]
    lines = {m.id: m for m in db.session.scalars(select(Message).where(Message.id.in_(line_ids)))}
    return [
        AlertRecord(
            alert=a,
            note=_note(lines.get(a.ack_line_id) if a.ack_line_id else None),
            seconds=int((a.acknowledged_at - a.created_at).total_seconds()) if a.acknowledged_at else None,
        )
        for a in alerts
    ]


def _query() -> Select[SafetyAlert]:
    """The practice's alerts with their journey, contact, steps and acknowledger loaded."""
    return (
        select(SafetyAlert)
        .where(SafetyAlert.practice_id == current_user.practice_id)
        .options(
            joinedload(SafetyAlert.journey).joinedload(Journey.contact),
            joinedload(SafetyAlert.acknowledged_by),
            selectinload(SafetyAlert.escalations).joinedload(SafetyEscalation.user),
        )
    )


@bp.get("/safety-alerts")
@admin_required
def index() -> ResponseReturnValue:
    """Every alert, newest first, PAGE at a time (`before=<id>` for older ones)."""
    query = _query()
    if before := query_int("before"):
        query = query.where(SafetyAlert.id < before)
    alerts = list(db.session.scalars(query.order_by(SafetyAlert.id.desc()).limit(PAGE + 1)).unique())
    shown = records(alerts[:PAGE])
    audit.record("safety.report.view", count=len(shown), before=before or None)
    db.session.commit()
    return render_template(
        "admin/safety_alerts.html",
        rows=shown,
        more=alerts[PAGE - 1].id if len(alerts) > PAGE else None,
        tz=ZoneInfo(current_user.practice.timezone),
        took=took,
        now=utcnow(),
    )


@bp.get("/safety-alerts/<int:alert_id>")
@admin_required
def detail(alert_id: int) -> ResponseReturnValue:
    """One alert's record; another practice's alert does not exist here (404)."""
    alert = db.session.scalars(_query().where(SafetyAlert.id == alert_id)).unique().one_or_none()
    if alert is None:
        abort(404)
    audit.record("safety.report.view", alert, alert_id=alert.id, journey_id=alert.journey_id)
    db.session.commit()
    return render_template(
        "admin/safety_alerts.html",
        rows=records([alert]),
        more=None,
        single=True,
        tz=ZoneInfo(current_user.practice.timezone),
        took=took,
        now=utcnow(),
    )


def _iso(moment: datetime | None) -> str:
    """A UTC moment for the CSV ("" when none)."""
    return moment.isoformat() if moment else ""


@bp.get("/safety-alerts.csv")
@admin_required
def export() -> ResponseReturnValue:
    """The whole record as CSV, oldest first; audited with the number of rows."""
    alerts = list(db.session.scalars(_query().order_by(SafetyAlert.id).limit(MAX_ROWS)).unique())
    rows = records(alerts)
    audit.record("safety.report.export", rows=len(rows))
    db.session.commit()
    return csv_download(
        "safety-alerts.csv",
        [
            "alert_id",
            "came_at",
            "source",
            "category",
            "level",
            "journey_id",
            "contact",
            "notified",
            "acknowledged_by",
            "acknowledged_at",
            "note",
            "seconds_to_acknowledge",
        ],
        (
            [
                r.alert.id,
                _iso(r.alert.created_at),
                r.source,
                RISK_CATEGORIES.get(r.alert.category, r.alert.category),
                RISK_LEVELS.get(r.alert.level or "", r.alert.level or ""),
                r.alert.journey_id,
                r.alert.journey.contact.label,
                "; ".join(
                    f"step {e.step} {e.user.display_name} {e.status} {_iso(e.sent_at or e.created_at)}"
                    + (f" ({e.error})" if e.error else "")
                    for e in r.alert.escalations
                ),
                r.alert.acknowledged_by.display_name if r.alert.acknowledged_by else "",
                _iso(r.alert.acknowledged_at),
                r.note,
                "" if r.seconds is None else r.seconds,
            ]
            for r in rows
        ),
    )
