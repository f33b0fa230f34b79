"""WebAuthn registration and step-up with a software authenticator (SECURITY.md M-09)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import time_machine
from sqlalchemy import select

from idp.models import AuditEvent, Client, MfaFactor
from idp.oidc.acr import ACR_MFA, ACR_PHISHING_RESISTANT
from tests.factories import csrf_token, login, mail_text, make_client, make_user, query
from tests.integration.test_mfa import T0, Flow, claims
from tests.webauthn_soft import SoftAuthenticator

ORIGIN = "http://localhost"


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


def _csrf(client) -> str:
    return csrf_token(client.get("/account").get_data(as_text=True))


def _post_json(client, url, csrf, body="{}"):
    return client.post(
        url, data=body, content_type="application/json", headers={"X-CSRFToken": csrf}
    )


def register(client, soft, name="YubiKey") -> dict:
    csrf = _csrf(client)
    opts = _post_json(client, "/mfa/webauthn/register/options", csrf)
    assert opts.status_code == 200, opts.get_data(as_text=True)
    cred = soft.create(opts.get_json(), ORIGIN)
    return _post_json(client, f"/mfa/webauthn/register/verify?name={name}", csrf, cred).get_json()


@pytest.fixture
def keyholder(client, db, smtp_sink):
    make_user(db)
    soft = SoftAuthenticator()
    login(client)
    assert register(client, soft)["ok"] is True
    return soft


def _set_min(db, rp, level):
    db.scalar(select(Client).where(Client.client_id == rp.client_id)).min_acr = level
    db.commit()


def _assert(client, flow, soft, origin=ORIGIN, rp_id=None):
    flow_id = query(flow.location)["flow"]
    csrf = _csrf(client)
    opts = _post_json(client, f"/mfa/webauthn/authenticate/options?flow={flow_id}", csrf)
    body = soft.get(opts.get_json(), origin, rp_id)
    return _post_json(client, f"/mfa/webauthn/authenticate/verify?flow={flow_id}", csrf, body)


def test_registration_stores_named_credential_and_notifies(db, keyholder, smtp_sink):
    factor = db.scalar(select(MfaFactor))
    assert factor.kind == "webauthn" and factor.name == "YubiKey" and factor.uv_capable
    # alice chose no language: the deployment default, Thai
    assert any("กุญแจความปลอดภัย" in m["Subject"] for m in smtp_sink.to("alice@example.org"))


def test_registration_needs_recent_password(client, db):
    make_user(db)
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.shift(601)
        resp = _post_json(client, "/mfa/webauthn/register/options", _csrf(client))
    assert resp.status_code == 403


def test_registration_without_csrf_refused_S05(client, db):
    make_user(db)
    login(client)
    resp = client.post("/mfa/webauthn/register/options", data="{}", content_type="application/json")
    assert resp.status_code == 400


def test_passkey_with_uv_reaches_phr(client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_PHISHING_RESISTANT)
    flow = Flow(client, rp)
    assert flow.at("/mfa/challenge")
    result = _assert(client, flow, keyholder).get_json()
    assert result["ok"] is True
    flow.resp = client.get(result["redirect"])
    flow.follow()
    c = claims(client, flow.tokens()["id_token"])
    assert c["acr"] == ACR_PHISHING_RESISTANT
    assert {"pwd", "hwk", "user", "mfa"} <= set(c["amr"])


def test_wrong_origin_rejected_M09(client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_MFA)
    flow = Flow(client, rp)
    resp = _assert(client, flow, keyholder, origin="https://evil.example")
    assert resp.status_code == 400 and resp.get_json()["ok"] is False


def test_wrong_rp_id_rejected_M09(client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_MFA)
    flow = Flow(client, rp)
    assert _assert(client, flow, keyholder, rp_id="evil.example").status_code == 400


def test_replayed_assertion_rejected_M09(client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_MFA)
    flow = Flow(client, rp)
    flow_id = query(flow.location)["flow"]
    csrf = _csrf(client)
    opts = _post_json(client, f"/mfa/webauthn/authenticate/options?flow={flow_id}", csrf)
    body = keyholder.get(opts.get_json(), ORIGIN)
    url = f"/mfa/webauthn/authenticate/verify?flow={flow_id}"
    assert _post_json(client, url, csrf, body).status_code == 200
    assert _post_json(client, url, csrf, body).status_code == 400


def test_expired_challenge_rejected_M09(client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_MFA)
    with time_machine.travel(T0, tick=False) as traveller:
        flow = Flow(client, rp).login()
        flow_id = query(flow.location)["flow"]
        csrf = _csrf(client)
        opts = _post_json(client, f"/mfa/webauthn/authenticate/options?flow={flow_id}", csrf)
        traveller.shift(301)
        body = keyholder.get(opts.get_json(), ORIGIN)
        resp = _post_json(client, f"/mfa/webauthn/authenticate/verify?flow={flow_id}", csrf, body)
    assert resp.status_code == 400


def test_no_user_verification_when_phr_required_M09(client, db):
    make_user(db)
    soft = SoftAuthenticator(user_verification=False)
    login(client)
    register(client, soft)
    rp = make_client(db)
    _set_min(db, rp, ACR_PHISHING_RESISTANT)
    flow = Flow(client, rp)
    # A registered key may verify the user another time, so it is asked for; its
    # assertion without user verification is refused and the flow stays at the step.
    assert flow.at("/mfa/challenge")
    resp = _assert(client, flow, soft)
    assert resp.status_code == 400 and resp.get_json() == {"ok": False}
    flow_id = query(flow.location)["flow"]
    again = client.get("/authorize?" + urlencode({**flow.params, "idp_flow": flow_id}))
    assert again.headers["Location"] == f"/mfa/challenge?flow={flow_id}"


def test_sign_count_regression_rejected_M09(client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_MFA)
    flow = Flow(client, rp)
    assert _assert(client, flow, keyholder).status_code == 200
    keyholder.sign_count = 0  # a cloned key replays an old counter
    again = Flow(client, rp, prompt="login").login()
    assert _assert(client, again, keyholder).status_code == 400


def test_options_for_foreign_flow_refused(app, client, db, keyholder):
    rp = make_client(db)
    _set_min(db, rp, ACR_MFA)
    flow = Flow(client, rp)
    other = app.test_client()
    make_user(db, "bob")
    login(other, "bob")
    flow_id = query(flow.location)["flow"]
    resp = _post_json(other, f"/mfa/webauthn/authenticate/options?flow={flow_id}", _csrf(other))
    assert resp.status_code == 403
    assert json.loads(resp.data)["ok"] is False


def test_registration_is_audited_and_notified_like_totp_M08(db, keyholder, smtp_sink):
    """M-08 for WebAuthn, through one front door (issue 8): the enrolment service writes
    mfa:webauthn:enrolled for the new factor and tells the person, as confirm_totp does
    for a soft token."""
    factor = db.scalar(select(MfaFactor))
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "mfa:webauthn:enrolled"))
    assert event.details["factor"] == factor.id
    assert event.actor_user_id == event.subject_user_id == factor.user_id
    (mail,) = smtp_sink.to("alice@example.org")
    assert mail["Subject"] == "มีการเพิ่มกุญแจความปลอดภัยใหม่" and "(YubiKey)" in mail_text(mail)


def test_registration_for_another_origin_leaves_no_factor_audit_or_mail_M09(client, db, smtp_sink):
    make_user(db)
    soft = SoftAuthenticator()
    login(client)
    csrf = _csrf(client)
    opts = _post_json(client, "/mfa/webauthn/register/options", csrf).get_json()
    cred = soft.create(opts, "http://evil.example")  # signed for another origin
    resp = _post_json(client, "/mfa/webauthn/register/verify?name=Key", csrf, cred)
    assert resp.status_code == 400
    assert db.scalar(select(MfaFactor)) is None
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "mfa:webauthn:enrolled")) is None
    assert smtp_sink.to("alice@example.org") == []
