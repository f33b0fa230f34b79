"""UserInfo's and introspection's common requests answered before Flask (issue 12,
idp.oidc.lanes): the same answers as the endpoints', none of the browser machinery,
and every other case (errors, failed client authentication, CORS, an ended token, a
database outage) left to the endpoints."""

from __future__ import annotations

import base64
import logging

import psycopg
import pytest
from flask import request_started
from sqlalchemy import event, make_url

from idp.db import get_db
from tests.conftest import USE_PG
from tests.factories import exchange, get_code, make_client, make_user

SCOPE = "openid profile email membership offline_access"


@pytest.fixture
def flask_requests(app):
    """How many requests went through Flask's request machinery."""
    seen: list[str] = []

    def started(sender, **_extra) -> None:
        seen.append("request")

    request_started.connect(started, app)
    yield seen
    request_started.disconnect(started, app)


def _tokens(client, db) -> tuple[dict, object]:
    user = make_user(db)
    rp = make_client(db, scopes=SCOPE.split())
    code, verifier, _ = get_code(client, rp, scope=SCOPE)
    tokens = exchange(client, rp, code, verifier).get_json()
    return tokens, (user, rp)


def _bearer(tokens: dict) -> dict:
    return {"Authorization": "Bearer " + tokens["access_token"]}


def _comparable(headers) -> dict:
    return {k: v for k, v in headers.items() if k != "X-Request-ID"}


def test_the_lane_answers_as_the_view_does_without_flasks_request_machinery(
    client, db, flask_requests
):
    """Issue 12: "none of the browser machinery (sessions, CSRF, locale negotiation,
    template context) runs" for the hot endpoints. The first answer is Flask's (the lane
    learns its headers from it), the next ones the lane's: the same status, headers and
    claims (OIDC Core 5.3.2), each with a request id of its own."""
    tokens, _ = _tokens(client, db)
    by_flask = client.get("/userinfo", headers=_bearer(tokens))
    flask_count = len(flask_requests)
    by_lane = client.get("/userinfo", headers=_bearer(tokens))
    assert len(flask_requests) == flask_count, "the second answer did not come from the lane"
    assert by_flask.status_code == by_lane.status_code == 200
    assert by_lane.get_json() == by_flask.get_json()
    assert by_lane.get_json()["sub"] and "membership" in by_lane.get_json()
    assert _comparable(by_lane.headers) == _comparable(by_flask.headers)
    assert by_lane.headers["Cache-Control"] == "no-store"  # RFC 6749 5.1 / OIDC 5.3.2
    assert by_lane.headers["X-Request-ID"] != by_flask.headers["X-Request-ID"]


def test_the_lane_never_answers_for_an_ended_token_RFC6750_3_1(client, db, flask_requests):
    """Nothing is cached: a token revoked after the lane answered for it gets the view's
    401 ``invalid_token`` on its next use."""
    tokens, (_, rp) = _tokens(client, db)
    for _ in range(2):
        assert client.get("/userinfo", headers=_bearer(tokens)).status_code == 200
    revoked = client.post(
        "/revoke", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret)
    )
    assert revoked.status_code == 200
    before = len(flask_requests)
    resp = client.get("/userinfo", headers=_bearer(tokens))
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert len(flask_requests) == before + 1


def test_cors_queries_and_posts_go_to_the_view(app_factory):
    """A browser's request (``Origin``: the view adds the CORS headers), a query string
    and a POST are the view's to answer."""
    app = app_factory(cors_origins=("https://spa.example",))
    client = app.test_client()
    with get_db(app).factory() as db:
        tokens, _ = _tokens(client, db)
    seen: list[str] = []
    request_started.connect(lambda sender, **_: seen.append("r"), app, weak=False)
    for _ in range(2):
        assert client.get("/userinfo", headers=_bearer(tokens)).status_code == 200
    before = len(seen)
    cors = client.get("/userinfo", headers={**_bearer(tokens), "Origin": "https://spa.example"})
    assert cors.headers["Access-Control-Allow-Origin"] == "https://spa.example"
    assert client.get("/userinfo?x=1", headers=_bearer(tokens)).status_code == 200
    assert client.post("/userinfo", headers=_bearer(tokens)).status_code == 200
    assert len(seen) == before + 3


