"""Second-factor services: enrolment, verification (one failure counter per account
across password, TOTP, email OTP and recovery codes: SECURITY.md 0.4 b), lifecycle."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import crypto
from idp.account import lockout
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.mail import recipient_locale, send_templated
from idp.mfa import email_codes, email_otp, policy, totp, webauthn
from idp.mfa.email_otp import Purpose
from idp.models import Client, Grant, MfaFactor, RecoveryCode, User
from idp.oidc.acr import ACR_MFA
from idp.orgs.services import administered_orgs

RECOVERY_CODES = 10
REVOKE_REASONS = ("name_change", "new_phone", "lost_device", "other")
RENEW_DAYS = 30


class MfaError(ValueError):
    """A problem to show the person; ``code`` selects the translated message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def notify(settings: Settings, user: User, template: str, **context: object) -> None:
    """Best-effort notification in the person's language (``mail/<template>``, with
    ``username`` filled in): a mail outage must not undo a security change."""
    send_templated(
        settings,
        user.email,
        template,
        recipient_locale(settings, user),
        username=user.username,
        **context,
    )


def active_factors(db: Session, user_id: int) -> list[MfaFactor]:
    return list(
        db.scalars(
            select(MfaFactor)
            .where(MfaFactor.user_id == user_id, MfaFactor.status == "active")
            .order_by(MfaFactor.id)
        )
    )


def enrolled_kinds(db: Session, user_id: int, t: int) -> frozenset[str]:
    """Second factors the person can use now. Every account has an email address, so
    an emailed code is always possible (where the level and client allow it)."""
    kinds = {"email"}
    for f in active_factors(db, user_id):
        if f.kind == "totp" and f.expires_at is not None and f.expires_at <= t:
            continue  # expired soft tokens cannot complete a login (MISSION B5)
        kinds.add(f.kind)
    return frozenset(kinds)


STRONG_PROOFS = ("totp", "recovery", "webauthn", "webauthn_uv")


def may_enrol_in_flow(
    db: Session, user_id: int, t: int, proven: Mapping[str, int], since: int | None
) -> bool:
    """May a sign-in flow enrol a factor, and may finishing that enrolment count as a
    second factor of this session? For a person with no usable strong factor yet, or
    one who proved a strong factor in this session since ``since`` (the flow's start;
    None: never). Otherwise a stolen password alone would pass step-up by adding the
    attacker's own authenticator (SECURITY.md M-08). Asked before the factor is stored."""
    if not (enrolled_kinds(db, user_id, t) - {"email"}):
        return True
    return since is not None and any(proven.get(k, -1) >= since for k in STRONG_PROOFS)


# --- TOTP -------------------------------------------------------------------------


def start_totp(db: Session, settings: Settings, user: User, name: str) -> tuple[MfaFactor, str]:
    """A pending soft token and its secret; active only after a first valid code."""
    secret = totp.new_secret()
    t = now()
    factor = MfaFactor(
        user_id=user.id,
        kind="totp",
        name=(name.strip() or "Authenticator")[:64],
        status="pending",
        secret_enc=crypto.encrypt(settings.secret_key, secret),
        created_at=t,
        expires_at=t + settings.totp_validity_days * 86400,
    )
    db.add(factor)
    db.flush()
    return factor, secret


def totp_secret(settings: Settings, factor: MfaFactor) -> str:
    return crypto.decrypt(settings.secret_key, factor.secret_enc or "")


def expiring_totp(db: Session, user_id: int, t: int) -> MfaFactor | None:
    """An active soft token in its last 30 days (MISSION B5: offer "renew now")."""
    for f in active_factors(db, user_id):
        if (
            f.kind == "totp"
            and f.expires_at is not None
            and t < f.expires_at <= t + RENEW_DAYS * 86400
        ):
            return f
    return None


def confirm_totp(
    db: Session,
    settings: Settings,
    user: User,
    factor_id: int,
    code: str,
    replaces: int | None = None,
) -> list[str]:
    """Activate a pending soft token with its first code; returns new recovery codes
    when this is the person's first factor (shown once), else []."""
    factor = db.get(MfaFactor, factor_id)
    if factor is None or factor.user_id != user.id or factor.status != "pending":
        raise MfaError("enrolment_expired")
    t = now()
    step = totp.matching_step(totp_secret(settings, factor), code, t, None)
    if step is None:
        raise MfaError("wrong_code")
    first = not active_factors(db, user.id)
    factor.status, factor.last_step, factor.last_used_at = "active", step, t
    record(db, AuditTag.MFA_TOTP_ENROLLED, actor=user.id, subject=user.id, factor=factor.id)
    old = db.get(MfaFactor, replaces) if replaces else None
    if (
        old is not None
        and old.user_id == user.id
        and old.status == "active"
        and old.id != factor.id
    ):
        old.status, old.revoked_at, old.revoke_reason = "revoked", t, "renewed"
        record(
            db,
            AuditTag.MFA_FACTOR_REVOKED,
            actor=user.id,
            subject=user.id,
            factor=old.id,
            reason="renewed",
        )
    codes = regenerate_recovery_codes(db, settings, user) if first else []
    db.commit()
    _notify_totp_added(settings, user, factor)
    return codes


