"""Enrolling a new factor is not a step-up (SECURITY.md M-08): a session that has only
the password of a person who already has a second factor cannot pass step-up by adding
its own authenticator through the flow's enrolment page (found in review, issue 8)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.models import MfaFactor
from idp.oidc.acr import ACR_MFA
from tests.factories import csrf_token, login, make_client, make_user, query
from tests.integration.test_mfa import Flow, _client_row, enrol_totp
from tests.otp import oathtool_code


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


def _try_enrol_own(client, url):
    """Walk the TOTP enrolment as the attacker would; the response of the last step."""
    resp = client.get(url)
    if resp.status_code != 200:
        return resp
    page = resp.get_data(as_text=True)
    resp = client.post(url, data={"step": "start", "name": "x", "csrf_token": csrf_token(page)})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    return client.post(
        url,
        data={
            "step": "confirm",
            "method": "totp",
            "code": oathtool_code(secret),
            "csrf_token": csrf_token(page),
        },
    )


def test_challenge_flow_cannot_be_satisfied_by_enrolling_M08(client, db, settings):
    make_user(db)
    enrol_totp(db, settings)  # the person's own factor; the attacker has only the password
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    flow = Flow(client, rp).login()
    assert flow.at("/mfa/challenge")
    fid = query(flow.location)["flow"]
    resp = _try_enrol_own(client, f"/mfa/enrol?flow={fid}")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/mfa/challenge")
    again = Flow(client, rp)  # a new request: still owes the second factor
    assert again.at("/mfa/challenge")


def test_renewal_needs_the_soft_token_code_of_this_flow_M08(client, db, settings):
    make_user(db)
    enrol_totp(db, settings)
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    flow = Flow(client, rp).login()
    fid = query(flow.location)["flow"]
    factor_id = db.scalar(select(MfaFactor.id).where(MfaFactor.kind == "totp"))
    resp = client.get(f"/mfa/enrol?flow={fid}&renew={factor_id}")
    assert resp.status_code == 400


def test_console_step_up_cannot_be_satisfied_by_enrolling_M08(client, db, settings):
    user = make_user(db)
    user.is_operator = True
    db.commit()
    enrol_totp(db, settings)
    login(client, "alice", "correct horse battery staple", None)
    loc = client.get("/operator").headers["Location"]
    assert "/mfa/challenge" in loc
    _try_enrol_own(client, f"/mfa/enrol?flow={query(loc)['flow']}")
    resp = client.get("/operator/orgs")
    assert resp.status_code == 303 and "/mfa/challenge" in resp.headers["Location"]
