"""What the audit trail says in words: a translated label for every audit tag the code
emits (:class:`idp.audit.AuditTag`), and its details (before/after values, reasons) in
the reader's language, for both consoles' tables and filters and the CSV's label
column. The CSV keeps the codes and raw values too (machine columns).

A tag without a label here fails ``tests/unit/test_audit_labels.py``, which finds the
tags the code emits by reading the source. A value nobody labelled (an older record, a
free text such as an email address) is shown as it was recorded."""

from __future__ import annotations

import json

from flask_babel import gettext as _

from idp.admin.messages import (
    acr_labels,
    reason_labels,
    review_kind_labels,
    review_status_labels,
)
from idp.audit import AuditTag
from idp.mfa.messages import revoke_reason_labels
from idp.orgs.messages import address_labels, contact_labels, role_labels, status_labels

EMPTY = "—"
MAX_VALUE = 200


def action_labels() -> dict[str, str]:
    """Every :class:`AuditTag` in words, in the request's language."""
    t = AuditTag
    return {
        t.ACCOUNT_EMAIL_CHANGED: _("Email changed by the person"),
        t.ENROLLMENT_ACCOUNT_CREATED: _("Account created by self-registration"),
        t.ENROLLMENT_DOCUMENT_ON_FILE: _("Registration with an identity document already on file"),
        t.ENROLLMENT_IDENTITY_VERIFIED: _("Identity verified by the person"),
        t.MFA_TOTP_ENROLLED: _("Authenticator app added"),
        t.MFA_WEBAUTHN_ENROLLED: _("Security key or passkey added"),
        t.MFA_FACTOR_RENAMED: _("Sign-in factor renamed"),
        t.MFA_FACTOR_REVOKED: _("Sign-in factor removed"),
        t.MFA_RECOVERY_REGENERATED: _("New recovery codes made"),
        t.MFA_RECOVERY_USED: _("Recovery code used"),
        t.ORG_MEMBER_ADDED: _("Member added"),
        t.ORG_MEMBER_REMOVED: _("Member removed"),
        t.ORG_ROLE_CHANGED: _("Member's role changed"),
        t.ORG_SCOPE_GRANTED: _("Right granted"),
        t.ORG_SCOPE_REVOKED: _("Right revoked"),
        t.ORG_ACCESS_DENIED: _("Console refused: not an admin of this organisation"),
        t.ORG_ADMIN_EMAIL_CHANGED: _("Admin's email changed by another admin"),
        t.ORG_MEMBER_INVITED: _("Invitation sent"),
        t.ORG_INVITATION_WITHDRAWN: _("Invitation withdrawn"),
        t.ORG_PROFILE_CHANGED: _("Contact data or addresses changed"),
        t.ORG_DOCUMENT_UPLOADED: _("Power of attorney uploaded"),
        t.COMPANY_SUBMITTED: _("Company registration submitted"),
        t.COMPANY_RESUBMITTED: _("Company registration corrected and submitted again"),
        t.COMPANY_DECIDED: _("Company registration decided"),
        t.OP_ORG_CREATED: _("Organisation created"),
        t.OP_ORG_STATUS_CHANGED: _("Organisation's status changed"),
        t.OP_ORG_LIMIT_CHANGED: _("Member limit changed"),
        t.OP_ORG_CLIENTS_CHANGED: _("Applications it may use changed"),
        t.OP_SCOPE_CHANGED: _("Right's settings changed"),
        t.OP_SCOPE_ADDED: _("New right declared"),
        t.OP_DOCUMENT_REVIEWED: _("Power of attorney reviewed"),
        t.OP_EMAIL_CHANGED: _("Email changed by a platform operator"),
        t.OP_ACCESS_DENIED: _("Operator console refused"),
        t.OP_OPERATOR_SET: _("Platform operator right changed"),
        t.OP_USER_ACTIVE_CHANGED: _("Account disabled or enabled"),
        t.OP_USER_UNLOCKED: _("Lockout lifted"),
        t.PROOFING_APP_RESULT: _("Identity checked with the identity app"),
        t.ENROLLMENT_STAFF_DOCUMENT_SUBMITTED: _("Staff document submitted for review"),
        t.OP_REVIEW_DECIDED: _("Application in the review queue decided"),
        t.OP_REVIEW_DOCUMENT_SHOWN: _("Full identity document number shown to an operator"),
        t.MEMBERSHIP_EXPIRED: _("Temporary membership expired"),
        t.OP_NOTICE_PUBLISHED: _("Personal-data notice published"),
        t.ACCOUNT_PASSWORD_RESET_REQUESTED: _("Password reset code asked for"),
        t.ACCOUNT_PASSWORD_RESET: _("Password reset with an emailed code"),
        t.ACCOUNT_PASSWORD_CHANGED: _("Password changed by the person"),
        t.ACCOUNT_PROFILE_UPDATED: _("Profile changed by the person"),
        t.ACCOUNT_SESSIONS_ENDED: _("Sessions ended by the person"),
        t.BACKCHANNEL_LOGOUT_DELIVERED: _("Logout sent to an application"),
        t.BACKCHANNEL_LOGOUT_GAVE_UP: _("Logout could not be sent to an application"),
        t.SERVICE_REQUEST_SUBMITTED: _("Service request submitted"),
        t.SERVICE_REQUEST_CARRIED_OUT: _("Service request carried out"),
        t.OP_RESET_CODE_SENT: _("Password reset code sent by an operator"),
        t.OP_FACTORS_RESET: _("Second factors reset by an operator"),
        t.OP_SESSIONS_ENDED: _("Sessions ended by an operator"),
        t.OP_PASSWORD_CHANGE_REQUIRED: _("Password change required by an operator"),
        t.ACCOUNT_DATA_EXPORTED: _("Personal data downloaded by the person"),
        t.ACCOUNT_CLOSURE_REQUESTED: _("Account closure asked for"),
        t.OP_ACCOUNT_CLOSED: _("Account closure confirmed by an operator"),
        t.ACCOUNT_ERASED: _("Personal data of a closed account erased"),
    }


