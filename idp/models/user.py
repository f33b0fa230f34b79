from __future__ import annotations

from flask_login import UserMixin
from sqlalchemy import BigInteger, Integer, String
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
    # Identity (MISSION A6): Thai staff by 13-digit national ID, foreign staff by
    # passport number and nationality (ISO 3166 alpha-2).
    national_id: Mapped[str | None] = mapped_column(String(13), nullable=True)
    passport_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    nationality: Mapped[str | None] = mapped_column(String(2), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[int] = mapped_column(BigInteger)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Platform operator (issue 4): set only from the CLI, never through a web form
    # (SECURITY.md E-04).
    is_operator: Mapped[bool] = mapped_column(default=False)
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
