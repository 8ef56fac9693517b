"""The bare stack: Flask-SocketIO on eventlet whose webhook route does nothing but emit.

The baseline every bench figure is set beside: same server, same async hub, same client protocol, and no
app (no signature check, no database, no encryption, no auth). `python bench/bare_app.py` with HOST/PORT,
and, as the app, SOCKETIO_MESSAGE_QUEUE (and SOCKETIO_CHANNEL) when several processes share the rooms.
Sockets join the room named in their connect auth (``{"room": "practice:+15005550000"}``).
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402

from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode="eventlet",
    cors_allowed_origins="*",
    message_queue=os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
    channel=os.environ.get("SOCKETIO_CHANNEL") or "flask-socketio",
)


@socketio.on("connect")
def on_connect(auth=None):
    """Join the room the client names."""
    if auth and auth.get("room"):
        join_room(auth["room"])


@app.post("/twilio/messages")
def incoming_message():
    """Emit the text to its practice's room; that is all."""
    form = request.form
    socketio.emit("notify", {"snippet": form.get("Body", "")}, to=f"practice:{form.get('To', '')}")
    return app.response_class('<?xml version="1.0" encoding="UTF-8"?><Response />', mimetype="text/xml")


if __name__ == "__main__":
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5001"))
    print(f"bare stack on http://{host}:{port}", flush=True)
    # As wsgi.py: eventlet's default ceiling of 1,024 connections would cap the socket bench.
    socketio.run(app, host=host, port=port, log_output=False, max_size=10_000)
