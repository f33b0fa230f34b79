"""Identity app, cross-device (issue 10 B1 step 2; SECURITY.md X-02, X-03, X-04),
against a real proofing provider (idp.dev.proofing_provider) on a free local port.

The desktop and the phone are two Flask test clients (two browser sessions); the
provider is reached over real HTTP, by the IdP (discovery, JWKS, token) and by the
"phone" (its authorization page, with ``requests``)."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import pytest
import requests
import time_machine
from sqlalchemy import select

from idp.db import now
from idp.dev.proofing_provider import ProviderClient, serve_proofing_provider
from idp.enrollment import identity_app
from idp.models import AuditEvent, IdentityVerification, ProofingTransaction, Registration, User
from tests.factories import csrf_token, login, make_user

CLIENT_ID = "idp-test"
CLIENT_SECRET = "provider-secret-for-tests"
CALLBACK = "http://localhost/proofing/app/callback"


@pytest.fixture
def provider():
    client = ProviderClient(CLIENT_ID, CLIENT_SECRET, [CALLBACK], "Test Portal")
    identity_app.forget_cache()
    with serve_proofing_provider([client]) as running:
        yield running
    identity_app.forget_cache()


def _settings(issuer: str, **extra) -> dict:
    return {
        "identity_app_issuer": issuer,
        "identity_app_client_id": CLIENT_ID,
        "identity_app_client_secret": CLIENT_SECRET,
        **extra,
    }


@pytest.fixture
def papp(app_factory, provider):
    return app_factory(**_settings(provider.issuer))


@pytest.fixture
def pdb(papp):
    from idp.db import get_db

    s = get_db(papp).factory()
    yield s
    s.close()


def _temporary(db, username="tem"):
    return make_user(
        db,
        username,
        membership_status="temporary",
        membership_expires_at=now() + 30 * 86400,
    )


def _desktop(papp, db, username="tem", next_path=None):
    """A signed-in temporary member on /proofing/app: (client, tx id, match code, html)."""
    _temporary(db, username)
    desk = papp.test_client()
    assert login(desk, username).status_code in (302, 303)
    url = "/proofing/app" + (f"?next={next_path}" if next_path else "")
    resp = desk.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    html = resp.get_data(as_text=True)
    tx = re.search(r'name="tx" value="([^"]+)"', html).group(1)
    code = re.search(r'id="proofing-match-code"[^>]*>(\d{4})<', html).group(1)
    return desk, tx, code, html


def _phone_to_provider(papp, tx):
    """The phone opens the QR's URL; returns (phone client, provider page URL)."""
    phone = papp.test_client()
    resp = phone.get(f"/proofing/app/t/{tx}")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return phone, resp.headers["Location"]


def _at_provider(location, action="confirm", person="demo-person-1", expect_code=None):
    page = requests.get(location, timeout=10)
    assert page.status_code == 200, page.text
    if expect_code:
        assert f'id="match-code">{expect_code}<' in page.text
        assert "Test Portal" in page.text
    req = re.search(r'name="req" value="([^"]+)"', page.text).group(1)
    issuer = f"{urlsplit(location).scheme}://{urlsplit(location).netloc}"
    answer = requests.post(
        issuer + "/authorize",
        data={"req": req, "action": action, "person": person},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    back = answer.headers["Location"]
    assert back.startswith(CALLBACK + "?")
    return back[len("http://localhost") :]


def _check(desk, tx, html):
    return desk.post("/proofing/app/check", data={"tx": tx, "csrf_token": csrf_token(html)})


def _user(db, username="tem"):
    db.expire_all()
    return db.scalar(select(User).where(User.username_key == username))


def test_confirmed_in_the_app_makes_the_temporary_member_verified_x02_x04(papp, pdb, provider):
    desk, tx, code, html = _desktop(papp, pdb)
    assert desk.get(f"/proofing/app/status/{tx}").get_json() == {"status": "started"}
    phone, location = _phone_to_provider(papp, tx)
    assert location.startswith(provider.issuer + "/authorize?")
    assert "binding_message=" + code in location and "verified_claims" in location
    assert desk.get(f"/proofing/app/status/{tx}").get_json() == {"status": "opened"}
    back = _at_provider(location, expect_code=code)
    done = phone.get(back)
    assert done.status_code == 200
    page = done.get_data(as_text=True)
    assert 'data-reason="verified"' in page and code in page
    assert desk.get(f"/proofing/app/status/{tx}").get_json() == {"status": "done"}
    resp = _check(desk, tx, html)
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"
    user = _user(pdb)
    assert user.membership_status == "verified"
    row = pdb.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert (row.method, row.outcome, row.trust_framework, row.evidence_type) == (
        "identity_app",
        "verified",
        "th_identity_app",
        "electronic_record",
    )
    assert row.claims == {
        "given_name": "Somsri",
        "family_name": "Rakthai",
        "given_name#th": "สมศรี",
        "family_name#th": "รักไทย",
        "birthdate": "1990-04-13",
    }
    assert row.evidence_ref.startswith("demo-")
    tags = pdb.scalars(select(AuditEvent.tag)).all()
    assert "proofing:app:result" in tags
    # The stored transaction keeps no personal data once claimed.
    stored = pdb.get(ProofingTransaction, tx)
    pdb.refresh(stored)
    assert stored.status == "claimed" and stored.result == {"outcome": "verified"}


def test_qr_code_carries_only_the_opaque_id_x02(papp, pdb, tmp_path):
    import base64
    import subprocess

    _desk, tx, _code, html = _desktop(papp, pdb)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(data))
    text = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert text == f"http://localhost/proofing/app/t/{tx}"


