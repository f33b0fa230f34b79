"""Ending grants: one place for "these grants and every live token in them end now",
used by code replay, consent withdrawal, member removal, suspension and disabling."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from idp.db import now
from idp.models import Grant, Token


def end_grants(db: Session, *where: ColumnElement[bool]) -> None:
    """Revoke the grants matching ``where`` and their tokens, in the caller's transaction.

    Token rows locked by another transaction are skipped, not waited for: that is a
    refresh of the family consuming its refresh token (or a request that lost that
    race, which keeps the row lock while it ends the family itself). The revoked grant
    already stops such a token, and waiting could deadlock two requests ending the same
    family at once in separate workers (PostgreSQL; SQLite has one writer, no row locks).
    """
    t = now()
    grants = select(Grant.id).where(*where)
    live = (
        select(Token.id)
        .where(Token.grant_id.in_(grants), Token.revoked_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    db.execute(update(Token).where(Token.id.in_(live)).values(revoked_at=t))
    db.execute(update(Grant).where(*where, Grant.revoked_at.is_(None)).values(revoked_at=t))
