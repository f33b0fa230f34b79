"""Discovery and the JWKS answered from memory in front of Flask (idp.oidc.documents,
issue 12): the same answer as Flask's, with the request's own id, metric and log line;
a rotated key published as soon as before (SECURITY.md P-03)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import text

from idp.oidc.keys import rotate_keys

DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def flask_calls(app):
    """How many requests reached Flask's request machinery."""
    calls = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: calls.append(1) and None)
    return calls


def _without_request_id(resp):
    return sorted((k, v) for k, v in resp.headers.items() if k != "X-Request-ID")


@pytest.mark.parametrize(
    "path", [DISCOVERY, "/.well-known/oauth-authorization-server", "/jwks.json"]
)
def test_a_document_is_replayed_exactly_without_reaching_flask(client, flask_calls, path):
    first = client.get(path)
    replayed = [client.get(path) for _ in range(3)]
    assert len(flask_calls) == 1
    for resp in replayed:
        assert resp.status_code == 200 and resp.data == first.data
        assert _without_request_id(resp) == _without_request_id(first)
    # The security headers of the Flask answer (SECURITY.md S-06) come along.
    assert replayed[0].headers["X-Content-Type-Options"] == "nosniff"
    assert replayed[0].headers["Cache-Control"] == "public, max-age=300"
    ids = {resp.headers["X-Request-ID"] for resp in [first, *replayed]}
    assert len(ids) == 4


def test_a_replayed_request_has_its_id_metric_and_log_line_x07(client):
    from idp.ops import metrics
    from idp.ops.request_log import JsonFormatter

    client.get(DISCOVERY)
    counter = metrics.http_requests.labels("oidc.openid_configuration", "GET", "200")
    before = counter._value.get()
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("idp.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        resp = client.get(DISCOVERY, headers={"X-Request-ID": "proxy-id-12345"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert resp.headers["X-Request-ID"] == "proxy-id-12345"
    assert counter._value.get() == before + 1
    (line,) = [json.loads(text) for text in lines.getvalue().splitlines()]
    assert line["request_id"] == "proxy-id-12345"
    assert line["http"]["endpoint"] == "oidc.openid_configuration"
    assert line["http"]["route"] == DISCOVERY and line["http"]["status"] == 200


def test_requests_that_could_change_the_answer_go_to_flask(client, flask_calls):
    first = client.get(DISCOVERY)
    conditional = client.get(DISCOVERY, headers={"If-None-Match": first.headers["ETag"]})
    assert conditional.status_code == 304
    with_lang = client.get(DISCOVERY + "?lang=th")
    assert "idp_lang=th" in with_lang.headers.get("Set-Cookie", "")
    head = client.head(DISCOVERY)
    assert head.status_code == 200
    assert len(flask_calls) == 4


def test_a_key_rotated_by_another_process_is_published_at_the_recheck_P03(app, client, db):
    """No ORM event reaches this process: only the key ring's recheck (within
    keys.RECHECK_SECONDS) can publish the new key, and the replay must not hide it."""
    old = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]} == old  # replayed
    kid = "rotated-elsewhere"
    row = db.execute(text("SELECT alg, private_jwk, created_at FROM signing_keys")).first()
    db.execute(
        text(
            "INSERT INTO signing_keys (kid, alg, private_jwk, created_at)"
            " VALUES (:kid, :alg, :jwk, :created)"
        ),
        {"kid": kid, "alg": row.alg, "jwk": row.private_jwk, "created": row.created_at},
    )
    db.commit()
    assert kid not in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    app.extensions["idp_keys"]._checked -= 60  # the recheck is due
    assert kid in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}


def test_a_key_rotated_in_this_process_is_published_at_once_P03(client, db):
    old = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    client.get("/jwks.json")
    rotate_keys(db, retention_seconds=3600)
    db.commit()
    assert old < {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
