"""The audit trail is append-only, enforced by the database (issue 4)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from idp.audit import AuditTag, record
from idp.models import AuditEvent


def test_audit_rows_cannot_be_changed_or_deleted(db):
    record(db, AuditTag.ORG_PROFILE_CHANGED, actor=1, subject=None, org=1, before={}, after={})
    db.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(update(AuditEvent).values(tag="org:nothing:happened"))
    db.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(delete(AuditEvent))
    db.rollback()
    assert db.get(AuditEvent, 1).tag == "org:profile:changed"
