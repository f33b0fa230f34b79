"""The hot protocol endpoints' caches and shortcuts (issue 12) keep their guarantees:
a client changed in this process counts at once despite the client cache (SECURITY.md
P-17: only a registered, active client with its current secret gets tokens; RFC 6749
2.3.1), a key rotated in this process signs at once, and a read-only request leaves no
pooled PostgreSQL connection outside transactions (a failed request leaves the
database unchanged)."""

from __future__ import annotations

import hashlib

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from idp.db import get_db
from idp.models import Client, Grant, WebSession
from idp.oidc.keys import rotate_keys
from tests.conftest import USE_PG
from tests.factories import exchange, get_code, login, make_client, make_user

GRANTS = ["authorization_code", "refresh_token", "client_credentials"]


def _cc(client, rp, secret=None):
    return client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=(rp.client_id, secret or rp.secret),
    )


def test_new_client_secret_counts_at_once_despite_the_client_cache_RFC6749_2_3_1(client, db):
    rp = make_client(db, grant_types=GRANTS)
    assert _cc(client, rp).status_code == 200  # cached now
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.secret_hash = hashlib.sha256(b"the new secret").hexdigest()
    db.commit()
    assert _cc(client, rp).status_code == 401
    assert _cc(client, rp, "the new secret").status_code == 200


def test_disabled_client_is_refused_at_once_despite_the_client_cache_P17(client, db):
    """An UPDATE statement (not a unit of work) disables the client."""
    rp = make_client(db, grant_types=GRANTS)
    token = _cc(client, rp).get_json()["access_token"]
    db.execute(update(Client).where(Client.client_id == rp.client_id).values(is_active=False))
    db.commit()
    assert _cc(client, rp).status_code == 401
    resp = client.post("/introspect", data={"token": token}, auth=(rp.client_id, rp.secret))
    assert resp.status_code == 401


def test_key_rotated_in_process_signs_and_publishes_at_once_RFC7517(app, client, db):
    make_user(db)
    rp = make_client(db)
    before = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    new = rotate_keys(db, retention_seconds=3600)
    db.commit()
    published = client.get("/jwks.json").get_json()
    assert {row.kid for row in new} <= {k["kid"] for k in published["keys"]} - before
    code, verifier, _ = get_code(client, rp)
    id_token = exchange(client, rp, code, verifier).get_json()["id_token"]
    header = jwt.decode(id_token, KeySet.import_key_set(published)).header
    assert header["kid"] in {row.kid for row in new}


@pytest.mark.skipif(not USE_PG, reason="PostgreSQL only: SQLite reads never open a transaction")
def test_read_only_requests_give_back_transactional_connections_D02(app, client, db):
    """Userinfo and introspection read in autocommit; every pooled connection is back
    in transactional mode afterwards, so the next writing request stays atomic."""
    make_user(db)
    rp = make_client(db, grant_types=GRANTS)
    code, verifier, _ = get_code(client, rp)
    tokens = exchange(client, rp, code, verifier).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/userinfo", headers=bearer).status_code == 200
    resp = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret)
    )
    assert resp.get_json()["active"] is True
    pool = get_db(app).engine.pool
    idle = [pool.connect() for _ in range(pool.checkedin())]
    try:
        assert idle
        assert [c.dbapi_connection.autocommit for c in idle] == [False] * len(idle)
    finally:
        for c in idle:
            c.close()


def test_protocol_endpoints_leave_the_browser_session_alone_ASVS_7_4(client, db):
    """A session cookie sent to the token, userinfo and discovery endpoints is not
    looked up and no session cookie is written; a browser page refuses the expired
    session (its row is left to ``idp jobs run``, which tells its clients)."""
    make_user(db)
    rp = make_client(db, grant_types=GRANTS)
    code, verifier, _ = get_code(client, rp)
    tokens = exchange(client, rp, code, verifier).get_json()
    login(client)
    db.execute(update(WebSession).values(last_seen=0, created_at=0))
    db.commit()
    answers = [
        client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}),
        _cc(client, rp),
        client.get("/.well-known/openid-configuration"),
    ]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers.get("Set-Cookie") for r in answers] == [None, None, None]
    assert db.scalar(select(WebSession.id).limit(1)) is not None
    assert "/login" in client.get("/account").headers["Location"]  # a page still ends it


def test_userinfo_refuses_a_token_of_a_revoked_grant_RFC7009_2_1(client, db):
    """A family ended while one of its tokens was being issued (end_grants skips rows
    another transaction holds, so the new token may carry no revoked_at): userinfo asks
    the grant, as refresh and introspection do (RFC 7009 2.1, RFC 9700 4.14.2)."""
    make_user(db, "alice")
    rp = make_client(db, grant_types=GRANTS)
    code, verifier, _ = get_code(client, rp)
    access = exchange(client, rp, code, verifier).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    assert client.get("/userinfo", headers=bearer).status_code == 200
    db.execute(update(Grant).values(revoked_at=1))  # the grant only, not its tokens
    db.commit()
    assert client.get("/userinfo", headers=bearer).status_code == 401


