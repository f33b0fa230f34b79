"""Self-service email change (SECURITY.md M-11): after a password within the last 10
minutes, a 6-digit code goes to the new address; entering it within 10 minutes (at most
5 tries) makes the change, marks the address verified and tells the old address.

The pending change lives in the server-side session (hashed code), so it is bound to
this browser and ends with it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import session
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.account.identifiers import email_key, is_valid_email
from idp.account.services import set_email
from idp.audit import AuditTag, record
from idp.db import now
from idp.mail import send_mail
from idp.models import User

CODE_TTL = 600
MAX_TRIES = 5
RESEND_AFTER = 60
_KEY = "email_change"


class EmailChangeError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def pending() -> dict | None:
    change = session.get(_KEY)
    return change if change and change["expires"] > now() else None


def start(db: Session, settings: Any, user: User, new_email: str) -> None:
    new_email = new_email.strip()
    if not is_valid_email(new_email):
        raise EmailChangeError("email_invalid")
    if email_key(new_email) == user.email_key:
        raise EmailChangeError("email_same")
    taken = db.scalar(select(User.id).where(User.email_key == email_key(new_email)))
    if taken is not None:
        raise EmailChangeError("email_taken")
    previous = session.get(_KEY)
    if previous and now() - previous.get("sent", 0) < RESEND_AFTER:
        raise EmailChangeError("code_recently_sent")  # no mail bombing through us
    code = f"{secrets.randbelow(10**6):06d}"
    send_mail(  # MailError reaches the view: nothing is pending then
        settings.smtp_url,
        settings.mail_from,
        new_email,
        "รหัสยืนยันอีเมล / Email confirmation code",
        f"รหัสยืนยันอีเมลใหม่ของบัญชี {user.username}: {code}\n"
        f"The code to confirm the new email of the account {user.username} is: {code}\n"
        "It works for 10 minutes. If you did not ask for it, ignore this mail.\n",
    )
    session[_KEY] = {
        "email": new_email,
        "code": _digest(code),
        "expires": now() + CODE_TTL,
        "tries": 0,
        "sent": now(),
    }


def confirm(db: Session, user: User, code: str) -> str:
    """Apply the pending change; returns the old address."""
    change = pending()
    if change is None:
        raise EmailChangeError("code_expired")
    change["tries"] += 1
    session[_KEY] = change
    if not hmac.compare_digest(change["code"], _digest(code.strip())):
        if change["tries"] >= MAX_TRIES:
            session[_KEY] = {**change, "expires": 0}  # spent, but the resend pause holds
            raise EmailChangeError("code_expired")
        raise EmailChangeError("code_wrong")
    session.pop(_KEY, None)
    if db.scalar(
        select(User.id).where(User.email_key == email_key(change["email"]), User.id != user.id)
    ):
        raise EmailChangeError("email_taken")  # taken meanwhile
    old = user.email
    set_email(user, change["email"], verified=True)  # the code proved it
    record(
        db,
        AuditTag.ACCOUNT_EMAIL_CHANGED,
        actor=user.id,
        subject=user.id,
        before=old,
        after=user.email,
    )
    return old
