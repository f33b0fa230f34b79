"""Logging in for an organisation: org claim, entitled scopes only, no-access page,
choosing among organisations, shrinking at refresh (issue 4; SECURITY.md E-05, E-06)."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.models import User
from idp.orgs import services
from tests.factories import csrf_token, exchange, get_code, login, make_client, make_user, query
from tests.integration.test_mfa import Flow

SCOPES = "openid profile einvoice:submit einvoice:view offline_access"


def claims(client, id_token):
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    return jwt.decode(id_token, keyset, algorithms=["RS256", "ES256"]).claims


@pytest.fixture
def setup(db):
    alice, boss = make_user(db), make_user(db, "boss", name="Boss Person")
    rp = make_client(db, name="e-Invoice")
    submit = services.add_scope(db, rp.client_id, "einvoice:submit", seat_limit=3)
    view = services.add_scope(db, rp.client_id, "einvoice:view")
    org = services.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท ก", name_en="Company A"
    )
    services.allow_client(db, org.id, rp.client_id)
    services.add_member(db, org.id, alice)
    services.add_member(db, org.id, boss, role="admin")
    db.commit()
    return {"alice": alice, "rp": rp, "org": org, "submit": submit, "view": view, "boss": boss}


def test_tokens_carry_org_and_only_held_scopes_E05(client, db, setup):
    services.grant_scope(db, setup["org"].id, setup["alice"].id, setup["view"].id)
    db.commit()
    code, verifier, _ = get_code(client, setup["rp"], scope=SCOPES)
    tokens = exchange(client, setup["rp"], code, verifier).get_json()
    assert "einvoice:view" in tokens["scope"].split()
    assert "einvoice:submit" not in tokens["scope"].split()
    c = claims(client, tokens["id_token"])
    assert c["org"]["identifier"] == "0105536092641" and c["org"]["name_en"] == "Company A"
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.get_json()["org"]["name_th"] == "บริษัท ก"


def test_member_without_entitlement_sees_admins_and_gets_no_code(client, db, setup):
    flow = Flow(client, setup["rp"], scope=SCOPES).login()
    assert flow.resp.status_code == 403
    page = flow.resp.get_data(as_text=True)
    assert "Boss Person" in page and "no-access" in page
    silent = Flow(client, setup["rp"], scope=SCOPES, prompt="none")
    assert query(silent.location)["error"] == "access_denied"


def test_non_member_gets_no_access(client, db, setup):
    make_user(db, "stranger")
    flow = Flow(client, setup["rp"], scope=SCOPES).login("stranger")
    assert flow.resp.status_code == 403 and "code=" not in flow.location


def test_choosing_among_organisations_is_remembered(client, db, setup):
    alice, rp = setup["alice"], setup["rp"]
    other = services.create_org(db, kind="agency", identifier="MOC-01", name_th="กรม ข")
    services.allow_client(db, other.id, rp.client_id)
    services.add_member(db, other.id, db.get(User, alice.id))
    services.grant_scope(db, other.id, alice.id, setup["submit"].id)
    services.grant_scope(db, setup["org"].id, alice.id, setup["view"].id)
    db.commit()
    login(client)
    flow = Flow(client, rp, scope=SCOPES)
    assert "/orgs/select" in flow.location
    page = client.get(flow.location).get_data(as_text=True)
    resp = client.post(flow.location, data={"org_id": other.id, "csrf_token": csrf_token(page)})
    flow.resp = client.get(resp.headers["Location"])
    flow.follow()
    tokens = flow.tokens()
    assert claims(client, tokens["id_token"])["org"]["identifier"] == "MOC-01"
    assert "einvoice:submit" in tokens["scope"] and "einvoice:view" not in tokens["scope"]
    again = Flow(client, rp, scope=SCOPES)  # remembered: no question
    assert "code=" in again.location
    asked = Flow(client, rp, scope=SCOPES, prompt="select_account")
    assert "/orgs/select" in asked.location


def test_organisation_choice_is_remembered_across_sessions_until_forgotten(app, db, setup):
    """Issue 4: the choice is kept per client (not per browser session); the account
    page's "ask me again" makes the next login ask."""
    alice, rp = setup["alice"], setup["rp"]
    other = services.create_org(db, kind="agency", identifier="MOC-01", name_th="กรม ข")
    services.allow_client(db, other.id, rp.client_id)
    services.add_member(db, other.id, db.get(User, alice.id))
    services.grant_scope(db, other.id, alice.id, setup["submit"].id)
    services.grant_scope(db, setup["org"].id, alice.id, setup["view"].id)
    db.commit()
    first = app.test_client()
    login(first)
    flow = Flow(first, rp, scope=SCOPES)
    page = first.get(flow.location).get_data(as_text=True)
    first.post(flow.location, data={"org_id": other.id, "csrf_token": csrf_token(page)})

    browser = app.test_client()  # a new browser: a new session
    login(browser)
    again = Flow(browser, rp, scope=SCOPES)
    assert "code=" in again.location
    tokens = exchange(browser, rp, query(again.location)["code"], again.verifier).get_json()
    assert claims(browser, tokens["id_token"])["org"]["identifier"] == "MOC-01"

    home = browser.get("/account").get_data(as_text=True)
    assert "กรม ข" in home
    browser.post(
        f"/account/org-choices/{rp.client_id}/forget", data={"csrf_token": csrf_token(home)}
    )
    assert "/orgs/select" in Flow(browser, rp, scope=SCOPES).location


