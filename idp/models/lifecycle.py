"""Issue 11: back-channel logout deliveries and service requests."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class LogoutDelivery(Base):
    """One logout_token to POST to one client's ``backchannel_logout_uri`` (OpenID
    Connect Back-Channel Logout 1.0 section 2.5), written in the transaction that ended
    the session and delivered off the request path, with retries
    (:mod:`idp.oidc.backchannel`). ``delivered_at`` or ``gave_up_at`` ends it."""

    __tablename__ = "logout_deliveries"
    __table_args__ = (Index("ix_logout_deliveries_due", "delivered_at", "gave_up_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    uri: Mapped[str] = mapped_column(Text)
    sid: Mapped[str] = mapped_column(String(43))
    sub: Mapped[str] = mapped_column(String(64))
    # The signed logout token (a JWT naming sid and sub: no secret, nothing sealed).
    token: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32), default="logout")
    created_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[int] = mapped_column(BigInteger)  # the next attempt, not before
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gave_up_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(String(200), default="")


class ServiceRequest(Base):
    """What a person cannot do alone (MISSION B6): a lost or replaced phone or security
    key, a locked authenticator app, a new email when the old one is gone, a change of
    holder. Reviewed in the review queue (``review_item_id``, kind
    ``service_request``); the approved action is carried out by the system."""

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # lost_device | locked_authenticator | email_change | holder_change
    kind: Mapped[str] = mapped_column(String(32))
    # The B6 form: unit code, names, email, phone, division, department, ministry,
    # username, the new email or the new holder's email, the person's explanation.
    details: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # as its review item
    review_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_items.id", ondelete="SET NULL"), nullable=True
    )
    # What the system did on approval (e.g. "factors_reset", "email_changed"), or "".
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
