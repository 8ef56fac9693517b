"""Intake Inbox: a secure texting inbox for healthcare intake teams."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from werkzeug.middleware.proxy_fix import ProxyFix

from inbox import crypto, database, gateway, vocabulary
from inbox.common import inputs
from inbox.config import load_config
from inbox.extensions import csrf, db, login_manager, migrate, socketio
from inbox.web.headers import HSTS, SocketIOHeaders

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config from the environment (or the tests), extensions, blueprints, CLI."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("INBOX_INSTANCE_DIR") or None,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.update(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # twilio-python logs every request at INFO, query parameters included (phone numbers on a lookup):
    # our gateway logs what happened without them.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

    inputs.init_app(app)  # first: it bounds the <int:...> converter that every route below uses
    crypto.init_app(app)
    gateway.init_app(app)
    # The states and kinds the browser's scripts test against, from the one vocabulary.
    app.context_processor(lambda: {"vocabulary": vocabulary.for_pages()})
    database.configure(app)  # the webhooks' own pool, before the engines are made
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    socketio.init_app(
        app,
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        channel=app.config["SOCKETIO_CHANNEL"],
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        cors_allowed_origins=[app.config["INBOX_PUBLIC_URL"]],
        manage_session=False,
    )
    # Engine.IO answers long-polling before Flask's after_request runs: give it the same headers.
    # Flask documents wrapping wsgi_app in middleware; its stub declares a method (a Flask typing gap).
    app.wsgi_app = SocketIOHeaders(  # type: ignore[method-assign]
        app.wsgi_app, hsts=app.config["SESSION_COOKIE_SECURE"]
    )
    if app.config["INBOX_TRUSTED_PROXIES"]:
        # Trust X-Forwarded-* only from as many proxies as the deployer says sit in front of us. Outermost,
        # so that Socket.IO's requests (which Flask-SocketIO's middleware answers before Flask sees them)
        # also carry the client's address into their audit events, not the proxy's.
        n = app.config["INBOX_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n
        )
    _create_private_files(app)
    _enable_sqlite_wal(app)
    with app.app_context():
        database.init_app(app, db.engines)  # staff requests' statements are time-limited, webhooks' not

    # Imported here, not at the top: any `import inbox.models` (the worker, migrations, a test) runs this
    # package's __init__ first, and should not drag in every page and the whole web layer with it.
    from inbox import cli, realtime
    from inbox.texting import search
    from inbox.web import (
        account,
        admin,
        api,
        auth,
        health,
        intake,
        optouts,
        push,
        safety,
        two_factor,
        views,
        webhooks,
        workspace,
    )
    from inbox.web.admin import alerts, compliance, numbers, oncall, settings, spamwatch, staff

    auth.init_app(app)
    admin.init_app(app)
    realtime.init_app(app)
    search.init_app(app)  # keeps the sealed search index in step with every flush
    app.register_blueprint(account.bp)
    app.register_blueprint(two_factor.bp)
    app.register_blueprint(views.bp)
    api.init_app(app)
    optouts.init_app(app)
    app.register_blueprint(safety.bp)
    push.init_app(app)  # Web Push: subscriptions, the alerts page, the service worker
    workspace.init_app(app)  # contacts staff name, internal notes, @mentions
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(compliance.bp)
    app.register_blueprint(spamwatch.bp)
    app.register_blueprint(numbers.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(oncall.bp)  # the safety alerts' on-call rota
    app.register_blueprint(alerts.bp)  # and their accountability record
    app.register_blueprint(health.bp)  # no login: the proxy's probe
    csrf.exempt(webhooks.bp)  # Twilio signs its requests instead
    if app.config["INBOX_SIMULATOR"]:
        from inbox.dev import simulator  # development only: production never loads it

        simulator.init_app(app)
    cli.init_app(app)

    @app.after_request
    def security_headers(response: Response) -> Response:
        """Strict headers on every response; pages hold ePHI, so nothing is cached."""
        embeddable = request.endpoint == "intake.request_form"  # practices embed it in their website
        response.headers.setdefault(
            "Content-Security-Policy",
            CSP.replace("frame-ancestors 'none'", "frame-ancestors https:") if embeddable else CSP,
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not embeddable:
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype in ("text/html", "application/json"):
            response.headers.setdefault("Cache-Control", "no-store")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return app


def _create_private_files(app: Flask) -> None:
    """The SQLite file (its WAL and shared-memory files take its mode) and the media folder hold ePHI:
    when we are the ones creating them, they are created 0600 and 0700, like the generated keys.
    Existing ones keep the mode their deployer gave them; a place we cannot write is left for the first
    write to report."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    database = url.database if url.get_backend_name() == "sqlite" else None
    try:
        Path(app.config["INBOX_MEDIA_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # the database is there already (or another process created it first)
    except OSError:
        pass


def _enable_sqlite_wal(app: Flask) -> None:
    """SQLite: WAL so readers never wait on the writer, and a busy timeout instead of errors.

    synchronous=NORMAL: in WAL mode a commit writes the log without an fsync (checkpoints still sync).
    An app crash loses nothing; a power loss can lose the last commits but never corrupts the file.
    SQLite is the single-machine default and production runs PostgreSQL (docs/deploy.md); under
    eventlet each commit's fsync stalled every socket (docs/benchmarks.md).
    """
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    def _pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    with app.app_context():
        for engine in db.engines.values():  # the main pool and the webhooks' (inbox/database.py)
            event.listen(engine, "connect", _pragmas)