def action_label(tag: str) -> str:
    """The label of ``tag``, or the tag itself (a tag an older version recorded)."""
    return action_labels().get(tag, tag)


def action_choices(tags: list[str]) -> list[tuple[str, str]]:
    """(tag, label) pairs for a filter dropdown, in the reader's alphabetical order."""
    labels = action_labels()
    return sorted(((t, labels.get(t, t)) for t in tags), key=lambda pair: pair[1])


def detail_labels() -> dict[str, str]:
    """The names of the details records carry, and of the fields inside before/after."""
    return {
        "reason": _("Reason"),
        "via": _("Through"),
        "scope": _("Right"),
        "client": _("Application"),
        "factor": _("Factor number"),
        "document": _("Document number"),
        "sha256": _("SHA-256 fingerprint"),
        "size": _("Size in bytes"),
        "email": _("Email"),
        "role": _("Role"),
        "path": _("Page asked for"),
        "identifier": _("Identifier"),
        "name_th": _("Name in Thai"),
        "name_en": _("Name in English"),
        "member_limit": _("Member limit"),
        "seat_limit": _("Seats per organisation"),
        "min_acr": _("Assurance level"),
        "description_th": _("Description in Thai"),
        "description_en": _("Description in English"),
        "head_office": _("Head office"),
        "branches": _("Branches"),
        "contact": _("Contact"),
        "failed_logins": _("Failed attempts"),
        "locked_until": _("Locked until"),
        "outcome": _("Result"),
        "evidence_ref": _("Reference at the verifier"),
        "item": _("Review item"),
        "kind": _("Kind of application"),
        "flags": _("Flags for the operator"),
        "decision": _("Decision"),
        "version": _("Version"),
        "member_type": _("Member type"),
        "membership": _("Membership"),
        "method": _("Verification method"),
        "media_type": _("File type"),
        "error": _("Error"),
        "sessions": _("Sessions"),
        # issue 11: service requests and the operator's factor reset
        "request": _("Service request"),
        "result": _("What was done"),
        "factors": _("Second factors ended"),
        # issue 11: passwords and profile
        "forced": _("Required by an operator"),
        "sessions_ended": _("Other sessions ended"),
        "fields": _("Fields changed"),
        "matched": _("Details matched an account"),
        "second_factor": _("Second factor passed"),
        "requested": _("Asked for by the person"),
        "closed_at": _("Closed on"),
        **contact_labels(),
        **address_labels(),
    }


def _tag_values(tag: str) -> dict[object, str]:
    """Values whose meaning depends on the action (``True`` is "active" for an account,
    "operator" for the operator right; "pending" an organisation awaiting approval or a
    document awaiting review)."""
    if tag == AuditTag.OP_ORG_STATUS_CHANGED:
        return status_labels()
    if tag == AuditTag.ORG_ROLE_CHANGED:
        return role_labels()
    if tag == AuditTag.OP_DOCUMENT_REVIEWED:
        return {
            "pending": _("not reviewed yet"),
            "accepted": _("accepted"),
            "rejected": _("rejected"),
        }
    if tag == AuditTag.OP_USER_ACTIVE_CHANGED:
        return {True: _("active"), False: _("disabled")}
    if tag == AuditTag.OP_OPERATOR_SET:
        return {True: _("platform operator"), False: _("not an operator")}
    if tag in (AuditTag.ORG_SCOPE_GRANTED, AuditTag.ORG_SCOPE_REVOKED):
        return {"held": _("held"), "not held": _("not held")}
    if tag == AuditTag.OP_REVIEW_DECIDED:
        return review_status_labels()
    if tag == AuditTag.MEMBERSHIP_EXPIRED:
        return {"temporary": _("temporary member"), "expired": _("membership expired")}
    if tag == AuditTag.ORG_INVITATION_WITHDRAWN:
        return {"open": _("open"), "withdrawn": _("withdrawn")}
    return {}


