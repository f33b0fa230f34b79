"""Scheduled jobs, run by `idp jobs run` from cron. Each job is idempotent: running it
twice in a row does (and mails) nothing the second time. Jobs that touch many rows work
in bounded batches (:data:`BATCH`), committing each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.orm import Session

from idp.account import data_rights, sessions, signout
from idp.account.lockout import purge_identifiers
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.enrollment import membership
from idp.enrollment.review import UNDECIDED
from idp.enrollment.verdicts import set_state, state_of
from idp.mfa.services import notify
from idp.models import (
    AuthorizationCode,
    EmailCode,
    Grant,
    IdentityVerification,
    MfaFactor,
    NoticeAcceptance,
    ProofingTransaction,
    Registration,
    ReviewItem,
    Token,
    User,
    WebAuthnChallenge,
    WebSession,
)

REMINDER_DAYS = (30, 7, 1)
BATCH = 200
# Purges: rows per DELETE and DELETEs per table per run (hourly cron: up to 50 000 rows
# per table an hour, each statement brief).
PURGE_BATCH = 1000
PURGE_BATCHES = 50
DAY = 86400


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


def purge_in_batches(
    db: Session,
    model: Any,
    condition: ColumnElement[bool],
    batch: int = PURGE_BATCH,
    max_batches: int = PURGE_BATCHES,
) -> int:
    """Delete the rows of ``model`` that match ``condition``, at most ``batch`` per
    statement (chosen by primary key in a subselect) and each batch its own short
    transaction, so a large backlog never holds a long lock on a hot table (issue 12).
    At most ``max_batches`` per run: what is left waits for the next run. Returns how
    many rows went."""
    n = 0
    for _ in range(max_batches):
        ids = select(model.id).where(condition).order_by(model.id).limit(batch)
        gone = db.execute(
            delete(model)
            .where(model.id.in_(ids.scalar_subquery()))
            .execution_options(synchronize_session=False)
        ).rowcount
        db.commit()
        n += gone
        if gone < batch:
            break
    return n


def purge(db: Session, t: int) -> int:
    """Drop spent single-use artefacts older than a day (tombstones beyond any replay
    window of interest: codes live 60 s, challenges 5 min, email codes 10 min), and
    sign-in counts of typed names untouched for a day and not paused."""
    day_ago = t - 86400
    n = 0
    for model in (AuthorizationCode, WebAuthnChallenge, EmailCode):
        n += purge_in_batches(db, model, model.expires_at < day_ago)
    n += purge_identifiers(db, day_ago, t)
    db.commit()
    return n


def purge_tokens(db: Session, t: int) -> int:
    """Drop access and refresh tokens expired more than a day ago. Until then a used or
    revoked refresh token stays as the tombstone that makes its replay end the grant
    (RFC 9700 4.14.2); after its expiry a replay is refused as unknown all the same."""
    return purge_in_batches(db, Token, Token.expires_at < t - DAY)


def purge_grants(db: Session, settings: Settings, t: int) -> int:
    """Drop grants (token families) that nothing can use or name any more: no token of
    theirs is left (``purge_tokens`` keeps a family's tombstones for a day), they can no
    longer be refreshed, and no browser session of their ``sid`` can still be alive
    (the sessions page and back-channel logout find a session's clients by its grants).
    Without this the table grew by one row per sign-in for ever (issue 12)."""
    horizon = max(settings.refresh_absolute_ttl, settings.session_absolute_ttl) + DAY
    dead = (
        (Grant.created_at < t - horizon)
        & ~exists().where(Token.grant_id == Grant.id)
        # A sid outlives its first row when the same person's login goes on
        # (``rotate(keep_sid=True)`` writes a fresh row): its live session keeps it.
        & ~exists().where(WebSession.sid == Grant.sid)
    )
    return purge_in_batches(db, Grant, dead)


def purge_sessions(
    db: Session,
    settings: Settings,
    t: int,
    batch: int = PURGE_BATCH,
    max_batches: int = PURGE_BATCHES,
) -> int:
    """Drop browser sessions past their idle or absolute lifetime (ASVS 7.3.1, 7.3.2),
    with the sign-in flows parked in them (:mod:`idp.oidc.flows`). Such a session is
    already refused when its cookie comes back (``idp.account.sessions``); this is the
    row nobody came back for. A signed-in person's session ends through the one front
    door (``signout.end_sessions``, reason ``expired``), so the clients signed in
    through it get their back-channel logout token (OIDC Back-Channel Logout 2.7: the
    session ended), delivered by ``deliver_logout_tokens`` later in the same run.
    Bounded like ``purge_in_batches``."""
    expired = sessions.expired(settings, t)
    n = 0
    for _ in range(max_batches):
        rows = db.execute(
            select(WebSession.id, WebSession.user_id, WebSession.sid)
            .where(expired)
            .order_by(WebSession.id)
            .limit(batch)
        ).all()
        by_person: dict[int, list[str]] = {}
        for row in rows:
            if row.user_id is not None:
                by_person.setdefault(row.user_id, []).append(row.sid)
        for person in db.scalars(select(User).where(User.id.in_(list(by_person)))):
            # ``only``: a session renewed since the SELECT (its sid kept) stays.
            ended = signout.end_sessions(
                db, person, "expired", sids=by_person[person.id], only=expired
            )
            n += len(ended)
        anonymous = [row.id for row in rows if row.user_id is None]
        if anonymous:
            gone = db.execute(delete(WebSession).where(WebSession.id.in_(anonymous), expired))
            n += gone.rowcount
        db.commit()
        if len(rows) < batch:
            break
    return n


def expire_memberships(db: Session, t: int, batch: int = BATCH) -> int:
    """Temporary members past ``membership_expires_at`` become ``expired`` (MISSION C2,
    SECURITY.md R-07), through the state machine; each audited (no actor: the system).
    The person is not mailed: they had the 14- and 3-day reminders."""
    n = 0
    while True:
        users = list(
            db.scalars(
                select(User)
                .where(
                    User.membership_status == str(membership.Status.TEMPORARY),
                    User.membership_expires_at.is_not(None),
                    User.membership_expires_at <= t,
                )
                .order_by(User.id)
                .limit(batch)
            )
        )
        for user in users:
            set_state(user, membership.apply(state_of(user), membership.Event.EXPIRE, t))
            record(
                db,
                AuditTag.MEMBERSHIP_EXPIRED,
                actor=None,
                subject=user.id,
                before="temporary",
                after="expired",
            )
        db.commit()
        n += len(users)
        if len(users) < batch:
            return n


def membership_reminders(db: Session, settings: Settings, t: int, batch: int = BATCH) -> int:
    """Mail each temporary member 14 and 3 days before their membership ends, once per
    threshold (``membership_reminded_days`` remembers the last one mailed)."""
    sent, last_id = 0, 0
    horizon = t + membership.REMINDER_DAYS[0] * DAY
    while True:
        users = list(
            db.scalars(
                select(User)
                .where(
                    User.id > last_id,
                    User.membership_status == str(membership.Status.TEMPORARY),
                    User.membership_expires_at.is_not(None),
                    User.membership_expires_at > t,
                    User.membership_expires_at <= horizon,
                    User.is_active.is_(True),
                )
                .order_by(User.id)
                .limit(batch)
            )
        )
        for user in users:
            due = membership.reminder_due(state_of(user), t, user.membership_reminded_days)
            if due is None:
                continue
            days_left = (user.membership_expires_at - t) / DAY
            notify(
                settings,
                user,
                "membership_expiring",
                days=max(1, int(days_left)),
                expires_at=user.membership_expires_at,
            )
            user.membership_reminded_days = due
            sent += 1
        db.commit()
        if len(users) < batch:
            return sent
        last_id = users[-1].id


def purge_registrations(db: Session, settings: Settings, t: int, batch: int = BATCH) -> int:
    """Drop registrations not finished (``status != "done"``) ``registration_days``
    after they were started, with their codes and proofing transactions. Kept: the
    notice acceptances (PDPA s.19: who consented stays provable) and the verifier
    results, which lose their link; a registration an operator still has to decide
    (an undecided review item) waits for the decision."""
    cutoff = t - settings.registration_days * DAY
    waiting = exists().where(
        ReviewItem.registration_id == Registration.id, ReviewItem.status.in_(UNDECIDED)
    )
    n = 0
    while True:
        ids = list(
            db.scalars(
                select(Registration.id)
                .where(Registration.status != "done", Registration.created_at < cutoff, ~waiting)
                .order_by(Registration.id)
                .limit(batch)
            )
        )
        if ids:
            # What ON DELETE would do, spelled out (and the same on every database).
            for model in (NoticeAcceptance, IdentityVerification, ReviewItem):
                db.execute(
                    update(model)
                    .where(model.registration_id.in_(ids))
                    .values(registration_id=None)
                    .execution_options(synchronize_session=False)
                )
            db.execute(delete(EmailCode).where(EmailCode.registration_id.in_(ids)))
            db.execute(
                delete(ProofingTransaction).where(ProofingTransaction.registration_id.in_(ids))
            )
            db.execute(delete(Registration).where(Registration.id.in_(ids)))
        db.commit()
        n += len(ids)
        if len(ids) < batch:
            return n


def purge_proofing(db: Session, t: int) -> int:
    """Cross-device proofing transactions live 5 minutes (X-02): a day after their
    end they are finished whatever their status, and dropped."""
    n = db.execute(
        delete(ProofingTransaction).where(ProofingTransaction.expires_at < t - DAY)
    ).rowcount
    db.commit()
    return n


def deliver_logout_tokens(db: Session, settings: Settings, t: int) -> int:
    """Back-channel logout tokens due now: retries after a failed first try (issue 11,
    :func:`idp.oidc.backchannel.deliver_due`). Returns how many were tried."""
    from idp.oidc.backchannel import deliver_due

    return sum(deliver_due(db, settings, t).values())


def deliver_mail(db: Session, settings: Settings, t: int) -> int:
    """Queued mails due now: retries after an SMTP outage (issue 13,
    :func:`idp.mail_outbox.deliver_due`); then sent and given-up ones purged. Returns
    how many were sent."""
    from idp import mail_outbox

    sent = mail_outbox.deliver_due(db, settings, t)["sent"]
    mail_outbox.purge(db, t)
    return sent


def erase_closed_accounts(db: Session, settings: Settings, t: int, batch: int = BATCH) -> int:
    """Erase the personal data of accounts closed more than
    ``closed_account_retention_days`` ago (PDPA s.33; :func:`idp.account.data_rights.
    erase`), each once (``erased_at``), each audited; a batch per commit."""
    cutoff = t - settings.closed_account_retention_days * DAY
    n = 0
    while True:
        users = list(
            db.scalars(
                select(User)
                .where(
                    User.closed_at.is_not(None), User.closed_at <= cutoff, User.erased_at.is_(None)
                )
                .order_by(User.id)
                .limit(batch)
            )
        )
        for user in users:
            data_rights.erase(db, settings, user, t)
        db.commit()
        n += len(users)
        if len(users) < batch:
            return n


def run_jobs(db: Session, settings: Settings) -> dict[str, int]:
    """Every job once. Mails are rendered from templates: run inside an app context
    (``idp jobs run`` pushes one). Reminders go before expiry, so that a member whose
    last day passed unnoticed is expired, not reminded."""
    t = now()
    return {
        "totp_reminders_sent": totp_reminders(db, settings, t),
        "memberships_expired": expire_memberships(db, t),
        "membership_reminders_sent": membership_reminders(db, settings, t),
        "registrations_purged": purge_registrations(db, settings, t),
        "proofing_purged": purge_proofing(db, t),
        "purged": purge(db, t),
        "tokens_purged": purge_tokens(db, t),
        # Sessions before grants: an expired session's clients are found by its grants.
        "sessions_purged": purge_sessions(db, settings, t),
        "grants_purged": purge_grants(db, settings, t),
        "logout_tokens_tried": deliver_logout_tokens(db, settings, t),
        "closed_accounts_erased": erase_closed_accounts(db, settings, t),
        # Last: the reminders above are queued too, and one that failed waits its turn.
        "mails_sent": deliver_mail(db, settings, t),
    }
