"""Discovery and JWKS (SECURITY.md P-01..P-03)."""

from __future__ import annotations

import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.db import now
from idp.oidc import keys
from idp.oidc.keys import rotate_keys
from tests.factories import exchange, get_code, make_client, make_user


def test_discovery_metadata_P01(client):
    resp = client.get("/.well-known/openid-configuration")
    assert resp.status_code == 200
    meta = resp.get_json()
    assert meta["issuer"] == "http://localhost"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    assert meta["end_session_endpoint"] == "http://localhost/logout"
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        assert meta[key].startswith(meta["issuer"] + "/")
    assert meta["acr_values_supported"][0] == "urn:idp:acr:pwd"


def test_discovery_supports_conditional_get(client):
    first = client.get("/.well-known/openid-configuration")
    again = client.get(
        "/.well-known/openid-configuration", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_jwks_publishes_only_public_members_with_distinct_kids_P02(client, db):
    keys = client.get("/jwks.json").get_json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert not set(key) & {"d", "p", "q", "dp", "dq", "qi", "k"}


def _id_token(client, db, rp):
    code, verifier, _ = get_code(client, rp)
    return exchange(client, rp, code, verifier).get_json()["id_token"]


def test_id_token_kid_resolves_in_jwks_P02(client, db):
    make_user(db)
    rp = make_client(db)
    id_token = _id_token(client, db, rp)
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    token = jwt.decode(id_token, keyset, algorithms=["RS256"])
    assert token.header["kid"] in {k.kid for k in keyset.keys}


def test_rotation_keeps_old_key_published_and_tokens_verifiable_P03(app, client, db):
    make_user(db)
    rp = make_client(db)
    before = _id_token(client, db, rp)
    old_kids = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    rotate_keys(db, retention_seconds=3600)
    db.commit()
    # Workers re-read the key table within keys.RECHECK_SECONDS; skip the wait here.
    app.extensions["idp_keys"].invalidate()
    jwks = client.get("/jwks.json").get_json()
    new_kids = {k["kid"] for k in jwks["keys"]}
    assert old_kids < new_kids
    keyset = KeySet.import_key_set(jwks)
    jwt.decode(before, keyset, algorithms=["RS256"])  # old token still verifies
    after = _id_token(client, db, rp)
    after_kid = jwt.decode(after, keyset, algorithms=["RS256"]).header["kid"]
    assert after_kid not in old_kids


def test_rotated_key_leaves_jwks_when_its_retention_ends_P03(app, client, db, monkeypatch):
    """The old public keys are published for the retention only: once it is over they
    leave JWKS on the next recheck, although the key table did not change."""
    old_kids = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    rotate_keys(db, retention_seconds=3600)
    db.commit()
    app.extensions["idp_keys"].invalidate()
    assert old_kids < {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    monkeypatch.setattr(keys, "RECHECK_SECONDS", 0)  # a recheck is due on every request
    with time_machine.travel(now() + 3601, tick=False):
        published = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert published and not published & old_kids


def test_es256_client_gets_es256_id_token(client, db):
    make_user(db)
    rp = make_client(db, id_token_alg="ES256")
    id_token = _id_token(client, db, rp)
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    assert jwt.decode(id_token, keyset, algorithms=["ES256"]).header["alg"] == "ES256"