def provision_totp(
    db: Session, settings: Settings, user: User, name: str, *, actor: int | None, via: str
) -> tuple[MfaFactor, str]:
    """An active soft token set up for the person from outside their session (``idp
    users enrol-totp``, ``via="cli"``; the demo seed), without a first code: whoever
    runs it hands the secret over. Returns the factor and its secret (shown once).

    The same audit record as self-service enrolment (:func:`confirm_totp`), with
    ``actor`` None for the system and ``via`` saying where it came from, committed
    before the same notification mail, so a factor the person did not ask for is
    noticed. Best effort like every notification (:func:`notify`): without a reachable
    mail server the factor stays active and the failure is logged as a warning (the
    command line shows it on stderr and still succeeds). No recovery codes: they would
    be seen by the operator, not the person, who makes their own at /account."""
    factor, secret = start_totp(db, settings, user, name)
    factor.status = "active"
    record(db, AuditTag.MFA_TOTP_ENROLLED, actor=actor, subject=user.id, factor=factor.id, via=via)
    db.commit()
    _notify_totp_added(settings, user, factor)
    return factor, secret


def _notify_totp_added(settings: Settings, user: User, factor: MfaFactor) -> None:
    notify(settings, user, "totp_added", name=factor.name, when=now())


# --- WebAuthn ---------------------------------------------------------------------


def complete_webauthn_registration(
    db: Session, settings: Settings, user: User, sid: str, credential_json: str, name: str
) -> MfaFactor:
    """Store a new security key or passkey from the browser's registration response
    (verified against this session's challenge, SECURITY.md M-09), audit it and tell
    the person, like a new soft token (:func:`confirm_totp`). Raises
    :class:`idp.mfa.webauthn.WebAuthnFailed` with nothing stored."""
    factor = webauthn.register(db, settings.issuer, user, sid, credential_json, name)
    record(db, AuditTag.MFA_WEBAUTHN_ENROLLED, actor=user.id, subject=user.id, factor=factor.id)
    db.commit()
    notify(settings, user, "webauthn_added", name=factor.name, when=now())
    return factor


def _guarded(db: Session, settings: Settings, user: User, check) -> bool:
    """Run ``check`` under the shared account lockout (one counter, SECURITY.md 0.4)."""
    return (
        lockout.guarded(
            db, user.id, now(), settings.lockout_threshold, settings.lockout_seconds, check
        )
        is True
    )


def verify_totp(db: Session, settings: Settings, user: User, code: str) -> bool:
    def check(t: int) -> bool:
        for f in active_factors(db, user.id):
            if f.kind != "totp" or (f.expires_at is not None and f.expires_at <= t):
                continue
            step = totp.matching_step(totp_secret(settings, f), code, t, f.last_step)
            if step is None:
                continue
            # Conditional UPDATE: two requests with the same code cannot both pass.
            won = (
                db.execute(
                    update(MfaFactor)
                    .where(
                        MfaFactor.id == f.id,
                        (MfaFactor.last_step.is_(None)) | (MfaFactor.last_step < step),
                    )
                    .values(last_step=step, last_used_at=t)
                    .execution_options(synchronize_session=False)
                ).rowcount
                == 1
            )
            db.commit()
            return won
        return False

    return _guarded(db, settings, user, check)


# --- Email OTP --------------------------------------------------------------------


@dataclass(frozen=True)
class EmailSendResult:
    sent: bool
    retry_after: int = 0


def send_email_otp(db: Session, settings: Settings, user: User, flow_key: str) -> EmailSendResult:
    """Send a 6-digit code for this flow; at most one per 90 s. A new code supersedes
    the previous one and does not reset the failure counter (NIST 800-63B)."""
    issued = email_codes.issue(db, settings, user.id, Purpose.MFA, flow_key, user.email)
    if issued.code is None:
        return EmailSendResult(False, issued.retry_after)
    code = issued.code
    db.commit()  # before the mail: a failed delivery does not lift the resend pause
    send_templated(
        settings,
        user.email,
        "signin_code",
        recipient_locale(settings, user),
        code=code,
        minutes=email_otp.POLICIES[Purpose.MFA].ttl // 60,
    )
    return EmailSendResult(True)


def email_otp_wait(db: Session, settings: Settings, user: User, flow_key: str) -> int | None:
    """Seconds before another sign-in code may be sent for this flow; None: none sent."""
    return email_codes.resend_wait(db, settings, user.id, Purpose.MFA, flow_key)


