"""A demo proofing provider: a small, real OpenID provider that plays the identity app
(``idp demo`` and the tests run it; never part of a deployment).

It publishes discovery and a JWKS, shows an authorization page on the phone ("<service>
asks to confirm your identity", the match code from ``binding_message``, a person
picker, Confirm / Cancel), and issues ID tokens carrying OpenID Connect for Identity
Assurance 1.0 ``verified_claims`` (trust framework ``demo``, evidence
``electronic_record``) for the fixture people of ``proofing_people.json``.
Authorization code + PKCE (S256 required), client_secret_basic or _post, codes single
use for 60 s, redirect URIs compared exactly.

For tests, :attr:`Provider.forge` makes the token endpoint answer with a forged ID
token (``bad_signature``, ``wrong_aud``, ``wrong_nonce``, ``expired``,
``no_verified_claims``) so that the IdP's checks can be seen refusing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Flask, Response, jsonify, redirect, render_template_string, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

PEOPLE_FILE = Path(__file__).with_name("proofing_people.json")
TRUST_FRAMEWORK = "th_identity_app"  # the IdP's default IDP_IDENTITY_APP_TRUST_FRAMEWORK

WORDS = {
    "en": {
        "title": "Identity app (demo)",
        "asks": "{service} asks to confirm your identity",
        "match": "Check that this code is the one on the other screen:",
        "who": "Who are you?",
        "id": "National ID",
        "confirm": "Confirm",
        "cancel": "Cancel",
        "bad": "This request cannot be handled: {reason}",
        "shares": "It will receive your verified names and date of birth.",
    },
    "th": {
        "title": "แอปยืนยันตัวตน (สาธิต)",
        "asks": "{service} ขอให้คุณยืนยันตัวตน",
        "match": "ตรวจสอบว่ารหัสนี้ตรงกับรหัสบนอีกหน้าจอหนึ่ง:",
        "who": "คุณคือใคร",
        "id": "เลขประจำตัวประชาชน",
        "confirm": "ยืนยัน",
        "cancel": "ยกเลิก",
        "bad": "ไม่สามารถดำเนินการตามคำขอนี้ได้: {reason}",
        "shares": "บริการจะได้รับชื่อและวันเกิดที่ยืนยันแล้วของคุณ",
    },
}

PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ w.title }}</title><link rel="stylesheet" href="/style.css"></head>
<body><main>
<p class="app">{{ w.title }}</p>
{% if error %}<h1>{{ w.bad.format(reason=error) }}</h1>{% else %}
<h1 id="asks">{{ w.asks.format(service=service) }}</h1>
<p>{{ w.shares }}</p>
{% if match_code %}<p>{{ w.match }}</p>
<p class="code" id="match-code">{{ match_code }}</p>{% endif %}
<form method="post" action="/authorize">
<input type="hidden" name="req" value="{{ req }}">
<fieldset><legend>{{ w.who }}</legend>
{% for p in people %}<label class="person">
<input type="radio" name="person" value="{{ p.sub }}"{% if loop.first %} checked{% endif %}>
{{ p["given_name#th"] }} {{ p["family_name#th"] }} / {{ p.given_name }} {{ p.family_name }}
<small>{{ w.id }} x-xxxx-xxxxx-x{{ p.national_id[-2] }}-{{ p.national_id[-1] }}</small></label>
{% endfor %}</fieldset>
<button type="submit" name="action" value="confirm" id="app-confirm">{{ w.confirm }}</button>
<button type="submit" name="action" value="cancel" id="app-cancel" class="secondary">
{{ w.cancel }}</button>
</form>{% endif %}
</main></body></html>"""

