"""The personal-data (PDPA) notice: its versions and who accepted which (services).

The newest version is the one a person must have accepted before a relying party gets
tokens for them (the sign-in pipeline's ``terms`` step); ``idp notice publish`` adds a
version, after which everybody is asked once at their next sign-in. Versions are
never edited. Accounts made before versions existed (migration 0012 left them at
``notice_version`` NULL) are asked at their next sign-in too: PDPA s.19 wants the
consent shown, and nobody showed them a notice."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.models import NoticeAcceptance, PersonalDataNotice, User

MAX_TEXT = 100_000


class NoticeError(ValueError):
    """A notice that cannot be published (empty or too long text)."""


def current(db: Session) -> PersonalDataNotice | None:
    """The newest published notice, or None when none is."""
    return db.scalar(select(PersonalDataNotice).order_by(PersonalDataNotice.version.desc()))


def current_version(db: Session) -> int | None:
    return db.scalar(select(func.max(PersonalDataNotice.version)))


def text_in(notice: PersonalDataNotice, locale: str) -> str:
    """The notice in ``locale`` (th | en), falling back to the other language."""
    first, other = (
        (notice.text_th, notice.text_en) if locale == "th" else (notice.text_en, notice.text_th)
    )
    return first or other


def accept(
    db: Session, user: User, version: int, *, ip: str | None, user_agent: str, now: int
) -> NoticeAcceptance:
    """Record that ``user`` accepted ``version`` (with time, address and browser) and
    remember it on the account. Flushes; the caller commits."""
    row = NoticeAcceptance(
        version=version,
        user_id=user.id,
        accepted_at=now,
        ip=(ip or None) and ip[:64],
        user_agent=(user_agent or "")[:300],
    )
    db.add(row)
    user.notice_version = max(version, user.notice_version or 0)
    db.flush()
    return row


def publish(db: Session, text_th: str, text_en: str, *, by: str, now: int) -> PersonalDataNotice:
    """Publish a new version (the newest + 1) with an audit event. Raises
    :class:`NoticeError` when a text is empty or too long. Flushes."""
    text_th, text_en = text_th.strip(), text_en.strip()
    if not text_th or not text_en:
        raise NoticeError("both the Thai and the English text are required")
    if len(text_th) > MAX_TEXT or len(text_en) > MAX_TEXT:
        raise NoticeError(f"a notice text is longer than {MAX_TEXT} characters")
    version = (current_version(db) or 0) + 1
    notice = PersonalDataNotice(
        version=version, text_th=text_th, text_en=text_en, published_at=now, published_by=by[:100]
    )
    db.add(notice)
    record(db, AuditTag.OP_NOTICE_PUBLISHED, actor=None, subject=None, version=version, via=by)
    db.flush()
    return notice
