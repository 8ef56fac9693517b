"""Bad input is a 4xx at the edge, never a 500 from deep inside a query: NUL bytes in every form, JSON
and webhook field (PostgreSQL refuses them in text), ids past 64 bits in every route (found from the URL
map), JSON bodies of the wrong shape, dates that overflow, and socket events with odd payloads."""

from __future__ import annotations

import re
import uuid

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from inbox.extensions import db, socketio
from inbox.models import (
    Attachment,
    AuditEvent,
    ConsentEvent,
    Contact,
    Journey,
    Message,
    OptOutRequest,
    SafetyAlert,
    Template,
    User,
)
from tests import ephi_watch, factories
from tests.conftest import signed_post

NUL = "x\x00y"
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL
HUGE = [MAX_ID + 1, 2**63, 2**64, 10**30]
CSRF_FIELD = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


def count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def records(practice, staff, admin, inbound):
    """One record of every kind a route can name, all of `practice`."""
    inbound("card attached", NumMedia="1", MediaUrl0="https://api.twilio.com/media/1", MediaContentType0="x")
    message = db.session.scalars(select(Message).where(Message.direction == "inbound")).one()
    return {
        "journey_id": message.journey_id,
        "contact_id": message.contact_id,
        "message_id": message.id,
        "attachment_id": db.session.scalar(select(Attachment.id)),
        "template_id": db.session.scalar(
            select(Template.id).where(Template.practice_id == practice.id, Template.mode == "manual")
        ),
        "user_id": staff.id,
        "number_id": practice.numbers[0].id,
    }


def fill(rule: str, ids: dict[str, int], value: int | None = None) -> str:
    """A rule's path with its <int:name> parts taken from `ids` (or all set to `value`)."""
    path = re.sub(r"<int:(\w+)>", lambda m: str(value if value is not None else ids[m.group(1)]), rule)
    assert "<" not in path, f"no test value for {rule}"
    return path


# -- NUL bytes in every form -------------------------------------------------------------------------

SETTINGS = {
    "name": "Calm Harbor Therapy",
    "timezone": "America/New_York",
    "phone": "(555) 010-2000",
    "email": "office@example.com",
    "website": "https://calm.example",
    "require_opt_in": "y",
    "opt_in_text": "Reply YES to get texts from {{ practice.name }}, STOP to opt out.",
    "help_text": "{{ practice.name }}: reply STOP to opt out.",
    "send_stop_confirmation": "y",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "welcome_enabled": "y",
    "ephi_in_popups": "y",
    "delete_media_at_twilio": "y",
    "web_consent_sentence": "I agree to texts. Reply STOP to opt out.",
    "retention_days": "365",
}
PERSON = {
    "first_name": "Maria",
    "last_name": "Lopez",
    "phone": "(415) 555-0142",
    "email": "maria@example.org",
    "guardian_name": "Ana Lopez",
    "guardian_phone": "(415) 555-0143",
    "reason": "anxiety",
    "preferred_times": "mornings",
    "consent": "y",
    "website": "",
}
# form class name -> (who submits it, path, valid fields): a NUL in any one field must be refused.
FORMS = {
    "LoginForm": ("anonymous", "/login", {"email": "dana@example.com", "password": factories.PASSWORD}),
    "RequestForm": ("anonymous", "/request/{token}", PERSON),
    "PhoneIntakeForm": ("staff", "/intake/phone", {**PERSON, "attestation": "y"}),
    "PasswordForm": (
        "staff",
        "/account/password",
        {"current": factories.PASSWORD, "new": "a brand new passphrase", "confirm": "a brand new passphrase"},
    ),
    "CodeForm": ("staff", "/account/two-factor/confirm", {"code": "123456"}),
    "PasswordCheckForm": ("staff", "/account/two-factor/recovery-codes", {"password": factories.PASSWORD}),
    "DisableForm": (
        "staff",
        "/account/two-factor/disable",
        {"password": factories.PASSWORD, "code": "123456"},
    ),
    "PracticeForm": ("admin", "/admin/settings", SETTINGS),
    "TemplateForm": (
        "admin",
        "/admin/templates/new",
        {"name": "Directions", "body": "Park at the back.", "enabled": "y"},
    ),
    "StaffForm": (
        "admin",
        "/admin/staff",
        {"first_name": "Sam", "last_name": "Ode", "email": "sam@example.com", "role": "staff"},
    ),
}
# Forms outside WTForms, by their fields.
PLAIN_FORMS = [
    ("admin", "/admin/staff/{user_id}", {"action": "role", "role": "admin"}),
    ("admin", "/admin/numbers/buy", {"e164": "+14155550177", "area_code": "415"}),
    ("admin", "/admin/numbers/attach", {"sid": "PN" + "0" * 32}),
]