CSS = """body{font-family:system-ui,sans-serif;margin:0;background:#0b3d2e;color:#102a20}
main{max-width:28rem;margin:1rem auto;background:#fff;padding:1.25rem;border-radius:1rem}
.app{font-weight:700;color:#0b6e4f;margin:0 0 .5rem}h1{font-size:1.3rem}
.code{font-size:2.2rem;letter-spacing:.4rem;font-weight:700;text-align:center}
fieldset{border:1px solid #ccc;border-radius:.5rem}.person{display:block;padding:.5rem 0}
.person small{display:block;color:#555}
button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.75rem .5rem 0 0;
border-radius:.5rem;border:0;background:#0b6e4f;color:#fff}
button.secondary{background:#fff;color:#0b6e4f;
border:2px solid #0b6e4f}"""


@dataclass
class ProviderClient:
    client_id: str
    secret: str
    redirect_uris: list[str]
    name: str


@dataclass
class Provider:
    issuer: str
    clients: dict[str, ProviderClient]
    people: list[dict[str, str]]
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "demo-1", "use": "sig", "alg": "RS256"}
        )
    )
    forge: str | None = None  # tests: see the module docstring
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_people(path: Path = PEOPLE_FILE) -> list[dict[str, str]]:
    return json.loads(path.read_text(encoding="utf-8"))


def _lang() -> str:
    wanted = (request.values.get("ui_locales") or "").split()
    for tag in wanted:
        if tag.split("-")[0] in WORDS:
            return tag.split("-")[0]
    return request.accept_languages.best_match(list(WORDS)) or "th"


def _client_auth(provider: Provider) -> ProviderClient | None:
    header = request.headers.get("Authorization", "")
    client_id = secret = ""
    if header.startswith("Basic "):
        try:
            raw = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None
        client_id, _, secret = raw.partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
    else:
        client_id = request.form.get("client_id", "")
        secret = request.form.get("client_secret", "")
    client = provider.clients.get(client_id)
    if client is None or not hmac.compare_digest(client.secret, secret):
        return None
    return client


def _id_token(provider: Provider, entry: dict[str, Any]) -> str:
    now = int(time.time())
    person = entry["person"]
    forge = provider.forge
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": person["sub"],
        "aud": "someone-else" if forge == "wrong_aud" else entry["client_id"],
        "iat": now - (7200 if forge == "expired" else 0),
        "exp": now + (-3600 if forge == "expired" else 300),
        "auth_time": now,
        "nonce": "not-the-nonce" if forge == "wrong_nonce" else entry["nonce"],
    }
    txn = "demo-" + secrets.token_hex(8)
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if forge != "no_verified_claims":
        claims["verified_claims"] = {
            "verification": {
                "trust_framework": TRUST_FRAMEWORK,
                "time": stamp,
                "verification_process": txn,
                "evidence": [
                    {
                        "type": "electronic_record",
                        "check_details": [{"check_method": "data", "txn": txn}],
                        "time": stamp,
                        "record": {"type": "population_register", "source": {"name": "Demo"}},
                    }
                ],
            },
            "claims": {
                k: person[k]
                for k in (
                    "given_name",
                    "family_name",
                    "given_name#th",
                    "family_name#th",
                    "birthdate",
                )
                if k in person
            },
        }
    key = provider.key
    if forge == "bad_signature":
        key = RSAKey.generate_key(2048, parameters={"kid": provider.key.kid})
    return jwt.encode({"alg": "RS256", "kid": provider.key.kid}, claims, key)


