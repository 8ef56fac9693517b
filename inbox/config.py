"""Settings read from the environment, with the embedded defaults for a fresh machine."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from inbox.crypto import new_index_key, new_vapid_key

DEFAULT_MEDIA_HOSTS = "https://api.twilio.com,https://media.twiliocdn.com,https://mms.twiliocdn.com"
# Production takes these from the environment only: generating them would hide a lost or missing secret.
REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "INBOX_DATA_KEYS",
    "INBOX_INDEX_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "INBOX_VAPID_PRIVATE_KEY",
    "INBOX_VAPID_SUBJECT",
)
# Where Web Push endpoints may point (host suffixes): the browsers' own push services. The worker POSTs
# to whatever endpoint a browser gave, so an endpoint elsewhere is refused when it is stored (no SSRF).
DEFAULT_PUSH_SERVICES = (
    "fcm.googleapis.com,android.googleapis.com,push.services.mozilla.com,push.apple.com,notify.windows.com"
)
DEFAULT_VAPID_SUBJECT = "mailto:intake-inbox@localhost"  # development only: production names its own
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5000  # where `python wsgi.py` serves without HOST and PORT


class ConfigError(RuntimeError):
    """The environment cannot run the chosen mode; the message names settings, never their values."""


def _env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _instance_secret(instance_path: Path, name: str, make: Callable[[], str]) -> str:
    """Read a generated secret from instance/, creating it (mode 0600) on first use."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: two processes starting at once must not both write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def _new_data_key() -> str:
    """A fresh AES-256 key in INBOX_DATA_KEYS form."""
    return "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode()


def listen_address(environ: Mapping[str, str]) -> tuple[str, int]:
    """HOST and PORT, as `python wsgi.py` serves them."""
    return environ.get("HOST") or DEFAULT_HOST, int(environ.get("PORT") or DEFAULT_PORT)


def served_url(environ: Mapping[str, str]) -> str:
    """The address `python wsgi.py` serves on, as this machine's browser, simulator and worker reach it:
    development's public URL, so that `PORT=5820 make run` is live on :5820 without further settings."""
    host, port = listen_address(environ)
    if host in ("0.0.0.0", "::"):  # noqa: S104 - not binding: every interface includes loopback
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def production_problems(environ: Mapping[str, str]) -> list[str]:
    """What keeps this environment from running in production: setting names and rules, never values."""
    problems = [f"{name} is not set" for name in REQUIRED_IN_PRODUCTION if not environ.get(name, "").strip()]
    if 0 < len(environ.get("SECRET_KEY", "").strip()) < 32:
        problems.append("SECRET_KEY must be at least 32 characters")
    if not environ.get("INBOX_PUBLIC_URL", "").startswith("https://"):
        problems.append("INBOX_PUBLIC_URL must be an https:// URL")
    subject = environ.get("INBOX_VAPID_SUBJECT", "").strip()
    if subject and not subject.startswith(("mailto:", "https://")):
        problems.append("INBOX_VAPID_SUBJECT must be a mailto: or https:// URL")
    media_hosts = environ.get("INBOX_MEDIA_HOSTS", DEFAULT_MEDIA_HOSTS).split(",")
    if any(not host.strip().startswith("https://") for host in media_hosts):
        problems.append("INBOX_MEDIA_HOSTS must list https:// origins only")
    return problems


