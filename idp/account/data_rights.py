"""The person's data rights under the Thai PDPA (issue 11): a copy of everything we
hold about them (s.30, right of access; s.31, data portability), closing the account
(s.33, erasure) and the erasure itself after the retention period.

Closure, as a state diagram (times on ``users``)::

    active --request_closure--> closure asked (closure_requested_at; still signs in)
    active or closure asked --close_account (an operator, a reason)--> closed
        (closed_at, is_active False, sessions and refresh tokens ended at once)
    closed --erase (the job, closed_account_retention_days later)--> erased (erased_at)

A closed account is never enabled again (:func:`idp.admin.accounts.set_active`
refuses). Erasure keeps the ``users`` row and its id: audit events are append-only
(migration 0008) and refer to the id, which from then on names nobody
(SECURITY.md X-06). The ``sub`` stays too: a random value, it is the pseudonym.

The identity document's number IS in the export, in clear (decrypted here, never
stored so): it is personal data we hold, and PDPA s.30 gives the person a copy of it;
refusing needs a law or a court order, not convenience. What guards the file: a
password typed within 10 minutes, the download audited, ``Cache-Control: no-store``,
and the page's warning to keep the file safe. Its lookup hash and cipher are not.

What the export leaves out, and why (README "Your data"):
- secrets: the password hash, TOTP seeds, WebAuthn keys, code and token hashes, the
  resume token's hash; recovery codes only as counts;
- other people: an event the person caused about someone else keeps its action,
  time and organisation, not its details nor who it was about.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from idp import mail_outbox
from idp.account import panels
from idp.account.signout import end_sessions
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.enrollment import pii
from idp.models import (
    ApplicantDocument,
    AuditEvent,
    AuthorizationCode,
    Client,
    ClientScope,
    Consent,
    EmailCode,
    Entitlement,
    Grant,
    IdentityVerification,
    Invitation,
    Membership,
    MfaFactor,
    NoticeAcceptance,
    Organization,
    OrgChoice,
    ProofingTransaction,
    RecoveryCode,
    Registration,
    ReviewItem,
    ServiceRequest,
    Token,
    User,
    WebAuthnChallenge,
    WebSession,
)
from idp.oidc.revocation import end_grants

EXPORT_FORMAT = "idp-personal-data/1"
DAY = 86400
# An erased account's username and email: outside what a person can choose
# (identifiers.USERNAME_RE has no "#", EMAIL_RE needs a dot in the domain), so they
# never clash with a new account, and unique per id so the unique keys hold.
ERASED_USERNAME = "#erased-{id}"
ERASED_EMAIL = "erased-{id}@invalid"
ERASED_PASSWORD_HASH = "!erased"  # not an argon2 hash: verify_password is always False  # noqa: S105


class ClosureRefused(ValueError):
    """``already_requested``, ``already_closed``, ``self`` or ``reason_missing``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _iso(t: int | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


# --- the export ----------------------------------------------------------------------


def export(db: Session, settings: Settings, user: User, t: int) -> dict[str, Any]:
    """Everything we hold about ``user``, as JSON-ready values (times in ISO 8601 UTC).
    No secrets and nobody else's data: see the module docstring."""
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(t),
        "profile": _profile(settings, user),
        "memberships": _memberships(db, user),
        "notice_acceptances": [
            {
                "version": n.version,
                "accepted_at": _iso(n.accepted_at),
                "ip": n.ip,
                "user_agent": n.user_agent,
            }
            for n in db.scalars(
                select(NoticeAcceptance)
                .where(NoticeAcceptance.user_id == user.id)
                .order_by(NoticeAcceptance.id)
            )
        ],
        "identity_verifications": [
            {
                "method": v.method,
                "outcome": v.outcome,
                "at": _iso(v.at),
                "trust_framework": v.trust_framework,
                "evidence_type": v.evidence_type,
                "evidence_ref": v.evidence_ref,
                "claims": v.claims,
                "reason": v.reason,
            }
            for v in db.scalars(
                select(IdentityVerification)
                .where(IdentityVerification.user_id == user.id)
                .order_by(IdentityVerification.id)
            )
        ],
        "second_factors": [
            {
                "kind": f.kind,
                "name": f.name,
                "status": f.status,
                "created_at": _iso(f.created_at),
                "last_used_at": _iso(f.last_used_at),
                "expires_at": _iso(f.expires_at),
                "revoked_at": _iso(f.revoked_at),
                "revoke_reason": f.revoke_reason,
            }
            for f in db.scalars(
                select(MfaFactor).where(MfaFactor.user_id == user.id).order_by(MfaFactor.id)
            )
        ],
        "recovery_codes": _recovery_counts(db, user),
        "sessions": [
            {
                "user_agent": s.user_agent,
                "ip": s.ip,
                "started_at": _iso(s.created_at),
                "last_seen_at": _iso(s.last_seen),
            }
            for s in db.scalars(
                select(WebSession).where(WebSession.user_id == user.id).order_by(WebSession.id)
            )
        ],
        "applications": _applications(db, user),
        "registrations": [
            {
                "kind": r.kind,
                "status": r.status,
                "member_type": r.member_type,
                "agency": r.agency,
                "email": r.email,
                "details": r.data,
                "identity_document": {
                    "kind": r.id_doc_kind,
                    "masked": r.id_doc_masked,
                    "nationality": r.nationality,
                },
                "ip": r.ip,
                "started_at": _iso(r.created_at),
                "updated_at": _iso(r.updated_at),
            }
            for r in db.scalars(
                select(Registration)
                .where(Registration.user_id == user.id)
                .order_by(Registration.id)
            )
        ],
        "service_requests": [
            {
                "kind": s.kind,
                "status": s.status,
                "details": s.details,
                "result": s.result,
                "created_at": _iso(s.created_at),
                "updated_at": _iso(s.updated_at),
            }
            for s in db.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.user_id == user.id)
                .order_by(ServiceRequest.id)
            )
        ],
        "audit_events": _audit_events(db, user),
    }


