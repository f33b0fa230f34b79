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
    ``gave_up_at`` ends it, and then the address, subject and bodies are blanked: they
    may hold a code or a link (SECURITY.md X-06).

    Since migration 0020 the address, subject and bodies are stored only in ``sealed``
    (Fernet, SECURITY.md X-06 "encrypted at rest"), the address also as a keyed hash for
    erasure; ``recipient``, ``subject``, ``text`` and ``html`` are then empty. They hold
    clear text only in rows queued by the release before 0020 (``sealed`` empty), and
    are to be dropped one release later (docs/deployment.md, expand then contract)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_due", "sent_at", "gave_up_at", "next_attempt_at"),
        Index("ix_mail_outbox_recipient_hash", "recipient_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))  # before 0020 only
    template: Mapped[str] = mapped_column(String(64))  # for the logs: no address, no body
    subject: Mapped[str] = mapped_column(Text)  # before 0020 only
    text: Mapped[str] = mapped_column(Text)  # before 0020 only
    html: Mapped[str] = mapped_column(Text)  # before 0020 only
    # One Fernet token of the address, subject and bodies (idp.mail_outbox._seal); empty
    # in a row queued before 0020 (clear text above) and in an ended one.
    sealed: Mapped[str] = mapped_column(Text, default="")
    # crypto.keyed_digest of the address (idp.mail_outbox.recipient_digest): erasure
    # finds the person's rows without the address in clear; empty once ended.
    recipient_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)  # not before
    # A sender's lease: another worker leaves the row alone until then (no duplicates).
    claimed_until: Mapped[int] = mapped_column(BigInteger, default=0)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gave_up_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(String(200), default="")
