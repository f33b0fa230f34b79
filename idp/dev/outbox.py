"""An in-process SMTP server for `idp demo` and a dev-only page listing what it got.

Registered only when IDP_DEV_OUTBOX is true, which production refuses (config.py)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from typing import Any

from flask import Blueprint, render_template

bp = Blueprint("dev", __name__)
MESSAGES: list[dict[str, str]] = []
_LOCK = threading.Lock()


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with _LOCK:
            MESSAGES.append(
                {
                    "to": str(msg["To"]),
                    "subject": str(msg["Subject"]),
                    "body": msg.get_body(preferencelist=("plain",)).get_content(),
                }
            )
        return "250 OK"


def start_sink(host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Start the SMTP sink; returns (controller, port). aiosmtpd cannot bind port 0
    itself (it connects to its own port to confirm the start: RECIPES.md 6)."""
    from aiosmtpd.controller import Controller

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    controller = Controller(_Sink(), hostname=host, port=port)
    controller.start()
    return controller, port


@bp.route("/dev/outbox")
def outbox() -> str:
    with _LOCK:
        messages = list(reversed(MESSAGES))
    return render_template("dev/outbox.html", messages=messages)
