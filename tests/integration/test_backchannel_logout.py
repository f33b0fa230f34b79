"""OpenID Connect Back-Channel Logout 1.0, the sending side (issue 11; SECURITY.md S-03):
logout tokens (section 2.4) POSTed form-encoded (2.5) to the clients signed in through
the ended session only, retried with backoff when an RP is down, given up after N
attempts, never redirected, only to the URI registered at delivery time; discovery
(2.1) and the registration option (2.2). Real HTTP servers receive the tokens."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from werkzeug.serving import make_server

from idp.db import now
from idp.models import AuditEvent, Client, LogoutDelivery, User, WebSession
from idp.oidc.backchannel import LOGOUT_EVENT, deliver_due, next_delay
from idp.oidc.backchannel_worker import worker_for
from relying_parties.backchannel import validate_logout_token
from tests.factories import csrf_token, exchange, get_code, make_client, make_user
from tests.integration.test_cli import run  # noqa: F401 - the CLI fixture


class Receiver:
    """A real HTTP server standing in for RPs' back-channel logout endpoints: it
    records each POST and answers with the next of ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.statuses: list[int] = []
        self.srv = make_server("127.0.0.1", 0, self._app, threaded=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_port}"

    def _app(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.posts.append(
            {
                "path": environ["PATH_INFO"],
                "method": environ["REQUEST_METHOD"],
                "type": environ.get("CONTENT_TYPE", ""),
                "form": {k: v[0] for k, v in parse_qs(body.decode()).items()},
            }
        )
        status = self.statuses.pop(0) if self.statuses else 200
        headers = [("Location", f"{self.base}/elsewhere")] if status in (301, 302, 307) else []
        start_response(f"{status} X", headers)
        return [b""]

    def to(self, path: str) -> list[dict]:
        return [p for p in self.posts if p["path"] == path]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.srv.shutdown()
    r.srv.server_close()


@pytest.fixture
def app(app_factory):
    # The job alone delivers here, so each test decides when (time travel).
    return app_factory(backchannel_logout_worker=False, backchannel_logout_attempts=3)


def _rp(db, receiver, path, name):
    rp = make_client(db, name=name)
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.backchannel_logout_uri = receiver.base + path
    db.commit()
    return rp


def _sign_in(client, rp):
    code, verifier, _ = get_code(client, rp)
    return exchange(client, rp, code, verifier).get_json()


def _sign_out(client):
    page = client.get("/account")
    return client.post(
        "/account/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )


def _deliver(app, db, t):
    with app.app_context():
        return deliver_due(db, app.extensions["idp_settings"], t)


def _deliveries(db):
    db.expire_all()
    return list(db.scalars(select(LogoutDelivery).order_by(LogoutDelivery.id)))


def _events(db, tag):
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def test_logout_token_is_signed_and_carries_section_2_4_claims(app, client, db, receiver):
    """2.4: iss, aud, iat, exp, jti, sub, sid, the events member, never a nonce; typ
    logout+jwt; verifiable with the IdP's JWKS; 2.5: a form-encoded POST. The demo RPs'
    validator (2.6) accepts it."""
    alice = make_user(db)
    rp = _rp(db, receiver, "/bc", "A")
    id_token = jwt.decode(_sign_in(client, rp)["id_token"], _jwks(client)).claims
    assert _sign_out(client).status_code == 200
    assert _deliver(app, db, now())["delivered"] == 1
    [post] = receiver.to("/bc")
    assert post["method"] == "POST"
    assert post["type"].startswith("application/x-www-form-urlencoded")
    token = post["form"]["logout_token"]
    decoded = jwt.decode(token, _jwks(client))
    claims = decoded.claims
    assert decoded.header["typ"] == "logout+jwt"
    assert claims["iss"] == "http://localhost" and claims["aud"] == rp.client_id
    assert claims["sub"] == alice.sub and claims["sid"] == id_token["sid"]
    assert claims["events"] == {LOGOUT_EVENT: {}}
    assert claims["iat"] <= claims["exp"] <= claims["iat"] + 300 and claims["jti"]
    assert "nonce" not in claims
    jwks = client.get("/jwks.json").get_json()
    assert (
        validate_logout_token(
            token, issuer="http://localhost", client_id=rp.client_id, jwks=lambda force: jwks
        )["sid"]
        == id_token["sid"]
    )
    [row] = _deliveries(db)
    assert row.delivered_at is not None and row.attempts == 1 and row.reason == "logout"
    [event] = _events(db, "oidc:backchannel:delivered")
    assert event.subject_user_id == alice.id and "logout_token" not in str(event.details)


def _jwks(client):
    return KeySet.import_key_set(client.get("/jwks.json").get_json())


def test_only_the_ended_sessions_clients_are_told(app, app_factory, db, receiver):
    """A client the session never used gets no token; nor do the clients of the
    person's other session (2.3: the OP remembers which RPs each session used)."""
    make_user(db)
    used, other_session, never = (
        _rp(db, receiver, "/used", "Used"),
        _rp(db, receiver, "/other", "Other"),
        _rp(db, receiver, "/never", "Never"),
    )
    first, second = app.test_client(), app.test_client()
    _sign_in(first, used)
    _sign_in(second, other_session)
    _sign_out(first)
    assert [d.client_id for d in _deliveries(db)] == [used.client_id]
    _deliver(app, db, now())
    assert len(receiver.to("/used")) == 1
    assert receiver.to("/other") == [] and receiver.to("/never") == []
    assert never.client_id not in {d.client_id for d in _deliveries(db)}


def test_rp_down_is_retried_with_backoff_then_delivered(app, client, db, receiver):
    """An RP answering 503 gets the token again after 30 s (then 2 min, ...), a freshly
    signed one; 200 then ends the delivery."""
    make_user(db)
    _rp(db, receiver, "/bc", "A")
    _sign_in(client, _rp(db, receiver, "/bc", "A2"))
    receiver.statuses = [503, 500]
    _sign_out(client)
    t = now()
    assert _deliver(app, db, t) == {"delivered": 0, "retry": 1, "gave_up": 0}
    [row] = _deliveries(db)
    assert row.attempts == 1 and row.last_error == "status_503" and row.due_at == t + 30
    assert _deliver(app, db, t + 29) == {"delivered": 0, "retry": 0, "gave_up": 0}
    assert _deliver(app, db, t + 30)["retry"] == 1
    [row] = _deliveries(db)
    assert row.due_at == t + 30 + next_delay(2) == t + 30 + 120
    assert _deliver(app, db, t + 150)["delivered"] == 1
    first, _second, third = (p["form"]["logout_token"] for p in receiver.to("/bc"))
    assert first != third  # a retry is signed again: the first one's exp is near
    [row] = _deliveries(db)
    assert row.delivered_at == t + 150 and row.attempts == 3 and row.last_error == ""


def test_refused_connection_gives_up_after_n_attempts_audited(app, client, db, receiver):
    """IDP_BACKCHANNEL_LOGOUT_ATTEMPTS (3 here) failures: given up, audited, logged."""
    make_user(db)
    rp = _rp(db, receiver, "/bc", "A")
    receiver.srv.shutdown()
    receiver.srv.server_close()  # nothing listens there now: connection refused
    _sign_in(client, rp)
    _sign_out(client)
    t = now()
    assert _deliver(app, db, t)["retry"] == 1
    assert _deliver(app, db, t + 30)["retry"] == 1
    assert _deliver(app, db, t + 150)["gave_up"] == 1
    [row] = _deliveries(db)
    assert row.gave_up_at == t + 150 and row.attempts == 3 and row.last_error == "unreachable"
    assert _deliver(app, db, t + 86400) == {"delivered": 0, "retry": 0, "gave_up": 0}
    [event] = _events(db, "oidc:backchannel:gave_up")
    assert event.details["client_id"] == rp.client_id and event.details["attempts"] == 3


def test_redirect_is_never_followed(app, client, db, receiver):
    make_user(db)
    _sign_in(client, _rp(db, receiver, "/bc", "A"))
    receiver.statuses = [302]
    _sign_out(client)
    assert _deliver(app, db, now())["retry"] == 1
    assert receiver.to("/elsewhere") == []
    assert _deliveries(db)[0].last_error == "status_302"


def test_sent_only_to_the_uri_registered_at_delivery_time(app, client, db, receiver):
    """A URI changed after the token was queued gets it; a removed one gets nothing."""
    make_user(db)
    rp = _rp(db, receiver, "/old", "A")
    _sign_in(client, rp)
    receiver.statuses = [503]
    _sign_out(client)
    t = now()
    _deliver(app, db, t)
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.backchannel_logout_uri = receiver.base + "/new"
    db.commit()
    assert _deliver(app, db, t + 30)["delivered"] == 1
    assert len(receiver.to("/old")) == 1 and len(receiver.to("/new")) == 1
    second = app.test_client()
    _sign_in(second, rp)
    row.backchannel_logout_uri = None
    db.commit()
    _sign_out(second)  # queues nothing: no URI now
    assert len(_deliveries(db)) == 1


def test_unregistered_uri_at_delivery_gives_up(app, client, db, receiver):
    make_user(db)
    rp = _rp(db, receiver, "/bc", "A")
    _sign_in(client, rp)
    _sign_out(client)
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.backchannel_logout_uri = None
    db.commit()
    assert _deliver(app, db, now())["gave_up"] == 1
    assert receiver.posts == [] and _deliveries(db)[0].last_error == "not_registered"


def test_worker_delivers_right_after_the_request(app_factory, db, receiver):
    """Off the request path but at once: the request's commit hands the delivery to
    the worker thread; the job is not needed."""
    app = app_factory()  # the worker on (the default)
    client = app.test_client()
    make_user(db)
    _sign_in(client, _rp(db, receiver, "/bc", "A"))
    assert _sign_out(client).status_code == 200
    worker_for(app).wait_idle()
    assert len(receiver.to("/bc")) == 1
    assert _deliveries(db)[0].delivered_at is not None


def test_jobs_run_retries_due_deliveries(app, client, db, receiver):
    from idp.jobs import run_jobs

    make_user(db)
    _sign_in(client, _rp(db, receiver, "/bc", "A"))
    _sign_out(client)
    with app.app_context():
        assert run_jobs(db, app.extensions["idp_settings"])["logout_tokens_tried"] == 1
        assert run_jobs(db, app.extensions["idp_settings"])["logout_tokens_tried"] == 0
    assert len(receiver.to("/bc")) == 1


def test_rp_initiated_logout_queues_tokens_too(app, client, db, receiver):
    """/logout with a valid id_token_hint (RP-Initiated Logout) ends the session
    through the same front door."""
    make_user(db)
    rp = _rp(db, receiver, "/bc", "A")
    tokens = _sign_in(client, rp)
    client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert [d.reason for d in _deliveries(db)] == ["logout"]


def test_ended_session_cookie_is_signed_out_at_once_S03(app, client, db, receiver):
    alice = make_user(db)
    _sign_in(client, _rp(db, receiver, "/bc", "A"))
    cookie = client.get_cookie("idp_session").value
    _sign_out(client)
    replay = app.test_client()
    replay.set_cookie("idp_session", cookie)
    assert replay.get("/account").status_code == 302
    assert db.scalar(select(User).where(User.id == alice.id)) is not None


def test_discovery_advertises_back_channel_logout_section_2_1(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True


def test_cli_backchannel_logout_uri_validated_section_2_2(run):  # noqa: F811
    """https (http on localhost in development), no fragment; shown by `clients show`."""
    import json

    made = run(
        "clients",
        "add",
        "--name",
        "A",
        "--redirect-uri",
        "https://a.example/cb",
        "--backchannel-logout-uri",
        "https://a.example/bc?x=1",
    )
    assert made.returncode == 0, made.stderr
    client_id = json.loads(made.stdout)["client_id"]
    assert json.loads(made.stdout)["backchannel_logout_uri"] == "https://a.example/bc?x=1"
    for bad in (
        "https://a.example/bc#frag",
        "ftp://a.example/bc",
        "/relative",
        "http://a.example/bc",
    ):
        res = run("clients", "set", "--client-id", client_id, "--backchannel-logout-uri", bad)
        assert res.returncode != 0 and "back-channel logout URI" in res.stderr, bad
    ok = run(
        "clients",
        "set",
        "--client-id",
        client_id,
        "--backchannel-logout-uri",
        "http://localhost:5001/backchannel-logout",
    )
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(run("clients", "show", "--client-id", client_id).stdout)
    assert shown["backchannel_logout_uri"] == "http://localhost:5001/backchannel-logout"
    assert (
        run("clients", "set", "--client-id", client_id, "--backchannel-logout-uri", "").returncode
        == 0
    )
    assert (
        json.loads(run("clients", "show", "--client-id", client_id).stdout)[
            "backchannel_logout_uri"
        ]
        is None
    )


def test_production_refuses_plain_http_even_on_localhost():
    from idp.oidc.clients import ClientError, check_backchannel_logout_uri

    with pytest.raises(ClientError):
        check_backchannel_logout_uri("http://localhost/bc", production=True)
    assert check_backchannel_logout_uri("https://rp.example/bc", production=True)


def test_signing_in_again_keeps_the_sid_so_earlier_clients_are_told(app, client, db, receiver):
    """The session id rotates at every login step (S-02), the ``sid`` only when another
    person signs in: the same person's second login (or second factor) must not cut
    the clients signed in before it off from back-channel logout."""
    from tests.factories import login

    make_user(db)
    make_user(db, "bob")
    rp = _rp(db, receiver, "/bc", "A")
    _sign_in(client, rp)
    first = db.scalar(select(LogoutDelivery.sid))  # none yet
    assert first is None
    login(client)  # alice again
    _sign_out(client)
    assert [d.client_id for d in _deliveries(db)] == [rp.client_id]
    other = app.test_client()
    _sign_in(other, rp)
    sid_alice = db.scalar(select(WebSession.sid))
    login(other, "bob")  # someone else on that browser: a new sid
    assert db.scalar(select(WebSession.sid).where(WebSession.user_id.is_not(None))) != sid_alice


def test_an_expired_session_purged_by_the_job_tells_its_clients_section_2_7(
    app, client, db, receiver, time_machine
):
    """A session that ran out (idle lifetime) has ended as surely as one logged out:
    `idp jobs run` ends it through the front door, its client gets a logout token in
    the same run (reason ``expired``), a client of the person's live session none, and
    the expired cookie, refused when it came back meanwhile, stays refused."""
    from idp.jobs import run_jobs

    settings = app.extensions["idp_settings"]
    make_user(db)
    t0 = now()
    time_machine.move_to(t0, tick=False)
    _sign_in(client, _rp(db, receiver, "/old", "A"))
    time_machine.move_to(t0 + settings.session_idle_ttl + 5, tick=False)
    assert client.get("/account").status_code == 302  # refused: past its idle lifetime
    live = app.test_client()
    _sign_in(live, _rp(db, receiver, "/live", "B"))
    with app.app_context():
        done = run_jobs(db, settings)
    assert (done["sessions_purged"], done["logout_tokens_tried"]) == (1, 1)
    assert [d.reason for d in _deliveries(db)] == ["expired"]
    assert (len(receiver.to("/old")), len(receiver.to("/live"))) == (1, 0)
    assert _deliveries(db)[0].sid not in set(db.scalars(select(WebSession.sid)))
