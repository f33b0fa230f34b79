"""People's self-registration, the services (issue 10 "People"; the steps and their
order are in :mod:`idp.enrollment.wizard`).

A registration is a ``registrations`` row found from the browser session (its
``public_id``) or from the emailed resume link (a random token; only its keyed hash
is stored, ``resume_hash``). The link works until the registration becomes an account
or is purged ``registration_days`` after it was started (the jobs' purge; nothing here
moves ``created_at``, so a registration cannot be kept alive by visiting it).

No enumeration (SECURITY.md R-01, A-09): an email already on file is never told to the
person typing it: the address's owner gets a mail "you already have an account"
instead of the resume link and the code, and the page is the same. A document already
on file lets the wizard go on as usual; its end is the generic "submitted, check your
email" page and an operator's ``document_check`` item.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp import audit
from idp.account.identifiers import email_key, is_valid_username, username_key
from idp.account.services import AccountError, create_user
from idp.audit import AuditTag
from idp.config import Settings
from idp.crypto import derive_key
from idp.db import now
from idp.enrollment import membership, pii, review, verdicts
from idp.enrollment.agencies import find_agency
from idp.enrollment.identity import IdentityDocument
from idp.enrollment.verifiers import Method, Verdict
from idp.enrollment.wizard import IdentityChoice, Plan
from idp.mail import recipient_locale, send_templated
from idp.mfa import email_codes
from idp.mfa.email_codes import Issued
from idp.mfa.email_otp import POLICIES, Purpose
from idp.models import (
    EmailCode,
    IdentityVerification,
    NoticeAcceptance,
    PersonalDataNotice,
    Registration,
    User,
)

MAX_CODES = 10  # codes one registration may be sent: 10 x 5 tries bound the guessing
DAY = 86400


class RegistrationError(ValueError):
    """``code`` names the translated message (``enrollment.messages``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Finished:
    """The end of step 3: the new account, or None for the generic "submitted" page
    (a document or an address already on file: the person is told nothing more)."""

    user: User | None


def _resume_hash(settings: Settings, token: str) -> str:
    key = derive_key(settings.secret_key, b"idp registration resume")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def newest_notice(db: Session) -> PersonalDataNotice | None:
    return db.scalar(select(PersonalDataNotice).order_by(PersonalDataNotice.version.desc()))


def find(db: Session, settings: Settings, public_id: str | None) -> Registration | None:
    """A live draft by its public id (the session's), else None (R-08: nothing tells a
    purged, finished or someone else's registration from an unknown one)."""
    if not public_id:
        return None
    reg = db.scalar(select(Registration).where(Registration.public_id == public_id))
    if reg is None or reg.kind != "person" or reg.status != "draft":
        return None
    if now() - reg.created_at >= settings.registration_days * DAY:
        return None
    return reg


def resume(db: Session, settings: Settings, token: str) -> Registration | None:
    """The draft whose emailed resume link carries ``token``, else None."""
    if not token or len(token) > 100:
        return None
    reg = db.scalar(
        select(Registration).where(Registration.resume_hash == _resume_hash(settings, token))
    )
    return find(db, settings, reg.public_id) if reg is not None else None


def _email_owner(db: Session, key: str) -> User | None:
    return db.scalar(select(User).where(User.email_key == key))


def _document_owner(db: Session, id_doc_hash: str) -> User | None:
    return db.scalar(select(User).where(User.id_doc_hash == id_doc_hash))


def _mail(settings: Settings, to: str, template: str, locale: str, **context: object) -> None:
    send_templated(settings, to, template, locale, **context)


def save_identity(
    db: Session,
    settings: Settings,
    reg: Registration | None,
    choice: IdentityChoice,
    *,
    notice_version: int,
    ip: str | None,
    user_agent: str,
    locale: str,
    resume_url: object,
) -> Registration:
    """Step 1: start a registration (``reg`` None) or change its step 1. Seals the
    document, records the notice acceptance, and mails the resume link (or, for an
    address on file, the owner's "you have an account" mail). ``resume_url`` is a
    callable token -> absolute URL. Commits."""
    t = now()
    if reg is None:
        reg = Registration(
            public_id=secrets.token_urlsafe(32),
            kind="person",
            step="identity",
            status="draft",
            data={},
            ip=(ip or "")[:64] or None,
            created_at=t,
            updated_at=t,
        )
        db.add(reg)
    sealed = pii.seal(settings, choice.document)
    for name, value in sealed.columns().items():
        setattr(reg, name, value)
    new_email = email_key(choice.email) != reg.email_key
    reg.member_type, reg.agency = choice.member_type, choice.agency
    reg.email, reg.email_key = choice.email, email_key(choice.email)
    if new_email:
        reg.email_verified = False
    reg.locale, reg.notice_version, reg.updated_at = locale, notice_version, t
    data = dict(reg.data or {})
    data["document_on_file"] = _document_owner(db, sealed.id_doc_hash) is not None
    reg.data = data
    db.flush()
    db.add(
        NoticeAcceptance(
            version=notice_version,
            registration_id=reg.id,
            accepted_at=t,
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:300],
        )
    )
    token = None
    if new_email:
        token = secrets.token_urlsafe(32)
        reg.resume_hash = _resume_hash(settings, token)
    db.commit()
    if token is not None:
        owner = _email_owner(db, reg.email_key)
        if owner is not None:
            _mail(
                settings,
                owner.email,
                "registration_account_exists",
                recipient_locale(settings, owner),
            )
        else:
            _mail(
                settings,
                reg.email,
                "registration_started",
                locale,
                link=resume_url(token),
                days=settings.registration_days,
            )
    return reg


