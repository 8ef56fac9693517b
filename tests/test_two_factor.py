"""Two-factor login: a real TOTP code or a one-time recovery code after the password, throttled like
the password; a session that passed only its password opens nothing but its step; a practice can make
everyone enrol at their next login; an admin's password reset removes the enrolment; all audited."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pyotp
import pytest
import requests
import socketio
from sqlalchemy import select

from inbox import create_app
from inbox.common import two_factor
from inbox.crypto import DecryptionError, keyring
from inbox.extensions import db
from inbox.models import AuditEvent, RecoveryCode, StaffSession, TwoFactor, User, utcnow
from inbox.web import auth
from tests import ephi_watch, factories
from tests.conftest import StaffClient
from tests.live_server import CSRF_INPUT, VALUE

pytest_plugins = ["tests.live_server"]  # the live_server fixture

FORM_TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
SECRET_TEXT = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')


def enrol(user: User) -> tuple[str, list[str]]:
    """Put two-factor in force for `user` with a code of the previous 30 s step (so the current one,
    which a test then logs in with, is not a replay); returns the secret and the recovery codes."""
    pending = two_factor.start(user)
    secret = pending.secret
    codes = two_factor.confirm(pending, user, pyotp.TOTP(secret).at(utcnow() - timedelta(seconds=30)))
    assert codes is not None
    db.session.commit()
    ephi_watch.remember(secret, *codes)  # secrets: never in a log
    return secret, codes


def actions(*names: str) -> list[tuple[str, int | None, dict]]:
    """The audit trail of these actions, oldest first: (action, acting user, detail)."""
    db.session.expire_all()
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(names)).order_by(AuditEvent.id)
    ).all()
    return [(e.action, e.user_id, e.detail) for e in rows]


def send_code(browser: StaffClient, code: str):
    """Submit the code step's form with its CSRF token."""
    page = browser.get("/login/code")
    token = FORM_TOKEN.search(page.data).group(1).decode()
    return browser.client.post("/login/code", data={"code": code, "csrf_token": token})


def post_form(browser: StaffClient, page_url: str, action: str, **fields: str):
    """Submit a form of a page (its CSRF token read from the page, as a browser would)."""
    page = browser.get(page_url)
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page.data).group(1).decode()
    return browser.client.post(action, data={"csrf_token": token, **fields})


@pytest.fixture
def enrolled(staff):
    """`staff` with two-factor in force: (secret, recovery codes)."""
    return enrol(staff)


def test_a_code_from_the_app_completes_the_login(app, staff, enrolled):
    secret, _codes = enrolled
    browser = StaffClient(app.test_client())
    answer = browser.login(staff.email)
    assert answer.status_code == 302 and answer.location.endswith("/login/code")
    assert send_code(browser, pyotp.TOTP(secret).now()).location.endswith("/")
    assert browser.get("/").status_code == 200
    assert browser.get("/api/journeys").status_code == 200
    trail = actions("login", "login.second_factor")
    assert trail == [
        ("login", staff.id, {"pending": "code"}),
        ("login.second_factor", staff.id, {"method": "totp"}),
    ]


def test_a_code_used_once_is_refused_the_second_time(app, staff, enrolled):
    code = pyotp.TOTP(enrolled[0]).now()
    first, second = StaffClient(app.test_client()), StaffClient(app.test_client())
    first.login(staff.email)
    second.login(staff.email)
    assert send_code(first, code).status_code == 302
    replay = send_code(second, code)
    assert replay.status_code == 401 and b"used already" in replay.data
    assert second.get("/api/journeys").status_code == 403


@pytest.mark.parametrize("shift", [-30, 30])
def test_the_adjacent_windows_are_accepted_and_older_ones_are_not(app, staff, enrolled, shift):
    totp, now = pyotp.TOTP(enrolled[0]), utcnow()
    found = two_factor.enrolment(staff)
    found.last_step = 0  # no step used yet (enrolling used the previous one)
    assert not two_factor.verify_code(found, totp.at(now - timedelta(seconds=90)), now)
    assert two_factor.verify_code(found, totp.at(now + timedelta(seconds=shift)), now)


def test_a_recovery_code_logs_in_once(app, staff, enrolled):
    _secret, codes = enrolled
    assert len(codes) == 10 and len(set(codes)) == 10
    browser = StaffClient(app.test_client())
    browser.login(staff.email)
    assert send_code(browser, codes[3].upper().replace("-", " ")).status_code == 302
    assert browser.get("/api/journeys").status_code == 200
    again = StaffClient(app.test_client())
    again.login(staff.email)
    assert send_code(again, codes[3]).status_code == 401
    assert again.get("/api/journeys").status_code == 403
    assert actions("two_factor.recovery_used") == [("two_factor.recovery_used", staff.id, {"remaining": 9})]
    assert actions("login.second_factor")[0][2] == {"method": "recovery"}
    assert actions("login.second_factor_failed") == [("login.second_factor_failed", staff.id, {})]
    # Only hashes are kept.
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)