def test_registration_in_progress_gets_the_verdict_recorded(papp, pdb, provider):
    reg = Registration(
        public_id="reg-public-id-for-tests",
        kind="person",
        data={},
        created_at=now(),
        updated_at=now(),
    )
    pdb.add(reg)
    pdb.commit()
    desk = papp.test_client()
    with desk.session_transaction() as s:
        s["enrollment.registration"] = reg.public_id
    resp = desk.get("/proofing/app?next=/register/details")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    tx = re.search(r'name="tx" value="([^"]+)"', html).group(1)
    phone, location = _phone_to_provider(papp, tx)
    phone.get(_at_provider(location, person="demo-person-2"))
    resp = _check(desk, tx, html)
    assert resp.status_code == 303 and resp.headers["Location"] == "/register/details"
    row = pdb.scalar(
        select(IdentityVerification).where(IdentityVerification.registration_id == reg.id)
    )
    assert row.outcome == "verified" and row.claims["given_name"] == "Anan"


def test_a_proof_under_another_trust_framework_is_no_proof_x04(app_factory, provider):
    """The provider verified under "th_identity_app"; this IdP agreed on another one."""
    other = app_factory(**_settings(provider.issuer, identity_app_trust_framework="th_ndid"))
    from idp.db import get_db

    db = get_db(other).factory()
    desk, tx, code, html = _desktop(other, db)
    phone, location = _phone_to_provider(other, tx)
    phone.get(_at_provider(location, expect_code=code))
    _check(desk, tx, html)
    user = _user(db)
    assert user.membership_status == "temporary"
    row = db.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert (row.outcome, row.reason) == ("not_verified", "bad_trust_framework")
    discovery = other.test_client().get("/.well-known/openid-configuration").get_json()
    assert "th_ndid" in discovery["trust_frameworks_supported"]
    db.close()