def record_verdict(db: Session, reg: Registration, verdict: Verdict) -> None:
    """Store a verifier's answer for the registration (every outcome). Commits."""
    verdicts.record(db, verdict=verdict, registration_id=reg.id)
    reg.updated_at = now()
    db.commit()


def verified_verdicts(db: Session, reg: Registration) -> list[IdentityVerification]:
    return list(
        db.scalars(
            select(IdentityVerification)
            .where(
                IdentityVerification.registration_id == reg.id,
                IdentityVerification.outcome == "verified",
            )
            .order_by(IdentityVerification.at, IdentityVerification.id)
        )
    )


def plan(db: Session, settings: Settings, reg: Registration) -> Plan:
    """Which of steps 4 and 5 this registration has."""
    agency = find_agency(settings, reg.agency) if reg.member_type == "staff" else None
    methods = {row.method for row in verified_verdicts(db, reg)}
    return Plan(
        needs_waiting=reg.member_type == "staff" and str(Method.DIRECTORY) not in methods,
        needs_second_factor=settings.registration_require_totp
        or bool(agency and agency.require_second_factor),
    )


def send_code(db: Session, settings: Settings, reg: Registration) -> Issued:
    """Mail the 6-digit code proving the registration's address (or, for an address on
    file, nothing new: its owner was told at step 1; the pause and the page are the
    same). Raises RegistrationError("too_many_codes") past :data:`MAX_CODES`. Commits."""
    sent = db.scalar(
        select(func.count()).select_from(EmailCode).where(EmailCode.registration_id == reg.id)
    )
    if (sent or 0) >= MAX_CODES:
        raise RegistrationError("too_many_codes")
    issued = email_codes.issue(
        db,
        settings,
        None,
        Purpose.REGISTRATION,
        reg.email_key,
        reg.email,
        registration_id=reg.id,
    )
    db.commit()
    if issued.code is not None and _email_owner(db, reg.email_key) is None:
        _mail(
            settings,
            reg.email,
            "registration_code",
            reg.locale or settings.default_locale,
            code=issued.code,
            minutes=POLICIES[Purpose.REGISTRATION].ttl // 60,
        )
    return issued


def code_wait(db: Session, settings: Settings, reg: Registration) -> int | None:
    return email_codes.resend_wait(
        db, settings, None, Purpose.REGISTRATION, reg.email_key, registration_id=reg.id
    )


def check_code(db: Session, settings: Settings, reg: Registration, code: str) -> str | None:
    """Prove the address with ``code``: None when accepted (or proven before), else
    the outcome (``wrong`` | ``spent``). Commits."""
    if reg.email_verified:
        return None
    verdict = email_codes.verify_registration(db, settings, reg.id, reg.email_key, code)
    if not verdict.accepted:
        return str(verdict.outcome)
    reg.email_verified = True
    db.commit()
    return None


def _username(db: Session, email: str) -> str:
    """The email itself when it fits a username and is free, else a random one (people
    sign in with their email either way)."""
    key = username_key(email)
    if (
        is_valid_username(key)
        and db.scalar(select(User.id).where(User.username_key == key)) is None
    ):
        return key
    return "u" + secrets.token_hex(8)


