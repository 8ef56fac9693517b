"""Input at the edge: text and ids are cleaned or refused here, before they can reach a column.

PostgreSQL refuses a NUL byte in any text value, and both databases refuse integers past 64 bits, so a
stray `\\x00` or a 20-digit id used to surface as a 500 from deep inside a query. Every form, query
string, path and JSON body passes `refuse_unusable_input` (a 400 names the problem); Twilio's webhooks
are exempt because refusing one loses a patient's text: they clean their own fields with `clean`.

JSON can also carry half of a UTF-16 surrogate pair (`"\\ud800"`, or the bytes ED A0 80, which Python's
JSON reader lets through): a Python string then holds a code point no UTF-8 text can, and sealing,
storing or counting it failed with a 500 wherever the field went. The same check refuses it, naming the
field, so no view ever sees such a string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

# C0 controls and DEL, except tab, newline and carriage return (which text areas legitimately send).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Half of a UTF-16 surrogate pair, alone: JSON's `\ud800` escapes decode to it, UTF-8 cannot encode it.
SURROGATE = re.compile(r"[\ud800-\udfff]")
# Ids are INTEGER columns: 32-bit on PostgreSQL, which refuses a larger value in a query outright
# ("integer out of range"), and SQLite past 64 bits. No record can have a larger id.
MAX_ID = 2**31 - 1
EXEMPT_BLUEPRINTS = {"webhooks"}  # signed by Twilio and cleaned field by field (inbound.parse_form)


class BadInput(ValueError):
    """A value the app refuses at the edge (answered 400)."""


def clean(value: str) -> str:
    """The text without control characters (tab, newline and CR stay)."""
    return CONTROL.sub("", value)


def is_clean(value: str) -> bool:
    """True when the text holds no control character we refuse."""
    return CONTROL.search(value) is None


def parse_id(value: Any) -> int | None:
    """An id from JSON, a query string or a socket event: an integer from 0 to MAX_ID, else None."""
    if isinstance(value, bool):
        return None  # True is an int in Python, never an id
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            return None  # also keeps int() away from a megabyte of digits
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_ID:
        return None
    return value


def query_int(name: str, default: int = 0, *, low: int = 0, high: int = MAX_ID) -> int:
    """An integer query argument within [low, high]; a malformed or out-of-range one is a 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = parse_id(raw) if low >= 0 else _signed(raw)
    if value is None or not low <= value <= high:
        abort(bad_request(f"{name} must be a whole number from {low} to {high}"))
    return value


def _signed(raw: str) -> int | None:
    """A possibly negative integer of at most 19 digits."""
    digits = raw.strip().removeprefix("-")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    return int(raw)


def json_object() -> dict[str, Any]:
    """The request's JSON body as an object ({} when there is none); an array or scalar is a 400."""
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        abort(bad_request("the body must be a JSON object"))
    return data


# How far ahead staff may schedule a text or snooze a journey.
FUTURE_LIMIT = timedelta(days=365)


def future_moment(value: Any, field: str, now: datetime) -> datetime:
    """A moment after `now` and at most a year ahead, from ISO 8601 text with an offset (so the
    browser's clock and the server's agree on the instant); else BadInput naming the problem."""
    if not isinstance(value, str):
        raise BadInput(f"{field} must be an ISO 8601 date and time with an offset")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{field} must be an ISO 8601 date and time with an offset") from None
    if when.tzinfo is None:
        raise BadInput(f"{field} needs a time zone offset, such as 2026-12-02T08:00:00-05:00")
    try:
        when = when.astimezone(UTC)
    except OverflowError:
        raise BadInput(f"{field} must be within a year from now") from None
    if when <= now:
        raise BadInput(f"{field} is in the past: pick a later time")
    if when > now + FUTURE_LIMIT:
        raise BadInput(f"{field} must be within a year from now")
    return when


def bad_request(message: str) -> Response:
    """A 400 that the caller can `abort()` with: JSON for the API and JSON callers, plain text elsewhere."""
    if request.path.startswith("/api/") or request.is_json:
        response = jsonify(error=message)
    else:
        response = Response(message, mimetype="text/plain")
    response.status_code = 400
    return response


def _usable(value: str) -> bool:
    """Text that can be stored: no control character we refuse, no lone surrogate."""
    return is_clean(value) and SURROGATE.search(value) is None


def _label(key: str) -> str:
    """A field's name as an error message may quote it (not when the name itself is odd or long)."""
    return key if len(key) <= 60 and _usable(key) else "a field"


# Where a value sits in a JSON document, as a chain to its parent (`("mentions", None)` then
# `("[0]", <that>)`): constant size per value, however deep the document; spelt out only for an error.
Where = tuple[str, "Where | None"]


KEY = "#key"  # the chain's last link when the string is a field's name itself


def _spelt(where: Where | None) -> str:
    """The chain as a field name, e.g. `keys.auth` or `mentions[0]` (the start of a long one elided)."""
    if where is not None and where[0] == KEY:
        parent = _spelt(where[1])
        return f"a field name in {parent}" if parent else "a field name"
    parts: list[str] = []
    while where is not None:
        parts.append(where[0])
        where = where[1]
    name = "".join(reversed(parts)).removeprefix(".")
    return name if len(name) <= 80 else "…" + name[-79:]


def _strings(value: Any) -> Iterator[tuple[Where | None, str]]:
    """Every string in a JSON document (keys too), each with where it is, without recursion (a deep
    document is no attack)."""
    stack: list[tuple[Where | None, Any]] = [(None, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append(((KEY, where), key))
                stack.append(((f".{_label(key)}", where), child))
        elif isinstance(item, list):  # numbers, flags and nulls hold no text: not even a name for them
            stack.extend(
                ((f"[{n}]", where), c) for n, c in enumerate(item) if isinstance(c, str | list | dict)
            )


def _json_body() -> Any:
    """The parsed JSON body, if the request has one (a document nested too deep to parse is a 400)."""
    if not request.is_json:
        return None
    try:
        return request.get_json(silent=True)
    except RecursionError:
        abort(bad_request("the JSON body is nested too deeply"))


def refuse_unusable_input() -> None:
    """Before every view: refuse control characters and lone surrogates in the path, query, form and
    JSON body (400; a surrogate's answer names the field)."""
    if request.blueprint in EXEMPT_BLUEPRINTS:
        return
    named: list[tuple[Where | None, str]] = [
        ((name, None), v) for name, v in (request.view_args or {}).items() if isinstance(v, str)
    ]
    for multi in (request.args, request.form):
        for key, items in multi.lists():
            named.append(((KEY, None), key))
            named.extend(((_label(key), None), item) for item in items)
    named.extend(_strings(_json_body()))
    if any(not is_clean(v) for _where, v in named):
        abort(bad_request("text cannot contain control characters such as NUL"))
    for where, value in named:
        if SURROGATE.search(value):
            field = _spelt(where) or "the body"
            abort(bad_request(f"{field} is not valid text: it holds half of a UTF-16 surrogate pair"))


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id past MAX_ID cannot exist, so it is a 404."""

    def to_python(self, value: str) -> int:
        """The id; past MAX_ID, a 404 at once (a ValidationError would let another method's rule for
        the same path answer 405)."""
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()
        return number


def init_app(app: Flask) -> None:
    """Bound every `<int:...>` path part (before any route is added) and check input before views."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_unusable_input)
