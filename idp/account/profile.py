"""The person's own profile on /account/profile: names (Latin and Thai, given and
family) and mobile number.

Names a verifier proved (a verified verdict of the population registry or the identity
app, ``enrollment.verdicts.latest_verified``) change only through re-verification
(``/account/verify``): the page shows them read-only and :func:`update_profile`
ignores them even when posted. The identity document is never edited here. A changed
mobile number is no longer verified. The audit record names the fields that changed,
never their values (identity data stays out of the audit trail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.enrollment.verdicts import latest_verified
from idp.enrollment.verifiers import Method
from idp.enrollment.wizard import MOBILE_RE, clean
from idp.models import User

NAME_FIELDS = ("given_name", "family_name", "given_name_th", "family_name_th")
FIELDS = (*NAME_FIELDS, "phone_number")
NAME_MAX = 100
IDENTITY_METHODS = (str(Method.REGISTRY), str(Method.IDENTITY_APP))


@dataclass(frozen=True)
class ProfileInput:
    given_name: str = ""
    family_name: str = ""
    given_name_th: str = ""
    family_name_th: str = ""
    phone_number: str = ""


def check_profile(given: ProfileInput, *, names_locked: bool) -> tuple[dict, list]:
    """Pure: the values to keep and the errors as (field, code). Locked names are
    left out of the values. Codes: ``required`` (the Latin or the Thai given name:
    a person has a name in at least one script), ``name_too_long``, ``mobile``."""
    values: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    if not names_locked:
        for field in NAME_FIELDS:
            raw = getattr(given, field) or ""
            if len(raw.strip()) > NAME_MAX:
                errors.append((field, "name_too_long"))
            values[field] = clean(raw, NAME_MAX)
        if not values["given_name"] and not values["given_name_th"]:
            errors.append(("given_name", "required"))
    mobile = re.sub(r"[\s\-()]", "", given.phone_number or "")[:32]
    if mobile and not MOBILE_RE.fullmatch(mobile):
        errors.append(("phone_number", "mobile"))
    values["phone_number"] = mobile
    return values, errors


def names_locked(db: Session, user: User) -> bool:
    """The names came from a verifier that proves identity: only re-verification
    changes them."""
    row = latest_verified(db, user.id)
    return row is not None and row.method in IDENTITY_METHODS


class ProfileRefused(ValueError):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(", ".join(code for _, code in errors))
        self.errors = errors


def update_profile(db: Session, user: User, given: ProfileInput, t: int) -> tuple[str, ...]:
    """Apply ``given`` to ``user``; returns the fields that changed (audited as
    ``account:profile:updated`` when any did). Raises :class:`ProfileRefused` with the
    errors. Flushes; the caller commits."""
    locked = names_locked(db, user)
    values, errors = check_profile(given, names_locked=locked)
    if errors:
        raise ProfileRefused(errors)
    changed = tuple(f for f in FIELDS if f in values and getattr(user, f) != values[f])
    if not changed:
        return ()
    for field in changed:
        setattr(user, field, values[field])
    if "phone_number" in changed:
        user.phone_number_verified = False
    if {"given_name", "family_name", "given_name_th", "family_name_th"} & set(changed):
        latin = f"{user.given_name} {user.family_name}".strip()
        thai = f"{user.given_name_th} {user.family_name_th}".strip()
        user.name = (latin or thai)[:200]
    user.updated_at = t
    record(db, AuditTag.ACCOUNT_PROFILE_UPDATED, actor=user.id, subject=user.id, fields=changed)
    db.flush()
    return changed
