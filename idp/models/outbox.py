"""Issue 13: the mail outbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class OutboxMail(Base):
    """One rendered mail waiting for the SMTP server (issue 13 "SMTP down": queued and
    retried, never lost, never blocking a request). Written in the transaction of the
    request that sends it, so a rolled-back request sends nothing; delivered after the
    commit and retried by ``idp jobs run`` (:mod:`idp.mail_outbox`). ``sent_at`` or
    ``gave_up_at`` ends it, and then the subject and bodies are blanked: they may hold
    a code or a link."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "gave_up_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))  # for the logs: no address, no body
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)  # not before
    # A sender's lease: another worker leaves the row alone until then (no duplicates).
    claimed_until: Mapped[int] = mapped_column(BigInteger, default=0)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gave_up_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(String(200), default="")