def test_introspection_reads_a_token_of_a_revoked_grant_as_inactive_RFC7009_2_1(client, db):
    """As userinfo: the grant, not the token's own revoked_at, is the authority for a
    family ended while one of its tokens was being issued (RFC 7662 2.2 ``active``)."""
    make_user(db, "alice")
    rp = make_client(db, grant_types=GRANTS)
    code, verifier, _ = get_code(client, rp, scope="openid offline_access")
    tokens = exchange(client, rp, code, verifier).get_json()

    def active(token: str) -> bool:
        resp = client.post("/introspect", data={"token": token}, auth=(rp.client_id, rp.secret))
        return resp.get_json()["active"]

    assert [active(tokens["access_token"]), active(tokens["refresh_token"])] == [True, True]
    db.execute(update(Grant).values(revoked_at=1))  # the grant only, not its tokens
    db.commit()
    assert [active(tokens["access_token"]), active(tokens["refresh_token"])] == [False, False]


def test_a_scope_level_changed_in_process_counts_at_once_despite_the_cache_E06(app, db):
    """The declared scopes and their levels are cached like the client; a change
    through the operator's front door is what the next sign-in or refresh sees (no
    refresh bypass of step-up, SECURITY.md E-06)."""
    from idp.admin.services import declare_scope, update_scope
    from idp.oidc.acr import ACR_MFA, ACR_PASSWORD
    from idp.oidc.clients import declared_scopes

    rp = make_client(db)
    texts = {"description_th": "อนุมัติ", "description_en": "Approve"}
    with app.app_context():
        assert declared_scopes(db, rp.client_id) == {}  # cached now
        scope = declare_scope(
            db, rp.client_id, "gfmis:approve", seat_limit=None, min_acr=ACR_PASSWORD,
            actor=None, **texts,
        )  # fmt: skip
        db.commit()
        assert declared_scopes(db, rp.client_id) == {"gfmis:approve": ACR_PASSWORD}
        update_scope(db, scope.id, seat_limit=None, min_acr=ACR_MFA, actor=0, **texts)
        db.commit()
        assert declared_scopes(db, rp.client_id) == {"gfmis:approve": ACR_MFA}


def test_a_refresh_reads_the_declared_scopes_from_the_cache(app, client, db):
    """Issue 12: the refresh grant's step-up and organisation checks ask for the
    client's declared scopes; a warm cache answers without a query."""
    from sqlalchemy import event

    make_user(db)
    rp = make_client(db)
    code, verifier, _ = get_code(client, rp, scope="openid offline_access")
    tokens = exchange(client, rp, code, verifier).get_json()
    statements = []

    def spy(conn, cursor, statement, *args):
        statements.append(statement)

    engine = get_db(app).engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        for _ in range(2):
            resp = client.post(
                "/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                auth=(rp.client_id, rp.secret),
            )
            assert resp.status_code == 200
            tokens = resp.get_json()
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert statements and not [s for s in statements if "client_scopes" in s]


def test_hot_endpoints_send_one_lookup_each_whatever_the_scopes_release(app, client, db):
    """Issue 12: userinfo and introspection resolve token, grant and person with one
    statement, and a refresh's person comes with its grant; on PostgreSQL the code's
    and the refresh token's person come with the UPDATE that consumes them. The person
    is read with the columns tokens and claims read (idp.oidc.stored.TOKEN_USER_NAMES),
    as a Core row: a claim reading any other column fails here."""
    from sqlalchemy import event

    user = make_user(db)
    user.phone_number, user.address = "+66812345678", {"locality": "Bangkok"}
    db.commit()
    scope = "openid profile email phone address membership offline_access"
    rp = make_client(db, scopes=scope.split())
    code, verifier, _ = get_code(client, rp, scope=scope)
    statements = []
    engine = get_db(app).engine

    def spy(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "WITH")):
            statements.append(statement)

    def sent(method, path, **kw):
        statements.clear()
        event.listen(engine, "before_cursor_execute", spy)
        try:
            resp = getattr(client, method)(path, **kw)
        finally:
            event.remove(engine, "before_cursor_execute", spy)
        assert resp.status_code == 200, resp.data
        return resp, [s for s in statements if "signing_keys" not in s]

    redeem = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    redeem["redirect_uri"] = rp.redirect_uri
    resp, seen = sent("post", "/token", data=redeem, auth=(rp.client_id, rp.secret))
    tokens = resp.get_json()
    assert tokens["id_token"] and tokens["refresh_token"]
    # consume the code with its person (one statement on PostgreSQL, two on SQLite),
    # the grant with its tokens (one statement on PostgreSQL, three on SQLite)
    if USE_PG:
        assert [s.split()[0] for s in seen] == ["WITH", "WITH"], seen
    else:
        assert [s.split()[0] for s in seen] == ["UPDATE", "SELECT", "INSERT", "UPDATE", "INSERT"]
    resp, seen = sent(
        "get", "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert resp.get_json()["phone_number"] == "+66812345678" and "membership" in resp.get_json()
    assert len(seen) == 1, seen
    auth = (rp.client_id, rp.secret)
    resp, seen = sent("post", "/introspect", data={"token": tokens["access_token"]}, auth=auth)
    assert resp.get_json()["sub"] == user.sub
    assert len(seen) == 1, seen  # the client came from the cache
    renew = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    resp, seen = sent("post", "/token", data=renew, auth=auth)
    assert "id_token" in resp.get_json()
    # consume the token, the grant with its person (one statement on PostgreSQL), the
    # new tokens (this client skips consent and declares no organisation scopes: no
    # query for either)
    expected = ["WITH", "INSERT"] if USE_PG else ["UPDATE", "SELECT", "INSERT"]
    assert [s.split()[0] for s in seen] == expected, seen
