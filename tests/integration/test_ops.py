"""Health probes, metrics and the request log (issue 13 "Health, metrics, logs";
SECURITY.md X-07, D-02)."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from idp.db import get_db
from tests.factories import PASSWORD, exchange, get_code, login, make_client, make_user
from tests.served import free_port

OFFLINE = "openid profile email offline_access"


def scrape(client) -> dict[tuple[str, tuple], float]:
    """/metrics from loopback as {(sample name, sorted labels): value}."""
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.status_code
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.get_data(as_text=True))
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- /healthz and /readyz ------------------------------------------------------------


def test_healthz_and_readyz_say_ok_and_nothing_else_x07(client):
    for path in ("/healthz", "/readyz"):
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.get_json() == {"status": "ok"}
        assert "Server" not in resp.headers
        assert resp.headers["Cache-Control"] == "no-store"


def test_readyz_is_503_while_the_schema_is_behind_the_code_d02(app, client):
    """Migrations at head is part of ready: a worker of a newer release must not take
    traffic before `idp init` ran. The body names the dependency, not the revisions."""
    with get_db(app).engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.get_json() == {"status": "unavailable", "failing": ["migrations"]}
        assert resp.headers["Retry-After"] == "5"
        assert head not in resp.get_data(as_text=True)
        assert client.get("/healthz").status_code == 200  # alive all the same
    finally:
        with get_db(app).engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_redis_does_not_answer_d02(app_factory):
    """A port where nothing listens stands for a Redis that is down."""
    app = app_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["failing"] == ["redis"]


def test_readyz_is_503_when_the_database_cannot_be_reached_d02(tmp_path):
    from idp import create_app
    from tests.conftest import BASE_OVERRIDES

    missing = tmp_path / "no-such-directory" / "idp.db"
    app = create_app({**BASE_OVERRIDES, "database_url": f"sqlite:///{missing}"})
    try:
        client = app.test_client()
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.get_json()["failing"] == ["database"]
        assert "sqlite" not in resp.get_data(as_text=True).lower()
        assert client.get("/healthz").status_code == 200  # /healthz needs no database
    finally:
        get_db(app).dispose()


# --- /metrics: who may read it -------------------------------------------------------


def test_metrics_are_refused_to_an_address_not_allowed_x07(client):
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert resp.status_code == 404
    assert b"idp_http_requests" not in resp.data


def test_metrics_through_an_untrusted_proxy_on_loopback_are_refused_x07(client):
    """nginx on the same host connects from 127.0.0.1 for everybody: without
    IDP_TRUSTED_PROXIES the forwarded request must not count as loopback."""
    resp = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
    assert resp.status_code == 404


def test_metrics_allow_list_admits_a_configured_network_and_can_close_x07(app_factory):
    app = app_factory(metrics_allow="10.0.0.0/8")
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics").status_code == 404  # loopback is no longer on the list


def test_an_empty_allow_list_turns_metrics_off_x07(app_factory):
    client = app_factory(metrics_allow="").test_client()
    assert client.get("/metrics").status_code == 404


# --- /metrics: what it counts --------------------------------------------------------


def test_metrics_count_a_sign_in_and_a_token_by_endpoint_and_grant(client, db):
    """The content after a sign-in and a token (issue 13)."""
    make_user(db)
    rp = make_client(db)
    before = scrape(client)
    code, verifier, _ = get_code(client, rp, scope=OFFLINE)
    tokens = exchange(client, rp, code, verifier).get_json()
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert refreshed.status_code == 200
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("idp_sign_ins_total", factor="password", outcome="success") == 1
    assert delta("idp_tokens_issued_total", grant_type="authorization_code") == 1
    assert delta("idp_tokens_issued_total", grant_type="refresh_token") == 1
    labels = {"endpoint": "oidc.token", "method": "POST", "status": "200"}
    assert delta("idp_http_requests_total", **labels) == 2
    assert delta("idp_http_request_duration_seconds_count", endpoint="oidc.token") == 2
    # Endpoint names, not paths (bounded cardinality): no path or query becomes a label.
    endpoints = {v for _name, labels in after for k, v in labels if k == "endpoint"}
    # (The registry is the process's: other tests' apps have added their own names.)
    assert "oidc.token" in endpoints and not [e for e in endpoints if "/" in e or "?" in e]
    assert ("idp_db_pool_checked_out", ()) in after


def test_metrics_count_failures_lockouts_and_refresh_reuse_a04_rfc9700(app, client, db):
    make_user(db)
    rp = make_client(db)
    threshold = app.extensions["idp_settings"].lockout_threshold
    code, verifier, _ = get_code(client, rp, scope=OFFLINE)
    old = exchange(client, rp, code, verifier).get_json()["refresh_token"]
    before = scrape(client)
    other = app.test_client()
    for _ in range(threshold):
        assert login(other, "alice", PASSWORD + "x").status_code != 303
    assert login(other, "alice", PASSWORD).status_code != 303  # locked now
    for _ in range(2):  # the first use rotates it, the second is a replay
        client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": old},
            auth=(rp.client_id, rp.secret),
        )
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("idp_sign_ins_total", factor="password", outcome="failure") == threshold
    assert delta("idp_sign_ins_total", factor="password", outcome="refused") == 1
    assert delta("idp_lockouts_total", counter="account") == 1
    assert delta("idp_lockouts_total", counter="identifier") == 1
    assert delta("idp_refresh_reuse_detected_total") == 1


def test_back_channel_deliveries_are_counted_from_their_audit_events(app, db):
    from idp.audit import AuditTag, record

    before = value(
        scrape(app.test_client()), "idp_backchannel_logout_deliveries_total", outcome="gave_up"
    )
    with app.test_request_context():
        record(db, AuditTag.BACKCHANNEL_LOGOUT_GAVE_UP, actor=None, subject=None)
    db.rollback()
    after = value(
        scrape(app.test_client()), "idp_backchannel_logout_deliveries_total", outcome="gave_up"
    )
    assert after - before == 1


# --- the request id and the log line -------------------------------------------------


def test_a_sane_request_id_is_kept_and_a_strange_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "proxy-4f2a9c1e"})
    assert kept.headers["X-Request-ID"] == "proxy-4f2a9c1e"
    for strange in ("a b c d e f g h", "x" * 65, "short", 'id"\\n{}'):
        resp = client.get("/healthz", headers={"X-Request-ID": strange})
        assert resp.headers["X-Request-ID"] != strange
        assert len(resp.headers["X-Request-ID"]) == 32
    assert (
        client.get("/healthz").headers["X-Request-ID"]
        != client.get("/healthz").headers["X-Request-ID"]
    )


def test_one_log_line_per_request_with_route_client_and_sub_x07(client, db, caplog):
    user = make_user(db)
    rp = make_client(db)
    with caplog.at_level(logging.INFO, logger="idp.request"):
        get_code(client, rp)
    lines = [r for r in caplog.records if r.name == "idp.request"]
    authorize = [r.http for r in lines if r.http["endpoint"] == "oidc.authorize"]
    assert authorize and authorize[0]["client_id"] == rp.client_id
    assert authorize[0]["route"] == "/authorize"  # the pattern: no query string
    assert authorize[-1]["sub"] == user.sub  # signed in by the last /authorize
    assert all(isinstance(r.http["latency_ms"], float) for r in lines)
    assert all("?" not in (r.http["route"] or "") for r in lines)
    assert all(len(getattr(r, "http", {}).get("method", "")) for r in lines)


def test_json_lines_carry_the_request_id_and_extra_fields():
    import json

    from idp.ops.request_log import JsonFormatter

    record = logging.LogRecord("idp.request", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.http = {"status": 200}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /x" and line["http"] == {"status": 200}
    assert line["level"] == "INFO" and line["logger"] == "idp.request"


@pytest.mark.parametrize("bad", ["xml", ""])
def test_an_unknown_log_format_is_refused_at_start(bad):
    from idp.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="IDP_LOG_FORMAT"):
        load_settings({"IDP_LOG_FORMAT": bad})
