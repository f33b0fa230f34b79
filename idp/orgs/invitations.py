"""Adding people to an organisation by email (issue 4): a one-time link valid 72 hours.

Whether the address already has an account is never shown to the admin (SECURITY.md
E-02, A-02; ASVS 6.3.8): every valid address not yet a member gets an invitation and
the same answer. The mail decides, and so does the link when it is opened:

    address without an account -> choose a username and password, identify by national
                                  ID, or passport and nationality (MISSION A6) -> member
    address of an account      -> sign in with that account -> "Join" -> member

An account is never added without its owner's consent, as in other multi-tenant
directories (an invitation the person accepts, not a silent add)."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp.account.identifiers import email_key, is_valid_email
from idp.account.services import AccountError, create_user
from idp.audit import AuditTag, record
from idp.config import LOCALES, Settings
from idp.db import now
from idp.enrollment import pii
from idp.enrollment.identity import (
    PASSPORT,
    DocumentInvalid,
    IdentityDocument,
    check_national_id,
    countries,
)
from idp.localized import org_name
from idp.mail import recipient_locale, send_templated
from idp.models import Invitation, Membership, Organization, User
from idp.oidc.tokens import token_digest
from idp.orgs import services
from idp.orgs.entitlements import MemberLimitReached, check_member_limit

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
    actor: int | None,
    role: str = "member",
    locale: str | None = None,
) -> None:
    """Create the invitation and mail its link, whether or not the address has an
    account (the mail tells an account holder to sign in and accept). The mail is in
    the recipient's language: an account holder's chosen one; for an address without
    an account, ``locale``, the inviting admin's page language (None, e.g. from the
    command line: IDP_DEFAULT_LOCALE). Raises
    InvitationError ``email_invalid``, ``member_limit_reached``, or ``already_member``
    for an address of one of the organisation's members (the admin sees their
    addresses anyway); the audit record is the same either way."""
    if not is_valid_email(email):
        raise InvitationError("email_invalid")
    account = _account(db, email)
    if account is not None and db.scalar(
        select(Membership.id).where(Membership.org_id == org.id, Membership.user_id == account.id)
    ):
        raise InvitationError("already_member")
    members = db.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org.id)
    )
    try:
        check_member_limit(members, org.member_limit)  # checked again when accepted
    except MemberLimitReached:
        raise InvitationError("member_limit_reached") from None
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
    # The mail is queued in the caller's transaction: it leaves after the commit.
    link = f"{settings.issuer}/invite/{token}"
    to_locale = (
        recipient_locale(settings, account)
        if account is not None
        else (locale if locale in LOCALES else settings.default_locale)
    )
    send_templated(
        settings,
        email.strip(),
        "invitation",
        to_locale,
        org=org_name(org, to_locale),
        link=link,
        expires_at=t + INVITE_TTL,
        has_account=account is not None,
        role=role,
    )


def _account(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email_key == email_key(email)))


def account_for(db: Session, inv: Invitation) -> User | None:
    """The account that has the invitation's address, if any (decided when the link is
    opened: an account may have been created since the mail was sent)."""
    return _account(db, inv.email)


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


def check_identity(
    id_kind: str, national_id: str, passport: str, nationality: str
) -> IdentityDocument:
    """The invitee's identity document (A6). The invitation form asks no passport
    expiry: the org admin who invited the person vouches for them."""
    if id_kind == "national":
        try:
            return check_national_id(national_id)
        except DocumentInvalid:
            raise InvitationError("national_id_invalid") from None
    if id_kind == "passport":
        passport, nationality = passport.strip().upper(), nationality.strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{5,20}", passport) or nationality not in countries():
            raise InvitationError("passport_invalid")
        return IdentityDocument(PASSPORT, passport, nationality)
    raise InvitationError("identity_missing")


def _claim(db: Session, inv: Invitation) -> None:
    """Use the link once: one conditional UPDATE, so two parallel acceptances cannot
    both win; the loser gets ``invitation_expired``."""
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


def accept(
    db: Session,
    token: str,
    *,
    username: str,
    name: str,
    password: str,
    identity: IdentityDocument,
    settings: Settings,
    locale: str | None = None,
) -> User:
    """Create the account and the membership; the link is consumed atomically.
    ``locale``: the language of the page the account was created on, kept as the
    person's choice for their mails (account.services.remember_locale)."""
    inv = find(db, token)
    if inv is None:
        raise InvitationError("invitation_expired")
    sealed = pii.seal(settings, identity)
    # One account per identity document (issue 10). The invitee holds a valid link
    # for this address, so saying so tells nobody else anything.
    if db.scalar(select(User.id).where(User.id_doc_hash == sealed.id_doc_hash)) is not None:
        raise InvitationError("identity_on_file")
    _claim(db, inv)
    try:
        user = create_user(
            db,
            username=username,
            email=inv.email,
            password=password,
            name=name,
            email_verified=True,
            locale=locale,
            **sealed.columns(),
        )
    except AccountError as exc:
        db.rollback()
        raise InvitationError(exc.code) from exc
    try:
        services.add_member(db, inv.org_id, user, role=inv.role, actor=inv.invited_by)
    except MemberLimitReached:
        db.rollback()
        raise InvitationError("member_limit_reached") from None
    db.commit()
    return user


def accept_existing(db: Session, token: str, user: User) -> None:
    """The signed-in owner of the invited address joins; the link is consumed
    atomically. Raises InvitationError ``invitation_expired``, ``other_account`` (the
    address is not this account's) or ``member_limit_reached``; commits on success."""
    inv = find(db, token)
    if inv is None:
        raise InvitationError("invitation_expired")
    if user.email_key != email_key(inv.email):
        raise InvitationError("other_account")
    _claim(db, inv)
    try:
        services.add_member(db, inv.org_id, user, role=inv.role, actor=inv.invited_by)
    except MemberLimitReached:
        db.rollback()
        raise InvitationError("member_limit_reached") from None
    db.commit()
