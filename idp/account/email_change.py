"""Self-service email change (SECURITY.md M-11): after a password within the last 10
minutes, a 6-digit code goes to the new address; entering it within 10 minutes (at most
5 tries, each counted in the account's shared failure counter) makes the change, marks
the address verified and tells the old address.

The code is an emailed code of :mod:`idp.mfa.email_codes` (purpose ``email_change``),
bound to the pending change of this browser session: the session holds only a random
id for it, so the change is bound to this browser and ends with it. The address
changed to is the one the accepted code was mailed to, never one read elsewhere.

    (none) --start: code to the new address--> pending
    pending --start again (after the pause): new code, old one superseded--> pending
    pending --right code--> changed          pending --5 wrong / 10 min--> (none)
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import session
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.account.identifiers import email_key, is_valid_email
from idp.account.services import set_email
from idp.audit import AuditTag, record
from idp.db import now
from idp.mail import recipient_locale, send_templated
from idp.mfa import email_codes, email_otp
from idp.mfa.email_codes import Pending
from idp.mfa.email_otp import Outcome, Purpose
from idp.models import User

_KEY = "email_change"


class EmailChangeError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _binding(create: bool = False) -> str | None:
    """The id of this session's pending change (what its code is bound to)."""
    change = session.get(_KEY)
    binding = change.get("binding") if isinstance(change, dict) else None
    if isinstance(binding, str):
        return binding
    if not create:
        return None
    binding = secrets.token_urlsafe(16)
    session[_KEY] = {"binding": binding}
    return binding


def pending(db: Session, settings: Any, user: User) -> Pending | None:
    """The pending change of this session while its code can still be entered."""
    binding = _binding()
    if binding is None:
        return None
    return email_codes.pending(db, settings, user.id, Purpose.EMAIL_CHANGE, binding)


def start(db: Session, settings: Any, user: User, new_email: str) -> None:
    """Mail a code to ``new_email`` (queued: it leaves after the commit); raises
    EmailChangeError. Commits."""
    new_email = new_email.strip()
    if not is_valid_email(new_email):
        raise EmailChangeError("email_invalid")
    if email_key(new_email) == user.email_key:
        raise EmailChangeError("email_same")
    taken = db.scalar(select(User.id).where(User.email_key == email_key(new_email)))
    if taken is not None:
        raise EmailChangeError("email_taken")
    binding = _binding(create=True)
    issued = email_codes.issue(db, settings, user.id, Purpose.EMAIL_CHANGE, binding, new_email)
    if issued.code is None:
        raise EmailChangeError("code_recently_sent")  # no mail bombing through us
    code = issued.code
    send_templated(
        settings,
        new_email,
        "email_change_code",
        recipient_locale(settings, user),  # the account owner's, at the new address
        username=user.username,
        email=new_email,
        code=code,
        minutes=email_otp.POLICIES[Purpose.EMAIL_CHANGE].ttl // 60,
    )
    db.commit()


def tell_old_address(settings: Any, user: User, old: str) -> None:
    """After the change: the old address learns of it, in the owner's language (best
    effort: the change stands, and is audited, whether or not this mail goes out)."""
    send_templated(
        settings,
        old,
        "email_changed",
        recipient_locale(settings, user),
        username=user.username,
        old=old,
        new=user.email,
        by="self",
        when=now(),
    )


def confirm(db: Session, settings: Any, user: User, code: str) -> str:
    """Apply the pending change; returns the old address."""
    binding = _binding()
    if binding is None:
        raise EmailChangeError("code_expired")
    verdict = email_codes.verify(db, settings, user.id, Purpose.EMAIL_CHANGE, binding, code)
    if verdict.outcome is Outcome.LOCKED:
        raise EmailChangeError("code_locked")
    if verdict.outcome is Outcome.WRONG:
        raise EmailChangeError("code_wrong")
    if not verdict.accepted or verdict.sent_to is None:
        raise EmailChangeError("code_expired")
    session.pop(_KEY, None)
    new_email = verdict.sent_to
    if db.scalar(select(User.id).where(User.email_key == email_key(new_email), User.id != user.id)):
        raise EmailChangeError("email_taken")  # taken meanwhile
    old = user.email
    set_email(user, new_email, verified=True)  # the code proved it
    record(
        db,
        AuditTag.ACCOUNT_EMAIL_CHANGED,
        actor=user.id,
        subject=user.id,
        before=old,
        after=user.email,
    )
    return old
