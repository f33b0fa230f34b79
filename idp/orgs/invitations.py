"""Inviting a new person by email (issue 4): a one-time link valid 72 hours lets them
choose a username and password and identify themselves by national ID, or, for foreign
staff, by passport number and nationality (MISSION A6)."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.account.identifiers import email_key, is_valid_email
from idp.account.services import AccountError, create_user
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.mail import send_mail
from idp.models import Invitation, Organization, User
from idp.oidc.tokens import token_digest
from idp.orgs import services
from idp.orgs.entitlements import MemberLimitReached, juristic_id_is_valid

INVITE_TTL = 72 * 3600


class InvitationError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def invite(
    db: Session,
    settings: Settings,
    org: Organization,
    email: str,
    actor: int,
    role: str = "member",
) -> None:
    """Create the invitation and mail its link; an address that already has an account
    is refused (add that account instead)."""
    if not is_valid_email(email):
        raise InvitationError("email_invalid")
    if db.scalar(select(User).where(User.email_key == email_key(email))) is not None:
        raise InvitationError("email_has_account")
    token = secrets.token_urlsafe(32)
    t = now()
    db.add(
        Invitation(
            org_id=org.id,
            email=email.strip(),
            token_hash=token_digest(token),
            invited_by=actor,
            role=role,
            created_at=t,
            expires_at=t + INVITE_TTL,
        )
    )
    record(
        db,
        AuditTag.ORG_MEMBER_INVITED,
        actor=actor,
        subject=None,
        org=org.id,
        email=email.strip(),
        role=role,
    )
    db.flush()
    # The mail goes out before the caller commits: if it fails (MailError), the caller
    # rolls back and nothing was created, so the form can simply be sent again.
    link = f"{settings.issuer}/invite/{token}"
    send_mail(
        settings.smtp_url,
        settings.mail_from,
        email.strip(),
        f"Invitation to {org.name_th}",
        f"You are invited to join {org.name_th} on idp.\n"
        f"คุณได้รับเชิญให้เข้าร่วม {org.name_th}\n\n{link}\n\n"
        "The link works once, within 72 hours.",
    )


def open_invitations(db: Session, org_id: int) -> list[Invitation]:
    """Sent, not yet accepted and not expired (withdrawn ones are expired)."""
    return list(
        db.scalars(
            select(Invitation)
            .where(
                Invitation.org_id == org_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > now(),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def withdraw(db: Session, org_id: int, invitation_id: int, actor: int) -> None:
    """The link stops working at once (e.g. sent to a wrong address)."""
    inv = db.scalar(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.org_id == org_id)
    )
    if inv is None or inv.accepted_at is not None or inv.expires_at <= now():
        raise LookupError(invitation_id)
    inv.expires_at = now()
    record(
        db,
        AuditTag.ORG_INVITATION_WITHDRAWN,
        actor=actor,
        subject=None,
        org=org_id,
        email=inv.email,
        before="open",
        after="withdrawn",
    )


def find(db: Session, token: str) -> Invitation | None:
    inv = db.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    if inv is None or inv.accepted_at is not None or inv.expires_at <= now():
        return None
    return inv


def check_identity(id_kind: str, national_id: str, passport: str, nationality: str) -> dict:
    if id_kind == "national":
        if not juristic_id_is_valid(national_id.strip()):  # same mod-11 check digit
            raise InvitationError("national_id_invalid")
        return {"national_id": national_id.strip()}
    if id_kind == "passport":
        passport, nationality = passport.strip().upper(), nationality.strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{5,20}", passport) or not re.fullmatch(
            r"[A-Z]{2}", nationality
        ):
            raise InvitationError("passport_invalid")
        return {"passport_number": passport, "nationality": nationality}
    raise InvitationError("identity_missing")


def accept(
    db: Session, token: str, *, username: str, name: str, password: str, identity: dict
) -> User:
    """Create the account and the membership; the link is consumed atomically."""
    inv = find(db, token)
    if inv is None:
        raise InvitationError("invitation_expired")
    won = (
        db.execute(
            update(Invitation)
            .where(Invitation.id == inv.id, Invitation.accepted_at.is_(None))
            .values(accepted_at=now())
        ).rowcount
        == 1
    )
    if not won:
        raise InvitationError("invitation_expired")
    try:
        user = create_user(
            db,
            username=username,
            email=inv.email,
            password=password,
            name=name,
            email_verified=True,
            **identity,
        )
    except AccountError as exc:
        db.rollback()
        raise InvitationError(str(exc)) from exc
    try:
        services.add_member(db, inv.org_id, user, role=inv.role, actor=inv.invited_by)
    except MemberLimitReached:
        db.rollback()
        raise InvitationError("member_limit_reached") from None
    db.commit()
    return user