def test_the_lanes_log_line_names_the_route_and_the_person_issue13(client, db, caplog):
    """Issue 13: one line per request with its request id, route, status and the
    person's ``sub``, for the lane's answers too."""
    tokens, (user, _) = _tokens(client, db)
    client.get("/userinfo", headers=_bearer(tokens))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="idp.request"):
        resp = client.get("/userinfo", headers=_bearer(tokens))
    (line,) = [r for r in caplog.records if r.name == "idp.request"]
    assert line.http["route"] == "/userinfo" and line.http["status"] == 200
    assert line.http["sub"] == user.sub
    assert resp.headers["X-Request-ID"]


def test_a_database_failure_in_the_lane_is_answered_503_after_one_attempt_D02(app, client, db):
    """SECURITY.md D-02: the view answers the outage the lane met (503, Retry-After,
    ``temporarily_unavailable``) without trying the database a second time."""
    tokens, _ = _tokens(client, db)
    for _ in range(2):
        assert client.get("/userinfo", headers=_bearer(tokens)).status_code == 200
    engine = get_db(app).engine
    attempts: list[str] = []

    def unreachable(dialect, conn_rec, cargs, cparams):
        attempts.append("connect")
        raise engine.dialect.dbapi.OperationalError("the database is away")

    engine.dispose()  # no pooled connection left: the next statement must connect
    event.listen(engine, "do_connect", unreachable)
    try:
        resp = client.get("/userinfo", headers=_bearer(tokens))
    finally:
        event.remove(engine, "do_connect", unreachable)
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "temporarily_unavailable"
    assert int(resp.headers["Retry-After"]) > 0
    assert attempts == ["connect"]


def _introspect(client, rp, token: str, **extra):
    return client.post(
        "/introspect", data={"token": token, **extra}, auth=(rp.client_id, rp.secret)
    )


def test_introspection_lane_answers_as_the_endpoint_does_RFC7662_2_2(client, db, flask_requests):
    """The first answer is Authlib's (through Flask), the next ones the lane's: the
    same payload and headers; a token hint is ignored (RFC 7662 2.1)."""
    tokens, (user, rp) = _tokens(client, db)
    by_flask = _introspect(client, rp, tokens["access_token"])
    before = len(flask_requests)
    by_lane = _introspect(client, rp, tokens["access_token"], token_type_hint="access_token")
    refresh = _introspect(client, rp, tokens["refresh_token"])
    assert len(flask_requests) == before, "the lane did not answer"
    assert by_lane.status_code == by_flask.status_code == 200
    assert by_lane.get_json() == by_flask.get_json()
    assert by_lane.get_json()["active"] is True and by_lane.get_json()["sub"] == user.sub
    assert refresh.get_json()["token_type"] == "refresh_token"
    assert _comparable(by_lane.headers) == _comparable(by_flask.headers)


def test_introspection_lane_refuses_nothing_itself_RFC6749_2_3_1(client, db, flask_requests):
    """A wrong secret, an unknown client, credentials in the form or a repeated
    parameter: the endpoint answers (401 ``invalid_client``, 400 ``invalid_request``),
    never the lane."""
    tokens, (_, rp) = _tokens(client, db)
    assert _introspect(client, rp, tokens["access_token"]).status_code == 200
    before = len(flask_requests)
    token = tokens["access_token"]
    wrong = client.post("/introspect", data={"token": token}, auth=(rp.client_id, "wrong"))
    unknown = client.post("/introspect", data={"token": token}, auth=("nobody", rp.secret))
    in_form = client.post(
        "/introspect", data={"token": token, "client_id": rp.client_id, "client_secret": rp.secret}
    )
    repeated = client.post(
        "/introspect",
        data=f"token={token}&token={token}",
        content_type="application/x-www-form-urlencoded",
        auth=(rp.client_id, rp.secret),
    )
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "invalid_client")
    assert (unknown.status_code, unknown.get_json()["error"]) == (401, "invalid_client")
    assert in_form.status_code == 200  # client_secret_post: the endpoint's to answer
    assert (repeated.status_code, repeated.get_json()["error"]) == (400, "invalid_request")
    assert len(flask_requests) == before + 4


