"""The ``claims`` request parameter (OIDC Core 5.5): the ID token's ``acr`` and the
``verified_claims`` requests (OIDC IDA 1.0 section 6) are acted on; other requested
claims are released by scope as usual."""

from __future__ import annotations

import json
from typing import Any

TARGETS = ("id_token", "userinfo")


class ClaimsParameterError(ValueError):
    pass


def _parse(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ClaimsParameterError("claims is not valid JSON") from None
    if not isinstance(data, dict):
        raise ClaimsParameterError("claims must be a JSON object")
    return data


def essential_acr(raw: str | None) -> tuple[str, ...] | None:
    """The acceptable acr values when ``acr`` is requested as essential, else None."""
    data = _parse(raw)
    acr = (
        (data.get("id_token") or {}).get("acr") if isinstance(data.get("id_token"), dict) else None
    )
    if not isinstance(acr, dict) or not acr.get("essential"):
        return None
    values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ClaimsParameterError("claims.id_token.acr values must be strings")
    return tuple(values)


def verified_claims_request(raw: str | None) -> dict[str, Any]:
    """``{"id_token": <request>, "userinfo": <request>}`` for the targets whose
    ``verified_claims`` were asked for (a request is an object or a list of objects,
    IDA 1.0 6.5); ``{}`` when none was. Raises :class:`ClaimsParameterError` on a
    request that is not shaped like one."""
    data = _parse(raw)
    found: dict[str, Any] = {}
    for target in TARGETS:
        part = data.get(target)
        if not isinstance(part, dict) or "verified_claims" not in part:
            continue
        req = part["verified_claims"]
        items = req if isinstance(req, list) else [req]
        if not items or not all(isinstance(i, dict) for i in items):
            raise ClaimsParameterError(f"claims.{target}.verified_claims must be an object")
        for item in items:
            for key in ("claims", "verification"):
                if key in item and item[key] is not None and not isinstance(item[key], dict):
                    raise ClaimsParameterError(
                        f"claims.{target}.verified_claims.{key} must be an object"
                    )
        found[target] = req
    return found


def scope_with_verified_claims(
    scope: str | None, raw: str | None, allowed: list[str], scope_name: str = "verified_claims"
) -> tuple[str, dict[str, Any]]:
    """The scope a sign-in asks for and its verified_claims request: a request in the
    ``claims`` parameter by a client allowed the ``verified_claims`` scope adds that
    scope (so consent covers it and the code carries it); other clients' requests are
    ignored (OIDC Core 5.5: claims that are not available are not returned)."""
    scope = scope or ""
    try:
        request = verified_claims_request(raw)
    except ClaimsParameterError:
        request = {}
    if not request or scope_name not in allowed:
        return scope, {}
    if scope_name not in scope.split():
        scope = f"{scope} {scope_name}".strip()
    return scope, request