def form_classes() -> set[str]:
    """Every FlaskForm subclass the app defines."""
    found, todo = set(), list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("inbox."):
            found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def test_the_nul_table_covers_every_form_of_the_app(app):
    assert form_classes() == set(FORMS)


@pytest.fixture
def browsers(app, staff, admin, staff_client, admin_client):
    """A browser for each kind of submitter; the anonymous one carries a CSRF token from the login page."""
    anonymous = app.test_client()
    token = CSRF_FIELD.search(anonymous.get("/login").data).group(1).decode()
    return {
        "anonymous": (anonymous, token),
        "staff": (staff_client.client, staff_client.csrf),
        "admin": (admin_client.client, admin_client.csrf),
    }


def submit(browsers, who: str, path: str, fields: dict):
    """POST a form as a browser would, with its CSRF token."""
    client, token = browsers[who]
    return client.post(path, data={**fields, "csrf_token": token}, headers={"Referer": "http://localhost/"})


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_nul_in_any_form_field_is_refused(browsers, practice, records, form):
    who, path, valid = FORMS[form]
    path = path.format(token=practice.public_token, **records)
    before = (count(Contact), count(Template), count(User), count(ConsentEvent))
    answers = {name: submit(browsers, who, path, {**valid, name: NUL}).status_code for name in valid}
    assert answers == dict.fromkeys(valid, 400)
    assert (count(Contact), count(Template), count(User), count(ConsentEvent)) == before


@pytest.mark.parametrize(("who", "path", "valid"), PLAIN_FORMS, ids=[p for _w, p, _v in PLAIN_FORMS])
def test_a_nul_in_any_plain_form_field_is_refused(browsers, records, who, path, valid):
    path = path.format(**records)
    answers = {name: submit(browsers, who, path, {**valid, name: NUL}).status_code for name in valid}
    assert answers == dict.fromkeys(valid, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/?state={nul}",
        "/api/journeys?pathway={nul}",
        "/admin/audit?action={nul}",
        "/admin/audit.csv?action={nul}",
        "/admin/numbers?area_code={nul}",
        "/request/{nul}",
        "/login?next={nul}",
    ],
)
def test_a_nul_in_a_query_or_path_is_refused(browsers, path):
    client, _token = browsers["admin"]
    assert client.get(path.format(nul="x%00y")).status_code == 400


def test_the_login_answers_a_nul_email_like_any_refusal(browsers, staff):
    assert (
        submit(browsers, "anonymous", "/login", {"email": staff.email + "\x00", "password": "x"}).status_code
        == 400
    )
    assert (
        submit(browsers, "anonymous", "/login", {"email": "nobody\x00@x.org", "password": "x"}).status_code
        == 400
    )