def verify_email_otp(db: Session, settings: Settings, user: User, flow_key: str, code: str) -> bool:
    """The code mailed for this very flow (not another flow, not another purpose)."""
    return email_codes.verify(db, settings, user.id, Purpose.MFA, flow_key, code).accepted


# --- Recovery codes ---------------------------------------------------------------


def regenerate_recovery_codes(db: Session, settings: Settings, user: User) -> list[str]:
    """Ten new single-use codes (shown once); the old ones stop working."""
    t = now()
    db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=t)
    )
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    for c in codes:
        db.add(
            RecoveryCode(
                user_id=user.id, created_at=t, code_hash=crypto.keyed_digest(settings.secret_key, c)
            )
        )
    record(db, AuditTag.MFA_RECOVERY_REGENERATED, actor=user.id, subject=user.id)
    return codes


def verify_recovery_code(db: Session, settings: Settings, user: User, code: str) -> bool:
    digest = crypto.keyed_digest(settings.secret_key, code.strip().lower())

    def check(t: int) -> bool:
        won = (
            db.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.code_hash == digest,
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=t)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if won:
            record(db, AuditTag.MFA_RECOVERY_USED, actor=user.id, subject=user.id)
        db.commit()
        return won

    return _guarded(db, settings, user, check)


# --- Lifecycle --------------------------------------------------------------------


def rename_factor(db: Session, user: User, factor_id: int, name: str) -> None:
    factor = db.get(MfaFactor, factor_id)
    name = name.strip()
    if factor is None or factor.user_id != user.id or factor.status != "active":
        raise MfaError("not_found")
    if not name or len(name) > 64:
        raise MfaError("bad_name")
    factor.name = name
    record(db, AuditTag.MFA_FACTOR_RENAMED, actor=user.id, subject=user.id, factor=factor.id)
    db.commit()


def strong_factor_required(db: Session, user_id: int) -> bool:
    """Must this person keep a second factor (SECURITY.md M-11)? Yes when they may use
    a console (a platform operator or an org admin: consoles need ``mfa``), or hold a
    grant of a client whose minimum level is ``mfa`` or above."""
    user = db.get(User, user_id)
    if user is not None and user.is_operator:
        return True
    if administered_orgs(db, user_id):
        return True
    levels = db.scalars(
        select(Client.min_acr)
        .join(Grant, Grant.client_id == Client.client_id)
        .where(Grant.user_id == user_id)
        .distinct()
    )
    return any(policy.rank(level) >= policy.rank(ACR_MFA) for level in levels)


def revoke_refusal(db: Session, user: User, factor_id: int) -> str | None:
    """Why the factor cannot be revoked (``not_found``, ``last_factor``), else None;
    the security page asks this before it asks for confirmation."""
    factor = db.get(MfaFactor, factor_id)
    if factor is None or factor.user_id != user.id or factor.status != "active":
        return "not_found"
    others = [f for f in active_factors(db, user.id) if f.id != factor.id]
    if not others and strong_factor_required(db, user.id):
        return "last_factor"
    return None


def revoke_factor(db: Session, settings: Settings, user: User, factor_id: int, reason: str) -> None:
    """Revoke with a reason (MISSION B4); refused (``last_factor``) when it is the last
    factor and :func:`strong_factor_required` says the person must keep one."""
    if reason not in REVOKE_REASONS:
        raise MfaError("bad_reason")
    refusal = revoke_refusal(db, user, factor_id)
    if refusal is not None:
        raise MfaError(refusal)
    factor = db.get(MfaFactor, factor_id)
    factor.status, factor.revoked_at, factor.revoke_reason = "revoked", now(), reason
    record(
        db,
        AuditTag.MFA_FACTOR_REVOKED,
        actor=user.id,
        subject=user.id,
        factor=factor.id,
        reason=reason,
    )
    db.commit()
    notify(
        settings,
        user,
        "factor_removed",
        kind=factor.kind,
        name=factor.name,
        reason=reason,
        when=factor.revoked_at,
    )


def reset_factors(db: Session, user_id: int, reason: str) -> int:
    """Revoke every factor of the person (active or pending) and spend their unused
    recovery codes: an operator's reset after a lost phone or key or a locked
    authenticator app (issue 11, MISSION A8, B6). Unlike :func:`revoke_factor` it
    ignores :func:`strong_factor_required`: the person enrols again at the next
    sign-in that needs a second factor (with no strong factor left, the sign-in flow
    offers enrolment: :func:`may_enrol_in_flow`). Returns how many factors ended.
    Flushes; the caller audits and commits."""
    if reason not in REVOKE_REASONS:
        raise MfaError("bad_reason")
    t = now()
    ended = db.execute(
        update(MfaFactor)
        .where(MfaFactor.user_id == user_id, MfaFactor.status.in_(("active", "pending")))
        .values(status="revoked", revoked_at=t, revoke_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        .values(used_at=t)
        .execution_options(synchronize_session=False)
    )
    db.flush()
    return ended
