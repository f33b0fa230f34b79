"""Encryption of secrets at rest (TOTP seeds, queued mails) with a key derived from
IDP_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`; the key is HKDF-derived so the
secret key itself is never used directly. Rotating IDP_SECRET_KEY makes enrolled soft
tokens unreadable: keep it stable (README, production notes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret_key: str, info: bytes) -> bytes:
    """A 32-byte key for one use (``info`` names it), HKDF-derived from IDP_SECRET_KEY,
    so no two uses share a key and the secret key itself is never used directly."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_key.encode()
    )


TOTP_SEEDS = b"idp totp seeds"


def _fernet(secret_key: str, purpose: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))


def encrypt(secret_key: str, plaintext: str, *, purpose: bytes = TOTP_SEEDS) -> str:
    """A Fernet token of ``plaintext`` under the key of ``purpose`` (one key per use:
    a token of one use does not decrypt as another's)."""
    return _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, token: str, *, purpose: bytes = TOTP_SEEDS) -> str:
    """The plaintext of :func:`encrypt`'s token; raises ``cryptography.fernet.InvalidToken``
    for a token of another key or purpose, or a tampered one."""
    return _fernet(secret_key, purpose).decrypt(token.encode()).decode()


def keyed_digest(secret_key: str, value: str) -> str:
    """HMAC-SHA256 for short codes (6-digit OTPs, recovery codes): a database leak
    alone does not let anyone brute-force them offline."""
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()