def _profile(settings: Settings, user: User) -> dict[str, Any]:
    return {
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "given_name_th": user.given_name_th,
        "family_name_th": user.family_name_th,
        "gender": user.gender,
        "birthdate": user.birthdate.isoformat() if user.birthdate else None,
        "phone_number": user.phone_number,
        "phone_number_verified": user.phone_number_verified,
        "address": user.address,
        "locale": user.locale,
        "identity_document": {
            "kind": user.id_doc_kind,
            "number": pii.reveal(settings, user.id_doc_cipher) if user.id_doc_cipher else None,
            "masked": user.id_doc_masked,
            "nationality": user.nationality,
            "passport_expires": user.passport_expires.isoformat()
            if user.passport_expires
            else None,
        },
        "member_type": user.member_type,
        "membership_status": user.membership_status,
        "membership_expires_at": _iso(user.membership_expires_at),
        "agency": user.agency,
        "position": user.position,
        "notice_version": user.notice_version,
        "password_changed_at": _iso(user.password_changed_at),
        "is_active": user.is_active,
        "is_operator": user.is_operator,
        "closure_requested_at": _iso(user.closure_requested_at),
        "closed_at": _iso(user.closed_at),
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
    }


def _memberships(db: Session, user: User) -> list[dict[str, Any]]:
    out = []
    rows = db.execute(
        select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id)
        .order_by(Membership.id)
    ).all()
    for membership, org in rows:
        rights = db.execute(
            select(Entitlement, ClientScope)
            .join(ClientScope, ClientScope.id == Entitlement.scope_id)
            .where(Entitlement.membership_id == membership.id)
            .order_by(Entitlement.id)
        ).all()
        out.append(
            {
                "organisation": {
                    "identifier": org.identifier,
                    "kind": org.kind,
                    "name_th": org.name_th,
                    "name_en": org.name_en,
                },
                "role": membership.role,
                "joined_at": _iso(membership.created_at),
                "entitlements": [
                    {
                        "client_id": scope.client_id,
                        "scope": scope.name,
                        "granted_at": _iso(e.granted_at),
                    }
                    for e, scope in rights
                ],
            }
        )
    return out


