"""Scopes and the claims each releases (OIDC Core 5.4)."""

from __future__ import annotations

from typing import Any

OIDC_SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access")
# Ours (README "Membership claim", "verified_claims"): never in a new client's default
# scopes; an operator allows them per client (``idp clients add --scope``).
MEMBERSHIP_SCOPE = "membership"
VERIFIED_CLAIMS_SCOPE = "verified_claims"
ASSURANCE_SCOPES = (MEMBERSHIP_SCOPE, VERIFIED_CLAIMS_SCOPE)

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "locale", "preferred_username", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}

CLAIMS_SUPPORTED = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
    | {c for claims in SCOPE_CLAIMS.values() for c in claims}
    | {"membership", "verified_claims", "org"}
)


def split_scope(scope: str | None) -> list[str]:
    seen: list[str] = []
    for part in (scope or "").split():
        if part not in seen:
            seen.append(part)
    return seen


def user_claims(user: Any, scope: str | list[str]) -> dict[str, Any]:
    """The user's claims that ``scope`` releases; empty values are left out."""
    scopes = split_scope(scope) if isinstance(scope, str) else scope
    values = {
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "locale": user.locale,
        "preferred_username": user.username,
        "updated_at": user.updated_at,
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "phone_number": user.phone_number,
        "phone_number_verified": bool(user.phone_number_verified),
        "address": user.address or None,
    }
    claims: dict[str, Any] = {"sub": user.sub}
    for s in scopes:
        for claim in SCOPE_CLAIMS.get(s, ()):
            value = values[claim]
            if value in ("", None, {}):
                continue
            if claim == "phone_number_verified" and not user.phone_number:
                continue
            claims[claim] = value
    return claims