def test_wrong_codes_are_refused_then_throttled_like_passwords(app, staff, enrolled):
    browser = StaffClient(app.test_client())
    browser.login(staff.email)
    for _ in range(auth.FREE_ATTEMPTS):
        assert send_code(browser, "000000").status_code == 401
    throttled = send_code(browser, pyotp.TOTP(enrolled[0]).now())  # even the right code waits now
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "30"
    assert auth.THROTTLED.encode() in throttled.data
    assert len(actions("login.second_factor_failed")) == auth.FREE_ATTEMPTS
    assert actions("login.second_factor") == []
    assert browser.get("/api/journeys").status_code == 403


def test_a_session_with_only_its_password_opens_nothing_but_the_code_step(app, staff, enrolled):
    browser = StaffClient(app.test_client())
    browser.login(staff.email)
    for page in ("/", "/journeys/1", "/intake/phone", "/account/password", "/account/two-factor"):
        assert browser.get(page).location.endswith("/login/code"), page
    refused = browser.get("/api/journeys")
    assert refused.status_code == 403 and refused.json == {
        "error": auth.STEP_REASONS["code"],
        "next": "/login/code",
    }
    assert browser.get("/api/staff").status_code == 403
    assert browser.get("/login/code").status_code == 200


def test_an_expired_code_step_starts_over_at_the_password(app, staff, enrolled):
    browser = StaffClient(app.test_client())
    browser.login(staff.email)
    pending = db.session.scalars(select(StaffSession)).one()
    pending.created_at = utcnow() - auth.PENDING_FOR - timedelta(seconds=1)
    db.session.commit()
    assert browser.get("/login/code").location.endswith("/login")
    assert browser.get("/api/journeys").status_code == 401


def test_no_socket_connects_before_the_code(live_server, staff, enrolled):
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/login", timeout=30)
    token = VALUE.search(CSRF_INPUT.search(page.text).group(0)).group(1)
    step = browser.post(
        f"{live_server.url}/login",
        data={"email": staff.email, "password": factories.PASSWORD, "csrf_token": token},
        timeout=30,
    )
    assert step.url.endswith("/login/code")
    with pytest.raises(socketio.exceptions.ConnectionError):
        live_server.socket(browser)
    token = VALUE.search(CSRF_INPUT.search(step.text).group(0)).group(1)
    done = browser.post(
        f"{live_server.url}/login/code",
        data={"code": pyotp.TOTP(enrolled[0]).now(), "csrf_token": token},
        timeout=30,
    )
    assert done.ok and done.url == f"{live_server.url}/"
    assert live_server.socket(browser).connected


def test_enrolling_from_the_account_page_shows_the_codes_once(app, staff, staff_client):
    assert b"Set up two-factor login" in staff_client.get("/account/two-factor").data
    post_form(staff_client, "/account/two-factor", "/account/two-factor/start")
    page = staff_client.get("/account/two-factor").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    secret = SECRET_TEXT.search(page).group(1).replace(" ", "")
    wrong = post_form(staff_client, "/account/two-factor", "/account/two-factor/confirm", code="123456")
    assert wrong.status_code == 400 and b"not right" in wrong.data
    assert not two_factor.is_enrolled(db.session.get(User, staff.id))
    answer = post_form(
        staff_client, "/account/two-factor", "/account/two-factor/confirm", code=pyotp.TOTP(secret).now()
    )
    codes = re.findall(r"<li><code>([a-z2-9-]{14})</code></li>", answer.get_data(as_text=True))
    assert answer.status_code == 200 and len(codes) == 10
    after = staff_client.get("/account/two-factor").get_data(as_text=True)
    assert "10 of 10 recovery codes left" in after and codes[0] not in after and secret not in after
    assert actions("two_factor.enrol") == [("two_factor.enrol", staff.id, {})]
    assert StaffClient(app.test_client()).login(staff.email).location.endswith("/login/code")


def logged_in_with_code(app, staff, secret: str) -> StaffClient:
    """A browser that passed both steps of a login (with the current window's code)."""
    browser = StaffClient(app.test_client())
    browser.login(staff.email)
    assert send_code(browser, pyotp.TOTP(secret).now()).status_code == 302
    return browser


def next_code(secret: str) -> str:
    """The next window's code: newer than the one the login used, so it is no replay."""
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))


