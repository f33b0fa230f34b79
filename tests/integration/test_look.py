"""The look of every page: the agency's brand from configuration, same-origin assets only
(SECURITY.md S-06: the CSP stays 'self'), both layouts, the language switch, the error
summary of a form and the password rules where a password is chosen."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.factories import csrf_token, login, mail_text, make_user

BRAND = {
    "brand_name_th": "กรมทดสอบระบบ",
    "brand_name_en": "Department of Testing",
    "brand_primary_colour": "#6a1b9a",
    "help_url": "https://help.example.go.th/",
    "privacy_url": "/privacy",
}


@pytest.fixture
def app(app_factory, tmp_path, smtp_sink):
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    return app_factory(**BRAND, brand_logo=str(logo), smtp_url=smtp_sink.url)


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:link|script|img)\b[^>]*?(?:href|src)="([^"]+)"', html)


@pytest.mark.parametrize("lang,name", [("th", "กรมทดสอบระบบ"), ("en", "Department of Testing")])
def test_the_brand_name_is_in_the_header_and_title_in_the_pages_language(client, lang, name):
    html = client.get(f"/login?lang={lang}").get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f"· {name}</title>" in html
    assert f'<span class="idp-brand-name">{name}</span>' in html
    active = re.search(r'class="idp-lang active" aria-current="true">([^<]+)<', html).group(1)
    assert active == {"th": "ไทย", "en": "English"}[lang]


def test_every_asset_comes_from_the_idps_own_origin_S06(client):
    """No CDN: the CSP (default-src 'self') would block it and a third party would learn
    who signs in where."""
    html = client.get("/login").get_data(as_text=True)
    assets = _assets(html)
    assert {urlsplit(a).netloc for a in assets} == {""}
    for path in assets:
        with client.get(path) as resp:
            assert resp.status_code == 200, path
    assert "bootstrap.min.css" in " ".join(assets)
    assert "script-src 'self'" in client.get("/login").headers["Content-Security-Policy"]


def test_the_brand_colour_reaches_buttons_and_links(client):
    css = client.get("/brand.css").get_data(as_text=True)
    assert "--bs-btn-bg: #6a1b9a" in css and "--bs-link-color: #6a1b9a" in css


def test_the_configured_logo_is_served_as_an_image_that_runs_no_script(client):
    with client.get("/brand/logo") as resp:
        assert resp.mimetype == "image/png" and resp.data.startswith(b"\x89PNG")
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_footer_shows_only_the_configured_links_in_the_pages_language(client):
    html = client.get("/login?lang=th").get_data(as_text=True)
    footer = html[html.index('<footer class="idp-footer">') :]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', footer)
    assert links == [
        ("https://help.example.go.th/", "ความช่วยเหลือและติดต่อ"),
        ("/privacy", "ประกาศความเป็นส่วนตัว"),
    ]
    assert client.get("/privacy?lang=en").status_code == 200


def test_sign_in_pages_are_narrow_and_account_pages_wide_with_navigation(client, db):
    make_user(db, "alice")
    db.commit()
    assert 'class="idp-signin"' in client.get("/login").get_data(as_text=True)
    login(client, "alice")
    home = client.get("/account?lang=en").get_data(as_text=True)
    assert 'class="idp-app"' in home
    current = re.search(r'class="idp-nav-link active" aria-current="page"[^>]*>([^<]+)<', home)
    assert current.group(1) == "Your account"


def _invitation_link(app, db, smtp_sink) -> str:
    """A real invitation, its link read from the real mail."""
    from idp.orgs import invitations, services

    boss = make_user(db, "boss")
    org = services.create_org(db, kind="company", identifier="0105536092641", name_th="บริษัท ก")
    services.add_member(db, org.id, boss, role="admin")
    with app.test_request_context():
        invitations.invite(db, app.extensions["idp_settings"], org, "new@example.org", boss.id)
        # Committed inside the request: the mail outbox writes the request's mail when the
        # request ends, and SQLite would keep it waiting behind this session's write lock.
        db.commit()
    body = mail_text(smtp_sink.to("new@example.org")[-1])
    return re.search(r"http://localhost(/invite/\S+)", body).group(1)


def test_a_form_lists_every_error_at_once_each_linked_to_its_field_WCAG_3_3_1(
    app, db, client, smtp_sink
):
    link = _invitation_link(app, db, smtp_sink)
    page = client.get(link + "?lang=en").get_data(as_text=True)
    assert 'id="password-rules"' in page and "At least 8 and at most 128 characters" in page
    assert 'aria-describedby="password-rules"' in page
    resp = client.post(link, data={"csrf_token": csrf_token(page), "id_kind": "national"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    start = html.index('id="error-summary"')
    summary = html[start : html.index("</div>", start)]
    assert re.findall(r'<a href="#([^"]+)"', summary) == ["username", "name", "password"]
    assert 'role="alert"' in html[start - 80 : start]
    for field in ("username", "name", "password"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html).group(0)
        assert "is-invalid" in tag, field


def test_a_refused_value_is_worded_in_the_pages_language_and_linked(app, db, client, smtp_sink):
    link = _invitation_link(app, db, smtp_sink)
    page = client.get(link + "?lang=th").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "username": "newbie",
        "name": "คนใหม่",
        "password": "short",
        "id_kind": "national",
        "national_id": "1101700230708",
    }
    html = client.post(link, data=data).get_data(as_text=True)
    assert '<a href="#password" class="alert-link">รหัสผ่านสั้นเกินไป' in html


def test_a_logo_path_relative_to_the_working_directory_is_served(
    app_factory, tmp_path, monkeypatch
):
    """check_brand looks in the working directory; send_file must serve that same file."""
    (tmp_path / "agency.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    monkeypatch.chdir(tmp_path)
    client = app_factory(brand_logo="agency.svg").test_client()
    with client.get("/brand/logo") as resp:
        assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
