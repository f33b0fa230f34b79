"""Live IdP + demo relying parties for Playwright on Debian's Chromium (RECIPES.md 2)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from idp import create_app
from idp.db import get_db
from relying_parties.app import RPConfig, create_rp
from tests.conftest import BASE_OVERRIDES, fresh_database_url
from tests.factories import make_client, make_user

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


def _serve(app=None):
    srv = make_server("localhost", 0, app or (lambda e, s: []), threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@dataclass
class Live:
    issuer: str
    app: object
    rps: dict
    servers: list


@pytest.fixture
def live(template_db, tmp_path):
    """The IdP and two demo RPs (eMT skips consent, e-Invoice asks for it)."""
    idp_srv = _serve()
    issuer = f"http://localhost:{idp_srv.server_port}"
    app = create_app(
        {
            **BASE_OVERRIDES,
            "issuer": issuer,
            "database_url": fresh_database_url(template_db, tmp_path),
        }
    )
    idp_srv.app = app
    servers, rps = [idp_srv], {}
    with get_db(app).factory() as db:
        make_user(db, "somchai", name="Somchai Jaidee")
        for slug, skip in (("emt", True), ("einvoice", False)):
            rp_srv = _serve()
            base = f"http://localhost:{rp_srv.server_port}"
            c = make_client(
                db,
                name=f"Demo {slug}",
                redirect_uris=(f"{base}/callback",),
                post_logout_redirect_uris=[f"{base}/logged-out"],
                skip_consent=skip,
            )
            rp_srv.app = create_rp(
                RPConfig(
                    slug=slug,
                    title=f"Demo {slug}",
                    issuer=issuer,
                    client_id=c.client_id,
                    client_secret=c.secret,
                    base_url=base,
                )
            )
            servers.append(rp_srv)
            rps[slug] = base
    yield Live(issuer, app, rps, servers)
    for srv in servers:
        srv.shutdown()
    get_db(app).dispose()
