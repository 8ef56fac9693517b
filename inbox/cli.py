"""Command line: practices, staff, the demo, the worker, key rotation and the retention purge."""

from __future__ import annotations

import os
import secrets
from typing import Any, cast

import click
from flask import Flask, current_app
from sqlalchemy import func, or_, select

from inbox.common.phones import InvalidNumber, to_e164
from inbox.crypto import keyring, new_index_key, new_vapid_key, vapid_public_key
from inbox.dev.demo import load_demo
from inbox.extensions import db
from inbox.gateway import gateway_for
from inbox.media import attachments
from inbox.models import (
    ROLES,
    Attachment,
    ConsentEvent,
    Contact,
    Journey,
    Message,
    OptOutRequest,
    Practice,
    PracticeNumber,
    StaffPhone,
    TwoFactor,
    User,
    utcnow,
)
from inbox.records import retention
from inbox.texting import search
from inbox.texting.practices import create_practice, public_form_url
from inbox.vocabulary import AttachmentStatus
from inbox.web.auth import hash_password
from inbox.worker import run_forever

DEMO_NUMBER = "+15005550006"
DEMO_PASSWORD = "intake-demo-2026"  # noqa: S105 - the embedded demo only; printed by `demo`


def _e164(value: str) -> str:
    """Click-friendly E.164 check."""
    try:
        return to_e164(value)
    except InvalidNumber as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("create-practice")
@click.option("--name", required=True)
@click.option("--number", required=True, help="the practice's Twilio number, E.164")
@click.option("--timezone", default="America/New_York", show_default=True)
def create_practice_command(name: str, number: str, timezone: str) -> None:
    """Add a practice and its Twilio number; prints its public appointment-request form URL."""
    number = _e164(number)
    if db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == number)):
        raise click.ClickException("that number already belongs to a practice")
    practice = create_practice(name, number, timezone)
    db.session.commit()
    click.echo(f"Practice {practice.id} created.")
    click.echo(f"Appointment-request form: {public_form_url(practice)}")


@click.command("create-user")
@click.option("--practice-number", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="staff", show_default=True)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
def create_user_command(practice_number: str, email: str, role: str, first_name: str, last_name: str) -> None:
    """Add a staff member; the password comes from INBOX_NEW_PASSWORD or a prompt."""
    number = db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == _e164(practice_number)))
    if number is None:
        raise click.ClickException("no practice has that number")
    password = os.environ.get("INBOX_NEW_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    if len(password) < 12:
        raise click.ClickException("use a password of at least 12 characters")
    email = email.strip().lower()
    if db.session.scalar(select(User).where(User.email == email)):
        raise click.ClickException("a user with that email exists")
    user = User(
        practice_id=number.practice_id,
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.commit()
    click.echo(f"User {user.id} ({role}) created.")


@click.command("demo")
def demo_command() -> None:
    """Load a demo practice with staff, contacts in every pathway and short threads (idempotent)."""
    created = load_demo(DEMO_NUMBER, DEMO_PASSWORD)
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo(f"Log in at {current_app.config['INBOX_PUBLIC_URL']}/login")
    click.echo(f"  coordinator: dana@example.com / {DEMO_PASSWORD}")
    click.echo(f"  admin:       admin@example.com / {DEMO_PASSWORD}")
    if current_app.config["INBOX_SIMULATOR"]:
        click.echo(f"Play a client's phone at {current_app.config['INBOX_PUBLIC_URL']}/simulator/")
    # The form a patient fills in on the practice's website, at the address this machine serves.
    number = db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == DEMO_NUMBER))
    assert number is not None  # load_demo() just made sure the demo practice and its number exist
    practice = db.session.get(Practice, number.practice_id)
    assert practice is not None
    form_url = public_form_url(practice)
    click.echo(f"Public appointment-request form: {form_url}")


@click.command("worker")
def worker_command() -> None:
    """Run background jobs (media, outbox) until stopped."""
    import signal

    stopping = []
    # systemd stops with SIGTERM: finish the current pass (never abandon a send mid-flight), then exit.
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    # current_app is a LocalProxy typed as Flask, so its _get_current_object is unknown to the checker.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_forever(app, should_stop=lambda: bool(stopping))


