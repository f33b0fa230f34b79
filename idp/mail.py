"""Outgoing mail: the one front door (:func:`send_templated`) and the SMTP transport
(``IDP_SMTP_URL``: smtp://host:port, smtp+starttls://user:pw@host or smtps://user:pw@host).

Every mail is written in its recipient's language, not the language of the request
that causes it (an admin's page, a cron job): :func:`recipient_locale` is the person's
chosen locale, else IDP_DEFAULT_LOCALE. A mail is a pair of templates rendered under
``flask_babel.force_locale``:

- ``templates/mail/<name>.txt``: ``{% block subject %}`` (one line) and the plain text;
- ``templates/mail/<name>.html``: the same text as simple, accessible HTML (``lang``,
  a heading with the brand's name in that language, inline styles: mail clients drop
  style sheets, and the pages' CSP does not apply to mail).

Both go out as one multipart/alternative message. A code or link given to the
template (``code``, ``link``) must appear in both parts, or rendering fails: a reader
of either part gets everything they need.
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_babel import force_locale
from markupsafe import escape

from idp.config import LOCALES, Settings

log = logging.getLogger("idp.mail")

MUST_APPEAR_IN_BOTH = ("code", "link")


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server (raised by :func:`send_mail`;
    the outbox retries it)."""


class MailTemplateError(RuntimeError):
    """A mail template lost a code or link in one of its parts (a bug, not an outage)."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def recipient_locale(settings: Settings, person: Any | None) -> str:
    """The language to write to ``person`` in: their chosen locale (``users.locale``),
    else the deployment default (IDP_DEFAULT_LOCALE); None (no account yet) gives the
    default too."""
    chosen = getattr(person, "locale", None)
    return chosen if chosen in LOCALES else settings.default_locale


def _tidy_text(text: str) -> str:
    """Template indentation and blank runs out; paragraphs stay one blank line apart."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render_mail(template: str, locale: str, **context: Any) -> RenderedMail:
    """Subject, text and HTML of ``mail/<template>`` in ``locale`` (th | en)."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported mail locale {locale!r}")
    env = current_app.jinja_env
    settings = current_app.extensions["idp_settings"]
    values = {"locale": locale, "brand_colour": settings.brand_primary_colour, **context}
    with force_locale(locale):
        text_template = env.get_template(f"mail/{template}.txt")
        subject_block = text_template.blocks["subject"](text_template.new_context(values))
        subject = " ".join("".join(subject_block).split())
        text = _tidy_text(text_template.render(values))
        html = env.get_template(f"mail/{template}.html").render(subject=subject, **values)
    html_body = html.partition("<body")[2]  # not the <title>: a subject may hold the code
    for key in MUST_APPEAR_IN_BOTH:
        if key in context and (
            str(context[key]) not in text or str(escape(context[key])) not in html_body
        ):
            raise MailTemplateError(f"mail/{template}: {key} missing from a part")
    return RenderedMail(subject, text, html)


def send_templated(settings: Settings, to: str, template: str, locale: str, **context: Any) -> None:
    """Render ``mail/<template>`` in ``locale`` and queue it for ``to`` in the outbox
    (:mod:`idp.mail_outbox`, issue 13): it leaves after the request commits, and an
    SMTP outage delays it instead of failing the caller. Raises MailTemplateError for
    a broken template (a bug), never MailError. Needs an app context (the CLI pushes
    one)."""
    from idp.mail_outbox import queue

    mail = render_mail(template, locale, **context)
    queue(to, template, mail)


def _address(value: str) -> str:
    """An address header, its display name (if any) RFC 2047-encoded when not ASCII."""
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def _message(sender: str, to: str, subject: str, body: str, html: str | None) -> Message:
    """The message, built with the classic ``email.mime`` API: the modern one
    (``EmailMessage``) folds a long non-ASCII Subject into encoded-words with the space
    between them outside any word, and RFC 2047 (6.2) tells readers to drop such
    spaces ("คำเชิญเข้าร่วม บริษัท ก" arrived as "คำเชิญเข้าร่วมบริษัท ก"); ``Header``
    keeps every space inside an encoded-word of at most 75 characters."""
    text_part = MIMEText(body, "plain", "utf-8")
    if html is None:
        msg: Message = text_part
    else:
        msg = MIMEMultipart("alternative")
        msg.attach(text_part)
        msg.attach(MIMEText(html, "html", "utf-8"))
    msg["From"], msg["To"] = _address(sender), _address(to)
    msg["Subject"] = Header(subject, "us-ascii" if subject.isascii() else "utf-8")
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    return msg


def send_mail(
    smtp_url: str, sender: str, to: str, subject: str, body: str, html: str | None = None
) -> None:
    """The transport: one message, multipart/alternative when ``html`` is given (the
    plain text first, as RFC 2046 5.1.4 orders the alternatives)."""
    if "\n" in subject or "\r" in subject:
        raise ValueError("a subject is one line")
    msg = _message(sender, to, subject, body, html)
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
        # Logged by the outbox with the row's id: never the address or the body (a code).
        raise MailError(exc.__class__.__name__) from exc