def load_config(instance_path: str) -> dict[str, Any]:
    """Build the Flask config from the environment; embedded defaults live under instance/."""
    instance = Path(instance_path)
    mode = os.environ.get("INBOX_ENV", "development")
    if mode not in ("development", "production"):
        raise ConfigError("INBOX_ENV must be development or production")  # a typo must not mean development
    production = mode == "production"
    if production and (problems := production_problems(os.environ)):
        # Refuse before anything is generated into instance/.
        raise ConfigError("INBOX_ENV=production refuses to start: " + "; ".join(problems))
    account_sid = os.environ.get("TWILIO_ACCOUNT_SID", "")
    config: dict[str, Any] = {
        "INBOX_ENV": "production" if production else "development",
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance / 'inbox.sqlite3'}",
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "INBOX_DATA_KEYS": os.environ.get("INBOX_DATA_KEYS"),
        # The blind index's root key (crypto.BlindIndex): separate from the data keys, never rotated with them.
        "INBOX_INDEX_KEY": os.environ.get("INBOX_INDEX_KEY"),
        "INBOX_MEDIA_DIR": os.environ.get("INBOX_MEDIA_DIR") or str(instance / "media"),
        # Production refuses to start without it (above); development serves where HOST and PORT say.
        "INBOX_PUBLIC_URL": (os.environ.get("INBOX_PUBLIC_URL") or served_url(os.environ)).rstrip("/"),
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_API_BASE_URL": os.environ.get("TWILIO_API_BASE_URL") or None,
        "INBOX_MEDIA_HOSTS": os.environ.get("INBOX_MEDIA_HOSTS", DEFAULT_MEDIA_HOSTS),
        # Web Push (inbox/notify): the key the pushes are signed with (its public half is what browsers
        # subscribe with) and whom push services may contact about them.
        "INBOX_VAPID_PRIVATE_KEY": os.environ.get("INBOX_VAPID_PRIVATE_KEY"),
        "INBOX_VAPID_SUBJECT": os.environ.get("INBOX_VAPID_SUBJECT") or DEFAULT_VAPID_SUBJECT,
        "INBOX_PUSH_SERVICES": os.environ.get("INBOX_PUSH_SERVICES") or DEFAULT_PUSH_SERVICES,
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        # Deployments (and test runs) sharing one Redis keep their events apart with their own channel.
        "SOCKETIO_CHANNEL": os.environ.get("SOCKETIO_CHANNEL") or "flask-socketio",
        # wsgi.py sets this to the hub it patched; tests and CLI commands run plain threads.
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE", "threading"),
        "INBOX_SIMULATOR": not account_sid and not production,
        "INBOX_IDLE_MINUTES": int(os.environ.get("INBOX_IDLE_MINUTES", "15")),
        "INBOX_TRUSTED_PROXIES": int(os.environ.get("INBOX_TRUSTED_PROXIES", "0")),
        "INBOX_RUN_WORKER": _env_bool("INBOX_RUN_WORKER", not production),
        "INBOX_SEND_INTERVAL": float(os.environ.get("INBOX_SEND_INTERVAL", "1.0")),
        # How often the worker applies each practice's retention policy (a bounded batch per pass).
        "INBOX_RETENTION_EVERY_SECONDS": float(os.environ.get("INBOX_RETENTION_EVERY_SECONDS", "3600")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or _env_bool("INBOX_SECURE_COOKIES", False),
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # /healthz calls the workers stale when the newest heartbeat is older than this.
        "INBOX_WORKER_STALE_SECONDS": float(os.environ.get("INBOX_WORKER_STALE_SECONDS", "60")),
        "WTF_CSRF_TIME_LIMIT": None,  # the session itself expires; a token per session is enough
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,  # webhooks are small; the simulator uploads photos
        # SQL errors must not carry bound values (ciphertexts, numbers, names) into logs.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True, "pool_pre_ping": True},
        # No statement of a request runs longer (inbox/database.py): it answers 503 instead; 0 turns it off.
        "INBOX_STATEMENT_TIMEOUT": float(os.environ.get("INBOX_STATEMENT_TIMEOUT", "5")),
    }
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _instance_secret(instance, "secret_key", lambda: secrets.token_hex(32))
    if not config["INBOX_DATA_KEYS"]:
        config["INBOX_DATA_KEYS"] = _instance_secret(instance, "data_keys", _new_data_key)
    if not config["INBOX_INDEX_KEY"]:
        config["INBOX_INDEX_KEY"] = _instance_secret(instance, "index_key", new_index_key)
    if not config["INBOX_VAPID_PRIVATE_KEY"]:
        config["INBOX_VAPID_PRIVATE_KEY"] = _instance_secret(instance, "vapid_private_key", new_vapid_key)
    if config["INBOX_SIMULATOR"]:
        # The simulator signs its webhooks with a development token, as Twilio would with the real one.
        config["TWILIO_AUTH_TOKEN"] = config["TWILIO_AUTH_TOKEN"] or _instance_secret(
            instance, "simulator_token", lambda: secrets.token_hex(16)
        )
        # The simulated phone's photos are hosted by the app itself.
        config["INBOX_MEDIA_HOSTS"] += "," + config["INBOX_PUBLIC_URL"]
    return config
