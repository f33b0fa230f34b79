"""Forged JWTs an attacker would try against us (SECURITY.md I-07, section 6 JOSE):
the same claims as a real ID token of ours, signed in ways a careless verifier accepts.

* ``hs256``: HS256 with our RSA *public* key (as PEM, what it would read from JWKS) as
  the HMAC secret: the classic algorithm confusion (CVE-2024-37568 class).
* ``jwk``: ES256, signed by the attacker's key, which the header carries as ``jwk``,
  with the ``kid`` of our EC key (a verifier that trusts the header uses the attacker's).
* ``jku``: the same, the header pointing to the attacker's JWKS instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

KINDS = ("hs256", "jwk", "jku")
ATTACKER_JKU = "https://attacker.example/.well-known/jwks.json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (to copy a real token's claims)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def forge(kind: str, claims: dict[str, Any], our_jwks: dict) -> str:
    """A token of ``kind`` (one of ``KINDS``) carrying ``claims``."""
    ours = next(k for k in our_jwks["keys"] if k["kty"] == "RSA")
    if kind == "hs256":
        secret = RSAKey.import_key(ours).as_pem(private=False)
        signing_input = _segment({"alg": "HS256", "typ": "JWT", "kid": ours["kid"]}) + "."
        signing_input += _segment(claims)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(mac)
    # An EC key keeps the header small: a 2048-bit RSA jwk alone would exceed joserfc's
    # 512-byte header limit and be refused for its size, not for where its key is.
    attacker = ECKey.generate_key("P-256", private=True)
    our_ec = next(k for k in our_jwks["keys"] if k["kty"] == "EC")
    header: dict[str, Any] = {"alg": "ES256", "kid": our_ec["kid"]}
    if kind == "jwk":
        header["jwk"] = attacker.as_dict(private=False)
    elif kind == "jku":
        header["jku"] = ATTACKER_JKU
    else:
        raise ValueError(kind)
    return jwt.encode(header, claims, attacker)
