"""Signing keys: creation, rotation and a per-process cache of parsed key objects.

Parsing a PEM/JWK costs ~40 ms for RSA (RECIPES.md 9), so each worker parses the keys
once and re-reads the table only when its fingerprint (newest id, count) changes, which
it checks at most every ``RECHECK_SECONDS``, or when a published old key's retention
has ended (it then leaves JWKS). A rotation done by ``idp keys rotate`` in
another process therefore reaches every worker within that interval; one done in this
process at once (``idp.oidc.cache`` generation).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.db import now
from idp.models import SigningKey
from idp.oidc import cache

ALGORITHMS = ("RS256", "ES256")
RECHECK_SECONDS = 1


def generate_key(alg: str) -> RSAKey | ECKey:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True, auto_kid=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True, auto_kid=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def create_key(db: Session, alg: str) -> SigningKey:
    key = generate_key(alg)
    row = SigningKey(
        kid=key.kid,
        alg=alg,
        private_jwk=json.dumps(key.as_dict(private=True)),
        created_at=now(),
    )
    db.add(row)
    db.flush()
    return row


def ensure_keys(db: Session) -> list[SigningKey]:
    """Create one active key per algorithm where none exists; idempotent."""
    created = []
    for alg in ALGORITHMS:
        active = db.scalar(
            select(SigningKey).where(SigningKey.alg == alg, SigningKey.rotated_at.is_(None))
        )
        if active is None:
            created.append(create_key(db, alg))
    return created


def rotate_keys(db: Session, retention_seconds: int) -> list[SigningKey]:
    """Replace the active key of every algorithm. The old public keys stay published
    until ``retention_seconds`` (the longest token lifetime) have passed, so tokens
    signed before the rotation still verify (OIDC conformance: rotate-keys)."""
    t = now()
    for row in db.scalars(select(SigningKey).where(SigningKey.rotated_at.is_(None))):
        row.rotated_at = t
        row.retire_after = t + retention_seconds
    db.flush()
    new = [create_key(db, alg) for alg in ALGORITHMS]
    # Keys whose retention is over leave JWKS; deleting them is safe.
    for row in db.scalars(select(SigningKey).where(SigningKey.retire_after < t)):
        db.delete(row)
    return new


@dataclass(frozen=True)
class KeyRing:
    signing: dict[str, RSAKey | ECKey]  # alg -> active private key
    public_set: KeySet  # every published key, public parts only
    jwks_json: bytes  # pre-serialised JWKS document
    jwks_etag: str  # its strong validator, computed once per ring
    retires_at: int | None  # when its first published key's retention ends, if any

    def signing_key(self, alg: str) -> RSAKey | ECKey:
        return self.signing[alg]


def _build(rows: list[SigningKey], t: int) -> KeyRing:
    signing: dict[str, RSAKey | ECKey] = {}
    public = []
    retires_at: int | None = None
    for row in sorted(rows, key=lambda r: r.id):
        if row.retire_after is not None:
            if row.retire_after < t:
                continue
            retires_at = min(retires_at or row.retire_after, row.retire_after)
        data = json.loads(row.private_jwk)
        key = RSAKey.import_key(data) if row.alg == "RS256" else ECKey.import_key(data)
        if row.rotated_at is None:
            signing[row.alg] = key
        pub = key.as_dict(private=False)
        pub.update({"kid": row.kid, "alg": row.alg, "use": "sig"})
        public.append(pub)
    public_set = KeySet.import_key_set({"keys": public})
    jwks = json.dumps({"keys": public}, separators=(",", ":")).encode()
    etag = hashlib.sha256(jwks).hexdigest()[:32]
    return KeyRing(
        signing=signing,
        public_set=public_set,
        jwks_json=jwks,
        jwks_etag=etag,
        retires_at=retires_at,
    )


class KeyCache:
    """Process-wide cache of the key ring; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._fingerprint: tuple | None = None
        self._checked = 0.0
        self._generation = -1

    def get(self, db: Session) -> KeyRing:
        mono = time.monotonic()
        ring = self._ring
        gen = cache.generation()
        if ring is not None and mono - self._checked < RECHECK_SECONDS and gen == self._generation:
            return ring
        with self._lock:
            fingerprint = tuple(
                db.execute(
                    select(func.max(SigningKey.id), func.count(), func.max(SigningKey.rotated_at))
                ).one()
            )
            t = now()
            # A key whose retention is over leaves JWKS without a change to the table.
            retires_at = self._ring.retires_at if self._ring is not None else None
            retired = retires_at is not None and retires_at < t
            if self._ring is None or fingerprint != self._fingerprint or retired:
                rows = list(db.scalars(select(SigningKey)))
                if not rows:
                    raise RuntimeError("no signing keys: run `idp init`")
                self._ring = _build(rows, t)
                self._fingerprint = fingerprint
            self._checked = mono
            self._generation = gen
            return self._ring

    def fresh_ring(self) -> KeyRing | None:
        """The ring ``get`` would return without querying, or None when a recheck is
        due (the published JWKS is replayed only while this is the same ring)."""
        ring = self._ring
        if ring is None or time.monotonic() - self._checked >= RECHECK_SECONDS:
            return None
        return ring if cache.generation() == self._generation else None

    def invalidate(self) -> None:
        with self._lock:
            self._ring = None
