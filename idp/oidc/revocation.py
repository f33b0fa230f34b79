"""Ending grants: one place for "these grants and every live token in them end now",
used by code replay, consent withdrawal, member removal, suspension and disabling."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from idp.db import now
from idp.models import Grant, Token


def end_grants(db: Session, *where: ColumnElement[bool]) -> None:
    """Revoke the grants matching ``where`` and their tokens, in the caller's transaction."""
    t = now()
    grants = select(Grant.id).where(*where)
    db.execute(
        update(Token)
        .where(Token.grant_id.in_(grants), Token.revoked_at.is_(None))
        .values(revoked_at=t)
    )
    db.execute(update(Grant).where(*where, Grant.revoked_at.is_(None)).values(revoked_at=t))
