"""Forgot password (MISSION B3; SECURITY.md 0.3, A-09..A-12): the service.

A person names their account (username or email) and gives its identity document
number; the page answers the same whatever they typed (A-09). When both match an
active account, a 6-digit code (:mod:`idp.mfa.email_codes`, purpose
``password_reset``) goes to the account's registered email, bound to this reset
attempt (the *flow*: a random id kept in the browser's server-side session) and to
the account (A-11). The right code lets them choose a new password at once; a person
with a strong second factor (authenticator app, security key, or one of their
recovery codes) proves it first (A-12, ASVS 6.4.3: a reset never bypasses MFA).
Then every session and refresh token of the account ends and the person is told.

One flow::

    (none) --details--> code sent* --right code--> code ok --(strong factor?)--> factor ok
               ^  |  resend >= 90 s (A-10)          |  no factor on file  |
               |  \\-> 5 wrong: locked 5 min         \\--------------------+--> new password
               |                                                                 |
               \\-------------- sessions, refresh tokens ended; mail -------------/

    * when nothing matched, a *decoy* flow walks the same pages with the same answers
      and never mails; its wrong-code count and lock are kept in the flow itself.

Codes count in the account's shared failure counter (SECURITY.md 0.4 b), so 5 wrong
codes lock the reset (and sign-in) for 5 minutes, and a resend does not lift it
(0.4 c): the counter is the account's, not the code's. An account without an identity
document on file (made by an operator or the command line) cannot reset by itself:
the same neutral answer, and the page says who can help; an operator can send it a
code (:func:`send_operator_code`), which starts the same flow from the mail's link.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.account import lockout
from idp.account.passwords import hash_password, password_problem
from idp.account.services import find_login_user
from idp.account.signout import end_sessions
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.enrollment import pii
from idp.enrollment.identity import NATIONAL_ID, PASSPORT, normalise_thai_id
from idp.mail import recipient_locale, send_templated
from idp.mfa import email_codes, email_otp
from idp.mfa import services as mfa
from idp.mfa.email_otp import Outcome, Purpose
from idp.models import EmailCode, Grant, User
from idp.oidc.revocation import end_grants

POLICY = email_otp.POLICIES[Purpose.PASSWORD_RESET]
FLOW_SECONDS = 30 * 60  # a whole attempt, from the details to the new password
PASSWORD_SECONDS = 10 * 60  # after the right code, time to choose the password
TICKET_SALT = "idp password reset ticket"


class ResetError(ValueError):
    """``code`` selects the translated message (:func:`idp.account.messages.reset_messages`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ResetFlow:
    """One reset attempt, as kept in the server-side session (never in a cookie).
    ``user_id`` None: a decoy (nothing matched); ``tries`` and ``locked_until`` are the
    decoy's stand-ins for the account counter a real flow uses. ``named_user_id``: a
    decoy whose name is an account's (the document did not match): its wrong codes
    count on that account's counter and its lock answers, exactly as a matched flow's
    would, so a lock never tells whether a guessed document number was right (A-09)."""

    id: str
    user_id: int | None
    started: int
    sent_at: int
    tries: int = 0
    locked_until: int | None = None
    code_ok_at: int | None = None
    factor_ok: bool = False
    named_user_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, t: int) -> ResetFlow | None:
        """The flow stored in the session, or None when absent, malformed or too old."""
        try:
            flow = cls(**data)
        except TypeError:
            return None
        return flow if t - flow.started < FLOW_SECONDS else None


# --- Matching the details ---------------------------------------------------------


def document_hashes(settings: Settings, number: str) -> tuple[str, ...]:
    """The lookup hashes the typed number could be stored under: a national ID (digits
    as on the card, dashes and Thai digits allowed) or a passport number (letters and
    digits, any case). One field for both, as people do not know what "kind" means."""
    national = normalise_thai_id(number)
    passport = "".join(national.split()).upper()
    return (
        pii.lookup_hash(settings, NATIONAL_ID, national),
        pii.lookup_hash(settings, PASSPORT, passport),
    )