@click.command("rotate-keys")
@click.option("--batch", default=500, show_default=True)
def rotate_keys_command(batch: int) -> None:
    """Re-encrypt every sealed value (bodies, identifiers, stages, evidence) and media blob under the first
    key of INBOX_DATA_KEYS. Digests of the blind index do not change: they hang on INBOX_INDEX_KEY."""
    ring = keyring()
    # Each model's `id` and sealed columns; the loop's variable is typed loosely, their common base has neither.
    for model in cast(
        tuple[Any, ...], (Message, Contact, Journey, ConsentEvent, OptOutRequest, TwoFactor, StaffPhone)
    ):
        fields = {name: getattr(model, name).column for name in model.SEALED}
        sealed = or_(*(getattr(model, column).is_not(None) for column in fields.values()))
        total = db.session.scalar(select(func.count(model.id)).where(sealed))
        done = rotated = last_id = 0
        while True:
            rows = db.session.scalars(
                select(model).where(sealed, model.id > last_id).order_by(model.id).limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                for name, column in fields.items():
                    blob = getattr(row, column)
                    if blob is not None and ring.key_id(blob) != ring.primary:
                        # Open under the old key, seal under the primary.
                        setattr(row, name, getattr(row, name))
                        rotated += 1
            last_id = rows[-1].id
            done += len(rows)
            db.session.commit()
            click.echo(f"{model.__tablename__}: {done}/{total} checked, {rotated} values re-encrypted")
    files = 0
    for att in db.session.scalars(select(Attachment).where(Attachment.status == AttachmentStatus.READY)):
        for path in attachments.blob_paths(att):
            variant = path.suffix.lstrip(".")
            if ring.key_id(path.read_bytes()) != ring.primary:
                attachments.write_blob(att, variant, attachments.read_blob(att, variant))
                files += 1
    click.echo(f"media: {files} files re-encrypted. Done: everything is under key {ring.primary!r}.")


@click.command("purge")
@click.option("--practice", "practice_id", type=int, help="only this practice id (default: every practice)")
@click.option("--dry-run", is_flag=True, help="count what the policy would purge; change nothing")
@click.option("--batch", default=retention.BATCH, show_default=True)
def purge_command(practice_id: int | None, dry_run: bool, batch: int) -> None:
    """Apply each practice's retention policy now: purge bodies and media older than its retention_days."""
    query = select(Practice).order_by(Practice.id)
    if practice_id is not None:
        query = query.where(Practice.id == practice_id)
    practices = db.session.scalars(query).all()
    if not practices:
        raise click.ClickException("no such practice")
    gateway = gateway_for()
    now = utcnow()

    def progress(counts: retention.Counts) -> None:
        """One line per batch."""
        click.echo(f"  purged {counts.purged}/{counts.found}")

    for practice in practices:
        before = retention.cutoff(practice, now)
        policy = f"older than {practice.retention_days} days (before {before:%Y-%m-%d %H:%M} UTC)"
        click.echo(f"Practice {practice.id} ({practice.name}): {policy if before else 'no retention policy'}")
        counts = retention.purge_practice(practice, gateway, now, batch=batch, dry_run=True)
        click.echo(
            f"  found {counts.found} messages to purge, {counts.twilio_pending} copies at Twilio to delete"
        )
        if dry_run or not (counts.found or counts.twilio_pending):
            continue
        counts = retention.purge_practice(practice, gateway, now, batch=batch, progress=progress)
        click.echo(
            f"  done: {counts.purged} messages and {counts.photos} photos purged; Twilio: "
            f"{counts.twilio_deleted} deleted, {counts.twilio_failed} failed, {counts.twilio_pending} left to retry"
        )
    if dry_run:
        click.echo("Dry run: nothing was changed.")


@click.command("gen-data-key")
@click.option("--kid", default=lambda: "k" + utcnow().strftime("%Y%m%d"))
def gen_data_key_command(kid: str) -> None:
    """Print a new key for INBOX_DATA_KEYS (put it first, keep the old ones after it)."""
    import base64

    click.echo(f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}")


@click.command("reindex")
@click.option("--batch", default=500, show_default=True)
def reindex_command(batch: int) -> None:
    """Rebuild the blind index (search terms and number digests) from the sealed values; run it after
    INBOX_INDEX_KEY changed, before anyone searches or a text arrives."""
    contacts, messages = search.reindex(batch, lambda table, done: click.echo(f"{table}: {done} indexed"))
    click.echo(f"Done: {contacts} contacts and {messages} messages indexed.")


@click.command("gen-index-key")
def gen_index_key_command() -> None:
    """Print a new INBOX_INDEX_KEY (set it once; changing it means rebuilding every blind-index digest)."""
    click.echo(new_index_key())


@click.command("gen-vapid-key")
def gen_vapid_key_command() -> None:
    """Print a new INBOX_VAPID_PRIVATE_KEY and the public key browsers will subscribe with (changing it
    later leaves every subscribed browser unreachable until its person turns alerts on again)."""
    private = new_vapid_key()
    click.echo(f"INBOX_VAPID_PRIVATE_KEY={private}")
    click.echo(f"# public key (GET /api/push/key serves it): {vapid_public_key(private)}")


def init_app(app: Flask) -> None:
    """Register the commands under `flask --app inbox`."""
    for command in (
        create_practice_command,
        create_user_command,
        demo_command,
        worker_command,
        rotate_keys_command,
        gen_index_key_command,
        gen_vapid_key_command,
        reindex_command,
        purge_command,
        gen_data_key_command,
    ):
        app.cli.add_command(command)