JSON_FIELDS = [
    ("post", "/api/journeys/{journey_id}/messages", {"body": NUL}),
    ("post", "/api/journeys/{journey_id}/preview", {"body": NUL}),
    ("patch", "/api/journeys/{journey_id}", {"stage": NUL}),
    ("patch", "/api/journeys/{journey_id}", {"pathway": NUL}),
    ("patch", "/api/journeys/{journey_id}", {"appointment_at": NUL}),
    ("post", "/api/contacts/{contact_id}/consent", {"state": "opted_out", "note": NUL}),
    ("post", "/api/contacts/{contact_id}/consent", {"state": "opted_in", "attestation": NUL}),
    ("post", "/api/contacts/{contact_id}/journeys", {"pathway": NUL}),
    ("patch", "/api/attachments/{attachment_id}", {"label": NUL}),
    ("patch", "/api/attachments/{attachment_id}", {NUL: True}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), JSON_FIELDS, ids=[f"{m} {p} {list(b)[0]!r}" for m, p, b in JSON_FIELDS]
)
def test_a_nul_in_any_json_field_is_a_json_400(staff_client, records, method, path, body):
    before = (count(Message), count(ConsentEvent))
    answer = getattr(staff_client, method)(path.format(**records), json=body)
    assert answer.status_code == 400 and "control characters" in answer.get_json()["error"]
    assert (count(Message), count(ConsentEvent)) == before


# -- lone surrogates, and values of the wrong type, in JSON -----------------------------------------

SURROGATE = "x\ud800y"  # JSON may escape half of a UTF-16 pair; no UTF-8 text can hold it
# (method, path, the field that carries the surrogate, the rest of a valid body)
SURROGATE_FIELDS = [
    ("patch", "/api/contacts/{contact_id}", "first_name", {}),
    ("patch", "/api/contacts/{contact_id}", "last_name", {}),
    ("patch", "/api/contacts/{contact_id}", "guardian_name", {}),
    ("post", "/api/journeys/{journey_id}/notes", "body", {}),
    ("post", "/api/journeys/{journey_id}/safety-ack", "note", {}),
    ("post", "/api/opt-out-requests/{request_id}/dismiss", "reason", {}),
    ("post", "/api/journeys/{journey_id}/messages", "body", {}),
    ("post", "/api/journeys/{journey_id}/preview", "body", {}),
    ("patch", "/api/journeys/{journey_id}", "stage", {}),
    ("post", "/api/contacts/{contact_id}/consent", "note", {"state": "opted_out"}),
]
# Other odd JSON a client can send: a list where text goes, ids past any record.
ODD_JSON = [
    ("patch", "/api/contacts/{contact_id}", {"preferred_language": ["en"]}),
    ("patch", "/api/contacts/{contact_id}", {"preferred_language": {"en": True}}),
    ("patch", "/api/contacts/{contact_id}", {"preferred_language": 7}),
    ("post", "/api/messages/{message_id}/move", {"journey_id": MAX_ID + 1}),
    ("post", "/api/messages/{message_id}/move", {"journey_id": 2**63}),
    ("post", "/api/messages/{message_id}/move", {"journey_id": 10**30}),
    ("post", "/api/messages/{message_id}/move", {"journey_id": -1}),
    ("post", "/api/messages/{message_id}/move", {"journey_id": 1.5}),
    ("post", "/api/journeys/{journey_id}/notes", {"body": "hi", "mentions": [SURROGATE]}),
    ("post", "/api/journeys/{journey_id}/messages", {SURROGATE: "hi"}),
    ("post", "/api/journeys/{journey_id}/messages", {"body": "hi", "send_at": SURROGATE}),
    ("post", "/api/journeys/{journey_id}/opt-in-request", [True]),
    ("post", "/api/journeys/{journey_id}/opt-in-request", "force"),
]


@pytest.fixture
def open_items(records, inbound, practice):
    """`records` plus an open safety alert on the journey and an opt-out request waiting for staff."""
    inbound("I want to kill myself tonight")
    inbound("please stop texting me")
    db.session.expire_all()
    request_id = db.session.scalar(select(OptOutRequest.id))
    assert request_id and db.session.scalar(
        select(SafetyAlert.id).where(SafetyAlert.acknowledged_at.is_(None))
    )
    return {**records, "request_id": request_id}


def stored(ids: dict[str, int]) -> tuple:
    """Everything a refused request must leave as it was: rows written, and the sealed words."""
    db.session.expire_all()
    contact = db.session.get(Contact, ids["contact_id"])
    return (
        count(Message),
        count(ConsentEvent),
        count(AuditEvent),
        (contact.first_name, contact.last_name, contact.guardian_name, contact.preferred_language),
        db.session.get(Journey, ids["journey_id"]).stage,
        db.session.get(Message, ids["message_id"]).journey_id,
        db.session.scalars(select(SafetyAlert.acknowledged_at)).all(),
        db.session.scalars(select(OptOutRequest.decision)).all(),
    )