def create_provider(provider: Provider) -> Flask:
    """The provider's WSGI app."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secrets.token_hex(16)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        i = provider.issuer
        return jsonify(
            issuer=i,
            authorization_endpoint=f"{i}/authorize",
            token_endpoint=f"{i}/token",
            jwks_uri=f"{i}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            claims_parameter_supported=True,
            authorization_response_iss_parameter_supported=True,
            verified_claims_supported=True,
            trust_frameworks_supported=[TRUST_FRAMEWORK],
            evidence_supported=["electronic_record"],
            claims_in_verified_claims_supported=[
                "given_name",
                "family_name",
                "birthdate",
            ],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[provider.key.as_dict(private=False)])

    @app.get("/style.css")
    def style() -> Response:
        return Response(CSS, mimetype="text/css")

    def page(error: str | None = None, status: int = 200, **kw: Any) -> tuple[str, int]:
        lang = _lang()
        return render_template_string(PAGE, lang=lang, w=WORDS[lang], error=error, **kw), status

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args
        client = provider.clients.get(args.get("client_id", ""))
        if client is None or args.get("redirect_uri") not in client.redirect_uris:
            return page("invalid_client", 400)
        if (
            args.get("response_type") != "code"
            or args.get("code_challenge_method") != "S256"
            or not args.get("code_challenge")
            or "openid" not in args.get("scope", "").split()
        ):
            return page("invalid_request", 400)
        req = secrets.token_urlsafe(16)
        match_code = args.get("binding_message", "")
        with provider.lock:
            provider.pending[req] = {
                "client_id": client.client_id,
                "redirect_uri": args["redirect_uri"],
                "state": args.get("state", ""),
                "nonce": args.get("nonce", ""),
                "challenge": args["code_challenge"],
                "at": time.time(),
            }
        return page(
            service=client.name,
            match_code=match_code if match_code.isalnum() and len(match_code) <= 8 else "",
            people=provider.people,
            req=req,
        )

    @app.post("/authorize")
    def decide() -> Any:
        with provider.lock:
            entry = provider.pending.pop(request.form.get("req", ""), None)
        if entry is None or time.time() - entry["at"] > 600:
            return page("expired", 400)
        answer = {"state": entry["state"], "iss": provider.issuer}
        if request.form.get("action") != "confirm":
            answer["error"] = "access_denied"
        else:
            person = next(
                (p for p in provider.people if p["sub"] == request.form.get("person")), None
            )
            if person is None:
                return page("invalid_request", 400)
            code = secrets.token_urlsafe(24)
            with provider.lock:
                provider.codes[code] = {**entry, "person": person, "at": time.time()}
            answer["code"] = code
        return redirect(entry["redirect_uri"] + "?" + urlencode(answer), code=303)

    @app.post("/token")
    def token() -> Any:
        client = _client_auth(provider)
        if client is None:
            return jsonify(error="invalid_client"), 401
        with provider.lock:
            entry = provider.codes.pop(request.form.get("code", ""), None)
        verifier = request.form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            request.form.get("grant_type") != "authorization_code"
            or entry is None
            or time.time() - entry["at"] > 60
            or entry["client_id"] != client.client_id
            or entry["redirect_uri"] != request.form.get("redirect_uri")
            or not hmac.compare_digest(challenge, entry["challenge"])
        ):
            return jsonify(error="invalid_grant"), 400
        return jsonify(
            access_token=secrets.token_urlsafe(24),
            token_type="Bearer",  # noqa: S106 - not a password
            expires_in=300,
            id_token=_id_token(provider, entry),
        )

    return app


def start_proofing_provider(
    clients: list[ProviderClient], host: str = "localhost", port: int = 0
) -> tuple[Provider, Callable[[], None]]:
    """The provider on ``host:port`` (0: a free port) in a daemon thread; returns the
    :class:`Provider` (``.issuer`` is its URL; ``.forge`` and ``.clients`` may be
    changed while it runs) and the function that stops it."""
    srv = make_server(host, port, lambda e, s: [], threaded=True)
    provider = Provider(
        issuer=f"http://{host}:{srv.server_port}",
        clients={c.client_id: c for c in clients},
        people=load_people(),
    )
    srv.app = create_provider(provider)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    def stop() -> None:
        srv.shutdown()
        srv.server_close()

    return provider, stop


@contextmanager
def serve_proofing_provider(
    clients: list[ProviderClient], host: str = "localhost", port: int = 0
) -> Iterator[Provider]:
    """:func:`start_proofing_provider` until the block ends."""
    provider, stop = start_proofing_provider(clients, host, port)
    try:
        yield provider
    finally:
        stop()
