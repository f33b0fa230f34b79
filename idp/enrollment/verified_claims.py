"""Schema check of the ``verified_claims`` an identity app returns (OpenID Connect for
Identity Assurance 1.0, section 5): untrusted input (SECURITY.md X-04). Pure: no Flask,
no database.

What is accepted, per ``verified_claims`` object (an array is read element by element;
the first valid one counts)::

    verification
        trust_framework       non-empty token ([a-z0-9_:.-], <= 64)     required
        time                  ISO 8601 date-time, not after now + 5 min  required
        verification_process  the provider's transaction, <= 200         required
        evidence              1..10 objects, each with a known ``type``  required
    claims                    given_name, family_name (plain, #th, #en), birthdate
                              (YYYY-MM-DD); strings, <= 200, no control characters

Anything else in ``claims`` is dropped: only names and birthdate are asked for, and only
what came back verified is kept. A violation raises :class:`VerifiedClaimsInvalid` with a
short code (``no_verified_claims``, ``bad_trust_framework``, ``bad_time``,
``bad_verification_process``, ``bad_evidence``, ``no_claims``), never the values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

EVIDENCE_TYPES = frozenset({"document", "electronic_record", "vouch", "electronic_signature"})
NAME_CLAIMS = (
    "given_name",
    "family_name",
    "given_name#th",
    "family_name#th",
    "given_name#en",
    "family_name#en",
)
CLAIMS_ASKED = (*NAME_CLAIMS, "birthdate")
MAX_VALUE = 200
CLOCK_SKEW = 300
_TOKEN = re.compile(r"^[a-z0-9_:.\-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class VerifiedClaimsInvalid(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CheckedClaims:
    """The part of ``verified_claims`` we keep (becomes a Verdict)."""

    trust_framework: str
    verified_at: int  # epoch seconds of the provider's ``time``
    verification_process: str
    evidence_type: str  # the first evidence's type
    claims: dict[str, str] = field(default_factory=dict)


def request_claims() -> dict:
    """The ``claims`` authorization parameter (OIDC Core 5.5, IDA 1.0 section 6): the
    names and birthdate, verified, in the ID token, with the verification metadata."""
    return {
        "id_token": {
            "verified_claims": {
                "verification": {
                    "trust_framework": None,
                    "time": None,
                    "verification_process": None,
                    "evidence": [{"type": None}],
                },
                "claims": {name: None for name in CLAIMS_ASKED},
            }
        }
    }


def _time(value: object, now: int) -> int:
    if not isinstance(value, str) or len(value) > 40:
        raise VerifiedClaimsInvalid("bad_time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise VerifiedClaimsInvalid("bad_time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    at = int(parsed.timestamp())
    if at > now + CLOCK_SKEW or at <= 0:
        raise VerifiedClaimsInvalid("bad_time")
    return at


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_VALUE or _CONTROL.search(value):
        return None
    return value


def _claims(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise VerifiedClaimsInvalid("no_claims")
    kept: dict[str, str] = {}
    for name in NAME_CLAIMS:
        text = _text(value.get(name))
        if text is not None:
            kept[name] = text
    birthdate = value.get("birthdate")
    if isinstance(birthdate, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birthdate):
        try:
            date.fromisoformat(birthdate)
            kept["birthdate"] = birthdate
        except ValueError:
            pass
    if not kept:
        raise VerifiedClaimsInvalid("no_claims")
    return kept


def _one(value: object, now: int) -> CheckedClaims:
    if not isinstance(value, dict) or not isinstance(value.get("verification"), dict):
        raise VerifiedClaimsInvalid("no_verified_claims")
    verification = value["verification"]
    framework = verification.get("trust_framework")
    if not isinstance(framework, str) or not _TOKEN.match(framework):
        raise VerifiedClaimsInvalid("bad_trust_framework")
    at = _time(verification.get("time"), now)
    process = _text(verification.get("verification_process"))
    if process is None:
        raise VerifiedClaimsInvalid("bad_verification_process")
    evidence = verification.get("evidence")
    if (
        not isinstance(evidence, list)
        or not 1 <= len(evidence) <= 10
        or not all(isinstance(e, dict) and e.get("type") in EVIDENCE_TYPES for e in evidence)
    ):
        raise VerifiedClaimsInvalid("bad_evidence")
    return CheckedClaims(framework, at, process, evidence[0]["type"], _claims(value.get("claims")))


def check(value: object, now: int) -> CheckedClaims:
    """The checked ``verified_claims`` (an object or an array of them) at ``now``.

    Raises VerifiedClaimsInvalid (the first element's problem when none is valid)."""
    if isinstance(value, list):
        if not 1 <= len(value) <= 5:
            raise VerifiedClaimsInvalid("no_verified_claims")
        first: VerifiedClaimsInvalid | None = None
        for element in value:
            try:
                return _one(element, now)
            except VerifiedClaimsInvalid as problem:
                first = first or problem
        assert first is not None
        raise first
    return _one(value, now)
