"""A software WebAuthn authenticator producing 'none' attestations (RECIPES.md 4)."""

from __future__ import annotations

import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url as b64u

UP, UV, AT = 0x01, 0x04, 0x40


class SoftAuthenticator:
    """Takes the server's options JSON; returns what the browser's cred.toJSON() would."""

    def __init__(self, user_verification: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cred_id = os.urandom(32)
        self.sign_count = 0
        self.user_handle = None
        self.uv = user_verification

    def _cdj(self, typ: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def _ad(self, rp_id: str, flags: int, extra: bytes = b"") -> bytes:
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", self.sign_count)
            + extra
        )

    def _wrap(self, response: dict) -> str:
        return json.dumps(
            {
                "id": b64u(self.cred_id),
                "rawId": b64u(self.cred_id),
                "type": "public-key",
                "response": response,
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def create(self, options: dict, origin: str) -> str:
        self.user_handle = options["user"]["id"]
        n = self.key.public_key().public_numbers()
        cose = cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}
        )
        att = bytes(16) + struct.pack(">H", len(self.cred_id)) + self.cred_id + cose
        flags = UP | AT | (UV if self.uv else 0)
        ao = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": self._ad(options["rp"]["id"], flags, att)}
        )
        return self._wrap(
            {
                "clientDataJSON": b64u(self._cdj("webauthn.create", options["challenge"], origin)),
                "attestationObject": b64u(ao),
                "transports": ["internal"],
            }
        )

    def get(self, options: dict, origin: str, rp_id: str | None = None) -> str:
        self.sign_count += 1
        flags = UP | (UV if self.uv else 0)
        ad = self._ad(rp_id or options["rpId"], flags)
        cdj = self._cdj("webauthn.get", options["challenge"], origin)
        sig = self.key.sign(ad + hashlib.sha256(cdj).digest(), ec.ECDSA(hashes.SHA256()))
        return self._wrap(
            {
                "clientDataJSON": b64u(cdj),
                "authenticatorData": b64u(ad),
                "signature": b64u(sig),
                "userHandle": self.user_handle,
            }
        )
