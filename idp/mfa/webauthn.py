"""WebAuthn ceremonies (py_webauthn): options and verification, challenges kept
server-side (single use, 5 minutes), origin and RP ID from the issuer.
Library errors become :class:`WebAuthnFailed`."""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.db import now
from idp.models import MfaFactor, User, WebAuthnChallenge

CHALLENGE_TTL = 300


class WebAuthnFailed(ValueError):
    pass


def rp_of(issuer: str) -> tuple[str, str]:
    """(rp_id, origin) from the issuer URL (RECIPES.md 3: from config, not the request)."""
    parts = urlsplit(issuer)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _store_challenge(db: Session, challenge: bytes, sid: str, user_id: int, purpose: str) -> None:
    t = now()
    db.add(
        WebAuthnChallenge(
            challenge=bytes_to_base64url(challenge),
            sid=sid,
            user_id=user_id,
            purpose=purpose,
            created_at=t,
            expires_at=t + CHALLENGE_TTL,
        )
    )
    db.commit()


def _take_challenge(
    db: Session, credential_json: str, sid: str, user_id: int, purpose: str
) -> bytes:
    """Consume the challenge named in clientDataJSON: it must be this session's, for this
    ceremony, unexpired and unused (SECURITY.md M-09)."""
    try:
        cred = json.loads(credential_json)
        client_data = json.loads(base64url_to_bytes(cred["response"]["clientDataJSON"]))
        challenge = client_data["challenge"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WebAuthnFailed("malformed credential") from exc
    t = now()
    won = (
        db.execute(
            update(WebAuthnChallenge)
            .where(
                WebAuthnChallenge.challenge == challenge,
                WebAuthnChallenge.sid == sid,
                WebAuthnChallenge.user_id == user_id,
                WebAuthnChallenge.purpose == purpose,
                WebAuthnChallenge.used_at.is_(None),
                WebAuthnChallenge.expires_at > t,
            )
            .values(used_at=t)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.commit()
    if not won:
        raise WebAuthnFailed("unknown, expired or replayed challenge")
    return base64url_to_bytes(challenge)


def _credentials(db: Session, user_id: int) -> list[PublicKeyCredentialDescriptor]:
    """The person's active WebAuthn credentials (exclude list / allow list)."""
    return [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(f.credential_id))
        for f in db.scalars(
            select(MfaFactor).where(
                MfaFactor.user_id == user_id,
                MfaFactor.kind == "webauthn",
                MfaFactor.status == "active",
            )
        )
    ]


def registration_options(db: Session, issuer: str, user: User, sid: str) -> str:
    rp_id, _origin = rp_of(issuer)
    existing = _credentials(db, user.id)
    opts = generate_registration_options(
        rp_id=rp_id,
        rp_name="idp",
        user_name=user.username,
        user_id=user.sub.encode(),
        user_display_name=user.name or user.username,
        challenge=secrets.token_bytes(32),
        exclude_credentials=existing,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    _store_challenge(db, opts.challenge, sid, user.id, "register")
    return options_to_json(opts)


def register(
    db: Session, issuer: str, user: User, sid: str, credential_json: str, name: str
) -> MfaFactor:
    rp_id, origin = rp_of(issuer)
    challenge = _take_challenge(db, credential_json, sid, user.id, "register")
    try:
        v = verify_registration_response(
            credential=credential_json,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError) as exc:
        raise WebAuthnFailed(str(exc)) from exc
    factor = MfaFactor(
        user_id=user.id,
        kind="webauthn",
        name=(name.strip() or "Security key")[:64],
        status="active",
        credential_id=bytes_to_base64url(v.credential_id),
        public_key=v.credential_public_key,
        sign_count=v.sign_count,
        uv_capable=bool(v.user_verified),
        created_at=now(),
    )
    db.add(factor)
    db.flush()
    return factor


def authentication_options(db: Session, issuer: str, user: User, sid: str, require_uv: bool) -> str:
    rp_id, _origin = rp_of(issuer)
    creds = _credentials(db, user.id)
    opts = generate_authentication_options(
        rp_id=rp_id,
        challenge=secrets.token_bytes(32),
        allow_credentials=creds,
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if require_uv
            else UserVerificationRequirement.PREFERRED
        ),
    )
    _store_challenge(db, opts.challenge, sid, user.id, "authenticate")
    return options_to_json(opts)


def authenticate(
    db: Session, issuer: str, user: User, sid: str, credential_json: str, require_uv: bool
) -> tuple[MfaFactor, bool]:
    """Verify an assertion; returns the factor and whether the user was verified.
    A sign counter that does not grow is refused by py_webauthn (cloned key)."""
    rp_id, origin = rp_of(issuer)
    challenge = _take_challenge(db, credential_json, sid, user.id, "authenticate")
    try:
        raw_id = json.loads(credential_json)["rawId"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WebAuthnFailed("malformed credential") from exc
    factor = db.scalar(
        select(MfaFactor).where(
            MfaFactor.credential_id == raw_id,
            MfaFactor.user_id == user.id,
            MfaFactor.kind == "webauthn",
            MfaFactor.status == "active",
        )
    )
    if factor is None:
        raise WebAuthnFailed("unknown credential")
    try:
        v = verify_authentication_response(
            credential=credential_json,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=factor.public_key,
            credential_current_sign_count=factor.sign_count,
            require_user_verification=require_uv,
        )
    except (WebAuthnException, ValueError, KeyError) as exc:
        raise WebAuthnFailed(str(exc)) from exc
    factor.sign_count, factor.last_used_at = v.new_sign_count, now()
    if v.user_verified:
        factor.uv_capable = True
    db.commit()
    return factor, bool(v.user_verified)