@pytest.mark.parametrize(
    ("method", "path", "field", "rest"),
    SURROGATE_FIELDS,
    ids=[f"{p} {f}" for _m, p, f, _r in SURROGATE_FIELDS],
)
def test_a_lone_surrogate_in_any_json_field_is_a_400_naming_it(
    staff_client, open_items, method, path, field, rest
):
    before = stored(open_items)
    answer = getattr(staff_client, method)(path.format(**open_items), json={**rest, field: SURROGATE})
    assert answer.status_code == 400, answer.data
    assert field in answer.get_json()["error"]
    assert stored(open_items) == before


@pytest.mark.parametrize("value", [["x"], 7], ids=repr)
@pytest.mark.parametrize(
    ("method", "path", "field", "rest"),
    SURROGATE_FIELDS,
    ids=[f"{p} {f}" for _m, p, f, _r in SURROGATE_FIELDS],
)
def test_a_non_string_in_any_text_field_is_a_400(staff_client, open_items, method, path, field, rest, value):
    before = stored(open_items)
    answer = getattr(staff_client, method)(path.format(**open_items), json={**rest, field: value})
    assert answer.status_code == 400, answer.data
    assert answer.get_json()["error"]
    assert stored(open_items) == before


@pytest.mark.parametrize(
    ("method", "path", "body"), ODD_JSON, ids=[f"{p} {b!r}"[:70] for _m, p, b in ODD_JSON]
)
def test_odd_json_is_a_4xx_and_stores_nothing(staff_client, open_items, method, path, body):
    before = stored(open_items)
    answer = getattr(staff_client, method)(path.format(**open_items), json=body)
    assert 400 <= answer.status_code < 500, answer.data
    assert answer.get_json()["error"]
    assert stored(open_items) == before


def test_a_lone_surrogate_in_raw_utf8_bytes_is_refused_too(staff_client, records):
    """The same half pair sent as bytes (ED A0 80) rather than as a JSON escape."""
    answer = staff_client.client.patch(
        f"/api/journeys/{records['journey_id']}",
        data=b'{"stage": "x\xed\xa0\x80y"}',
        content_type="application/json",
        headers={"X-CSRFToken": staff_client.csrf},
    )
    assert answer.status_code == 400 and "stage" in answer.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"body": "hi", "mentions": [1, SURROGATE]}, "mentions[1]"),
        ({SURROGATE: "hi"}, "a field name"),
        ({"body": "hi", "mentions": {SURROGATE: 1}}, "a field name in mentions"),
    ],
    ids=["nested", "key", "nested key"],
)
def test_a_nested_surrogate_is_named_where_it_is(staff_client, records, body, named):
    answer = staff_client.post(f"/api/journeys/{records['journey_id']}/notes", json=body)
    assert answer.status_code == 400
    assert (
        answer.get_json()["error"] == f"{named} is not valid text: it holds half of a UTF-16 surrogate pair"
    )


def test_a_whole_surrogate_pair_is_just_text(staff_client, records):
    """An emoji, which JSON escapes as a pair (\\ud83d\\ude42), is a character like any other."""
    answer = staff_client.patch(f"/api/journeys/{records['journey_id']}", json={"stage": "Booked \U0001f642"})
    assert answer.status_code == 200 and answer.get_json()["journey"]["stage"] == "Booked \U0001f642"


def test_a_preview_that_fails_leaves_no_audit_row(app, staff_client, records, monkeypatch):
    def broken(body):
        raise RuntimeError("segment counting failed")

    monkeypatch.setattr("inbox.web.api.count_segments", broken)
    with pytest.raises(RuntimeError):  # TESTING propagates the error instead of answering 500
        staff_client.post(f"/api/journeys/{records['journey_id']}/preview", json={"body": "Hello"})
    db.session.rollback()
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "message.preview")).all() == []


