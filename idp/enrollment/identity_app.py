"""The identity app verifier: an OpenID Connect client of an external proofing
provider (the way national digital-ID apps integrate), asking for OpenID Connect for
Identity Assurance 1.0 ``verified_claims``. Configured by ``identity_app_issuer``,
``identity_app_client_id`` and ``identity_app_client_secret``.

Authorization code flow with PKCE (S256, RFC 7636), ``state`` and ``nonce``; the
request carries the IDA ``claims`` request (names, birthdate) and a CIBA-style
``binding_message`` (the match code both screens show, SECURITY.md X-02)::

    start()  -> AuthRequest(state, nonce, code_verifier)   stored in ProofingTransaction
    authorization_url(...)                                 the phone is sent there
    finish(params, ...) -> Verdict                         on our callback

Every answer is untrusted (SECURITY.md X-04): the discovery document's ``issuer`` must
equal the configured one (OIDC Discovery 4.3); the ID token is verified like any RP
would (OIDC Core 3.1.3.7: signature against the provider's JWKS, ``iss``, ``aud``,
``exp``, ``iat``, ``nonce``); ``verified_claims`` are schema-checked
(:mod:`idp.enrollment.verified_claims`) and only what came back verified becomes the
Verdict's claims. Outbound HTTP is bounded (X-03): connect 3 s, 10 s in all, no
redirects, bodies at most 1 MB; the discovery document and JWKS are cached per process.

Outcomes: ``error=access_denied`` -> CANCELLED; provider unreachable, timing out or
answering garbage -> UNAVAILABLE; anything that fails verification -> NOT_VERIFIED
(reason ``bad_id_token`` or the schema code); else VERIFIED.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.config import Settings
from idp.enrollment import verified_claims
from idp.enrollment.verifiers import Method, Outcome, Verdict

CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 10.0
MAX_BODY = 1024 * 1024
CACHE_SECONDS = 3600
ID_TOKEN_ALGS = ("RS256", "PS256", "ES256")
LEEWAY = 60

_cache: dict[str, tuple[float, object]] = {}
_cache_lock = threading.Lock()


class ProviderUnavailable(Exception):
    """The provider could not be asked (network, timeout, status, size, not JSON)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class AuthRequest:
    state: str
    nonce: str
    code_verifier: str

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def is_configured(settings: Settings) -> bool:
    return bool(settings.identity_app_issuer and settings.identity_app_client_id)


