"""Issue 10 in tokens: the ``membership`` claim, ``verified_claims`` (OpenID Connect for
Identity Assurance 1.0) from stored verdicts only (SECURITY.md X-04), the membership
sign-in step (R-05), tokens that stop working with the membership (R-06, R-07) and the
personal-data notice step (PDPA)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
import time_machine
from sqlalchemy import select

from idp.db import now
from idp.enrollment import membership, notices
from idp.enrollment.verdicts import set_state
from idp.models import Client, IdentityVerification, NoticeAcceptance, ReviewItem, User
from tests.factories import (
    authorize_params,
    csrf_token,
    exchange,
    get_code,
    login,
    make_client,
    make_user,
    pkce_pair,
    query,
)

SCOPES = ["openid", "profile", "email", "offline_access", "membership", "verified_claims"]
VERIFIED = {
    "given_name": "Somchai",
    "family_name": "Jaidee",
    "birthdate": "1990-05-01",
    "given_name#th": "สมชาย",
    "family_name#th": "ใจดี",
}
DAY = 86400


def payload(id_token: str) -> dict:
    part = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify(db, user: User, at: int | None = None, **kw) -> None:
    db.add(
        IdentityVerification(
            user_id=user.id,
            method=kw.get("method", "registry"),
            outcome="verified",
            at=at or now(),
            evidence_ref="txn-1",
            trust_framework=kw.get("trust_framework", "th_dopa"),
            evidence_type="electronic_record",
            claims=VERIFIED,
        )
    )
    db.commit()


def put_state(db, user: User, state: membership.State) -> None:
    row = db.get(User, user.id)
    set_state(row, state)
    db.commit()


@pytest.fixture
def rp(db):
    return make_client(db, scopes=SCOPES)


@pytest.fixture
def alice(db):
    return make_user(db)


def tokens(client, rp, scope="openid", **extra):
    code, verifier, _ = get_code(client, rp, scope=scope, **extra)
    return exchange(client, rp, code, verifier).get_json()


def userinfo(client, access_token):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


# -- discovery ---------------------------------------------------------------------


def test_discovery_advertises_identity_assurance_ida_1_0_section_8(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["verified_claims_supported"] is True
    assert "th_dopa" in meta["trust_frameworks_supported"]
    assert meta["evidence_supported"] == ["electronic_record", "document"]
    assert "given_name#th" in meta["claims_in_verified_claims_supported"]
    assert {"membership", "verified_claims"} <= set(meta["claims_supported"])
    assert {"membership", "verified_claims"} <= set(meta["scopes_supported"])


# -- claims ------------------------------------------------------------------------


def test_membership_claim_by_its_scope(client, db, rp, alice):
    put_state(
        db,
        alice,
        membership.State(
            membership.MemberType.PUBLIC, membership.Status.TEMPORARY, now() + 10 * DAY
        ),
    )
    got = tokens(client, rp, scope="openid membership")
    claim = payload(got["id_token"])["membership"]
    assert claim["type"] == "public" and claim["state"] == "temporary"
    assert claim["badge"] is False and claim["expires_at"] > now()
    assert userinfo(client, got["access_token"]).get_json()["membership"] == claim


def test_no_membership_claim_without_its_scope(client, rp, alice):
    got = tokens(client, rp, scope="openid")
    assert "membership" not in payload(got["id_token"])
    assert "membership" not in userinfo(client, got["access_token"]).get_json()


def test_verified_claims_scope_releases_the_stored_verdict_X04(client, db, rp, alice):
    verify(db, alice)
    got = tokens(client, rp, scope="openid verified_claims")
    vc = payload(got["id_token"])["verified_claims"]
    assert vc["verification"]["trust_framework"] == "th_dopa"
    assert vc["verification"]["evidence"][0]["type"] == "electronic_record"
    assert vc["claims"] == VERIFIED
    assert userinfo(client, got["access_token"]).get_json()["verified_claims"] == vc


def test_no_verified_claims_for_a_person_not_verified(client, rp, alice):
    got = tokens(client, rp, scope="openid verified_claims")
    assert "verified_claims" not in payload(got["id_token"])
    assert "verified_claims" not in userinfo(client, got["access_token"]).get_json()


def test_claims_parameter_selects_target_and_sub_claims_ida_section_6(client, db, rp, alice):
    verify(db, alice)
    claims = {
        "userinfo": {
            "verified_claims": {
                "verification": {"trust_framework": None, "time": None},
                "claims": {"given_name#th": None, "birthdate": None},
            }
        }
    }
    got = tokens(client, rp, scope="openid", claims=json.dumps(claims))
    assert "verified_claims" not in payload(got["id_token"])  # asked for userinfo only
    vc = userinfo(client, got["access_token"]).get_json()["verified_claims"]
    assert vc["claims"] == {"given_name#th": "สมชาย", "birthdate": "1990-05-01"}
    assert set(vc["verification"]) == {"trust_framework", "time"}
    assert "verified_claims" in got["scope"].split()


def test_claims_parameter_trust_framework_constraint_not_met(client, db, rp, alice):
    verify(db, alice)
    claims = {
        "id_token": {
            "verified_claims": {
                "verification": {"trust_framework": {"value": "eidas"}},
                "claims": {"given_name": None},
            }
        }
    }
    got = tokens(client, rp, scope="openid", claims=json.dumps(claims))
    assert "verified_claims" not in payload(got["id_token"])


def test_refreshed_id_token_keeps_the_claims_request(client, db, rp, alice):
    verify(db, alice)
    claims = {"id_token": {"verified_claims": {"claims": {"family_name": None}}}}
    got = tokens(client, rp, scope="openid offline_access", claims=json.dumps(claims))
    again = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": got["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    ).get_json()
    assert payload(again["id_token"])["verified_claims"]["claims"] == {"family_name": "Jaidee"}


def test_claims_parameter_ignored_for_a_client_not_allowed_verified_claims(client, db, alice):
    verify(db, alice)
    plain = make_client(db, name="Plain")
    claims = {"id_token": {"verified_claims": {"claims": {"given_name": None}}}}
    got = tokens(client, plain, scope="openid", claims=json.dumps(claims))
    assert "verified_claims" not in payload(got["id_token"])
    assert got["scope"] == "openid"


def test_malformed_verified_claims_request_is_invalid_request(client, rp, alice):
    login(client)
    verifier, challenge = pkce_pair()
    bad = json.dumps({"userinfo": {"verified_claims": "all"}})
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, claims=bad)))
    assert query(resp.headers["Location"])["error"] == "invalid_request"


def test_identity_document_number_never_in_tokens_X04(client, db, alice):
    verify(db, alice)
    rp = make_client(db, scopes=SCOPES)
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.release_id_document = True  # even then: no document claim is defined (README)
    db.commit()
    got = tokens(client, rp, scope="openid profile verified_claims membership")
    body = json.dumps(payload(got["id_token"])) + userinfo(client, got["access_token"]).get_data(
        as_text=True
    )
    assert "id_doc" not in body and "national_id" not in body and "passport" not in body


# -- the membership step (R-05) -----------------------------------------------------


def start(client, rp, **extra):
    """/authorize for a signed-in alice; the first page the sign-in sends her to."""
    login(client)
    _, challenge = pkce_pair()
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, **extra)))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    return resp.headers["Location"]


S = membership.Status
PUBLIC, STAFF = membership.MemberType.PUBLIC, membership.MemberType.STAFF


@pytest.mark.parametrize(
    "state,required,page_id,verify_link",
    [
        (membership.State(PUBLIC, S.EXPIRED), None, "membership-membership_expired", True),
        (membership.State(STAFF, S.PENDING), None, "membership-membership_pending", False),
        (membership.State(STAFF, S.REJECTED), None, "membership-membership_rejected", True),
        (
            membership.State(PUBLIC, S.TEMPORARY, 2_000_000_000),
            "verified",
            "membership-membership_insufficient",
            True,
        ),
        (
            membership.State(PUBLIC, S.VERIFIED),
            "staff_verified",
            "membership-membership_insufficient",
            True,
        ),
    ],
)
def test_membership_step_pages_R05(client, db, alice, state, required, page_id, verify_link):
    rp = make_client(db, scopes=SCOPES, name="Search")
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.required_membership = required
    db.commit()
    put_state(db, alice, state)
    where = start(client, rp)
    assert "/signin/membership" in where
    page = client.get(where)
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and f'id="{page_id}"' in html
    assert ('id="membership-verify"' in html) is verify_link
    assert 'id="back-to-client"' in html and "error=access_denied" in html


def test_rejected_page_shows_the_reviewers_reason(client, db, alice):
    rp = make_client(db, scopes=SCOPES)
    put_state(db, alice, membership.State(STAFF, S.REJECTED))
    db.add(
        ReviewItem(
            kind="staff_verification",
            status="rejected",
            user_id=alice.id,
            submitted_at=now() - 100,
            updated_at=now(),
            decided_at=now(),
            reason="The card photo is unreadable",
        )
    )
    db.commit()
    html = client.get(start(client, rp)).get_data(as_text=True)
    assert "The card photo is unreadable" in html


def test_membership_step_silent_is_interaction_required(client, db, rp, alice):
    put_state(db, alice, membership.State(PUBLIC, S.EXPIRED))
    where = start(client, rp, prompt="none")
    assert query(where)["error"] == "interaction_required"


def test_verify_now_keeps_the_flow_and_returning_verified_continues(client, db, alice):
    rp = make_client(db, scopes=SCOPES)
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.required_membership = "verified"
    db.commit()
    put_state(db, alice, membership.State(PUBLIC, S.TEMPORARY, now() + DAY))
    where = start(client, rp)
    html = client.get(where).get_data(as_text=True)
    assert "/account/verify?next=" in html
    verify_page = client.get("/account/verify?" + urlencode({"next": "/authorize?x=1"}))
    assert verify_page.status_code == 200
    assert 'href="/authorize?x=1"' in verify_page.get_data(as_text=True)
    # Verified meanwhile (by whichever verifier): the same flow goes on to the client.
    put_state(db, alice, membership.State(PUBLIC, S.VERIFIED))
    resumed = client.get(where)
    assert resumed.status_code == 303 and "/authorize" in resumed.headers["Location"]
    final = client.get(resumed.headers["Location"].replace("http://localhost", ""))
    assert (
        final.headers["Location"].startswith(rp.redirect_uri)
        and "code=" in final.headers["Location"]
    )


def test_verify_page_offers_staff_their_document_upload_C3(client, db, alice):
    """A staff member's way to the badge without a directory match is the document
    (the applicant's application page); a member of the public is not offered it."""
    login(client)
    public = client.get("/account/verify").get_data(as_text=True)
    assert 'href="/account/application' not in public
    put_state(db, alice, membership.State(membership.MemberType.STAFF, S.TEMPORARY, now() + DAY))
    staff = client.get("/account/verify").get_data(as_text=True)
    assert 'href="/account/application' in staff


def test_verify_page_drops_a_next_that_leaves_the_site(client, alice):
    login(client)
    html = client.get("/account/verify?next=//evil.example/x").get_data(as_text=True)
    assert 'id="verify-continue"' not in html and 'href="//evil.example' not in html


# -- tokens stop with the membership (R-06, R-07) ---------------------------------------


def test_tokens_of_an_expired_temporary_member_stop_working_R06(client, db, rp, alice):
    put_state(db, alice, membership.State(PUBLIC, S.TEMPORARY, now() + 300))
    got = tokens(client, rp, scope="openid offline_access")
    assert userinfo(client, got["access_token"]).status_code == 200
    with time_machine.travel(now() + 400, tick=False):
        assert userinfo(client, got["access_token"]).status_code == 401
        refreshed = client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": got["refresh_token"]},
            auth=(rp.client_id, rp.secret),
        )
        assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    with time_machine.travel(now() + 400, tick=False):
        intro = client.post(
            "/introspect", data={"token": got["access_token"]}, auth=(rp.client_id, rp.secret)
        )
        assert intro.get_json() == {"active": False}


