"""Cross-device identity-app transactions (SECURITY.md X-02), stored in
``proofing_transactions``::

    open(desktop) --phone opens /t/<id>--> opened --callback--> done --claim(desktop)--> claimed
         |                                   |                   |
         +---------- 5 minutes pass ---------+-------------------+--> (expired: refused)

- bound to the desktop browser session that started it: the session keeps a random
  value, the row its keyed hash (HMAC-SHA256 with the secret key); only that session
  sees the status or claims the result, anyone else gets "not found" (R-08);
- single use: each arrow is a conditional update from the state before it, so a second
  phone, a replayed callback or a second claim is refused;
- valid 5 minutes from its creation (``TTL``) for every step;
- the QR code carries only the opaque ``id`` (256 bits); the match code (4 digits)
  is shown on both screens and sent to the provider as ``binding_message``.

The callback stores the provider's Verdict in ``result``; the claim records it for the
registration or applies it to the signed-in person (:mod:`idp.enrollment.verdicts`) and
keeps only the outcome; ``idp jobs run`` deletes transactions a day after they expired.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp.audit import AuditTag
from idp.enrollment import verdicts
from idp.enrollment.identity_app import AuthRequest
from idp.enrollment.verifiers import Method, Outcome, Verdict
from idp.models import ProofingTransaction, User

TTL = 300
STARTED, OPENED, DONE, CLAIMED = "started", "opened", "done", "claimed"


class TransactionRefused(Exception):
    """The step is not allowed: ``not_found``, ``expired`` or ``used``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def binding_of(secret_key: str, value: str) -> str:
    """The keyed hash stored for the session's random ``value``."""
    return hmac.new(secret_key.encode(), b"proofing:" + value.encode(), hashlib.sha256).hexdigest()


def new_binding_value() -> str:
    return secrets.token_urlsafe(32)


def open_transaction(
    db: Session,
    *,
    secret_key: str,
    binding_value: str,
    request: AuthRequest,
    now: int,
    user_id: int | None = None,
    registration_id: int | None = None,
) -> ProofingTransaction:
    """A new transaction for one person (an account or a registration). Flushes."""
    tx = ProofingTransaction(
        id=secrets.token_urlsafe(32),
        session_binding=binding_of(secret_key, binding_value),
        registration_id=registration_id,
        user_id=user_id,
        status=STARTED,
        match_code=f"{secrets.randbelow(10000):04d}",
        oauth_state=request.state,
        nonce=request.nonce,
        code_verifier=request.code_verifier,
        created_at=now,
        expires_at=now + TTL,
    )
    db.add(tx)
    db.flush()
    return tx


def auth_request(tx: ProofingTransaction) -> AuthRequest:
    return AuthRequest(tx.oauth_state, tx.nonce, tx.code_verifier)


def _load(db: Session, tx_id: str | None) -> ProofingTransaction:
    if not tx_id or len(tx_id) > 64:
        raise TransactionRefused("not_found")
    tx = db.get(ProofingTransaction, tx_id)
    if tx is None:
        raise TransactionRefused("not_found")
    return tx


def for_session(
    db: Session, tx_id: str | None, *, secret_key: str, binding_value: str | None
) -> ProofingTransaction:
    """The transaction ``tx_id`` if this browser session started it, else
    TransactionRefused("not_found") (compared in constant time)."""
    tx = _load(db, tx_id)
    expected = binding_of(secret_key, binding_value or "")
    if not binding_value or not hmac.compare_digest(tx.session_binding, expected):
        raise TransactionRefused("not_found")
    return tx


def _advance(db: Session, tx: ProofingTransaction, before: str, after: str, now: int, **values):
    """Move ``tx`` from ``before`` to ``after`` with one conditional update."""
    if tx.expires_at <= now:
        raise TransactionRefused("expired")
    result = db.execute(
        update(ProofingTransaction)
        .where(
            ProofingTransaction.id == tx.id,
            ProofingTransaction.status == before,
            ProofingTransaction.expires_at > now,
        )
        .values(status=after, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise TransactionRefused("used")
    db.refresh(tx)


def open_on_phone(db: Session, tx_id: str, now: int) -> ProofingTransaction:
    """The phone opened the QR's URL: allowed once per transaction."""
    tx = _load(db, tx_id)
    _advance(db, tx, STARTED, OPENED, now)
    return tx


def by_state(db: Session, state: str | None) -> ProofingTransaction:
    if not state or len(state) > 64:
        raise TransactionRefused("not_found")
    tx = db.query(ProofingTransaction).filter_by(oauth_state=state).one_or_none()
    if tx is None:
        raise TransactionRefused("not_found")
    return tx


def store_result(db: Session, tx: ProofingTransaction, verdict: Verdict, now: int) -> None:
    """The callback's verdict, once (opened -> done)."""
    _advance(db, tx, OPENED, DONE, now, result=_as_dict(verdict))


def status_of(tx: ProofingTransaction, now: int) -> str:
    """What the desktop page shows: started | opened | done | claimed | expired."""
    if tx.status in (STARTED, OPENED, DONE) and tx.expires_at <= now:
        return "expired"
    return tx.status


def claim(db: Session, tx: ProofingTransaction, now: int, *, user: User | None = None) -> Verdict:
    """The desktop session takes the result (done -> claimed), once: records it for the
    registration, or applies it to ``user`` (the signed-in person who started it).
    Returns the verdict; the stored copy keeps only its outcome. Flushes."""
    verdict = _as_verdict(tx.result or {})
    _advance(db, tx, DONE, CLAIMED, now, result={"outcome": str(verdict.outcome)})
    if tx.registration_id is not None:
        verdicts.record(db, verdict=verdict, registration_id=tx.registration_id)
    elif user is not None and user.id == tx.user_id:
        verdicts.apply_to_user(db, user, verdict, now)
    else:  # not the person who started it: cannot happen through the views
        raise TransactionRefused("not_found")
    audit.record(
        db,
        AuditTag.PROOFING_APP_RESULT,
        actor=tx.user_id,
        subject=tx.user_id,
        outcome=str(verdict.outcome),
        reason=verdict.reason,
        evidence_ref=verdict.evidence_ref,
    )
    return verdict


def _as_dict(verdict: Verdict) -> dict:
    data = asdict(verdict)
    data["outcome"], data["method"] = str(verdict.outcome), str(verdict.method)
    return data


def _as_verdict(data: dict) -> Verdict:
    try:
        return Verdict(
            outcome=Outcome(data["outcome"]),
            method=Method(data.get("method", Method.IDENTITY_APP)),
            at=int(data["at"]),
            evidence_ref=str(data.get("evidence_ref", "")),
            trust_framework=str(data.get("trust_framework", "")),
            evidence_type=str(data.get("evidence_type", "")),
            claims={str(k): str(v) for k, v in (data.get("claims") or {}).items()},
            reason=str(data.get("reason", "")),
        )
    except (KeyError, ValueError, TypeError):
        raise TransactionRefused("used") from None