def _field_values(key: str, tag: str) -> dict[object, str]:
    """Values labelled by the detail they belong to, whatever the action."""
    if key == "reason":
        if tag == AuditTag.OP_USER_ACTIVE_CHANGED:
            return reason_labels()
        return revoke_reason_labels()
    if key == "role":
        return role_labels()
    if key == "via":
        return {"cli": _("the command line"), "demo": _("the demo set-up")}
    if key == "kind":
        return review_kind_labels()
    if key == "min_acr":
        return acr_labels()
    if key == "outcome":
        return {
            "verified": _("verified"),
            "not_verified": _("not verified"),
            "unavailable": _("not reachable"),
            "cancelled": _("cancelled"),
        }
    if key == "seat_limit":
        return {None: _("no limit")}
    return {}


def _plain(value: object) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _table_label(tag: str, key: str, value: object) -> str | None:
    tables = _field_values(key, tag) if key not in ("before", "after") else _tag_values(tag)
    try:
        return tables.get(value)  # type: ignore[call-overload]
    except TypeError:  # a dict or list: not a key of any table
        return None


def is_labelled(tag: str, key: str, value: object) -> bool:
    """Does this fixed value have words of its own (not just its recorded text)?"""
    return _table_label(tag, key, value) is not None


def value_label(tag: str, key: str, value: object) -> str:
    """One recorded value in words: labelled by its detail (``key``: "reason", "role",
    "before"...) and the action, else as recorded."""
    timestamp = isinstance(value, int) and not isinstance(value, bool)
    if key in ("locked_until", "closed_at") and timestamp:
        from idp.web import format_epoch

        return format_epoch(value)
    label = _table_label(tag, key, value)
    if label is not None:
        return label
    if isinstance(value, dict):
        return _fields(tag, value)
    return _plain(value)


def _name(key: str) -> str:
    return detail_labels().get(key, key)


def _fields(tag: str, values: dict) -> str:
    return "; ".join(f"{_name(k)}: {value_label(tag, k, v)}" for k, v in values.items())


# Actions whose before/after is one field: shown by that field's name ("Member limit:
# 10 → 20"); the others' before/after is a state ("pending approval → active").
FIELD_OF_ACTION = {
    AuditTag.ACCOUNT_EMAIL_CHANGED: "email",
    AuditTag.ORG_ADMIN_EMAIL_CHANGED: "email",
    AuditTag.OP_EMAIL_CHANGED: "email",
    AuditTag.OP_ORG_LIMIT_CHANGED: "member_limit",
    AuditTag.ORG_DOCUMENT_UPLOADED: "document",
}


def _changes(tag: str, before: object, after: object) -> list[str]:
    """``before → after`` in words; for two records (dicts), only the fields that
    changed, nested ones (head office, contact) by their own field names."""
    if tag == AuditTag.OP_ORG_CLIENTS_CHANGED and isinstance(before, dict):
        return _allowance_changes(before, after if isinstance(after, dict) else {})
    if isinstance(before, dict | None) and isinstance(after, dict | None) and (before or after):
        parts = []
        before, after = before or {}, after or {}
        for key in dict.fromkeys([*before, *after]):
            old, new = before.get(key), after.get(key)
            if old == new:
                continue
            if isinstance(old, dict) or isinstance(new, dict):
                parts += [f"{_name(key)} · {part}" for part in _changes(tag, old, new)]
            else:
                old_text, new_text = value_label(tag, key, old), value_label(tag, key, new)
                parts.append(f"{_name(key)}: {old_text} → {new_text}")
        return parts
    change = f"{value_label(tag, 'before', before)} → {value_label(tag, 'after', after)}"
    field = FIELD_OF_ACTION.get(tag)  # type: ignore[call-overload]
    return [f"{_name(field)}: {change}" if field else change]


def _allowance_changes(before: dict, after: dict) -> list[str]:
    """``op:org:clients``: per application, none (not allowed), all its rights, or the
    listed ones."""

    def allowed(rights: dict, client: str) -> str:
        if client not in rights:
            return _("not allowed")
        chosen = rights[client]
        return _("all its rights") if chosen is None else ", ".join(chosen) or EMPTY

    clients = dict.fromkeys([*before, *after])
    return [
        f"{client}: {allowed(before, client)} → {allowed(after, client)}"
        for client in clients
        if allowed(before, client) != allowed(after, client)
    ]


def summary(details: dict | None, tag: str = "") -> str:
    """One line for the consoles' tables, in the reader's language: what changed
    (``before → after``) first, then the other details by name. ``org`` is left out:
    the table has its own column."""
    details = dict(details or {})
    details.pop("org", None)
    parts: list[str] = []
    if "before" in details or "after" in details:
        before, after = details.pop("before", None), details.pop("after", None)
        if before is None and isinstance(after, dict):
            parts.append(_fields(tag, after))  # created: what it was created with
        else:
            parts += _changes(tag, before, after)
    parts += [f"{_name(k)}: {value_label(tag, k, v)}" for k, v in sorted(details.items())]
    return "; ".join(p for p in parts if p)
