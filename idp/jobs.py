"""Scheduled jobs, run by `idp jobs run` from cron. Each job is idempotent."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.account.lockout import purge_identifiers
from idp.config import Settings
from idp.db import now
from idp.mfa.services import notify
from idp.models import (
    AuthorizationCode,
    EmailCode,
    MfaFactor,
    ProofingTransaction,
    User,
    WebAuthnChallenge,
)

REMINDER_DAYS = (30, 7, 1)


def totp_reminders(db: Session, settings: Settings, t: int) -> int:
    """Mail each soft-token holder 30, 7 and 1 days before expiry, once per threshold
    (MISSION B5); ``reminded_days`` remembers the last threshold mailed."""
    sent = 0
    horizon = t + REMINDER_DAYS[0] * 86400
    for factor in db.scalars(
        select(MfaFactor).where(
            MfaFactor.kind == "totp",
            MfaFactor.status == "active",
            MfaFactor.expires_at.is_not(None),
            MfaFactor.expires_at <= horizon,
            MfaFactor.expires_at > t,
        )
    ):
        days_left = (factor.expires_at - t) / 86400
        due = min(d for d in REMINDER_DAYS if days_left <= d)
        if factor.reminded_days is not None and factor.reminded_days <= due:
            continue
        user = db.get(User, factor.user_id)
        notify(
            settings,
            user,
            "totp_expiring",
            name=factor.name,
            days=max(1, int(days_left)),
            expires_at=factor.expires_at,
        )
        factor.reminded_days = due
        sent += 1
    db.commit()
    return sent


def purge(db: Session, t: int) -> int:
    """Drop spent single-use artefacts older than a day (tombstones beyond any replay
    window of interest: codes live 60 s, challenges 5 min, email codes 10 min), and
    sign-in counts of typed names untouched for a day and not paused."""
    day_ago = t - 86400
    n = 0
    for stmt in (
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < day_ago),
        delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < day_ago),
        delete(EmailCode).where(EmailCode.expires_at < day_ago),
        # Identity-app transactions (X-02, 5 min) with any unclaimed result.
        delete(ProofingTransaction).where(ProofingTransaction.expires_at < day_ago),
    ):
        n += db.execute(stmt).rowcount
    n += purge_identifiers(db, day_ago, t)
    db.commit()
    return n


def run_jobs(db: Session, settings: Settings) -> dict[str, int]:
    """Every job once. Mails are rendered from templates: run inside an app context
    (``idp jobs run`` pushes one)."""
    t = now()
    return {"totp_reminders_sent": totp_reminders(db, settings, t), "purged": purge(db, t)}
