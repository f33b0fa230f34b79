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
    totp_secret: str
    inbox: object
    chai_secret: str = ""


# slug, skip consent, minimum acr, step-up button
RPS = (
    ("emt", True, "urn:idp:acr:pwd", None),
    ("einvoice", False, "urn:idp:acr:mfa", "Submit an invoice"),
    ("search", True, "urn:idp:acr:mfa-email", None),
    ("records", False, "urn:idp:acr:pwd", None),
)


def _org_setup(db, client_id, somchai, chai):
    """Company A may use e-Invoice; somchai (admin) and alice hold einvoice:submit,
    chai is a member without it (seat limit 3)."""
    from sqlalchemy import select

    from idp.models import User
    from idp.orgs import services

    alice = db.scalar(select(User).where(User.username_key == "alice"))
    scope = services.add_scope(
        db,
        client_id,
        "einvoice:submit",
        seat_limit=3,
        description_en="Submit invoices",
        description_th="ส่งใบกำกับภาษี",
    )
    org = services.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท ก จำกัด", name_en="Company A"
    )
    services.allow_client(db, org.id, client_id)
    services.add_member(db, org.id, somchai, role="admin")
    for user in (alice, chai):
        services.add_member(db, org.id, user)
    for user in (somchai, alice):
        services.grant_scope(db, org.id, user.id, scope.id)


@pytest.fixture
def live(template_db, tmp_path, smtp_sink):
    """The IdP, demo RPs (eMT: password; e-Invoice: mfa, asks consent; search:
    mfa-email), somchai with a soft token, alice without a second factor."""
    from sqlalchemy import select

    from idp.mfa import services as mfa
    from idp.models import Client

    idp_srv = _serve()
    issuer = f"http://localhost:{idp_srv.server_port}"
    app = create_app(
        {
            **BASE_OVERRIDES,
            "issuer": issuer,
            "smtp_url": smtp_sink.url,
            "database_url": fresh_database_url(template_db, tmp_path),
        }
    )
    idp_srv.app = app
    servers, rps = [idp_srv], {}
    settings = app.extensions["idp_settings"]
    with get_db(app).factory() as db:
        somchai = make_user(db, "somchai", name="Somchai Jaidee")
        make_user(db, "alice")
        factor, totp_secret = mfa.start_totp(db, app.extensions["idp_settings"], somchai, "Phone")
        factor.status = "active"
        chai = make_user(db, "chai", name="Chai Member")
        chai_factor, chai_secret = mfa.start_totp(db, app.extensions["idp_settings"], chai, "Phone")
        chai_factor.status = "active"
        for slug, skip, min_acr, label in RPS:
            rp_srv = _serve()
            base = f"http://localhost:{rp_srv.server_port}"
            c = make_client(
                db,
                name=f"Demo {slug}",
                redirect_uris=(f"{base}/callback",),
                post_logout_redirect_uris=[f"{base}/logged-out"],
                skip_consent=skip,
            )
            db.scalar(select(Client).where(Client.client_id == c.client_id)).min_acr = min_acr
            scope = "openid profile email offline_access"
            if slug == "einvoice":  # an organisation client with a seat-limited right
                scope += " einvoice:submit"
                _org_setup(db, c.client_id, somchai, chai)
            rp_srv.app = create_rp(
                RPConfig(
                    slug=slug,
                    title=f"Demo {slug}",
                    issuer=issuer,
                    client_id=c.client_id,
                    client_secret=c.secret,
                    base_url=base,
                    step_up_label=label,
                    scope=scope,
                    idp_name_th=settings.brand_name_th,
                    idp_name_en=settings.brand_name_en,
                    scope_labels={"einvoice:submit": ("ส่งใบกำกับภาษี", "Submit invoices")},
                )
            )
            servers.append(rp_srv)
            rps[slug] = base
        db.commit()
    yield Live(issuer, app, rps, servers, totp_secret, smtp_sink, chai_secret)
    for srv in servers:
        srv.shutdown()
    get_db(app).dispose()
