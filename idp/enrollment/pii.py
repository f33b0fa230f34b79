"""Identity documents at rest (SECURITY.md X-06): encrypted, found by a keyed hash,
shown masked. Nothing here logs or returns a number except :func:`reveal`, which the
operator's review page and the person's data export use.

The keys are HKDF-derived from IDP_SECRET_KEY (``idp.crypto.derive_key``), one for
encryption and one for lookup, so neither can be used for the other; the lookup hash
is HMAC-SHA256 over ``kind:number`` (a national ID and a passport with the same digits
are different documents). Rotating IDP_SECRET_KEY makes stored documents unreadable:
keep it stable (README, production notes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet

from idp.config import Settings
from idp.crypto import derive_key
from idp.enrollment.identity import IdentityDocument


@dataclass(frozen=True)
class SealedDocument:
    """The columns an identity document is stored as (``users.id_doc_*``)."""

    id_doc_kind: str
    id_doc_cipher: str
    id_doc_hash: str
    id_doc_masked: str
    nationality: str
    passport_expires: date | None

    def columns(self) -> dict:
        return {
            "id_doc_kind": self.id_doc_kind,
            "id_doc_cipher": self.id_doc_cipher,
            "id_doc_hash": self.id_doc_hash,
            "id_doc_masked": self.id_doc_masked,
            "nationality": self.nationality,
            "passport_expires": self.passport_expires,
        }


def _fernet(settings: Settings) -> Fernet:
    key = derive_key(settings.secret_key, b"idp identity documents")
    return Fernet(base64.urlsafe_b64encode(key))


def lookup_hash(settings: Settings, kind: str, number: str) -> str:
    key = derive_key(settings.secret_key, b"idp identity document lookup")
    return hmac.new(key, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()


def seal(settings: Settings, doc: IdentityDocument) -> SealedDocument:
    return SealedDocument(
        id_doc_kind=doc.kind,
        id_doc_cipher=_fernet(settings).encrypt(doc.number.encode()).decode(),
        id_doc_hash=lookup_hash(settings, doc.kind, doc.number),
        id_doc_masked=doc.masked,
        nationality=doc.nationality,
        passport_expires=doc.expires,
    )


def reveal(settings: Settings, cipher: str) -> str:
    """The number itself: for the operator reviewing an application and the person's
    own data export only; never log it or put it in a URL."""
    return _fernet(settings).decrypt(cipher.encode()).decode()