def fetch_json(
    method: str, url: str, *, data: Mapping[str, str] | None = None, auth: str | None = None
) -> tuple[int, object]:
    """(status, parsed JSON) of one bounded request (SECURITY.md X-03).

    Raises ProviderUnavailable: ``unreachable`` (connect/read error), ``timeout``
    (10 s in all), ``redirect`` (a 3xx: never followed), ``too_large`` (> 1 MB),
    ``bad_answer`` (not JSON)."""
    deadline = time.monotonic() + TOTAL_TIMEOUT
    headers = {"Accept": "application/json"}
    if auth:
        headers["Authorization"] = auth
    try:
        with requests.request(
            method,
            url,
            data=data,
            headers=headers,
            timeout=(CONNECT_TIMEOUT, TOTAL_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as resp:
            if 300 <= resp.status_code < 400:
                raise ProviderUnavailable("redirect")
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_BODY:
                raise ProviderUnavailable("too_large")
            body = bytearray()
            for chunk in resp.iter_content(16384):
                body += chunk
                if len(body) > MAX_BODY:
                    raise ProviderUnavailable("too_large")
                if time.monotonic() > deadline:
                    raise ProviderUnavailable("timeout")
            status = resp.status_code
    except requests.Timeout:
        raise ProviderUnavailable("timeout") from None
    except requests.RequestException:
        raise ProviderUnavailable("unreachable") from None
    try:
        return status, json.loads(bytes(body))
    except ValueError:
        raise ProviderUnavailable("bad_answer") from None


def _url_ok(value: object, https_only: bool) -> bool:
    if not isinstance(value, str) or len(value) > 2000:
        return False
    parts = urlsplit(value)
    schemes = {"https"} if https_only else {"https", "http"}
    return parts.scheme in schemes and bool(parts.netloc) and not parts.fragment


def _cached(key: str) -> object | None:
    with _cache_lock:
        hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    return None


def _store(key: str, value: object) -> None:
    with _cache_lock:
        _cache[key] = (time.monotonic() + CACHE_SECONDS, value)


def metadata(settings: Settings) -> ProviderMetadata:
    """The provider's discovery document, checked, cached per process for an hour.
    Raises ProviderUnavailable (``bad_metadata`` when it fails the checks)."""
    issuer = settings.identity_app_issuer.rstrip("/")
    hit = _cached("meta:" + issuer)
    if isinstance(hit, ProviderMetadata):
        return hit
    status, doc = fetch_json("GET", issuer + "/.well-known/openid-configuration")
    https_only = settings.is_https
    if (
        status != 200
        or not isinstance(doc, dict)
        or doc.get("issuer") != settings.identity_app_issuer
        or not all(
            _url_ok(doc.get(name), https_only)
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        )
    ):
        raise ProviderUnavailable("bad_metadata")
    meta = ProviderMetadata(
        doc["issuer"], doc["authorization_endpoint"], doc["token_endpoint"], doc["jwks_uri"]
    )
    _store("meta:" + issuer, meta)
    return meta


def _keys(meta: ProviderMetadata, refresh: bool = False) -> KeySet:
    hit = None if refresh else _cached("jwks:" + meta.jwks_uri)
    if isinstance(hit, KeySet):
        return hit
    status, doc = fetch_json("GET", meta.jwks_uri)
    if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ProviderUnavailable("bad_jwks")
    public = [k for k in doc["keys"] if isinstance(k, dict) and k.get("kty") in ("RSA", "EC")]
    try:
        keys = KeySet.import_key_set({"keys": public})
    except (JoseError, ValueError, TypeError):
        raise ProviderUnavailable("bad_jwks") from None
    _store("jwks:" + meta.jwks_uri, keys)
    return keys


def forget_cache() -> None:
    """Drop the cached discovery documents and key sets (tests; a key rotation is
    handled by itself: an unknown ``kid`` refetches the JWKS once)."""
    with _cache_lock:
        _cache.clear()


def start() -> AuthRequest:
    """Fresh ``state``, ``nonce`` (256 bits each) and PKCE ``code_verifier``."""
    return AuthRequest(
        secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    )


def authorization_url(
    settings: Settings,
    meta: ProviderMetadata,
    request: AuthRequest,
    *,
    redirect_uri: str,
    binding_message: str,
    ui_locales: str,
) -> str:
    """The provider's authorization request (OIDC Core 3.1.2.1 + IDA 1.0 claims)."""
    params = {
        "response_type": "code",
        "client_id": settings.identity_app_client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": request.code_challenge,
        "code_challenge_method": "S256",
        "claims": json.dumps(verified_claims.request_claims(), separators=(",", ":")),
        "binding_message": binding_message,
        "ui_locales": ui_locales,
    }
    sep = "&" if urlsplit(meta.authorization_endpoint).query else "?"
    return meta.authorization_endpoint + sep + urlencode(params)


def _verdict(outcome: Outcome, now: int, reason: str, **kw: object) -> Verdict:
    return Verdict(outcome=outcome, method=Method.IDENTITY_APP, at=now, reason=reason, **kw)  # type: ignore[arg-type]


def _basic(settings: Settings) -> str:
    """client_secret_basic (RFC 6749 2.3.1: form-encoded, then base64)."""
    client_id = quote(settings.identity_app_client_id, safe="")
    pair = f"{client_id}:{quote(settings.identity_app_client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def verify_id_token(
    settings: Settings, meta: ProviderMetadata, id_token: str, nonce: str, now: int
) -> dict:
    """The claims of a valid ID token (OIDC Core 3.1.3.7). Raises JoseError or
    ValueError when it is not; ProviderUnavailable when the JWKS cannot be had."""
    if not isinstance(id_token, str) or len(id_token) > 64 * 1024:
        raise ValueError("id_token")
    try:
        token = jwt.decode(id_token, _keys(meta), algorithms=list(ID_TOKEN_ALGS))
    except JoseError:
        # An unknown kid may be a rotated key: refetch the JWKS once, then decide.
        token = jwt.decode(id_token, _keys(meta, refresh=True), algorithms=list(ID_TOKEN_ALGS))
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": meta.issuer},
        aud={"essential": True, "value": settings.identity_app_client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    registry.validate(claims)
    aud = claims.get("aud")
    if (
        isinstance(aud, list)
        and len(aud) > 1
        and claims.get("azp") != settings.identity_app_client_id
    ):
        raise ValueError("azp")
    return claims


def finish(
    settings: Settings,
    params: Mapping[str, str],
    request: AuthRequest,
    *,
    redirect_uri: str,
    now: int,
) -> Verdict:
    """The Verdict of one authorization response (our callback's query), whose
    ``state`` the caller already matched to ``request``. Never raises."""
    try:
        meta = metadata(settings)
    except ProviderUnavailable as problem:
        return _verdict(Outcome.UNAVAILABLE, now, problem.reason)
    iss = params.get("iss")
    if iss is not None and iss != meta.issuer:  # RFC 9207 mix-up defence
        return _verdict(Outcome.NOT_VERIFIED, now, "bad_issuer")
    error = params.get("error")
    if error:
        if error == "access_denied":
            return _verdict(Outcome.CANCELLED, now, "cancelled")
        if error in ("temporarily_unavailable", "server_error"):
            return _verdict(Outcome.UNAVAILABLE, now, "provider_error")
        return _verdict(Outcome.NOT_VERIFIED, now, "provider_refused")
    code = params.get("code")
    if not code or len(code) > 2048:
        return _verdict(Outcome.NOT_VERIFIED, now, "bad_answer")
    try:
        status, body = fetch_json(
            "POST",
            meta.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": request.code_verifier,
            },
            auth=_basic(settings),
        )
    except ProviderUnavailable as problem:
        return _verdict(Outcome.UNAVAILABLE, now, problem.reason)
    if status >= 500:
        return _verdict(Outcome.UNAVAILABLE, now, "provider_error")
    if status != 200 or not isinstance(body, dict) or "id_token" not in body:
        return _verdict(Outcome.NOT_VERIFIED, now, "bad_answer")
    try:
        claims = verify_id_token(settings, meta, body["id_token"], request.nonce, now)
    except ProviderUnavailable as problem:
        return _verdict(Outcome.UNAVAILABLE, now, problem.reason)
    except (JoseError, ValueError, TypeError):
        return _verdict(Outcome.NOT_VERIFIED, now, "bad_id_token")
    try:
        checked = verified_claims.check(claims.get("verified_claims"), now)
    except verified_claims.VerifiedClaimsInvalid as problem:
        return _verdict(Outcome.NOT_VERIFIED, now, problem.code)
    if checked.trust_framework != settings.identity_app_trust_framework:
        # A proof under a framework we did not agree with the provider is no proof.
        return _verdict(Outcome.NOT_VERIFIED, now, "bad_trust_framework")
    return _verdict(
        Outcome.VERIFIED,
        min(checked.verified_at, now),
        "",
        evidence_ref=checked.verification_process,
        trust_framework=checked.trust_framework,
        evidence_type=checked.evidence_type,
        claims=checked.claims,
    )
