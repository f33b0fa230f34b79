"""Interoperability: npm's openid-client v6 (an OpenID Certified RP library) completes
code + PKCE against a live idp, validates the ID token (signature, iss, aud, nonce,
at_hash by its own rules) and reads userinfo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from werkzeug.serving import make_server

from idp import create_app
from idp.db import get_db
from tests.conftest import BASE_OVERRIDES, fresh_database_url
from tests.factories import PASSWORD, make_client, make_user

pytestmark = pytest.mark.interop

HERE = Path(__file__).parent
CALLBACK = "http://localhost:9/callback"  # never served: the test reads the redirect


@pytest.fixture
def live_idp(template_db, tmp_path):
    srv = make_server("localhost", 0, lambda e, s: [], threaded=True)
    issuer = f"http://localhost:{srv.server_port}"
    app = create_app(
        {
            **BASE_OVERRIDES,
            "issuer": issuer,
            "database_url": fresh_database_url(template_db, tmp_path),
        }
    )
    srv.app = app
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with get_db(app).factory() as db:
        make_user(db, "somchai")
        rp = make_client(db, redirect_uris=(CALLBACK,))
    yield issuer, rp
    srv.shutdown()
    get_db(app).dispose()


def _node(*args: str) -> dict:
    if not (HERE / "node_modules" / "openid-client").exists():
        pytest.fail("run `npm ci` in tests/interop (./dev test does it)")
    out = subprocess.run(
        ["node", str(HERE / "rp.mjs"), *args], capture_output=True, text=True, timeout=60, cwd=HERE
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _browser_login(url: str) -> str:
    """Follow the IdP's pages like a browser and return the callback URL."""
    s = requests.Session()
    resp = s.get(url, allow_redirects=False, timeout=10)
    while resp.status_code in (302, 303):
        location = urljoin(resp.url, resp.headers["Location"])
        if location.startswith(CALLBACK):
            return location
        if "/login" in location:
            page = s.get(location, timeout=10)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(
                1
            )
            resp = s.post(
                location,
                data={"username": "somchai", "password": PASSWORD, "csrf_token": token},
                allow_redirects=False,
                timeout=10,
            )
        else:
            resp = s.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"no redirect to the client: {resp.status_code} {resp.text[:300]}")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_openid_client_code_pkce_id_token_userinfo_refresh(live_idp):
    issuer, rp = live_idp
    base = [issuer, rp.client_id, rp.secret, CALLBACK]
    start = _node("start", *base)
    callback = _browser_login(start["url"])
    assert "iss=" in callback
    result = _node("finish", *base, callback, start["verifier"], start["nonce"], start["state"])
    claims = result["claims"]
    assert claims["iss"] == issuer and claims["aud"] == rp.client_id
    assert claims["nonce"] == start["nonce"]
    assert result["userinfo"]["sub"] == claims["sub"]
    assert result["userinfo"]["email"] == "somchai@example.org"
    assert result["refreshed_sub"] == claims["sub"]