def finish(
    db: Session, settings: Settings, reg: Registration, details: dict[str, str], password: str
) -> Finished:
    """Step 3's end: the account, made once (a conditional UPDATE of the draft: a
    double submission gets RegistrationError("already_finished")). Raises
    :class:`idp.account.services.AccountError` for the password policy (nothing is
    changed). Commits; mails the welcome (or the generic "submitted")."""
    t = now()
    reg.data = {**(reg.data or {}), **details}
    won = db.execute(
        update(Registration)
        .where(Registration.id == reg.id, Registration.status == "draft")
        .values(status="done", updated_at=t)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        db.rollback()
        raise RegistrationError("already_finished")
    locale = reg.locale or settings.default_locale
    owner = _document_owner(db, reg.id_doc_hash or "")
    if owner is not None or _email_owner(db, reg.email_key) is not None:
        if owner is not None:
            review.open_item(
                db,
                kind=review.DOCUMENT_CHECK,
                user_id=owner.id,
                registration_id=reg.id,
                flags=("document_on_file",),
            )
            audit.record(db, AuditTag.ENROLLMENT_DOCUMENT_ON_FILE, actor=None, subject=owner.id)
        reg.resume_hash = None
        db.commit()
        _mail(settings, reg.email, "registration_submitted", locale)
        return Finished(None)
    names = details
    try:
        user = create_user(
            db,
            username=_username(db, reg.email),
            email=reg.email,
            password=password,
            name=f"{names['given_name_en']} {names['family_name_en']}".strip(),
            locale=locale,
            given_name=names["given_name_en"],
            family_name=names["family_name_en"],
            given_name_th=names["given_name_th"],
            family_name_th=names["family_name_th"],
            gender=names["gender"],
            birthdate=date.fromisoformat(names["birthdate"]),
            phone_number=names.get("mobile", ""),
            agency=reg.agency,
            position=names.get("position", ""),
            email_verified=True,
            notice_version=reg.notice_version,
            **_document_columns(reg),
        )
    except AccountError:
        db.rollback()
        raise
    state = membership.register(
        membership.MemberType(reg.member_type), t, settings.temporary_member_days
    )
    for row in verified_verdicts(db, reg):
        event = verdicts.EVENT_OF_METHOD.get(Method(row.method))
        if event is not None and _proves_these_details(row.claims or {}, names):
            with contextlib.suppress(membership.TransitionRefused):
                state = membership.apply(state, event, t)
    verdicts.set_state(user, state)
    db.execute(
        update(IdentityVerification)
        .where(IdentityVerification.registration_id == reg.id)
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(NoticeAcceptance)
        .where(NoticeAcceptance.registration_id == reg.id)
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    reg.user_id, reg.resume_hash, reg.step = user.id, None, "done"
    audit.record(
        db,
        AuditTag.ENROLLMENT_ACCOUNT_CREATED,
        actor=user.id,
        subject=user.id,
        member_type=reg.member_type,
        membership=str(state.status),
    )
    db.commit()
    _mail(
        settings,
        user.email,
        "registration_welcome",
        locale,
        temporary=state.status is membership.Status.TEMPORARY,
        expires_at=state.expires_at,
    )
    return Finished(user)


def _same(a: object, b: object) -> bool:
    return unicodedata.normalize("NFKC", str(a)).strip().casefold() == (
        unicodedata.normalize("NFKC", str(b)).strip().casefold()
    )


def _proves_these_details(claims: dict, details: dict) -> bool:
    """A proof counts for the account only if what the source confirmed is what the
    account says: the Thai names and the birthdate typed in step 3 (the registry
    confirms what step 2 sent, the identity app its own person). Otherwise the person
    proved somebody else, or changed the details afterwards, and stays temporary."""
    pairs = (
        ("given_name#th", "given_name_th"),
        ("family_name#th", "family_name_th"),
        ("birthdate", "birthdate"),
    )
    return all(_same(claims[c], details.get(d, "")) for c, d in pairs if claims.get(c))


def claimed_document(settings: Settings, reg: Registration) -> IdentityDocument:
    """The registration's document, unsealed for a verifier (never logged or shown)."""
    return IdentityDocument(
        kind=reg.id_doc_kind or "",
        number=pii.reveal(settings, reg.id_doc_cipher or ""),
        nationality=reg.nationality or "TH",
        expires=reg.passport_expires,
    )


def _document_columns(reg: Registration) -> dict:
    return {
        "id_doc_kind": reg.id_doc_kind,
        "id_doc_cipher": reg.id_doc_cipher,
        "id_doc_hash": reg.id_doc_hash,
        "id_doc_masked": reg.id_doc_masked,
        "nationality": reg.nationality,
        "passport_expires": reg.passport_expires,
    }