def find_account(db: Session, settings: Settings, identifier: str, number: str) -> User | None:
    """The active account named by ``identifier`` whose identity document is ``number``;
    None otherwise (unknown name, wrong number, no document on file, disabled). The
    hashes are computed and compared either way (constant-time compare)."""
    user = find_login_user(db, identifier)
    stored = (user.id_doc_hash if user is not None else None) or "-" * 64
    matched = False
    for candidate in document_hashes(settings, number):
        matched |= hmac.compare_digest(stored, candidate)
    if user is None or not matched or not user.is_active or user.closed_at is not None:
        return None
    return user


# --- Sending codes ----------------------------------------------------------------


def account_wait(db: Session, user_id: int, t: int) -> int:
    """Seconds before another reset code may go to this account, whichever flow asks
    (A-10: a new flow is no way round the 90 s pause, so no mail bombing)."""
    last = db.scalar(
        select(EmailCode.created_at)
        .where(EmailCode.user_id == user_id, EmailCode.purpose == Purpose.PASSWORD_RESET.value)
        .order_by(EmailCode.id.desc())
        .limit(1)
    )
    return email_otp.resend_wait(POLICY, last, t)


def _mail_code(
    db: Session, settings: Settings, user: User, binding: str, link: str | None = None
) -> bool:
    """Issue a code for (account, flow) and mail it; False when within the pause.
    Committed before the mail is queued, so the pause holds whatever becomes of the
    mail (the page answers as if sent, A-09)."""
    issued = email_codes.issue(db, settings, user.id, Purpose.PASSWORD_RESET, binding, user.email)
    if issued.code is None:
        return False
    db.commit()
    _send_reset_code(settings, user, issued.code, link)
    return True


def _send_reset_code(settings: Settings, user: User, code: str, link: str | None) -> None:
    """Queue the reset-code mail (it leaves after the caller's commit)."""
    send_templated(
        settings,
        user.email,
        "password_reset_code",
        recipient_locale(settings, user),
        username=user.username,
        code=code,
        minutes=POLICY.ttl // 60,
        **({"link": link} if link else {}),
    )


def start(db: Session, settings: Settings, identifier: str, number: str) -> ResetFlow:
    """A new flow for the typed details; mails a code when they match (and the
    account's pause allows). The same kind of flow comes back either way. Commits."""
    t = now()
    flow = ResetFlow(id=secrets.token_urlsafe(24), user_id=None, started=t, sent_at=t)
    user = find_account(db, settings, identifier, number)
    record(
        db,
        AuditTag.ACCOUNT_PASSWORD_RESET_REQUESTED,
        actor=None,
        subject=user.id if user else None,
        matched=user is not None,
        via="self",
    )
    db.commit()
    if user is None:
        named = find_login_user(db, identifier)
        active = named is not None and named.is_active and named.closed_at is None
        return replace(flow, named_user_id=named.id if active else None)
    if account_wait(db, user.id, t) == 0:
        _mail_code(db, settings, user, flow.id)
    return replace(flow, user_id=user.id)


def resend_wait(db: Session, flow: ResetFlow, t: int) -> int:
    """Seconds before this flow may send another code (0: now): from this flow's own
    last code only. The account-wide pause (:func:`account_wait`) is silent (no mail,
    the same answer): a countdown that counted from another flow's code would tell a
    matched flow from a decoy (A-09)."""
    return email_otp.resend_wait(POLICY, flow.sent_at, t)


def resend(db: Session, settings: Settings, flow: ResetFlow) -> tuple[ResetFlow, int]:
    """A new code for the flow: ``(flow, 0)``, or ``(flow, seconds)`` when too soon (no
    mail). The new code supersedes the old one; the failure count stays (0.4 c)."""
    t = now()
    wait = resend_wait(db, flow, t)
    if wait:
        return flow, wait
    if flow.user_id is not None and account_wait(db, flow.user_id, t) == 0:
        user = db.get(User, flow.user_id)
        if user is not None:
            _mail_code(db, settings, user, flow.id)
    # A decoy's new "code" gets fresh tries; its lock stays, like an account's.
    return replace(flow, sent_at=t, tries=0), 0