def is_enrolled(staff: User) -> bool:
    """Whether two-factor is in force for `staff`, as the database says now."""
    db.session.expire_all()
    return two_factor.is_enrolled(db.session.get(User, staff.id))


def test_turning_it_off_needs_the_password_and_a_code_and_is_audited(app, staff, enrolled):
    secret = enrolled[0]
    browser = logged_in_with_code(app, staff, secret)
    off = "/account/two-factor/disable"
    wrong = post_form(browser, "/account/two-factor", off, password="nope", code=next_code(secret))
    assert wrong.status_code == 400 and b"not your current password" in wrong.data and is_enrolled(staff)
    no_code = post_form(browser, "/account/two-factor", off, password=factories.PASSWORD)
    assert no_code.status_code == 400 and is_enrolled(staff)
    for code in (
        "000000",
        pyotp.TOTP(secret).now(),
        "abcd-efgh-jkmn",
    ):  # wrong, the login's (a replay), unknown
        refused = post_form(browser, "/account/two-factor", off, password=factories.PASSWORD, code=code)
        assert refused.status_code == 400 and b"code is not right" in refused.data, code
        assert is_enrolled(staff)
    done = post_form(browser, "/account/two-factor", off, password=factories.PASSWORD, code=next_code(secret))
    assert done.status_code == 302 and not is_enrolled(staff)
    assert actions("two_factor.disable") == [("two_factor.disable", staff.id, {})]
    assert db.session.scalars(select(RecoveryCode)).all() == []
    assert StaffClient(app.test_client()).login(staff.email).location.endswith("/")


def test_a_recovery_code_also_turns_it_off(app, staff, enrolled):
    secret, codes = enrolled
    browser = logged_in_with_code(app, staff, secret)
    done = post_form(
        browser,
        "/account/two-factor",
        "/account/two-factor/disable",
        password=factories.PASSWORD,
        code=codes[0].upper(),
    )
    assert done.status_code == 302 and not is_enrolled(staff)
    assert actions("two_factor.disable") == [("two_factor.disable", staff.id, {})]


def test_wrong_codes_to_turn_it_off_are_throttled_like_the_login_code(app, staff, enrolled):
    secret = enrolled[0]
    browser = logged_in_with_code(app, staff, secret)
    off = "/account/two-factor/disable"
    statuses = [
        post_form(browser, "/account/two-factor", off, password=factories.PASSWORD, code="000000").status_code
        for _ in range(auth.FREE_ATTEMPTS + 3)
    ]
    assert statuses == [400] * auth.FREE_ATTEMPTS + [429] * 3
    late = post_form(browser, "/account/two-factor", off, password=factories.PASSWORD, code=next_code(secret))
    assert late.status_code == 429 and late.headers["Retry-After"] and is_enrolled(staff)


