"""Audit trail: tags are ``area:subject:action`` (STYLE.md, warehouse events/tags.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum

from flask import has_request_context, request
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import dates
from idp.account.identifiers import username_key
from idp.db import now
from idp.models import AuditEvent, Organization, User
from idp.ops import metrics


class AuditTag(StrEnum):
    ACCOUNT_EMAIL_CHANGED = "account:email:changed"
    ENROLLMENT_ACCOUNT_CREATED = "enrollment:account:created"  # self-registration
    ENROLLMENT_DOCUMENT_ON_FILE = "enrollment:document:on_file"  # R-01 flag
    ENROLLMENT_IDENTITY_VERIFIED = "enrollment:identity:verified"  # verify now
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
    ORG_INVITATION_WITHDRAWN = "org:invitation:withdrawn"
    ORG_PROFILE_CHANGED = "org:profile:changed"
    ORG_DOCUMENT_UPLOADED = "org:document:uploaded"
    COMPANY_SUBMITTED = "company:registration:submitted"
    COMPANY_RESUBMITTED = "company:registration:resubmitted"
    COMPANY_DECIDED = "company:registration:decided"
    OP_ORG_CREATED = "op:org:created"
    OP_ORG_STATUS_CHANGED = "op:org:status"
    OP_ORG_LIMIT_CHANGED = "op:org:member_limit"
    OP_ORG_CLIENTS_CHANGED = "op:org:clients"
    OP_SCOPE_CHANGED = "op:scope:changed"
    OP_SCOPE_ADDED = "op:scope:added"
    OP_DOCUMENT_REVIEWED = "op:document:reviewed"
    OP_EMAIL_CHANGED = "op:user:email_changed"
    OP_ACCESS_DENIED = "op:console:denied"
    OP_OPERATOR_SET = "op:user:operator"
    OP_USER_ACTIVE_CHANGED = "op:user:active"
    OP_USER_UNLOCKED = "op:user:unlocked"
    PROOFING_APP_RESULT = "proofing:app:result"
    ENROLLMENT_STAFF_DOCUMENT_SUBMITTED = "enrollment:staff_document:submitted"
    OP_REVIEW_DECIDED = "op:review:decided"
    OP_REVIEW_DOCUMENT_SHOWN = "op:review:document_shown"
    MEMBERSHIP_EXPIRED = "account:membership:expired"
    OP_NOTICE_PUBLISHED = "op:notice:published"
    # Issue 11: the account lifecycle
    ACCOUNT_PASSWORD_RESET_REQUESTED = "account:password:reset_requested"  # noqa: S105
    ACCOUNT_PASSWORD_RESET = "account:password:reset"  # noqa: S105
    ACCOUNT_PASSWORD_CHANGED = "account:password:changed"  # noqa: S105
    ACCOUNT_PROFILE_UPDATED = "account:profile:updated"
    ACCOUNT_SESSIONS_ENDED = "account:sessions:ended"
    BACKCHANNEL_LOGOUT_DELIVERED = "oidc:backchannel:delivered"
    BACKCHANNEL_LOGOUT_GAVE_UP = "oidc:backchannel:gave_up"
    SERVICE_REQUEST_SUBMITTED = "account:service_request:submitted"
    SERVICE_REQUEST_CARRIED_OUT = "account:service_request:carried_out"
    OP_RESET_CODE_SENT = "op:user:reset_code_sent"
    OP_FACTORS_RESET = "op:user:factors_reset"
    OP_SESSIONS_ENDED = "op:user:sessions_ended"
    OP_PASSWORD_CHANGE_REQUIRED = "op:user:password_change_required"  # noqa: S105
    ACCOUNT_DATA_EXPORTED = "account:data:exported"
    ACCOUNT_CLOSURE_REQUESTED = "account:closure:requested"
    OP_ACCOUNT_CLOSED = "op:account:closed"
    ACCOUNT_ERASED = "account:erased"


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
    # Some events are operating figures too (issue 13): counted when recorded, so a
    # rolled-back transaction may still have counted one.
    metrics.count_audit_event(str(tag))


def _client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


@dataclass(frozen=True)
class AuditQuery:
    """Filters of an audit search; empty fields match everything."""

    org_id: int | None = None
    tag: str = ""
    actor: str = ""  # username
    subject: str = ""  # username
    ip: str = ""
    since: int | None = None  # epoch seconds, inclusive
    until: int | None = None  # epoch seconds, exclusive
    limit: int = 1000  # a page on screen; CSV exports use EXPORT_LIMIT


EXPORT_LIMIT = 100_000
FILTERS = ("tag", "actor", "subject", "ip", "since", "until")


def query_from_args(
    args: Mapping[str, str], org_id: int | None, limit: int = 1000, zone: tzinfo = UTC
) -> tuple[AuditQuery, dict]:
    """An audit query from a search form's values (dates as YYYY-MM-DD, days in
    ``zone``: the deployment's, the zone the audit tables show times in); returns the
    cleaned values too, to fill the form again."""
    values = {k: (args.get(k) or "").strip()[:100] for k in FILTERS}
    return (
        AuditQuery(
            org_id=org_id,
            tag=values["tag"],
            actor=values["actor"],
            subject=values["subject"],
            ip=values["ip"],
            since=_day(values["since"], zone),
            until=_day(values["until"], zone, end=True),
            limit=limit,
        ),
        values,
    )


def _day(value: str, zone: tzinfo, *, end: bool = False) -> int | None:
    """Midnight in ``zone`` of a YYYY-MM-DD date; ``end`` gives the next midnight."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
        if end:
            day += timedelta(days=1)
        return int(datetime.combine(day, time(0), tzinfo=zone).timestamp())
    except (ValueError, OverflowError):  # 9999-12-31 + 1 day: no such date, no filter
        return None