def test_revoked_scope_is_gone_at_next_refresh_E06(client, db, setup):
    org, alice, rp = setup["org"], setup["alice"], setup["rp"]
    services.grant_scope(db, org.id, alice.id, setup["view"].id)
    services.grant_scope(db, org.id, alice.id, setup["submit"].id)
    db.commit()
    code, verifier, _ = get_code(client, rp, scope=SCOPES)
    tokens = exchange(client, rp, code, verifier).get_json()
    assert "einvoice:submit" in tokens["scope"]
    services.revoke_scope(db, org.id, alice.id, setup["submit"].id)
    db.commit()
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    ).get_json()
    assert "einvoice:submit" not in refreshed["scope"] and "einvoice:view" in refreshed["scope"]
    assert claims(client, refreshed["id_token"])["org"]["identifier"] == "0105536092641"


def test_scope_assurance_level_demands_step_up(client, db, setup):
    """A declared scope's level (e.g. gfmis:disburse needs mfa) is enforced at login."""
    from idp.oidc.acr import ACR_MFA

    setup["submit"].min_acr = ACR_MFA
    services.grant_scope(db, setup["org"].id, setup["alice"].id, setup["submit"].id)
    db.commit()
    flow = Flow(client, setup["rp"], scope=SCOPES).login()
    assert "/mfa/enrol" in flow.location  # alice has no factor yet: enrol first
    plain = Flow(client, setup["rp"], scope="openid profile")  # without the scope: no step-up
    assert "code=" in plain.location


def _refresh(client, rp, refresh_token):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(rp.client_id, rp.secret),
    )


def test_refresh_rechecks_scope_levels_raised_after_the_login_issue8(client, db, setup):
    """The refresh grant re-checks through the same requirement builder as /authorize:
    a scope whose assurance level was raised above the grant's acr cannot be refreshed
    into a token (no refresh bypass of step-up; RFC 6749 section 6, SECURITY.md P-24)."""
    from idp.oidc.acr import ACR_MFA

    org, alice, rp = setup["org"], setup["alice"], setup["rp"]
    services.grant_scope(db, org.id, alice.id, setup["submit"].id)
    db.commit()
    code, verifier, _ = get_code(client, rp, scope=SCOPES)
    tokens = exchange(client, rp, code, verifier).get_json()
    setup["submit"].min_acr = ACR_MFA
    db.commit()
    refreshed = _refresh(client, rp, tokens["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_refresh_rechecks_org_membership_and_held_scopes_issue8(client, db, setup):
    """Holding none of the client's scopes any more ends the grant at the next refresh,
    as the same person would be refused at login (E-06, MISSION A4)."""
    org, alice, rp = setup["org"], setup["alice"], setup["rp"]
    services.grant_scope(db, org.id, alice.id, setup["submit"].id)
    db.commit()
    code, verifier, _ = get_code(client, rp, scope=SCOPES)
    tokens = exchange(client, rp, code, verifier).get_json()
    services.revoke_scope(db, org.id, alice.id, setup["submit"].id)
    db.commit()
    refreshed = _refresh(client, rp, tokens["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.get_json()["error"] == "invalid_grant"
