"""Account services: create users, authenticate with lockout."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp.account import lockout
from idp.account.identifiers import email_key, is_valid_email, is_valid_username, username_key
from idp.account.passwords import (
    burn_verification_time,
    hash_password,
    password_problem,
    verify_password,
)
from idp.config import LOCALES, Settings
from idp.db import now
from idp.models import Client, Consent, Grant, Token, User
from idp.ops import metrics

# English for the CLI and logs; pages word the code in the person's language
# (account.messages.account_messages).
ACCOUNT_ERROR_TEXT = {
    "username_invalid": "username must be 2-64 characters: letters, digits, '.', '_', '@' or '-'",
    "email_invalid": "email address is not valid",
    "password_too_short": "password: at least 8 characters",
    "password_too_long": "password: at most 128 characters",
    "password_contains_identity": "password: must not contain your username or email",
    "username_taken": "username is already registered",
    "email_taken": "email is already registered",
}


class AccountError(ValueError):
    """A problem with account data: ``code`` for pages, ``field`` the form field it is
    about, ``str()`` an English sentence for the CLI."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(ACCOUNT_ERROR_TEXT.get(code, code))
        self.code = code
        self.field = field


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    # Sign-in with the typed username or email is paused (too many failures): said
    # alike for names with and without an account (lockout: the identifier counter).
    paused: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def new_sub() -> str:
    # Opaque, stable, <= 255 ASCII (OIDC Core 2): never the username or database id.
    return secrets.token_urlsafe(16)


def create_user(
    db: Session,
    *,
    username: str,
    email: str,
    password: str,
    name: str = "",
    locale: str | None = None,
    **profile: object,
) -> User:
    """Create a user; raises :class:`AccountError` for invalid or duplicate data.
    ``locale``: the language the person used to create it (th | en); None (the command
    line, the demo) leaves it unchosen, so mails use IDP_DEFAULT_LOCALE."""
    if not is_valid_username(username):
        raise AccountError("username_invalid", "username")
    if not is_valid_email(email):
        raise AccountError("email_invalid", "email")
    problem = password_problem(password, (username_key(username), email_key(email).split("@")[0]))
    if problem:
        raise AccountError(problem, "password")
    ukey, ekey = username_key(username), email_key(email)
    clash = db.scalar(select(User).where(or_(User.username_key == ukey, User.email_key == ekey)))
    if clash is not None:
        field = "username" if clash.username_key == ukey else "email"
        raise AccountError(f"{field}_taken", field)
    t = now()
    user = User(
        sub=new_sub(),
        username=username.strip(),
        username_key=ukey,
        email=email.strip(),
        email_key=ekey,
        name=name,
        password_hash=hash_password(password),
        password_changed_at=t,
        locale=locale if locale in LOCALES else None,
        created_at=t,
        updated_at=t,
        **profile,
    )
    db.add(user)
    db.flush()
    return user


def find_login_user(db: Session, identifier: str) -> User | None:
    key = username_key(identifier)
    return db.scalar(select(User).where(or_(User.username_key == key, User.email_key == key)))


def set_email(user: User, address: str, *, verified: bool) -> None:
    """Give the account a new address (the caller checked it is valid and free)."""
    user.email, user.email_key = address.strip(), email_key(address)
    user.email_verified, user.updated_at = verified, now()


def remember_locale(user: User, locale: str | None) -> bool:
    """Keep the language the person chose (th | en) for what reaches them outside a
    page: mails, and the OIDC ``locale`` claim. Returns whether it changed; the caller
    commits. Called when they choose one:

    - the ``?lang=`` switch while signed in (account.views, before every request);
    - account creation, with the language of the page it was created on (an accepted
      invitation: idp.orgs.invitations.accept);
    - a successful sign-in after choosing a language with the switch (its cookie, or
      ``?lang=`` on the login page). Decision: yes, a sign-in updates it, because the
      switch used while signed out is the person's latest explicit choice and would
      otherwise be lost. Only that explicit choice counts (idp.extensions.
      chosen_locale): the language a relying party asked for (``ui_locales``) or the
      browser's Accept-Language never change it, so an English-only application cannot
      turn a Thai person's mails English. Anyone who can sign in could use the switch
      anyway, so the password alone is enough to set it.
    """
    if locale not in LOCALES or user.locale == locale:
        return False
    user.locale, user.updated_at = locale, now()
    return True


