"""The demo relying parties' own pages (issue 9): a strict CSP on their own origin, the
person's Thai name as Thai (no JSON escapes), dates as dates, both languages.

The signed-in state is the RP's session as its /callback stores it; the sign-in itself
runs end to end in tests/e2e/test_rp_pages.py.
"""

from __future__ import annotations

import json
import re

import pytest

from relying_parties.app import RPConfig, create_rp

AUTH_TIME = 1796166158  # 2026-12-01T23:02:38Z, 06:02 on 2 December in Thailand
EXPIRES_AT = AUTH_TIME + 600
CLAIMS = {
    "sub": "s-1",
    "name": "สมหญิง รักไทย",
    "preferred_username": "somying",
    "email": "somying@example.org",
    "auth_time": AUTH_TIME,
    "acr": "urn:idp:acr:mfa",
    "amr": ["pwd", "otp", "mfa"],
    "org": {"id": "1", "identifier": "0105536092641", "name_th": "บริษัท ก จำกัด", "name_en": ""},
}


@pytest.fixture
def rp():
    app = create_rp(
        RPConfig(
            slug="einvoice",
            title="Demo einvoice",
            issuer="http://localhost:5999",
            client_id="demo-einvoice",
            client_secret="not-used-here",  # noqa: S106 - the RP never reaches the IdP here
            base_url="http://localhost:5002",
            step_up_label="Submit an invoice",
            scope="openid profile einvoice:submit",
            idp_name_th="บริการยืนยันตัวตนกลาง",
            idp_name_en="Central Sign-in",
            scope_labels={"einvoice:submit": ("ส่งใบกำกับภาษี", "Submit invoices")},
        )
    )
    return app.test_client()


def _sign_in(client):
    with client.session_transaction() as s:
        s["user"] = CLAIMS
        s["userinfo"] = {k: CLAIMS[k] for k in ("sub", "name", "org")}
        s["token_info"] = {
            "acr": CLAIMS["acr"],
            "amr": CLAIMS["amr"],
            "auth_time": AUTH_TIME,
            "expires_at": EXPIRES_AT,
            "has_refresh_token": False,
            "scope": "openid profile einvoice:submit",
        }


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, element_id
    return match.group(1).strip()


@pytest.mark.parametrize("path", ["/", "/signed-out", "/?error=access_denied"])
def test_rp_pages_allow_only_their_own_origin(rp, path):
    """SECURITY.md (CSP): no inline script or style, nothing from another origin; the
    forms may post only here and be redirected to the IdP."""
    response = rp.get(path, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "form-action 'self' http://localhost:5999" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<script" not in html and "style=" not in html and "<style" not in html


def test_signed_out_page_has_the_rp_name_and_the_idp_button(rp):
    th = rp.get("/", headers={"Accept-Language": "th"}).get_data(as_text=True)
    assert '<html lang="th">' in th
    assert _text(th, "rp-title") == "ระบบใบกำกับภาษีและใบรับอิเล็กทรอนิกส์"
    assert _text(th, "rp-login") == "เข้าสู่ระบบด้วย บริการยืนยันตัวตนกลาง"
    en = rp.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and _text(en, "rp-login") == "Sign in with Central Sign-in"
    # The choice is kept over the browser's language.
    again = rp.get("/", headers={"Accept-Language": "th"}).get_data(as_text=True)
    assert '<html lang="en">' in again


def test_signed_in_page_in_thai_shows_thai_name_buddhist_era_and_words(rp):
    _sign_in(rp)
    html = rp.get("/", headers={"Accept-Language": "th-TH,th;q=0.9"}).get_data(as_text=True)
    assert _text(html, "rp-name") == "สมหญิง รักไทย"
    assert "\\u0e" not in html  # no JSON escapes in the raw claims either
    claims = json.loads(_text(html, "rp-claims").replace("&#34;", '"'))
    assert claims["name"] == "สมหญิง รักไทย"
    assert _text(html, "rp-auth-time") == "2 ธันวาคม พ.ศ. 2569 เวลา\u00a006:02\u00a0น."
    assert 'datetime="2026-12-02T06:02:38+07:00"' in html
    assert _text(html, "rp-expires") == "2 ธันวาคม พ.ศ. 2569 เวลา\u00a006:12\u00a0น."
    assert _text(html, "rp-acr-words") == "สองปัจจัย: รหัสผ่านและอุปกรณ์ยืนยันตัวตน"
    assert _text(html, "rp-acr") == "urn:idp:acr:mfa"
    assert "บริษัท ก จำกัด" in html and "0105536092641" in html
    assert "<span>ส่งใบกำกับภาษี</span> <code>einvoice:submit</code>" in html
    assert 'id="rp-step-up"' in html and 'id="rp-logout"' in html


def test_signed_in_page_in_english_uses_the_common_era(rp):
    _sign_in(rp)
    html = rp.get("/?lang=en").get_data(as_text=True)
    assert _text(html, "rp-auth-time") == "2 December 2026, 06:02\u00a0ICT"
    assert _text(html, "rp-acr-words") == "Two factors: password and an authenticator"
    assert _text(html, "rp-amr-words") == "password, one-time code, more than one factor"
    # No English name for the organisation: its Thai name, marked as Thai.
    assert '<p class="org-name" lang="th">บริษัท ก จำกัด</p>' in html
    assert "<span>Submit invoices</span> <code>einvoice:submit</code>" in html
    assert _text(html, "rp-step-up") == "Submit an invoice"


def test_step_up_result_is_shown_once_in_the_page_language(rp):
    _sign_in(rp)
    with rp.session_transaction() as s:
        s["done"] = {"action": "Submit an invoice", "acr": "urn:idp:acr:mfa"}
    html = rp.get("/?lang=th").get_data(as_text=True)
    assert _text(html, "rp-done") == "ส่งใบกำกับภาษี: ดำเนินการแล้วที่ระดับ acr urn:idp:acr:mfa"
    assert 'id="rp-done"' not in rp.get("/").get_data(as_text=True)


def test_logged_out_page_and_error_are_translated(rp):
    html = rp.get("/signed-out?lang=th").get_data(as_text=True)
    assert _text(html, "rp-logged-out") == "ท่านออกจากระบบแล้ว"
    assert "บริการยืนยันตัวตนกลาง" in html
    error = rp.get("/?error=access_denied&lang=en").get_data(as_text=True)
    assert "Sign-in was cancelled or not allowed." in error and "access_denied" in error


def test_brand_stylesheet_and_icon_are_served_from_the_rp(rp):
    css = rp.get("/brand.css")
    assert css.mimetype == "text/css" and "--accent:#9a3412;" in css.get_data(as_text=True)
    with rp.get("/static/rp.css") as sheet:
        assert sheet.status_code == 200 and b".btn-primary" in sheet.data
    icon = rp.get("/favicon.svg")
    assert icon.mimetype == "image/svg+xml" and "eTax" in icon.get_data(as_text=True)