def test_cancelled_in_the_app_leaves_a_temporary_member_x02(papp, pdb, provider):
    desk, tx, _code, html = _desktop(papp, pdb, next_path="/account/security")
    phone, location = _phone_to_provider(papp, tx)
    done = phone.get(_at_provider(location, action="cancel"))
    assert 'data-reason="cancelled"' in done.get_data(as_text=True)
    resp = _check(desk, tx, html)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-reason="cancelled"' in page
    assert 'id="proofing-retry" href="/proofing/app?next=/account/security"' in page
    assert 'id="proofing-skip" href="/account/security"' in page
    user = _user(pdb)
    assert user.membership_status == "temporary"
    row = pdb.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert (row.outcome, row.reason) == ("cancelled", "cancelled")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_provider_unreachable_gives_a_clear_page_x03(app_factory, db):
    identity_app.forget_cache()
    app = app_factory(**_settings(f"http://127.0.0.1:{_closed_port()}"))
    from idp.db import get_db

    s = get_db(app).factory()
    _temporary(s)
    desk = app.test_client()
    login(desk, "tem")
    resp = desk.get("/proofing/app", headers={"Accept-Language": "en"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503
    assert 'data-reason="unavailable"' in page and "cannot be reached" in page
    assert s.scalar(select(ProofingTransaction)) is None
    s.close()


def test_provider_down_after_the_phone_left_is_unavailable_x03(app_factory):
    """The token endpoint cannot be reached at the callback: "unavailable", a clear
    "try later" on both screens, the member stays temporary."""
    client = ProviderClient(CLIENT_ID, CLIENT_SECRET, [CALLBACK], "Test Portal")
    identity_app.forget_cache()
    with serve_proofing_provider([client]) as provider:
        app = app_factory(**_settings(provider.issuer))
        from idp.db import get_db

        s = get_db(app).factory()
        desk, tx, _code, html = _desktop(app, s)
        phone, location = _phone_to_provider(app, tx)
        back = _at_provider(location)
    done = phone.get(back)  # the provider has stopped: no token exchange possible
    assert done.status_code == 200
    assert 'data-reason="unavailable"' in done.get_data(as_text=True)
    resp = _check(desk, tx, html)
    assert 'data-reason="unavailable"' in resp.get_data(as_text=True)
    user = _user(s)
    assert user.membership_status == "temporary"
    row = s.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert (row.outcome, row.reason) == ("unavailable", "unreachable")
    s.close()
    identity_app.forget_cache()


@pytest.mark.parametrize(
    "forgery", ["bad_signature", "wrong_aud", "wrong_nonce", "expired", "no_verified_claims"]
)
def test_forged_id_token_is_not_verified_x04_oidc_core_3_1_3_7(papp, pdb, provider, forgery):
    provider.forge = forgery
    desk, tx, _code, html = _desktop(papp, pdb)
    phone, location = _phone_to_provider(papp, tx)
    done = phone.get(_at_provider(location))
    assert 'data-reason="not_verified"' in done.get_data(as_text=True)
    resp = _check(desk, tx, html)
    assert 'data-reason="not_verified"' in resp.get_data(as_text=True)
    user = _user(pdb)
    assert user.membership_status == "temporary"
    row = pdb.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert row.outcome == "not_verified" and row.claims == {}
    expected = "no_verified_claims" if forgery == "no_verified_claims" else "bad_id_token"
    assert row.reason == expected


def test_another_session_polling_the_id_gets_404_x02_r08(papp, pdb, provider):
    desk, tx, _code, html = _desktop(papp, pdb)
    other = papp.test_client()
    _temporary(pdb, "other")
    login(other, "other")
    assert other.get(f"/proofing/app/status/{tx}").status_code == 404
    anonymous = papp.test_client()
    assert anonymous.get(f"/proofing/app/status/{tx}").status_code == 404
    page = other.get("/proofing/app").get_data(as_text=True)
    assert (
        other.post(
            "/proofing/app/check", data={"tx": tx, "csrf_token": csrf_token(page)}
        ).status_code
        == 404
    )
    phone, location = _phone_to_provider(papp, tx)
    phone.get(_at_provider(location))
    # The phone's own session cannot claim it either.
    assert phone.get(f"/proofing/app/status/{tx}").status_code == 404
    assert _check(desk, tx, html).status_code == 303


def test_transaction_is_single_use_x02(papp, pdb, provider):
    desk, tx, _code, html = _desktop(papp, pdb)
    phone, location = _phone_to_provider(papp, tx)
    second = papp.test_client().get(f"/proofing/app/t/{tx}")
    assert second.status_code == 409 and 'data-reason="used"' in second.get_data(as_text=True)
    back = _at_provider(location)
    assert phone.get(back).status_code == 200
    replay = phone.get(back)
    assert replay.status_code == 409 and 'data-reason="used"' in replay.get_data(as_text=True)
    assert _check(desk, tx, html).status_code == 303
    again = _check(desk, tx, html)
    assert again.status_code == 409 and 'data-reason="used"' in again.get_data(as_text=True)
    rows = pdb.scalars(select(IdentityVerification)).all()
    assert len(rows) == 1


def test_transaction_expires_after_5_minutes_x02(papp, pdb, provider):
    with time_machine.travel(now(), tick=False) as clock:
        desk, tx, _code, html = _desktop(papp, pdb)
        clock.shift(299)
        phone, location = _phone_to_provider(papp, tx)
        back = _at_provider(location)
        clock.shift(2)
        assert desk.get(f"/proofing/app/status/{tx}").get_json() == {"status": "expired"}
        late = phone.get(back)
        assert late.status_code == 410
        resp = _check(desk, tx, html)
        assert resp.status_code == 410 and 'data-reason="expired"' in resp.get_data(as_text=True)
        fresh = papp.test_client().get(f"/proofing/app/t/{tx}")
        assert fresh.status_code == 409
    assert _user(pdb).membership_status == "temporary"


def test_unknown_transaction_on_the_phone_is_404(papp, pdb):
    resp = papp.test_client().get("/proofing/app/t/not-a-real-id")
    assert resp.status_code == 404 and 'data-reason="not_found"' in resp.get_data(as_text=True)
    resp = papp.test_client().get("/proofing/app/callback?state=nope&code=x")
    assert resp.status_code == 404


def test_status_polling_is_rate_limited_x02(app_factory, provider):
    app = app_factory(**_settings(provider.issuer, proofing_poll_rate_limit="3 per minute"))
    from idp.db import get_db

    s = get_db(app).factory()
    desk, tx, _code, _html = _desktop(app, s)
    answers = [desk.get(f"/proofing/app/status/{tx}").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    s.close()


def test_reloading_the_page_keeps_the_same_code(papp, pdb, provider):
    desk, tx, code, _html = _desktop(papp, pdb)
    again = desk.get("/proofing/app").get_data(as_text=True)
    assert f'name="tx" value="{tx}"' in again and code in again


def test_next_must_be_a_path_here_i08(papp, pdb, provider):
    desk, tx, _code, html = _desktop(papp, pdb, next_path="https://evil.example/")
    phone, location = _phone_to_provider(papp, tx)
    phone.get(_at_provider(location))
    resp = _check(desk, tx, html)
    assert resp.headers["Location"] == "/account"


def test_signed_out_without_registration_is_sent_to_sign_in(papp):
    resp = papp.test_client().get("/proofing/app?next=/account")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_not_configured_says_so(client, db):
    make_user(db, "tem")
    login(client, "tem")
    resp = client.get("/proofing/app")
    assert resp.status_code == 404
    assert 'data-reason="not_offered"' in resp.get_data(as_text=True)


def test_pages_in_thai(papp, pdb, provider):
    desk, tx, _code, _html = _desktop(papp, pdb)
    page = desk.get("/proofing/app?lang=th").get_data(as_text=True)
    assert "ยืนยันตัวตน" in page


def test_every_step_is_refused_after_5_minutes_in_the_service_too_x02(pdb):
    """The views check the expiry first; the conditional updates check it again."""
    from idp.enrollment import cross_device
    from idp.enrollment.cross_device import TransactionRefused
    from idp.enrollment.verifiers import Method, Outcome, Verdict

    user = _temporary(pdb)
    tx = cross_device.open_transaction(
        pdb,
        secret_key="k",
        binding_value="v",
        request=identity_app.start(),
        now=1000,
        user_id=user.id,
    )
    pdb.commit()
    with pytest.raises(TransactionRefused) as refused:
        cross_device.open_on_phone(pdb, tx.id, 1300)
    assert refused.value.reason == "expired"
    cross_device.open_on_phone(pdb, tx.id, 1299)
    verdict = Verdict(Outcome.CANCELLED, Method.IDENTITY_APP, 1299, reason="cancelled")
    with pytest.raises(TransactionRefused):
        cross_device.store_result(pdb, tx, verdict, 1300)
    cross_device.store_result(pdb, tx, verdict, 1299)
    with pytest.raises(TransactionRefused):
        cross_device.claim(pdb, tx, 1300, user=user)
    assert cross_device.claim(pdb, tx, 1299, user=user).outcome is Outcome.CANCELLED


def test_jobs_delete_transactions_a_day_after_they_expired_x06(papp, pdb):
    from idp.enrollment import cross_device
    from idp.jobs import purge_proofing

    user = _temporary(pdb)
    for at in (1000, now()):
        cross_device.open_transaction(
            pdb,
            secret_key="k",
            binding_value="v",
            request=identity_app.start(),
            now=at,
            user_id=user.id,
        )
    pdb.commit()
    purge_proofing(pdb, now())
    kept = pdb.scalars(select(ProofingTransaction)).all()
    assert len(kept) == 1 and kept[0].created_at > 1000


def test_a_verified_member_is_not_offered_to_stay_temporary(papp, pdb, provider):
    _desk, _tx, _code, html = _desktop(papp, pdb)
    assert "Continue as a temporary member" in html or "สมาชิกชั่วคราว" in html
    make_user(pdb, "veri")
    desk = papp.test_client()
    login(desk, "veri")
    page = desk.get("/proofing/app", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Not now" in page and "temporary member" not in page
