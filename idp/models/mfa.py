"""Second factors and their single-use artefacts."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class MfaFactor(Base):
    """A TOTP soft token or a WebAuthn credential of one person."""

    __tablename__ = "mfa_factors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "totp" | "webauthn"
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|active|revoked
    # TOTP: the seed, Fernet-encrypted; last accepted time step (replay guard, ASVS 6.5.1).
    secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # WebAuthn: credential id, COSE public key, signature counter, user verification seen.
    credential_id: Mapped[str | None] = mapped_column(String(1400), nullable=True, unique=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    uv_capable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reminded_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class EmailCode(Base):
    """An emailed one-time code (rules: :mod:`idp.mfa.email_otp`) for one account, one
    purpose and one binding; the code and the binding are stored as keyed hashes."""

    __tablename__ = "email_codes"
    __table_args__ = (Index("ix_email_codes_slot", "user_id", "purpose", "binding"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # An account's code, or (issue 10) a registration's: the address is not an
    # account yet. Exactly one of the two is set.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    purpose: Mapped[str] = mapped_column(String(32))  # email_otp.Purpose
    binding: Mapped[str] = mapped_column(String(64))  # HMAC of the flow id / pending change
    sent_to: Mapped[str] = mapped_column(String(254))  # the address the code was mailed to
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    superseded_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class WebAuthnChallenge(Base):
    """Server-side, single-use WebAuthn challenges (RECIPES.md 3: never in a cookie)."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge: Mapped[str] = mapped_column(String(128), unique=True)
    sid: Mapped[str] = mapped_column(String(43), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # "register" | "authenticate"
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    tag: Mapped[str] = mapped_column(String(64))
    # Indexed (0019): the data export reads a person's events as actor too.
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    subject_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    details: Mapped[dict] = mapped_column(default=dict)