def search(db: Session, q: AuditQuery) -> list:
    """(event, actor username, subject username, organisation identifier), newest first."""
    actor, subject = User.__table__.alias("actor"), User.__table__.alias("subject")
    stmt = (
        select(AuditEvent, actor.c.username, subject.c.username, Organization.identifier)
        .outerjoin(actor, actor.c.id == AuditEvent.actor_user_id)
        .outerjoin(subject, subject.c.id == AuditEvent.subject_user_id)
        .outerjoin(Organization, Organization.id == AuditEvent.org_id)
        .order_by(AuditEvent.id.desc())
        .limit(q.limit)
    )
    if q.org_id is not None:
        stmt = stmt.where(AuditEvent.org_id == q.org_id)
    if q.tag:
        stmt = stmt.where(AuditEvent.tag == q.tag)
    if q.actor:
        stmt = stmt.where(actor.c.username_key == username_key(q.actor))
    if q.subject:
        stmt = stmt.where(subject.c.username_key == username_key(q.subject))
    if q.ip:
        stmt = stmt.where(AuditEvent.ip == q.ip.strip())
    if q.since is not None:
        stmt = stmt.where(AuditEvent.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditEvent.at < q.until)
    return list(db.execute(stmt).all())


CSV_COLUMNS = (
    "when_utc",
    "action",
    "action_label",
    "organisation",
    "by",
    "whom",
    "ip",
    "details",
    "change",
)


def to_csv(rows: list, locale: str, zone: tzinfo) -> bytes:
    """Rows of :func:`search` as CSV, with a BOM so that spreadsheet programs read the
    Thai text as UTF-8. The codes and raw details stay (machine columns: ``when_utc`` is
    ISO 8601 in UTC); the columns for people are in the exporter's language ``locale``:
    the second, the same moment as a date and time (Thai with the Buddhist-era year) in
    the deployment's ``zone``, named in its heading, and the action's label and the
    change in words (``action_label``, ``change``)."""
    # Imported here: the labels module needs AuditTag from this one.
    from idp.audit_labels import action_label, summary

    out = io.StringIO()
    writer = csv.writer(out)
    with force_locale(locale):
        human = _("Date and time (%(zone)s)", zone=dates.zone_label(zone, now()))
        writer.writerow([CSV_COLUMNS[0], human, *CSV_COLUMNS[1:]])
        for event, by, whom, org in rows:
            writer.writerow(
                [
                    datetime.fromtimestamp(event.at, UTC).isoformat(),
                    dates.format_datetime(event.at, locale, zone),
                    event.tag,
                    action_label(event.tag),
                    org or "",
                    by or "",
                    whom or "",
                    event.ip or "",
                    json.dumps(event.details, ensure_ascii=False),
                    summary(event.details, event.tag),
                ]
            )
    return out.getvalue().encode("utf-8-sig")