def _recovery_counts(db: Session, user: User) -> dict[str, int]:
    rows = dict(
        db.execute(
            select(RecoveryCode.used_at.is_(None), func.count())
            .where(RecoveryCode.user_id == user.id)
            .group_by(RecoveryCode.used_at.is_(None))
        ).all()
    )
    return {"unused": rows.get(True, 0), "used": rows.get(False, 0)}


def _applications(db: Session, user: User) -> dict[str, Any]:
    names = dict(db.execute(select(Client.client_id, Client.name)).all())
    consents = db.scalars(
        select(Consent).where(Consent.user_id == user.id).order_by(Consent.id)
    ).all()
    grants = db.scalars(select(Grant).where(Grant.user_id == user.id).order_by(Grant.id)).all()
    return {
        "consents": [
            {
                "client_id": c.client_id,
                "client_name": names.get(c.client_id, ""),
                "scope": c.scope,
                "granted_at": _iso(c.granted_at),
            }
            for c in consents
        ],
        "grants": [
            {
                "client_id": g.client_id,
                "client_name": names.get(g.client_id, ""),
                "scope": g.scope,
                "acr": g.acr,
                "amr": g.amr,
                "signed_in_at": _iso(g.auth_time),
                "created_at": _iso(g.created_at),
                "revoked_at": _iso(g.revoked_at),
            }
            for g in grants
        ],
    }


def _audit_events(db: Session, user: User) -> list[dict[str, Any]]:
    """Events about the person (any actor) in full; events they caused about someone
    else without that someone (no subject, no details: X-06, nobody else's data)."""
    out = []
    for e in db.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.subject_user_id == user.id, AuditEvent.actor_user_id == user.id))
        .order_by(AuditEvent.id)
    ):
        about_them = e.subject_user_id == user.id
        by = (
            "you"
            if e.actor_user_id == user.id
            else "system"
            if e.actor_user_id is None
            else "staff"
        )
        out.append(
            {
                "action": e.tag,
                "at": _iso(e.at),
                "by": by,
                "about": "you"
                if about_them
                else ("nobody" if e.subject_user_id is None else "someone else"),
                "ip": e.ip if e.actor_user_id == user.id else None,
                "details": e.details if about_them else None,
            }
        )
    return out


def record_export(db: Session, user: User) -> None:
    """The download is audited (the person's own data left the service)."""
    record(db, AuditTag.ACCOUNT_DATA_EXPORTED, actor=user.id, subject=user.id)


# --- closure ------------------------------------------------------------------------


@panels.panel
def _data_rights_panel(db: Session, user: User) -> dict[str, Any]:
    return {"closure_requested_at": user.closure_requested_at}


def request_closure(db: Session, user: User, t: int) -> None:
    """The person asks to close their account; an operator confirms it
    (:func:`close_account`). Until then the account works as before. Raises
    :class:`ClosureRefused` (``already_requested``) for a second request."""
    if user.closure_requested_at is not None:
        raise ClosureRefused("already_requested")
    user.closure_requested_at, user.updated_at = t, t
    record(db, AuditTag.ACCOUNT_CLOSURE_REQUESTED, actor=user.id, subject=user.id)


def close_account(db: Session, user_id: int, reason: str, actor: int, t: int) -> User:
    """An operator closes an account, asked for or not (``requested`` in the audit
    details says which), with a free-text reason: disabled at once, its browser
    sessions ended (their clients told through back-channel logout) and its grants
    with their refresh and access tokens revoked, in the caller's transaction
    (SECURITY.md E-08, S-03). Raises :class:`ClosureRefused`."""
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    reason = " ".join(reason.split())[:200]
    if user_id == actor:
        raise ClosureRefused("self")
    if not reason:
        raise ClosureRefused("reason_missing")
    if user.closed_at is not None:
        raise ClosureRefused("already_closed")
    user.is_active, user.closed_at, user.updated_at = False, t, t
    end_sessions(db, user, "account_closed")
    end_grants(db, Grant.user_id == user.id)
    db.execute(delete(Consent).where(Consent.user_id == user.id))
    record(
        db,
        AuditTag.OP_ACCOUNT_CLOSED,
        actor=actor,
        subject=user.id,
        reason=reason,
        requested=user.closure_requested_at is not None,
    )
    return user


def erasure_due_at(user: User, retention_days: int) -> int | None:
    return None if user.closed_at is None else user.closed_at + retention_days * DAY