def test_tokens_of_a_rejected_member_stop_working_R07(client, db, rp, alice):
    got = tokens(client, rp, scope="openid offline_access")
    put_state(db, alice, membership.State(STAFF, S.REJECTED))
    assert userinfo(client, got["access_token"]).status_code == 401
    intro = client.post(
        "/introspect", data={"token": got["access_token"]}, auth=(rp.client_id, rp.secret)
    )
    assert intro.get_json() == {"active": False}
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": got["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert refreshed.get_json()["error"] == "invalid_grant"


# -- the personal-data notice (PDPA) ----------------------------------------------------


def publish_v2(db) -> int:
    """A newer notice than the one the people accepted (the migration's version 1 on
    SQLite; PostgreSQL test databases are emptied, so there it is the first)."""
    row = notices.publish(db, "ประกาศฉบับที่สอง", "The second notice.", by="test", now=now())
    db.commit()
    return row.version


def test_a_new_notice_version_is_asked_once_and_recorded(client, db, rp, alice):
    version = publish_v2(db)
    where = start(client, rp)
    assert "/signin/notice" in where
    page = client.get(where, headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert "The second notice." in html and 'id="notice-accept"' in html
    accepted = client.post(
        where,
        data={"decision": "accept", "version": str(version), "csrf_token": csrf_token(html)},
        headers={"User-Agent": "TestBrowser/1.0"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert accepted.status_code == 303
    final = client.get(accepted.headers["Location"].replace("http://localhost", ""))
    assert final.headers["Location"].startswith(rp.redirect_uri)
    row = db.scalar(select(NoticeAcceptance).where(NoticeAcceptance.user_id == alice.id))
    assert (row.version, row.ip, row.user_agent) == (version, "192.0.2.7", "TestBrowser/1.0")
    assert abs(row.accepted_at - now()) < 5
    db.expire_all()
    assert db.get(User, alice.id).notice_version == version
    code, _, _ = get_code(client, rp)  # asked once: the next sign-in goes straight through
    assert code


def test_the_notice_is_shown_in_the_page_language(client, db, rp, alice):
    publish_v2(db)
    where = start(client, rp)
    html = client.get(where + "&lang=th").get_data(as_text=True)
    assert "ประกาศฉบับที่สอง" in html


def test_declining_the_notice_ends_the_sign_in_with_access_denied(client, db, rp, alice):
    publish_v2(db)
    where = start(client, rp)
    html = client.get(where).get_data(as_text=True)
    resp = client.post(where, data={"decision": "decline", "csrf_token": csrf_token(html)})
    assert resp.headers["Location"].startswith(rp.redirect_uri)
    assert query(resp.headers["Location"])["error"] == "access_denied"
    assert db.scalar(select(NoticeAcceptance).where(NoticeAcceptance.user_id == alice.id)) is None


def test_an_account_that_never_accepted_is_asked_pdpa(client, db, rp):
    if notices.current_version(db) is None:
        publish_v2(db)
    make_user(db, username="bob", notice_version=None)
    login(client, "bob")
    _, challenge = pkce_pair()
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge)))
    assert "/signin/notice" in resp.headers["Location"]


def test_notice_silent_is_interaction_required(client, db, rp, alice):
    publish_v2(db)
    assert query(start(client, rp, prompt="none"))["error"] == "interaction_required"


def test_accepting_an_older_version_than_shown_asks_again(client, db, rp, alice):
    version = publish_v2(db)
    where = start(client, rp)
    html = client.get(where).get_data(as_text=True)
    resp = client.post(
        where,
        data={"decision": "accept", "version": str(version - 1), "csrf_token": csrf_token(html)},
    )
    assert "/signin/notice" in resp.headers["Location"]
    assert db.scalar(select(NoticeAcceptance).where(NoticeAcceptance.user_id == alice.id)) is None
