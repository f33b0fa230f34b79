"""Organisations, their members and the client scopes granted to members."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "company" | "agency"
    identifier: Mapped[str] = mapped_column(String(32), unique=True)  # juristic ID / agency code
    name_th: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|active|suspended
    member_limit: Mapped[int] = mapped_column(Integer, default=10)  # MISSION A4
    head_office: Mapped[dict] = mapped_column(default=dict)  # A9
    branches: Mapped[list] = mapped_column(default=list)
    # Contact person, email, phone and website (issue 4 "contact data").
    contact: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Touched by every seat-consuming change: the UPDATE takes the row lock (PostgreSQL)
    # or the write lock (SQLite) before the limits are counted.
    changed_at: Mapped[int] = mapped_column(BigInteger)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")  # member | admin
    created_at: Mapped[int] = mapped_column(BigInteger)


class ClientScope(Base):
    """A scope a client grants (e.g. ``einvoice:submit``), with its seat limit."""

    __tablename__ = "client_scopes"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    description_th: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    min_acr: Mapped[str] = mapped_column(String(64), default="urn:idp:acr:pwd")
    seat_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)  # per organisation


class OrgClient(Base):
    """Which clients an organisation may use (decided by operators)."""

    __tablename__ = "org_clients"
    __table_args__ = (UniqueConstraint("org_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    # The client's scopes the organisation may grant; None means all of them.
    scopes: Mapped[list | None] = mapped_column(nullable=True)


class Entitlement(Base):
    __tablename__ = "entitlements"
    __table_args__ = (UniqueConstraint("membership_id", "scope_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    scope_id: Mapped[int] = mapped_column(ForeignKey("client_scopes.id", ondelete="CASCADE"))
    granted_at: Mapped[int] = mapped_column(BigInteger)
    granted_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Invitation(Base):
    """A one-time link (72 hours) for a person, new or with an account, to join an
    organisation (idp/orgs/invitations.py)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # "admin" when an operator invites a new organisation's first admin.
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    accepted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OrgChoice(Base):
    """The organisation a person last chose to act for at a client, kept across
    sessions; ``prompt=select_account`` or the account page's "change" asks again."""

    __tablename__ = "org_choices"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    chosen_at: Mapped[int] = mapped_column(BigInteger)


class OrgDocument(Base):
    """An uploaded power-of-attorney document (MISSION A1). A replacement keeps the old
    one (``replaced_at`` set) for the audit trail; operators review the current one.
    The bytes live in the database, so an upload commits or rolls back with its audit
    record, and nothing is ever served from a path a client chose (SECURITY.md R-04)."""

    __tablename__ = "org_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="power_of_attorney")
    media_type: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(120))  # shown only, never a path
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uploaded_at: Mapped[int] = mapped_column(BigInteger)
    replaced_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    review: Mapped[str] = mapped_column(String(16), default="pending")  # pending|accepted|rejected
    reviewed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reviewed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