def test_introspection_lane_shows_another_clients_token_inactive_RFC7662_4(
    client, db, flask_requests
):
    """A client learns nothing of tokens issued to another client; a revoked token is
    inactive at once (nothing is cached)."""
    tokens, (_, rp) = _tokens(client, db)
    other = make_client(db, name="Other RP")
    assert _introspect(client, rp, tokens["access_token"]).get_json()["active"] is True
    before = len(flask_requests)
    assert _introspect(client, other, tokens["access_token"]).get_json() == {"active": False}
    client.post("/revoke", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret))
    after_revoke = len(flask_requests)
    assert _introspect(client, rp, tokens["access_token"]).get_json() == {"active": False}
    assert len(flask_requests) == before + 1 == after_revoke  # only /revoke went to Flask


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.parametrize(
    "case",
    ["base64_with_junk", "blank_repeated_token", "signed_content_length", "nul_in_client_id"],
)
def test_introspection_lane_is_no_more_lenient_than_the_endpoint_I02_I03(client, db, case):
    """Requests the endpoint refuses, in shapes a lenient parser would accept (found by
    a review): base64 with characters outside its alphabet (RFC 7617 2), a name repeated
    with a blank value (RFC 6749 3.2, SECURITY.md I-03), a ``+49`` Content-Length
    (werkzeug reads it as no body) and a percent-encoded NUL in the client id (a 500
    on PostgreSQL before: the NUL reached the client query)."""
    tokens, (_, rp) = _tokens(client, db)
    token = tokens["access_token"]
    assert _introspect(client, rp, token).status_code == 200  # the lane is primed
    body = f"token={token}"
    good = _basic(rp.client_id, rp.secret)
    headers = {"Authorization": good}
    overrides = {}
    if case == "base64_with_junk":
        value = good.removeprefix("Basic ")
        headers["Authorization"] = "Basic " + value[:4] + "!!*" + value[4:]
    elif case == "blank_repeated_token":
        body += "&token="
    elif case == "signed_content_length":
        overrides["CONTENT_LENGTH"] = f"+{len(body)}"
    else:
        headers["Authorization"] = _basic(rp.client_id + "%00", rp.secret)
    resp = client.post(
        "/introspect",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
        environ_overrides=overrides,
    )
    assert resp.status_code in (400, 401), resp.data
    assert resp.get_json()["error"] in ("invalid_request", "invalid_client")


@pytest.mark.skipif(not USE_PG, reason="cuts PostgreSQL connections")
@pytest.mark.parametrize("endpoint", ["userinfo", "introspection"])
def test_a_connection_cut_under_the_lane_answers_503_then_200_D02(app, client, db, endpoint):
    """SECURITY.md D-02 for the lanes' direct psycopg read (idp.oidc.reads.first_row):
    a database restart cuts the pooled connections; the request that meets a cut one
    answers 503 ``temporarily_unavailable`` (the error translated by SQLAlchemy, which
    discards the pool), and the next request reconnects and answers 200."""
    tokens, (_, rp) = _tokens(client, db)

    def ask():
        if endpoint == "userinfo":
            return client.get("/userinfo", headers=_bearer(tokens))
        return _introspect(client, rp, tokens["access_token"])

    for _ in range(2):
        assert ask().status_code == 200
    libpq = make_url(get_db(app).url).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    cut = ask()
    assert cut.status_code == 503, cut.data
    assert cut.get_json()["error"] == "temporarily_unavailable"
    assert ask().status_code == 200
