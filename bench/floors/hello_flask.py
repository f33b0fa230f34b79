"""Floors 2 and 3, the ceiling of a Flask endpoint on this machine:

    GET  /           {"hello": "world"}: Flask's own cost per request
    POST /token-sim  client_secret_basic (constant-time compare), form parse, one RS256
                     JWT signed with joserfc: a stateless client_credentials token
                     endpoint with no database and no secret hashing

Same shape as ../shared/bench-peers/physical/hello_flask.py, so the figures compare.
"""

import base64
import hmac
import secrets
import time

from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import RSAKey

app = Flask(__name__)
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-0123456789abcdef"
KEY = RSAKey.generate_key(2048)


@app.get("/")
def hello():
    return jsonify(hello="world")


def _client_ok() -> bool:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Basic "):
        return False
    try:
        cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
    except ValueError:
        return False
    return hmac.compare_digest(cid, CLIENT_ID) and hmac.compare_digest(sec, CLIENT_SECRET)


@app.post("/token-sim")
def token_sim():
    if not _client_ok():
        return jsonify(error="invalid_client"), 401
    if request.form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type"), 400
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1",
        "sub": CLIENT_ID,
        "aud": "urn:bench:api",
        "client_id": CLIENT_ID,
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_urlsafe(16),
        "scope": request.form.get("scope", ""),
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
    token = jwt.encode(header, claims, KEY, algorithms=["RS256"])
    return jsonify(access_token=token, token_type="Bearer", expires_in=600)
