"""The people's registration wizard, the pure part: which steps a registration has,
where it may go, and the checks of what the person typed (MISSION B1, C1, C2, A6).

A registration moves forward one step at a time; every earlier step can be visited
again ("back") and changed; a later one only once the earlier ones are done::

    identity ──► prove ──► details ──┬──────────────► (account) ──► second_factor?
      (1)         (2)        (3)     └─► waiting (4) ─► (account)       (5)
                                        staff without a directory match

* ``identity`` (1): member type (public / staff of an agency), identity document,
  email, the personal-data notice accepted.
* ``prove`` (2): registry, identity app, staff directory, or go on as a temporary member.
* ``details`` (3): names, gender, birthdate, mobile, agency position, the emailed code,
  password; submitting it creates the account (``registration.finish``).
* ``waiting`` (4): only for staff whom no directory found: the staff document upload
  and the operator's decision (the "staff" part of issue 10 builds it).
* ``second_factor`` (5): only where the agency or the deployment requires one.

The email is asked in step 1 (not 3): the resume link can then be mailed at once, so a
registration survives a closed browser from its first step; the 6-digit code that
proves the address is asked in step 3 (asked sooner it would often expire while the
person proves their identity).

Values in, a decision or a list of field errors out: no Flask, no database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from idp.enrollment import identity
from idp.enrollment.identity import DocumentInvalid, IdentityDocument

IDENTITY = "identity"
PROVE = "prove"
DETAILS = "details"
WAITING = "waiting"
SECOND_FACTOR = "second_factor"
ORDER = (IDENTITY, PROVE, DETAILS, WAITING, SECOND_FACTOR)
GENDERS = ("female", "male", "other", "unspecified")
MOBILE_RE = re.compile(r"^\+?[0-9]{9,15}$")


@dataclass(frozen=True)
class Plan:
    """What this registration needs beyond steps 1-3."""

    needs_waiting: bool = False  # staff without a directory match
    needs_second_factor: bool = False  # the agency or IDP_REGISTRATION_REQUIRE_TOTP


def steps(plan: Plan) -> tuple[str, ...]:
    """The steps shown (numbered 1..n in this order)."""
    return tuple(
        s
        for s in ORDER
        if (s != WAITING or plan.needs_waiting) and (s != SECOND_FACTOR or plan.needs_second_factor)
    )


def may_enter(reached: str, target: str) -> bool:
    """A step may be shown when it is the one reached or an earlier one (back)."""
    return ORDER.index(target) <= ORDER.index(reached)


def later(reached: str, done: str) -> str:
    """The step reached after ``done`` is complete (never moves backwards)."""
    after = ORDER[min(ORDER.index(done) + 1, len(ORDER) - 1)]
    return after if ORDER.index(after) > ORDER.index(reached) else reached


@dataclass(frozen=True)
class IdentityInput:
    member_type: str
    agency: str
    document_kind: str
    national_id: str
    passport_number: str
    nationality: str
    passport_expiry: str
    email: str
    notice_accepted: bool


@dataclass(frozen=True)
class IdentityChoice:
    member_type: str
    agency: str
    document: IdentityDocument
    email: str


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def check_identity(
    given: IdentityInput, agency_codes: frozenset[str], today: date
) -> tuple[IdentityChoice | None, list[tuple[str, str]]]:
    """Step 1: the choice, or field errors as (field, code). Codes are those of
    :class:`idp.enrollment.identity.DocumentInvalid` plus ``member_type``,
    ``agency``, ``email_invalid``, ``notice``."""
    errors: list[tuple[str, str]] = []
    if given.member_type not in ("public", "staff"):
        errors.append(("member_type", "member_type"))
    if given.member_type == "staff" and given.agency not in agency_codes:
        errors.append(("agency", "agency"))
    document = None
    try:
        if given.document_kind == identity.PASSPORT:
            document = identity.check_passport(
                given.passport_number, given.nationality, parse_date(given.passport_expiry), today
            )
        else:
            document = identity.check_national_id(given.national_id)
    except DocumentInvalid as exc:
        errors.append((exc.field, exc.code))
    email = unicodedata.normalize("NFKC", given.email or "").strip()
    if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}", email):
        errors.append(("email", "email_invalid"))
    if not given.notice_accepted:
        errors.append(("notice", "notice"))
    if errors or document is None:
        return None, errors
    agency = given.agency if given.member_type == "staff" else ""
    return IdentityChoice(given.member_type, agency, document, email), []


@dataclass(frozen=True)
class DetailsInput:
    given_name_th: str
    family_name_th: str
    given_name_en: str
    family_name_en: str
    gender: str
    birthdate: str
    mobile: str
    position: str
    code: str
    password: str
    password_confirm: str


def clean(value: str, limit: int = 100) -> str:
    return unicodedata.normalize("NFC", value or "").strip()[:limit]


def check_details(
    given: DetailsInput, *, staff: bool, today: date
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Step 3 without the code and the password policy (services check those):
    the typed details to keep, and errors as (field, code)."""
    data = {
        "given_name_th": clean(given.given_name_th),
        "family_name_th": clean(given.family_name_th),
        "given_name_en": clean(given.given_name_en),
        "family_name_en": clean(given.family_name_en),
        "gender": given.gender if given.gender in GENDERS else "",
        "birthdate": (given.birthdate or "").strip()[:10],
        "mobile": re.sub(r"[\s\-()]", "", given.mobile or "")[:20],
        "position": clean(given.position) if staff else "",
    }
    errors: list[tuple[str, str]] = []
    for name in ("given_name_th", "family_name_th", "given_name_en", "family_name_en"):
        if not data[name]:
            errors.append((name, "required"))
    if not data["gender"]:
        errors.append(("gender", "required"))
    born = parse_date(data["birthdate"])
    if born is None or born >= today or born.year < 1900:
        errors.append(("birthdate", "birthdate"))
    if data["mobile"] and not MOBILE_RE.fullmatch(data["mobile"]):
        errors.append(("mobile", "mobile"))
    if staff and not data["position"]:
        errors.append(("position", "required"))
    if not re.fullmatch(r"\d{6}", (given.code or "").strip()):
        errors.append(("code", "code_format"))
    if given.password != given.password_confirm:
        errors.append(("password_confirm", "password_mismatch"))
    return data, errors