def has_strong_factor(db: Session, user_id: int) -> bool:
    from idp.models import MfaFactor

    return (
        db.scalar(
            select(MfaFactor.id)
            .where(MfaFactor.user_id == user_id, MfaFactor.status == "active")
            .limit(1)
        )
        is not None
    )


def authenticate(db: Session, settings: Settings, identifier: str, password: str) -> LoginResult:
    """Username-or-email + password, with the database lockout.

    Every failure (unknown user, wrong password, locked, disabled) returns an empty
    result after the same amount of hashing work and the same two commits (ASVS 6.3.8,
    SECURITY.md A-01/A-02). ``paused`` comes from the typed identifier's counter only,
    which an unknown name has too, so it tells nothing about whether an account exists.
    """
    t, threshold = now(), settings.lockout_threshold
    user = find_login_user(db, identifier) if identifier else None
    if user is not None and not user.is_active:
        user = None  # a disabled account answers like an unknown name
    key = lockout.identifier_digest(settings.secret_key, identifier)
    by_name, by_account = lockout.reserve_sign_in(
        db, key, user.id if user is not None else None, t, threshold
    )
    if not by_name:
        burn_verification_time(password)
        metrics.sign_in("password", "refused")
        return LoginResult(None, paused=True)
    if user is not None and by_account and verify_password(user.password_hash, password):
        lockout.sign_in_succeeded(db, key)
        # The failure counter spans all factors (SECURITY.md 0.4 b): with a second
        # factor still to come, the password alone does not clear it; a completed
        # login does (the second factor, or the authorization that issues a code).
        if not has_strong_factor(db, user.id):
            login_completed(db, user)
        metrics.sign_in("password", "success")
        return LoginResult(user)
    if user is None or not by_account:
        burn_verification_time(password)  # unknown, disabled or locked: the same work
    paused = lockout.sign_in_failed(
        db, key, user.id if by_account else None, t, threshold, settings.lockout_seconds
    )
    metrics.sign_in("password", "failure")
    return LoginResult(None, paused=paused)


def login_completed(db: Session, user: User, *, read_this_request: bool = False) -> None:
    """The one rule for when the failure counter resets (SECURITY.md 0.4 b: it spans
    every factor): when a login is complete, i.e. a password with no second factor
    enrolled (``authenticate``), a second factor after the password (``lockout.guarded``)
    or an authorization that issues a code on what the session has proven (/authorize).
    A password alone, with a second factor still to come, does not reset it.

    ``read_this_request``: ``user`` was loaded in this request after its last attempt,
    so a clean counter needs no UPDATE (the /authorize hot path)."""
    if read_this_request and not user.failed_logins and user.locked_until is None:
        return
    lockout.record_success(db, user.id)


@dataclass(frozen=True)
class AllowedApp:
    """One row of "Applications you allowed" on the account page."""

    client: Client
    scope: tuple[str, ...]  # what the person consented to, else what its tokens hold
    consented: bool  # a consent on record (else the client skips consent and holds
    # a live refresh token: it keeps access while the person is away)


def allowed_applications(db: Session, user_id: int, t: int) -> list[AllowedApp]:
    """Clients with the person's consent and clients that hold a live refresh token
    for them (those registered with --skip-consent have no consent row, issue 9)."""
    consents = {
        c.client_id: c for c in db.scalars(select(Consent).where(Consent.user_id == user_id))
    }
    offline: dict[str, list[str]] = {}
    for client_id, scope in db.execute(
        select(Token.client_id, Token.scope)
        .join(Grant, Grant.id == Token.grant_id)
        .where(
            Token.user_id == user_id,
            Token.kind == "refresh",
            Token.revoked_at.is_(None),
            Token.used_at.is_(None),
            Token.expires_at > t,
            Grant.revoked_at.is_(None),
        )
    ):
        held = offline.setdefault(client_id, [])
        held += [s for s in scope.split() if s not in held]
    ids = set(consents) | set(offline)
    if not ids:
        return []
    clients = db.scalars(select(Client).where(Client.client_id.in_(ids)).order_by(Client.name))
    return [
        AllowedApp(
            client=c,
            scope=tuple(
                consents[c.client_id].scope.split()
                if c.client_id in consents
                else offline[c.client_id]
            ),
            consented=c.client_id in consents,
        )
        for c in clients
    ]
