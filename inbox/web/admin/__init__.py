"""The admin area's shared frame: its navigation, offered to every admin template."""

from __future__ import annotations

from typing import Any

from flask import Flask

# (endpoint, label), in menu order; each admin module registers its own blueprint.
NAV = [
    ("settings.practice", "Practice & consent"),
    ("settings.templates", "Templates"),
    ("staff.index", "Staff"),
    ("oncall.index", "On call"),
    ("alerts.index", "Safety alerts"),
    ("numbers.index", "Texting numbers"),
    ("compliance.audit_log", "Audit log"),
    ("spamwatch.index", "Spam watch"),
]


def init_app(app: Flask) -> None:
    """Make `admin_nav` available to templates."""

    @app.context_processor
    def admin_nav() -> dict[str, Any]:
        """The admin pages, in menu order."""
        return {"admin_nav": NAV}
