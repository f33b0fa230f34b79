"""Audit trail: tags are ``area:subject:action`` (STYLE.md, warehouse events/tags.py)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from idp.db import now
from idp.models import AuditEvent


class AuditTag(StrEnum):
    MFA_TOTP_ENROLLED = "mfa:totp:enrolled"
    MFA_WEBAUTHN_ENROLLED = "mfa:webauthn:enrolled"
    MFA_FACTOR_RENAMED = "mfa:factor:renamed"
    MFA_FACTOR_REVOKED = "mfa:factor:revoked"
    MFA_RECOVERY_REGENERATED = "mfa:recovery:regenerated"
    MFA_RECOVERY_USED = "mfa:recovery:used"
    ORG_MEMBER_ADDED = "org:member:added"
    ORG_MEMBER_REMOVED = "org:member:removed"
    ORG_ROLE_CHANGED = "org:role:changed"
    ORG_SCOPE_GRANTED = "org:scope:granted"
    ORG_SCOPE_REVOKED = "org:scope:revoked"
    ORG_ACCESS_DENIED = "org:console:denied"
    ORG_ADMIN_EMAIL_CHANGED = "org:admin:email_changed"
    ORG_MEMBER_INVITED = "org:member:invited"
    ORG_PROFILE_CHANGED = "org:profile:changed"


def record(
    db: Session, tag: AuditTag, *, actor: int | None, subject: int | None, **details: object
) -> None:
    """Append an audit event in the caller's transaction (it commits with the change).
    ``org=`` also files it under that organisation; the client IP comes from the request."""
    org = details.get("org")
    db.add(
        AuditEvent(
            at=now(),
            tag=str(tag),
            actor_user_id=actor,
            subject_user_id=subject,
            org_id=org if isinstance(org, int) else None,
            ip=_client_ip(),
            details=details,
        )
    )


def _client_ip() -> str | None:
    from flask import has_request_context, request

    return request.remote_addr if has_request_context() else None
