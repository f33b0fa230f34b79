"""The ``membership`` claim and ``verified_claims`` (OpenID Connect for Identity
Assurance 1.0), built as plain values (pure: no database, no request).

``membership`` (scope ``membership``)::

    {"type": "public" | "staff", "state": "<membership status>", "badge": bool,
     "expires_at": <epoch seconds, temporary members only>}

``verified_claims`` (scope ``verified_claims``, or the ``claims`` request parameter
for a client registered with that scope) come ONLY from a stored verifier verdict
(``idp.enrollment.verdicts.latest_verified``; SECURITY.md X-04)::

    {"verification": {"trust_framework": ..., "time": "2026-01-02T03:04:05Z",
                      "verification_process": "<method>",
                      "evidence": [{"type": "electronic_record" | "document",
                                    "check_details": [{"check_method": ..., "txn": ...}],
                                    "time": ...}]},
     "claims": {"given_name": ..., "family_name": ..., "birthdate": ...,
                "given_name#th": ..., "family_name#th": ...}}

Language-tagged names (``given_name#th``) are OIDC Core 5.2 claims; IDA 1.0 section
5 allows any claim inside ``claims``. Identity document numbers are never released
(see README "verified_claims": no claim for them is defined yet).

A request (IDA 1.0 section 6) selects: ``claims`` lists the wanted claims (at least one;
an empty request releases nothing), ``verification`` the wanted verification elements
(``trust_framework`` always comes); a ``value``/``values`` constraint on
``trust_framework`` that the stored verdict does not meet releases nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The trust frameworks our verifiers record (advertised in discovery): the population
# registry of the Department of Provincial Administration, an identity app, an agency
# directory or an operator-reviewed staff document.
TRUST_FRAMEWORKS = ("th_dopa", "th_identity_app", "th_agency")
EVIDENCE_TYPES = ("electronic_record", "document")
CLAIMS_IN_VERIFIED_CLAIMS = (
    "given_name",
    "family_name",
    "birthdate",
    "given_name#th",
    "family_name#th",
)
VERIFICATION_ELEMENTS = ("trust_framework", "time", "verification_process", "evidence")
# IDA check_method: "data" = validated against an authoritative data source;
# "vpip" = a person (our operator) inspected the document.
CHECK_METHODS = {"electronic_record": "data", "document": "vpip"}


def membership_claim(
    member_type: str, status: str, expires_at: int | None, badge: bool
) -> dict[str, Any]:
    claim: dict[str, Any] = {"type": member_type, "state": status, "badge": badge}
    if status == "temporary" and expires_at is not None:
        claim["expires_at"] = int(expires_at)
    return claim


def iso_time(t: int) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def full_verified_claims(
    *,
    method: str,
    at: int,
    trust_framework: str,
    evidence_type: str,
    evidence_ref: str,
    claims: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Everything a stored verdict proves, or None when it proves no claim."""
    released = {
        k: claims[k]
        for k in CLAIMS_IN_VERIFIED_CLAIMS
        if isinstance(claims.get(k), str) and claims[k]
    }
    if not released or not trust_framework:
        return None
    evidence: dict[str, Any] = {"type": evidence_type or "electronic_record"}
    check: dict[str, Any] = {"check_method": CHECK_METHODS.get(evidence["type"], "data")}
    if evidence_ref:
        check["txn"] = evidence_ref
    evidence["check_details"] = [check]
    evidence["time"] = iso_time(at)
    return {
        "verification": {
            "trust_framework": trust_framework,
            "time": iso_time(at),
            "verification_process": method,
            "evidence": [evidence],
        },
        "claims": released,
    }


def _meets(value: Any, constraint: Any) -> bool:
    if not isinstance(constraint, dict):
        return True
    if "value" in constraint:
        return value == constraint["value"]
    if isinstance(constraint.get("values"), list):
        return value in constraint["values"]
    return True


def select_verified_claims(full: dict[str, Any] | None, request: Any) -> dict[str, Any] | None:
    """What of ``full`` a request releases (``request`` None: all of it, the scope
    case). ``request`` may be one request object or a list of them (IDA 1.0 6.5):
    the first that yields something wins."""
    if full is None:
        return None
    if request is None:
        return full
    requests = request if isinstance(request, list) else [request]
    for req in requests:
        picked = _select_one(full, req)
        if picked is not None:
            return picked
    return None


def _select_one(full: dict[str, Any], req: Any) -> dict[str, Any] | None:
    if not isinstance(req, dict):
        return None
    wanted = req.get("claims")
    if not isinstance(wanted, dict) or not wanted:
        return None
    claims = {k: v for k, v in full["claims"].items() if k in wanted}
    if not claims:
        return None
    verification = req.get("verification")
    verification = verification if isinstance(verification, dict) else {}
    have = full["verification"]
    if not _meets(have["trust_framework"], verification.get("trust_framework")):
        return None
    out = {"trust_framework": have["trust_framework"]}
    for element in VERIFICATION_ELEMENTS[1:]:
        if element in verification:
            out[element] = have[element]
    return {"verification": out, "claims": claims}
