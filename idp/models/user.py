from __future__ import annotations

from datetime import date

from flask_login import UserMixin
from sqlalchemy import BigInteger, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    # username_key / email_key are the NFKC-casefolded forms used for lookup and
    # uniqueness (SECURITY.md A-05, I-04); username / email keep what was typed.
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="")
    # The language the person chose (th | en): the page switch while signed in, a sign-in
    # after choosing it, the page of an accepted invitation. None: never chosen, mails
    # use IDP_DEFAULT_LOCALE (idp.mail.recipient_locale). Also the OIDC ``locale`` claim.
    locale: Mapped[str | None] = mapped_column(String(10), nullable=True, default=None)
    phone_number: Mapped[str] = mapped_column(String(32), default="")
    phone_number_verified: Mapped[bool] = mapped_column(default=False)
    address: Mapped[dict] = mapped_column(default=dict)
    # Names in Thai beside the Latin ones above (OIDC ``given_name#th``), gender and
    # birthdate: the registration's "your details" (issue 10).
    given_name_th: Mapped[str] = mapped_column(String(100), default="")
    family_name_th: Mapped[str] = mapped_column(String(100), default="")
    gender: Mapped[str] = mapped_column(String(16), default="")  # female|male|other|""
    birthdate: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Identity document (MISSION A6, SECURITY.md X-06): a 13-digit national ID, or a
    # passport with nationality (ISO 3166 alpha-2) and expiry. Encrypted
    # (idp.enrollment.pii), found by a keyed hash (one account per document), shown
    # only masked; the number is never in a column in clear, a log or a token.
    id_doc_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    id_doc_cipher: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_doc_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    id_doc_masked: Mapped[str] = mapped_column(String(32), default="")
    nationality: Mapped[str | None] = mapped_column(String(2), nullable=True)
    passport_expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Membership (idp.enrollment.membership, MISSION C2/C3): the member type, the state
    # of the one state machine, a temporary membership's end and the last reminder.
    member_type: Mapped[str] = mapped_column(String(16), default="public")
    membership_status: Mapped[str] = mapped_column(String(16), default="verified")
    membership_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    membership_reminded_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agency: Mapped[str] = mapped_column(String(64), default="")  # agency code, staff only
    position: Mapped[str] = mapped_column(String(200), default="")
    # The personal-data notice version last accepted (None: never asked, an account
    # made before notices were versioned or by an operator: asked at next sign-in).
    notice_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[int] = mapped_column(BigInteger)
    # Issue 11 (MISSION B2): set for an account an operator or an org admin created, or
    # that an operator flagged; the pipeline's password_change step sends the person to
    # choose their own password before any client gets a token.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Platform operator (issue 4): set only from the CLI, never through a web form
    # (SECURITY.md E-04).
    is_operator: Mapped[bool] = mapped_column(default=False)
    # Issue 11 (PDPA): the person asked to close the account; an operator confirmed it
    # (the account is disabled then); its personal data was erased after the retention
    # period (IDP_CLOSED_ACCOUNT_RETENTION_DAYS). The row stays, anonymised, so audit
    # events keep referring to the same (now pseudonymous) id.
    closure_requested_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    erased_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class IdentifierCounter(Base):
    """Failed sign-ins per typed username or email, whether or not an account has it
    (issue 9): the login page says "paused" from this counter only, so an unknown name
    pauses exactly like a real one and the message confirms nothing (ASVS 6.3.8,
    SECURITY.md A-02). The key is a keyed hash of the normalised identifier, so the
    table holds no names people typed (some type a password into the wrong field)."""

    __tablename__ = "identifier_counters"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_attempt_at: Mapped[int] = mapped_column(BigInteger)