NEW_PASSWORD = "a brand new passphrase"
# Every page that asks a logged-in person for their password again: its form page, and its fields
# given the password and a fresh code (for the pages that take one).
RECHECKS = {
    "/account/two-factor/disable": ("/account/two-factor", lambda p, c: {"password": p, "code": c}),
    "/account/two-factor/recovery-codes": ("/account/two-factor", lambda p, c: {"password": p}),
    "/account/password": (
        "/account/password",
        lambda p, c: {"current": p, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    ),
}


@pytest.mark.parametrize("action", sorted(RECHECKS))
def test_a_password_asked_again_is_throttled_like_the_login(app, staff, enrolled, action):
    secret = enrolled[0]
    browser = logged_in_with_code(app, staff, secret)
    page, fields = RECHECKS[action]
    before = (
        db.session.get(User, staff.id).password_hash,
        db.session.scalars(select(RecoveryCode.code_hash)).all(),
    )
    statuses = [
        post_form(browser, page, action, **fields("wrong horse battery", next_code(secret))).status_code
        for _ in range(30)
    ]
    assert statuses == [400] * auth.FREE_ATTEMPTS + [429] * (30 - auth.FREE_ATTEMPTS)
    # The right password now waits too: nothing is checked while the throttle holds.
    right = post_form(browser, page, action, **fields(factories.PASSWORD, next_code(secret)))
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert auth.THROTTLED.encode() in right.data
    db.session.expire_all()
    after = (
        db.session.get(User, staff.id).password_hash,
        db.session.scalars(select(RecoveryCode.code_hash)).all(),
    )
    assert after == before and is_enrolled(staff)
    assert actions("two_factor.disable", "two_factor.recovery_codes_renewed", "account.password_change") == []
    assert browser.get("/api/journeys").status_code == 200  # still logged in: throttled, not locked out


def test_required_for_everyone_sends_each_login_to_enrolment_first(app, practice, admin):
    practice.require_two_factor = True
    db.session.commit()
    browser = StaffClient(app.test_client())
    assert browser.login(admin.email).location.endswith("/account/two-factor")
    for page in ("/", "/admin/settings", "/login/code"):
        assert browser.get(page).location.endswith(("/account/two-factor", "/login")), page
    refused = browser.get("/api/staff")
    assert refused.status_code == 403 and refused.json["next"] == "/account/two-factor"
    page = browser.get("/account/two-factor")
    assert page.status_code == 200 and b"Your practice requires two-factor login" in page.data
    post_form(browser, "/account/two-factor", "/account/two-factor/start")
    secret = SECRET_TEXT.search(browser.get("/account/two-factor").get_data(as_text=True)).group(1)
    done = post_form(
        browser,
        "/account/two-factor",
        "/account/two-factor/confirm",
        code=pyotp.TOTP(secret.replace(" ", "")).now(),
    )
    assert done.status_code == 200 and done.data.count(b"<li><code>") == 10
    assert browser.get("/").status_code == 200 and browser.get("/api/staff").status_code == 200
    # It stays on while the practice requires it.
    code = pyotp.TOTP(secret.replace(" ", "")).at(utcnow() + timedelta(seconds=30))
    post_form(
        browser, "/account/two-factor", "/account/two-factor/disable", password=factories.PASSWORD, code=code
    )
    assert two_factor.is_enrolled(db.session.get(User, admin.id))


def test_an_admins_password_reset_removes_the_enrolment(app, admin_client, staff, admin, enrolled):
    answer = admin_client.post(f"/admin/staff/{staff.id}", data={"action": "reset_password"})
    temporary = re.search(r"<code>([^<]+)</code>", answer.get_data(as_text=True)).group(1)
    assert not two_factor.is_enrolled(db.session.get(User, staff.id))
    assert db.session.scalars(select(TwoFactor)).all() == []
    assert actions("two_factor.reset") == [("two_factor.reset", admin.id, {})]
    browser = StaffClient(app.test_client())
    assert browser.login(staff.email, temporary).location.endswith("/")  # no code asked
    assert browser.get("/").location.endswith("/account/password")


def test_the_staff_list_shows_who_has_two_factor(app, admin_client, staff, enrolled):
    row = re.search(
        rf'<tr id="staff-{staff.id}">.*?</tr>', admin_client.get("/admin/staff").get_data(as_text=True), re.S
    )
    assert 'class="two-factor-state"><span class="tag tag-open">On' in row.group(0)


def test_the_secret_is_sealed_to_its_enrolment(app, practice, staff, enrolled):
    secret = enrolled[0]
    found = two_factor.enrolment(staff)
    assert secret.encode() not in found.secret_ct
    other = factories.user(practice, email="sam@example.com")
    copy = TwoFactor(user_id=other.id, secret=pyotp.random_base32())
    copy.secret_ct = found.secret_ct
    with pytest.raises(DecryptionError):
        _ = copy.secret
    assert keyring().open(found.secret_ct, f"two_factor.secret:{found.uid}").decode() == secret


def test_rotate_keys_reseals_the_secrets(app, staff, enrolled, monkeypatch):
    new_key = "new:" + base64.b64encode(b"N" * 32).decode()
    monkeypatch.setenv("INBOX_DATA_KEYS", f"{new_key},{app.config['INBOX_DATA_KEYS']}")
    rotated_app = create_app({"TESTING": True})
    with rotated_app.app_context():
        result = rotated_app.test_cli_runner().invoke(args=["rotate-keys"])
    assert "two_factors: 1/1 checked, 1 values re-encrypted" in result.output, result.output
    monkeypatch.setenv("INBOX_DATA_KEYS", new_key)
    with create_app({"TESTING": True}).app_context():
        assert db.session.scalars(select(TwoFactor)).one().secret == enrolled[0]


def test_a_newcomer_under_the_switch_enrols_then_changes_the_temporary_password(app, practice):
    practice.require_two_factor = True
    newcomer = factories.user(practice, email="sam@example.com", must_change_password=True)
    browser = StaffClient(app.test_client())
    assert browser.login(newcomer.email).location.endswith("/account/two-factor")
    post_form(browser, "/account/two-factor", "/account/two-factor/start")
    secret = SECRET_TEXT.search(browser.get("/account/two-factor").get_data(as_text=True)).group(1)
    code = pyotp.TOTP(secret.replace(" ", "")).now()
    assert (
        post_form(browser, "/account/two-factor", "/account/two-factor/confirm", code=code).status_code == 200
    )
    assert browser.get("/").location.endswith("/account/password")
    assert browser.get("/api/staff").json["next"] == "/account/password"