# --- Checking the code ------------------------------------------------------------


def _decoy_try(
    db: Session, settings: Settings, flow: ResetFlow, t: int
) -> tuple[ResetFlow, Outcome]:
    """What a real flow would answer to a wrong code (email_otp.judge + the lockout).
    A decoy naming an account uses that account's counter, as a matched flow does."""
    if flow.named_user_id is not None:
        counted = lockout.guarded(
            db,
            flow.named_user_id,
            t,
            settings.lockout_threshold,
            settings.lockout_seconds,
            lambda _t: False,
        )
        if counted is None:
            return flow, Outcome.LOCKED
        if t >= flow.sent_at + POLICY.ttl or flow.tries >= POLICY.max_attempts:
            return flow, Outcome.SPENT
        return replace(flow, tries=flow.tries + 1), Outcome.WRONG
    if flow.locked_until is not None and t < flow.locked_until:
        return flow, Outcome.LOCKED
    if t >= flow.sent_at + POLICY.ttl or flow.tries >= POLICY.max_attempts:
        return flow, Outcome.SPENT
    tries = flow.tries + 1
    if tries >= settings.lockout_threshold:
        return replace(flow, tries=tries, locked_until=t + settings.lockout_seconds), Outcome.SPENT
    return replace(flow, tries=tries), Outcome.WRONG


def check_code(
    db: Session, settings: Settings, flow: ResetFlow, code: str
) -> tuple[ResetFlow, Outcome]:
    """Try ``code`` for this flow: only the latest code mailed for this very flow and
    account can pass (A-11), once (A-10). Commits."""
    t = now()
    if flow.user_id is None:
        return _decoy_try(db, settings, flow, t)
    if not email_codes.was_sent(db, settings, flow.user_id, Purpose.PASSWORD_RESET, flow.id):
        # A matched flow that mailed nothing (started within the account's pause, see
        # start) answers like a decoy naming the account: "spent" here would tell it
        # apart, and so whether the typed document was right.
        decoy = replace(flow, user_id=None, named_user_id=flow.user_id)
        decoy, outcome = _decoy_try(db, settings, decoy, t)
        return replace(decoy, user_id=flow.user_id, named_user_id=None), outcome
    verdict = email_codes.verify(db, settings, flow.user_id, Purpose.PASSWORD_RESET, flow.id, code)
    if verdict.accepted:
        return replace(flow, code_ok_at=t), verdict.outcome
    return flow, verdict.outcome


# --- The second factor (A-12) -----------------------------------------------------


def factor_kinds(db: Session, user_id: int, t: int) -> frozenset[str]:
    """How this person must prove their second factor: empty when they have none
    (an emailed code is not one: SECURITY.md 0.2). ``recovery`` whenever a strong
    factor is on file, as at sign-in."""
    kinds = {f.kind for f in mfa.active_factors(db, user_id)}
    if not kinds & {"totp", "webauthn"}:
        return frozenset()
    usable = mfa.enrolled_kinds(db, user_id, t)
    return frozenset({"recovery"} | (usable & {"totp", "webauthn"}))


def check_factor(
    db: Session, settings: Settings, flow: ResetFlow, method: str, code: str
) -> ResetFlow:
    """Verify an authenticator-app or recovery code (counted in the shared lockout);
    raises ResetError("factor_wrong")."""
    user = _flow_user(db, flow, need_factor=False)
    kinds = factor_kinds(db, user.id, now())
    ok = False
    if method == "totp" and "totp" in kinds:
        ok = mfa.verify_totp(db, settings, user, code)
    elif method == "recovery" and "recovery" in kinds:
        ok = mfa.verify_recovery_code(db, settings, user, code)
    if not ok:
        raise ResetError("factor_wrong")
    return replace(flow, factor_ok=True)