# -- NUL bytes in the webhooks: the text is never lost --------------------------------------------


def webhook(client, app_env, **fields):
    """A signed incoming-message webhook with a text and one photo, `fields` replaced."""
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": app_env["TWILIO_ACCOUNT_SID"],
        "From": "+14155550100",
        "To": "+15005550006",
        "Body": "my card",
        "NumMedia": "1",
        "MediaUrl0": app_env["TWILIO_API_BASE_URL"] + "/media/ME1",
        "MediaContentType0": "image/jpeg",
        **fields,
    }
    ephi_watch.remember(params["Body"])
    return signed_post(client, "/twilio/messages", params, app_env["TWILIO_AUTH_TOKEN"])


@pytest.mark.parametrize(
    ("field", "value", "status", "attachment"),
    [
        ("Body", "my\x00 card", 200, "pending"),
        ("MediaUrl0", "https://api.twilio.com/media/\x00ME1", 200, "unavailable"),
        ("MediaUrl0", "\x00", 200, "unavailable"),
        ("MediaUrl0", "javascript:alert(1)", 200, "unavailable"),
        ("MediaUrl0", "https://api.twilio.com/" + "m" * 600, 200, "unavailable"),
        ("MediaContentType0", "image/\x00jpeg", 200, "pending"),
        ("OptOutType", "STOP\x00", 200, "pending"),
        ("AccountSid", "AC\x00", 200, "pending"),
        ("From", "+1415555\x000100", None, None),
        ("To", "+1500555\x000006", None, None),
        ("MessageSid", "SM" + "a" * 31 + "\x00", 400, None),
        ("MessageSid", "SM\n" + "a" * 32, 400, None),
        ("NumMedia", "1\x00", 400, None),
    ],
    ids=lambda v: repr(v)[:24],
)
def test_a_nul_in_any_webhook_field_keeps_the_text(
    client, app_env, practice, field, value, status, attachment
):
    answer = webhook(client, app_env, **{field: value})
    if status is None:  # a number with a NUL in it: refused or read as the number, never a 500
        assert answer.status_code in (200, 400, 404)
        return
    assert answer.status_code == status
    if status != 200:
        assert count(Message) == 0
        return
    msg = db.session.scalars(select(Message).where(Message.direction == "inbound")).one()
    assert msg.body == "my card"
    att = db.session.scalar(select(Attachment))
    assert att.status == attachment and "\x00" not in (att.declared_type or "") + (att.source_url or "")
    if attachment == "unavailable":
        assert att.source_url is None and att.error


def test_a_nul_in_every_field_at_once_still_keeps_the_text(client, app_env, practice):
    answer = webhook(
        client, app_env, Body="hello\x00", MediaUrl0="\x00", MediaContentType0="\x00", OptOutType="\x00"
    )
    assert answer.status_code == 200
    msg = db.session.scalars(select(Message).where(Message.direction == "inbound")).one()
    assert msg.body == "hello" and count(Attachment) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"MessageStatus": "sent\x00"},
        {"MessageSid": "SM" + "a" * 32 + "\x00"},
        {"MessageSid": "SM" + "a" * 500},
        {"ErrorCode": "30003\x00"},
        {"ErrorCode": str(2**63)},
        {"ErrorCode": str(2**31)},
    ],
    ids=lambda f: repr(f)[:30],
)
def test_a_bad_status_callback_field_is_400(client, app_env, practice, fields):
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "sent", **fields}
    answer = signed_post(client, "/twilio/status", params, app_env["TWILIO_AUTH_TOKEN"])
    assert answer.status_code == 400


def test_a_status_callback_naming_a_bad_message_uid_is_400(client, app_env, practice):
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "sent"}
    path = "/twilio/status?m=%00"
    url = "https://inbox.example.test" + path
    assert signed_post(client, path, params, app_env["TWILIO_AUTH_TOKEN"], url=url).status_code == 400


# -- ids past 64 bits, in every route with an id ----------------------------------------------------


