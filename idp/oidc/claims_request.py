"""The ``claims`` request parameter (OIDC Core 5.5): only the ID token's ``acr`` is
acted on; other requested claims are released by scope as usual."""

from __future__ import annotations

import json


class ClaimsParameterError(ValueError):
    pass


def essential_acr(raw: str | None) -> tuple[str, ...] | None:
    """The acceptable acr values when ``acr`` is requested as essential, else None."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ClaimsParameterError("claims is not valid JSON") from None
    if not isinstance(data, dict):
        raise ClaimsParameterError("claims must be a JSON object")
    acr = (
        (data.get("id_token") or {}).get("acr") if isinstance(data.get("id_token"), dict) else None
    )
    if not isinstance(acr, dict) or not acr.get("essential"):
        return None
    values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ClaimsParameterError("claims.id_token.acr values must be strings")
    return tuple(values)
