"""Step-up MFA through /authorize (SECURITY.md M-01..M-11, A-03; issue 3)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.mfa import services
from idp.models import AuditEvent, MfaFactor, User
from idp.oidc.acr import ACR_MFA, ACR_MFA_EMAIL, ACR_PASSWORD, ACR_PHISHING_RESISTANT
from tests.factories import (
    authorize_params,
    confirm,
    csrf_token,
    exchange,
    login,
    mail_text,
    make_client,
    make_user,
    pkce_pair,
    query,
)
from tests.otp import oathtool_code

T0 = 1_800_000_000  # within the two-year validity of tokens enrolled "now"


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


def enrol_totp(db, settings, username="alice") -> str:
    user = db.scalar(select(User).where(User.username_key == username))
    factor, secret = services.start_totp(db, settings, user, "Phone")
    factor.status = "active"
    db.commit()
    return secret


def claims(client, id_token):
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    return jwt.decode(id_token, keyset, algorithms=["RS256", "ES256"]).claims


class Flow:
    """Drives /authorize like a browser and stops at the first page it cannot answer."""

    def __init__(self, client, rp, **params):
        self.client, self.rp = client, rp
        self.verifier, challenge = pkce_pair()
        self.params = authorize_params(rp, challenge, **params)
        self.resp = client.get("/authorize?" + urlencode(self.params))
        self.follow()

    @property
    def location(self) -> str:
        return self.resp.headers.get("Location", "")

    def follow(self):
        while self.resp.status_code in (302, 303):
            loc = self.location
            if (
                loc.startswith(self.rp.redirect_uri)
                or "/login" in loc
                or "/mfa/" in loc
                or "/orgs/" in loc
            ):
                return self
            self.resp = self.client.get(loc)
        return self

    def at(self, path: str) -> bool:
        return path in self.location

    def open_page(self):
        page = self.client.get(self.location)
        self.page_url, self.page = self.location, page.get_data(as_text=True)
        return self.page

    def login(self, username="alice", password=None):
        flow = query(self.location)["flow"]
        self.resp = login(self.client, username, password or "correct horse battery staple", flow)
        return self.follow()

    def submit_code(self, method: str, code: str):
        if self.resp.status_code in (302, 303) and "/mfa/" in self.location:
            self.open_page()
        self.resp = self.client.post(
            self.page_url,
            data={"method": method, "code": code, "csrf_token": csrf_token(self.page)},
        )
        return self.follow()

    def tokens(self) -> dict:
        q = query(self.location)
        assert "code" in q, f"no code: {self.location} {self.resp.status_code}"
        resp = exchange(self.client, self.rp, q["code"], self.verifier)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()


@pytest.fixture
def alice(db):
    return make_user(db)


def test_acr_values_mfa_steps_up_password_session_M01(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    with time_machine.travel(T0, tick=False) as traveller:
        first = Flow(client, rp).login().tokens()
        assert claims(client, first["id_token"])["acr"] == ACR_PASSWORD
        traveller.shift(40)
        flow = Flow(client, rp, acr_values=ACR_MFA)
        assert flow.at("/mfa/challenge"), (flow.resp.status_code, flow.location)  # no password page
        flow.submit_code("totp", oathtool_code(secret))
        c = claims(client, flow.tokens()["id_token"])
    assert c["acr"] == ACR_MFA
    assert {"pwd", "otp", "mfa"} <= set(c["amr"])
    assert c["auth_time"] == T0 + 40


def test_step_up_rotates_session_id_S02(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db, skip_consent=True)
    flow = Flow(client, rp, acr_values=ACR_MFA).login()
    before = client.get_cookie("idp_session").value
    flow.submit_code("totp", oathtool_code(secret))
    assert client.get_cookie("idp_session").value != before


def test_essential_mfa_without_factor_is_access_denied_M02(client, db, alice):
    rp = make_client(db)
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [ACR_MFA]}}})
    flow = Flow(client, rp, claims=essential).login()
    q = query(flow.location)
    assert q["error"] == "access_denied" and "code" not in q
    assert q["error_description"]


def test_essential_unknown_acr_is_error_voluntary_unknown_falls_back_M03(client, db, alice):
    rp = make_client(db)
    essential = '{"id_token":{"acr":{"essential":true,"values":["urn:nope"]}}}'
    assert query(Flow(client, rp, claims=essential).login().location)["error"] == "access_denied"
    tokens = Flow(client, rp, acr_values="urn:nope").tokens()
    assert claims(client, tokens["id_token"])["acr"] == ACR_PASSWORD


def test_voluntary_mfa_without_factor_falls_back_to_password(client, db, alice):
    rp = make_client(db)
    tokens = Flow(client, rp, acr_values=ACR_MFA).login().tokens()
    assert claims(client, tokens["id_token"])["acr"] == ACR_PASSWORD


def test_malformed_claims_parameter_is_invalid_request(client, db, alice):
    rp = make_client(db)
    login(client)
    flow = Flow(client, rp, claims="{not json")
    assert query(flow.location)["error"] == "invalid_request"


def test_client_minimum_enforced_without_acr_values_M04(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db, skip_consent=True)
    rp_row = _client_row(db, rp)
    rp_row.min_acr = ACR_MFA
    db.commit()
    login(client)
    silent = Flow(client, rp, prompt="none")
    assert query(silent.location)["error"] == "interaction_required"
    flow = Flow(client, rp)
    assert flow.at("/mfa/challenge")
    flow.submit_code("totp", oathtool_code(secret))
    assert claims(client, flow.tokens()["id_token"])["acr"] == ACR_MFA


def _client_row(db, rp):
    from idp.models import Client

    return db.scalar(select(Client).where(Client.client_id == rp.client_id))


def test_refresh_cannot_bypass_raised_minimum_M04(client, db, alice):
    rp = make_client(db)
    tokens = Flow(client, rp, scope="openid offline_access").login().tokens()
    row = _client_row(db, rp)
    row.min_acr = ACR_MFA
    db.commit()
    resp = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_max_age_zero_redoes_password_and_second_factor_M05(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    with time_machine.travel(T0, tick=False) as traveller:
        flow = Flow(client, rp, acr_values=ACR_MFA).login()
        flow.submit_code("totp", oathtool_code(secret))
        first = claims(client, flow.tokens()["id_token"])
        traveller.shift(60)
        again = Flow(client, rp, acr_values=ACR_MFA, max_age="0")
        assert again.at("/login")
        again.login()
        assert again.at("/mfa/challenge")
        again.submit_code("totp", oathtool_code(secret))
        second = claims(client, again.tokens()["id_token"])
    assert second["auth_time"] == first["auth_time"] + 60 and second["acr"] == ACR_MFA


def _email_code(inbox, address) -> str:
    body = mail_text(inbox.to(address)[-1])
    return re.search(r"\b(\d{6})\b", body).group(1)


def _send_email(flow):
    flow.open_page()
    return flow.client.post(
        f"/mfa/email/send?flow={query(flow.location)['flow']}",
        data={"csrf_token": csrf_token(flow.page)},
    )


def test_email_otp_reaches_only_mfa_email_M06(client, db, alice, smtp_sink):
    rp = make_client(db)
    row = _client_row(db, rp)
    row.min_acr = ACR_MFA_EMAIL
    db.commit()
    flow = Flow(client, rp).login()
    assert flow.at("/mfa/challenge")
    assert _send_email(flow).status_code == 303
    flow.submit_code("email", _email_code(smtp_sink, "alice@example.org"))
    c = claims(client, flow.tokens()["id_token"])
    assert c["acr"] == ACR_MFA_EMAIL and "email" in c["amr"] and c["acr"] != ACR_MFA


def test_mfa_client_does_not_offer_email_M06(client, db, settings, alice):
    enrol_totp(db, settings)
    rp = make_client(db)
    flow = Flow(client, rp, acr_values=ACR_MFA).login()
    page = flow.open_page()
    assert 'value="email"' not in page and 'value="totp"' in page


def test_email_resend_limits_and_expiry_A10(client, db, alice, smtp_sink):
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA_EMAIL
    db.commit()
    with time_machine.travel(T0, tick=False) as traveller:
        flow = Flow(client, rp).login()
        _send_email(flow)
        first = _email_code(smtp_sink, "alice@example.org")
        too_soon = _send_email(flow)
        assert too_soon.status_code == 429 and too_soon.headers["Retry-After"] == "90"
        assert len(smtp_sink.to("alice@example.org")) == 1
        # Resend until the new code differs from the first (two random 6-digit codes
        # collide once in a million; three in a row only if resending reuses the code,
        # which is itself the bug), so the superseded-code check below always runs.
        for sent in range(2, 5):
            traveller.shift(90)
            assert _send_email(flow).status_code == 303
            second = _email_code(smtp_sink, "alice@example.org")
            assert len(smtp_sink.to("alice@example.org")) == sent
            if second != first:
                break
        assert second != first, "every resend carried the first code again"
        flow.submit_code("email", first)
        assert flow.resp.status_code == 400  # superseded code refused (SECURITY.md 7)
        traveller.shift(601)
        flow.submit_code("email", second)
        assert flow.resp.status_code == 400  # expired after 10 minutes


def test_totp_replay_and_stale_code_rejected_M07(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    with time_machine.travel(T0, tick=False) as traveller:
        code = oathtool_code(secret)
        flow = Flow(client, rp, acr_values=ACR_MFA).login()
        flow.submit_code("totp", code)
        flow.tokens()
        traveller.shift(10)
        again = Flow(client, rp, acr_values=ACR_MFA, max_age="0").login()
        again.submit_code("totp", code)  # same step: replay
        assert again.resp.status_code == 400
        stale = oathtool_code(secret, T0 - 90)
        again.submit_code("totp", stale)
        assert again.resp.status_code == 400
        traveller.shift(30)
        again.submit_code("totp", oathtool_code(secret))
        assert again.tokens()["id_token"]


def test_password_and_totp_failures_share_one_counter_A03(client, db, settings, alice):
    """The right password does not reset the counter while the person's second factor
    is still to come: only a completed login does (documented rule)."""
    enrol_totp(db, settings)
    rp = make_client(db)
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            login(client, password="wrong password!")
        flow = Flow(client, rp, acr_values=ACR_MFA).login()
        for _ in range(2):
            flow.submit_code("totp", "000000")
        user = db.scalar(select(User).where(User.username_key == "alice"))
        db.refresh(user)
        assert user.locked_until == T0 + 300


def test_user_without_factor_is_led_through_totp_enrolment(client, db, smtp_sink, alice):
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    flow = Flow(client, rp).login()
    assert flow.at("/mfa/enrol")
    page = flow.open_page()
    resp = client.post(
        flow.page_url, data={"step": "start", "name": "My phone", "csrf_token": csrf_token(page)}
    )
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    wrong = client.post(
        flow.page_url,
        data={
            "step": "confirm",
            "method": "totp",
            "code": "000000",
            "csrf_token": csrf_token(page),
        },
    )
    assert wrong.status_code == 400
    factor = db.scalar(select(MfaFactor))
    assert factor.status == "pending"  # M-08: not active before a valid code
    done = client.post(
        flow.page_url,
        data={
            "step": "confirm",
            "method": "totp",
            "code": oathtool_code(secret),
            "csrf_token": csrf_token(page),
        },
    )
    body = done.get_data(as_text=True)
    codes = re.findall(r"<code>([0-9a-f]{8}-[0-9a-f]{8})</code>", body)
    assert len(codes) == 10  # recovery codes shown once at the first enrolment
    assert secret not in body
    cont = re.search(r'id="continue" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    flow.resp = client.get(cont)
    flow.follow()
    assert claims(client, flow.tokens()["id_token"])["acr"] == ACR_MFA
    # alice chose no language: the deployment default, Thai
    assert any("แอปยืนยันตัวตน" in m["Subject"] for m in smtp_sink.to("alice@example.org"))


def test_recovery_code_single_use(client, db, settings, alice):
    enrol_totp(db, settings)
    user = db.scalar(select(User).where(User.username_key == "alice"))
    codes = services.regenerate_recovery_codes(db, settings, user)
    db.commit()
    rp = make_client(db)
    with time_machine.travel(T0, tick=False) as traveller:
        flow = Flow(client, rp, acr_values=ACR_MFA).login()
        flow.submit_code("recovery", codes[0])
        c = claims(client, flow.tokens()["id_token"])
        assert c["acr"] == ACR_MFA
        traveller.shift(5)
        again = Flow(client, rp, acr_values=ACR_MFA, max_age="0").login()
        again.submit_code("recovery", codes[0])
        assert again.resp.status_code == 400
        again.submit_code("recovery", codes[1])
        assert again.tokens()["id_token"]


def test_flow_of_another_session_is_refused_M10(app, client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    flow = Flow(client, rp, acr_values=ACR_MFA).login()
    other = app.test_client()
    login(other)
    page = other.get("/account").get_data(as_text=True)
    resp = other.post(
        flow.location,
        data={"method": "totp", "code": oathtool_code(secret), "csrf_token": csrf_token(page)},
    )
    assert resp.status_code == 400 and b"flow_expired" in resp.data


def test_skipping_the_step_gets_no_code_M10(client, db, settings, alice):
    """SECURITY.md M-10: after the password, going straight back to /authorize with the
    live flow (same session, the very same parameters, so the flow is honoured) still
    asks for the second factor; a flow that was sent to a step is not a pass."""
    enrol_totp(db, settings)
    rp = make_client(db)
    flow = Flow(client, rp, acr_values=ACR_MFA).login()
    assert flow.at("/mfa/challenge")
    flow_id = query(flow.location)["flow"]
    resp = client.get("/authorize?" + urlencode({**flow.params, "idp_flow": flow_id}))
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/mfa/challenge?flow={flow_id}"  # the same flow


def test_revoking_last_factor_blocked_when_client_needs_mfa_M11(
    client, db, settings, alice, smtp_sink
):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    flow = Flow(client, rp).login()
    flow.submit_code("totp", oathtool_code(secret))
    flow.tokens()
    factor = db.scalar(select(MfaFactor))
    page = client.get("/account/security").get_data(as_text=True)
    resp = client.post(
        f"/account/security/factors/{factor.id}/revoke",
        data={"reason": "lost_device", "csrf_token": csrf_token(page)},
    )
    assert "m=last_factor" in resp.headers["Location"]
    db.refresh(factor)
    assert factor.status == "active"
    # Without such a client the factor can be revoked, with mail and an audit record.
    _client_row(db, rp).min_acr = ACR_PASSWORD
    db.commit()
    resp = client.post(
        f"/account/security/factors/{factor.id}/revoke",
        data={"reason": "lost_device", "csrf_token": csrf_token(page)},
    )
    confirm(client, resp)
    db.refresh(factor)
    assert factor.status == "revoked" and factor.revoke_reason == "lost_device"
    assert any("ถูกลบ" in m["Subject"] for m in smtp_sink.to("alice@example.org"))
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "mfa:factor:revoked"))


def test_factor_changes_need_recent_password(client, db, settings, alice):
    enrol_totp(db, settings)
    factor = db.scalar(select(MfaFactor))
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.shift(601)
        page = client.get("/account/security").get_data(as_text=True)
        resp = client.post(
            f"/account/security/factors/{factor.id}/revoke",
            data={"reason": "other", "csrf_token": csrf_token(page)},
        )
        assert "/login?next=security" in resp.headers["Location"]
        assert client.get("/account/security/totp").status_code == 303
    db.refresh(factor)
    assert factor.status == "active"


def test_security_page_lists_and_renames_factors(client, db, settings, alice):
    enrol_totp(db, settings)
    factor = db.scalar(select(MfaFactor))
    login(client)
    page = client.get("/account/security").get_data(as_text=True)
    assert "Phone" in page
    client.post(
        f"/account/security/factors/{factor.id}/rename",
        data={"name": "Work phone", "csrf_token": csrf_token(page)},
    )
    db.refresh(factor)
    assert factor.name == "Work phone"


def test_expired_soft_token_cannot_complete_mfa_login(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    with time_machine.travel(T0 + 731 * 86400, tick=False):
        flow = Flow(client, rp).login()
        assert flow.at("/mfa/enrol")  # the expired token does not count: renew (re-enrol)
        # A correct code of the expired token, posted to the challenge of this very flow
        # (which accepts TOTP), is refused and no code reaches the client (MISSION B5).
        flow_id = query(flow.location)["flow"]
        page = flow.open_page()
        resp = client.post(
            f"/mfa/challenge?flow={flow_id}",
            data={"method": "totp", "code": oathtool_code(secret), "csrf_token": csrf_token(page)},
        )
        assert resp.status_code == 400
        again = client.get("/authorize?" + urlencode({**flow.params, "idp_flow": flow_id}))
        assert again.headers["Location"] == f"/mfa/enrol?flow={flow_id}"


def test_phr_needs_webauthn_user_verification(client, db, settings, alice):
    """TOTP alone cannot reach phr: the person proves the TOTP first (enrolling with a
    password alone is not a step-up, M-08), then registers a security key."""
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_PHISHING_RESISTANT
    db.commit()
    flow = Flow(client, rp).login()
    assert flow.at("/mfa/enrol")
    flow.resp = client.get(flow.location)
    assert flow.at("/mfa/challenge")
    flow.submit_code("totp", oathtool_code(secret))
    while flow.resp.status_code in (302, 303) and not flow.at("/mfa/enrol"):
        flow.resp = client.get(flow.location)
    assert flow.at("/mfa/enrol")
    page = flow.open_page()
    assert "webauthn-register" in page


def test_renewal_offered_in_last_30_days_and_renew_replaces_token_B5(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    old = db.scalar(select(MfaFactor))
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    with time_machine.travel(old.expires_at - 10 * 86400, tick=False):
        flow = Flow(client, rp).login()
        flow.submit_code("totp", oathtool_code(secret))
        page = flow.resp.get_data(as_text=True)
        assert flow.resp.status_code == 200 and 'id="renew-now"' in page
        assert 'id="renew-later"' in page
        renew = re.search(r'id="renew-now" href="([^"]+)"', page).group(1).replace("&amp;", "&")
        start = client.get(renew).get_data(as_text=True)
        resp = client.post(
            renew, data={"step": "start", "name": "New phone", "csrf_token": csrf_token(start)}
        )
        enrol_page = client.get(resp.headers["Location"]).get_data(as_text=True)
        new_secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol_page).group(1)
        done = client.post(
            renew,
            data={
                "step": "confirm",
                "method": "totp",
                "code": oathtool_code(new_secret),
                "csrf_token": csrf_token(enrol_page),
            },
        )
        assert done.status_code == 200
    db.refresh(old)
    assert old.status == "revoked" and old.revoke_reason == "renewed"
    assert db.scalar(select(MfaFactor).where(MfaFactor.status == "active")).name == "New phone"


def test_no_renewal_prompt_early_in_validity(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    rp = make_client(db)
    flow = Flow(client, rp, acr_values=ACR_MFA).login()
    flow.submit_code("totp", oathtool_code(secret))
    assert flow.resp.status_code == 302 and "code=" in flow.location


@pytest.mark.parametrize("role", ["org_admin", "operator"])
def test_console_users_cannot_revoke_their_last_strong_factor_M11(
    client, db, settings, alice, role
):
    """Consoles need mfa: an org admin or operator keeps at least one strong factor."""
    from idp.orgs import services as orgs

    enrol_totp(db, settings)
    if role == "operator":
        db.get(User, alice.id).is_operator = True
    else:
        org = orgs.create_org(db, kind="agency", identifier="MOC-01", name_th="กรม")
        orgs.add_member(db, org.id, db.get(User, alice.id), role="admin")
    db.commit()
    login(client)
    factor = db.scalar(select(MfaFactor))
    page = client.get("/account/security").get_data(as_text=True)
    resp = client.post(
        f"/account/security/factors/{factor.id}/revoke",
        data={"reason": "lost_device", "csrf_token": csrf_token(page)},
    )
    assert "m=last_factor" in resp.headers["Location"]
    db.refresh(factor)
    assert factor.status == "active"