def id_routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every route with an <int:...> part, from the app's own URL map."""
    return [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if "<int:" in rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def test_the_id_table_reaches_every_kind_of_record(app):
    rules = {rule for _method, rule in id_routes(app)}
    for prefix in (
        "/api/journeys/",
        "/api/contacts/",
        "/api/attachments/",
        "/api/messages/",
        "/attachments/",
    ):
        assert any(rule.startswith(prefix) for rule in rules), prefix
    for prefix in ("/admin/templates/", "/admin/staff/", "/admin/numbers/", "/admin/contacts/", "/journeys/"):
        assert any(rule.startswith(prefix) for rule in rules), prefix


@pytest.mark.parametrize("value", [*HUGE, MAX_ID])
def test_an_id_past_any_record_is_404_in_every_route(app, admin_client, records, value):
    answers = {}
    for method, rule in id_routes(app):
        answer = admin_client.client.open(
            fill(rule, records, value), method=method, headers={"X-CSRFToken": admin_client.csrf}, json={}
        )
        answers[(method, rule)] = answer.status_code
        if rule.startswith("/api/"):
            assert answer.is_json and answer.get_json()["error"], (method, rule)
    assert set(answers.values()) == {404}, {k: v for k, v in answers.items() if v != 404}


QUERY_IDS = [
    "/api/journeys?limit={v}",
    "/api/journeys/{journey_id}/messages?after={v}",
    "/api/journeys/{journey_id}/messages?before={v}",
    "/admin/audit?before={v}",
    "/admin/audit?user_id={v}",
    "/admin/audit?journey_id={v}",
    "/admin/audit.csv?user_id={v}",
    "/admin/audit.csv?journey_id={v}",
]


@pytest.mark.parametrize("path", QUERY_IDS)
@pytest.mark.parametrize("value", [*HUGE, "-1", "seven", "1e3"])
def test_an_id_query_argument_out_of_range_is_400(admin_client, records, path, value):
    answer = admin_client.get(path.format(v=value, **records))
    assert answer.status_code == 400
    if path.startswith("/api/"):
        assert answer.get_json()["error"]


@pytest.mark.parametrize("path", QUERY_IDS)
def test_the_largest_id_in_a_query_is_just_nothing_found(admin_client, records, path):
    assert admin_client.get(path.format(v=MAX_ID, **records)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/admin/audit?from=0001-01-01T00:00:00%2B14:00", "/admin/audit?to=9999-12-31T23:59:59-14:00"]
)
def test_an_audit_date_that_overflows_is_400(admin_client, path):
    assert admin_client.get(path).status_code == 400


# -- JSON of the wrong shape, and the API's own errors ----------------------------------------------

WRONG_JSON = [
    ("post", "/api/journeys/{journey_id}/messages", ["hello"]),
    ("post", "/api/journeys/{journey_id}/messages", "hello"),
    ("post", "/api/journeys/{journey_id}/messages", 7),
    ("post", "/api/journeys/{journey_id}/messages", {"body": {}}),
    ("post", "/api/journeys/{journey_id}/messages", {"body": ["hi"]}),
    ("post", "/api/journeys/{journey_id}/messages", {"template_id": 2**64}),
    ("post", "/api/journeys/{journey_id}/messages", {"template_id": True}),
    ("post", "/api/journeys/{journey_id}/messages", {"template_id": [1]}),
    ("post", "/api/journeys/{journey_id}/messages", {"template_id": "9" * 40}),
    ("post", "/api/journeys/{journey_id}/preview", [1, 2]),
    ("patch", "/api/journeys/{journey_id}", []),
    ("patch", "/api/journeys/{journey_id}", {"assignee_id": 2**64}),
    ("patch", "/api/journeys/{journey_id}", {"assignee_id": MAX_ID}),
    ("patch", "/api/journeys/{journey_id}", {"assignee_id": MAX_ID + 1}),
    ("patch", "/api/journeys/{journey_id}", {"assignee_id": True}),
    ("patch", "/api/journeys/{journey_id}", {"pathway": {}}),
    ("patch", "/api/journeys/{journey_id}", {"pathway": ["intake"]}),
    ("patch", "/api/journeys/{journey_id}", {"stage": {}}),
    ("patch", "/api/journeys/{journey_id}", {"is_open": {}}),
    ("patch", "/api/journeys/{journey_id}", {"appointment_at": "0001-01-01T00:00:00+14:00"}),
    ("patch", "/api/journeys/{journey_id}", {"appointment_at": "9999-12-31T23:59:59-14:00"}),
    ("patch", "/api/journeys/{journey_id}", {"paperwork_due_at": "0001-01-01T00:00:00+14:00"}),
    ("patch", "/api/journeys/{journey_id}", {"appointment_at": 20261201}),
    ("patch", "/api/journeys/{journey_id}", {"appointment_at": ["2026-12-01T10:00:00+00:00"]}),
    ("patch", "/api/attachments/{attachment_id}", {"label": {}}),
    ("patch", "/api/attachments/{attachment_id}", {"label": ["other"]}),
    ("patch", "/api/attachments/{attachment_id}", ["label"]),
    ("post", "/api/contacts/{contact_id}/consent", {"state": {}}),
    ("post", "/api/contacts/{contact_id}/consent", {"state": "opted_out", "note": {}}),
    ("post", "/api/contacts/{contact_id}/consent", {"state": "opted_in", "attestation": {}}),
    ("post", "/api/contacts/{contact_id}/consent", "opted_out"),
    ("post", "/api/contacts/{contact_id}/journeys", {"pathway": {}}),
    ("post", "/api/contacts/{contact_id}/journeys", [None]),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), WRONG_JSON, ids=[f"{m} {p} {b!r}"[:70] for m, p, b in WRONG_JSON]
)
def test_json_of_the_wrong_shape_is_a_json_4xx(staff_client, records, method, path, body):
    before = (count(Message), count(ConsentEvent))
    answer = getattr(staff_client, method)(path.format(**records), json=body)
    assert 400 <= answer.status_code < 500, answer.data
    assert answer.get_json()["error"]
    assert (count(Message), count(ConsentEvent)) == before