def _flow_user(db: Session, flow: ResetFlow, *, need_factor: bool) -> User:
    """The account of a flow whose code was accepted (and, with ``need_factor``, whose
    second factor is proven if the person has one); raises ResetError."""
    t = now()
    if flow.user_id is None or flow.code_ok_at is None or t - flow.code_ok_at > PASSWORD_SECONDS:
        raise ResetError("flow_expired")
    user = db.get(User, flow.user_id)
    if user is None or not user.is_active:
        raise ResetError("flow_expired")
    if need_factor and factor_kinds(db, user.id, t) and not flow.factor_ok:
        raise ResetError("factor_needed")
    return user


def flow_user(db: Session, flow: ResetFlow) -> User:
    return _flow_user(db, flow, need_factor=False)


def needs_factor(db: Session, flow: ResetFlow) -> bool:
    user = _flow_user(db, flow, need_factor=False)
    return bool(factor_kinds(db, user.id, now())) and not flow.factor_ok


# --- The new password -------------------------------------------------------------


def complete(db: Session, settings: Settings, flow: ResetFlow, password: str) -> User:
    """Set the new password (the registration policy), end every session and refresh
    token of the account, clear its lockout, audit and tell the person. Raises
    ResetError (``flow_expired``, ``factor_needed``, a password problem) with nothing
    changed. Commits."""
    user = _flow_user(db, flow, need_factor=True)
    problem = password_problem(password, (user.username_key, user.email_key.split("@")[0]))
    if problem:
        raise ResetError(problem)
    t = now()
    user.password_hash = hash_password(password)
    user.password_changed_at = user.updated_at = t
    user.must_change_password = False
    user.failed_logins, user.locked_until = 0, None
    lockout.clear_identifiers(db, settings.secret_key, user)
    ended = end_sessions(db, user, "password_reset")
    end_grants(db, Grant.user_id == user.id)
    record(
        db,
        AuditTag.ACCOUNT_PASSWORD_RESET,
        actor=user.id,
        subject=user.id,
        sessions_ended=len(ended),
        second_factor=flow.factor_ok,
    )
    db.commit()
    mfa.notify(settings, user, "password_reset_done", when=t)
    return user


# --- The operator's action --------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=TICKET_SALT)


def send_operator_code(
    db: Session, settings: Settings, operator: User, user: User, reason: str, link_for: Any
) -> None:
    """An operator sends the person a reset code (never a password), with a link that
    opens the flow the code is bound to (``link_for(ticket) -> URL``). The person still
    proves a second factor if they have one. Raises ResetError (``reason_missing``,
    ``too_soon``). Commits."""
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise ResetError("reason_missing")
    t = now()
    if account_wait(db, user.id, t):
        raise ResetError("too_soon")
    binding = secrets.token_urlsafe(24)
    ticket = _serializer(settings).dumps({"u": user.id, "f": binding, "t": t})
    issued = email_codes.issue(db, settings, user.id, Purpose.PASSWORD_RESET, binding, user.email)
    if issued.code is None:  # pragma: no cover - a fresh binding has no pause
        raise ResetError("too_soon")
    _send_reset_code(settings, user, issued.code, link_for(ticket))
    record(db, AuditTag.OP_RESET_CODE_SENT, actor=operator.id, subject=user.id, reason=reason)
    db.commit()


def flow_from_ticket(settings: Settings, ticket: str) -> ResetFlow | None:
    """The flow an operator's mail opens (its code is bound to it), while the code can
    still be valid; None for a forged, altered or expired ticket."""
    try:
        data = _serializer(settings).loads(ticket, max_age=POLICY.ttl)
        user_id, binding, sent_at = int(data["u"]), str(data["f"]), int(data["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return ResetFlow(id=binding, user_id=user_id, started=now(), sent_at=sent_at)