# --- erasure -----------------------------------------------------------------------


def erase(db: Session, settings: Settings, user: User, t: int) -> None:
    """Erase ``user``'s personal data, keeping the row and its id (and ``sub``, the
    pseudonym) so audit events keep their meaning without naming anyone; audited
    ACCOUNT_ERASED (no actor: the system). Never touches audit events (append-only).
    Kept: the notice acceptances' version and time (PDPA s.19: that consent was given
    stays provable) without their IP and browser; the review items' decisions, without
    the uploaded documents; service requests' state, without their details; no mail
    to the address left in the outbox (:func:`idp.mail_outbox.forget`).
    Organisation documents stay: they are the organisation's records."""
    uid = user.id
    end_sessions(db, user, "account_closed")  # none left after closure; any stray one
    grant_ids = select(Grant.id).where(Grant.user_id == uid)
    db.execute(delete(Token).where(or_(Token.user_id == uid, Token.grant_id.in_(grant_ids))))
    db.execute(
        update(AuthorizationCode).where(AuthorizationCode.user_id == uid).values(grant_id=None)
    )
    db.execute(delete(AuthorizationCode).where(AuthorizationCode.user_id == uid))
    db.execute(delete(Grant).where(Grant.user_id == uid))
    memberships = select(Membership.id).where(Membership.user_id == uid)
    db.execute(delete(Entitlement).where(Entitlement.membership_id.in_(memberships)))
    for model in (
        Membership,
        Consent,
        OrgChoice,
        MfaFactor,
        RecoveryCode,
        EmailCode,
        WebAuthnChallenge,
        ProofingTransaction,
        IdentityVerification,
    ):
        db.execute(delete(model).where(model.user_id == uid))
    db.execute(delete(Invitation).where(func.lower(Invitation.email) == user.email_key.lower()))
    # Ended rows hold no address already; this finds one still queued (SECURITY.md X-06).
    mail_outbox.forget(db, settings, user.email)
    registrations = [
        r for r in db.scalars(select(Registration.id).where(Registration.user_id == uid))
    ]
    if registrations:
        for model in (NoticeAcceptance, IdentityVerification, ReviewItem):
            db.execute(
                update(model)
                .where(model.registration_id.in_(registrations))
                .values(registration_id=None)
                .execution_options(synchronize_session=False)
            )
        db.execute(delete(EmailCode).where(EmailCode.registration_id.in_(registrations)))
        db.execute(
            delete(ProofingTransaction).where(
                ProofingTransaction.registration_id.in_(registrations)
            )
        )
        db.execute(delete(Registration).where(Registration.id.in_(registrations)))
    reviews = select(ReviewItem.id).where(ReviewItem.user_id == uid)
    db.execute(delete(ApplicantDocument).where(ApplicantDocument.review_item_id.in_(reviews)))
    db.execute(
        update(NoticeAcceptance)
        .where(NoticeAcceptance.user_id == uid)
        .values(ip=None, user_agent="")
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(ServiceRequest)
        .where(ServiceRequest.user_id == uid)
        .values(details={}, result="")
        .execution_options(synchronize_session=False)
    )
    _anonymise(user, t)
    record(db, AuditTag.ACCOUNT_ERASED, actor=None, subject=uid, closed_at=user.closed_at)


def _anonymise(user: User, t: int) -> None:
    user.username = user.username_key = ERASED_USERNAME.format(id=user.id)
    user.email = user.email_key = ERASED_EMAIL.format(id=user.id)
    user.email_verified = False
    for field in (
        "name",
        "given_name",
        "family_name",
        "given_name_th",
        "family_name_th",
        "gender",
        "phone_number",
        "id_doc_masked",
        "agency",
        "position",
    ):
        setattr(user, field, "")
    user.phone_number_verified = False
    user.address = {}
    user.locale = None
    user.birthdate = user.passport_expires = None
    user.id_doc_kind = user.id_doc_cipher = user.id_doc_hash = user.nationality = None
    user.password_hash = ERASED_PASSWORD_HASH
    user.failed_logins, user.locked_until = 0, None
    user.is_active = user.is_operator = False
    user.erased_at, user.updated_at = t, t