def test_a_json_body_nested_too_deep_is_400(staff_client, records):
    deep = "[" * 100_000 + "]" * 100_000
    answer = staff_client.post(
        f"/api/journeys/{records['journey_id']}/messages", data=deep, content_type="application/json"
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/nothing-here", 404),
        ("get", "/api/journeys/0", 404),
        ("get", "/api/journeys/seven", 404),
        ("delete", "/api/journeys", 405),
        ("put", "/api/journeys/{journey_id}", 405),
    ],
)
def test_api_errors_are_json(staff_client, records, method, path, status):
    answer = staff_client.client.open(path.format(**records), method=method.upper())
    assert answer.status_code == status and answer.is_json and answer.get_json()["error"]
    if status == 405:
        assert answer.headers["Allow"]


def test_pages_keep_their_html_errors(staff_client):
    answer = staff_client.get("/journeys/999999")
    assert answer.status_code == 404 and answer.mimetype == "text/html"


# -- socket events with odd payloads ---------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"journey_id": 2**63},
        {"journey_id": 2**70},
        {"journey_id": -1},
        {"journey_id": True},
        {"journey_id": [1]},
        {"journey_id": {"id": 1}},
        {"journey_id": "9" * 40},
        {"journey_id": "x\x00"},
        "seven",
        ["journey_id", 1],
        7,
        None,
        "nothing",
    ],
    ids=repr,
)
def test_join_journey_acknowledges_any_payload(app, staff_client, records, payload):
    sock = socketio.test_client(app, flask_test_client=staff_client.client)
    assert sock.is_connected()
    args = () if payload == "nothing" else (payload,)
    ack = sock.emit("join_journey", *args, callback=True)
    assert ack["ok"] is False and ack["error"]
    assert sock.emit("join_journey", {"journey_id": records["journey_id"]}, callback=True) == {"ok": True}
    sock.emit("leave_journey", *args)  # no ack, and no exception either
    sock.disconnect()
