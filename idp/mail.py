"""Outgoing mail over SMTP (``IDP_SMTP_URL``: smtp://host:port or smtps://user:pw@host)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

log = logging.getLogger("idp.mail")


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


def send_mail(smtp_url: str, sender: str, to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    parts = urlsplit(smtp_url)
    host, port = (
        parts.hostname or "127.0.0.1",
        parts.port or (465 if parts.scheme == "smtps" else 25),
    )
    try:
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with cls(host, port, timeout=10) as smtp:
            if parts.scheme == "smtp+starttls":
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # Never log the body: it may hold a code.
        log.warning("mail to %s failed: %s", to, exc.__class__.__name__)
        raise MailError(str(exc)) from exc
