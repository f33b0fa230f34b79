"""A live IdP, the demo relying parties and their data, in this process: what the e2e
fixtures (tests/e2e/conftest.py) and ``scripts/screenshots`` start.

Browse to ``http://localhost:PORT``, never ``127.0.0.1`` (WebAuthn: RECIPES.md 3).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from idp import create_app
from idp.db import get_db
from idp.demo import DEMO_BRAND
from relying_parties.app import VERIFIED_AUTH_PARAMS, RPConfig, create_rp
from tests.conftest import BASE_OVERRIDES, Inbox, start_smtp_sink
from tests.factories import PASSWORD, make_client, make_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# slug, client name (shown at the IdP), skip consent, minimum acr, step-up button
RPS = (
    ("emt", "eMT - import material tracking", True, "urn:idp:acr:pwd", None),
    ("einvoice", "e-Invoice / e-Receipt", False, "urn:idp:acr:mfa", "Submit an invoice"),
    ("search", "Customs declaration search", True, "urn:idp:acr:mfa-email", None),
    ("records", "Records search", False, "urn:idp:acr:pwd", None),
)
ORG_IDENTIFIER = "0105536092641"
VERIFIED_RPS = {"search"}  # require a verified member and ask verified_claims (issue 10)


def _verify_demo_people(db, *people) -> None:
    """A registry verdict for each (the only source of verified_claims), as the demo."""
    from idp.db import now
    from idp.demo import DEMO_VERIFIED
    from idp.enrollment import verdicts
    from idp.enrollment.verifiers import Method, Outcome, Verdict

    for user in people:
        verdicts.record(
            db,
            verdict=Verdict(
                outcome=Outcome.VERIFIED,
                method=Method.REGISTRY,
                at=now(),
                evidence_ref=f"e2e-{user.username}",
                trust_framework="th_dopa",
                evidence_type="electronic_record",
                claims=DEMO_VERIFIED[user.username],
            ),
            user_id=user.id,
        )


PROOFING_CLIENT_ID = "idp-live"
PROOFING_SECRET = "live-proofing-secret"


@dataclass
class Live:
    issuer: str
    app: Any
    rps: dict
    servers: list
    totp_secret: str
    inbox: Inbox
    chai_secret: str = ""
    einvoice_client_id: str = ""
    proofing: Any = None  # the demo proofing provider (idp.dev.proofing_provider)
    registry: Any = None  # the demo population registry's server (``.app`` swappable)
    _stops: list = field(default_factory=list)

    def stop(self) -> None:
        for srv in self.servers:
            srv.shutdown()
        get_db(self.app).dispose()
        for stop in self._stops:
            stop()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form the page shows."""
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in")


def _serve(app=None):
    srv = make_server("localhost", 0, app or (lambda e, s: []), threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _org_setup(db, client_id, somchai, chai):
    """Siam Import may use e-Invoice; somchai (admin) and alice hold einvoice:submit,
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
        db,
        kind="company",
        identifier=ORG_IDENTIFIER,
        name_th="บริษัท สยามนำเข้า จำกัด",
        name_en="Siam Import Co., Ltd.",
    )
    services.allow_client(db, org.id, client_id)
    services.add_member(db, org.id, somchai, role="admin")
    for user in (alice, chai):
        services.add_member(db, org.id, user)
    for user in (somchai, alice):
        services.grant_scope(db, org.id, user.id, scope.id)


def start_live(database_url: str, inbox: Inbox) -> Live:
    """The IdP on a migrated database, the demo RPs (eMT: password; e-Invoice: mfa,
    asks consent; search: mfa-email; records: password, asks consent), somchai and chai
    with a soft token, alice without a second factor. Call ``stop()`` when done."""
    from sqlalchemy import select

    from idp.dev.proofing_provider import ProviderClient, start_proofing_provider
    from idp.dev.registry import create_registry
    from idp.mfa import services as mfa
    from idp.models import Client

    idp_srv = _serve()
    registry_srv = _serve(create_registry())  # the demo population registry (issue 10)
    issuer = f"http://localhost:{idp_srv.server_port}"
    # The identity app (cross-device proofing): the demo proofing provider.
    proofing, stop_proofing = start_proofing_provider(
        [
            ProviderClient(
                PROOFING_CLIENT_ID,
                PROOFING_SECRET,
                [f"{issuer}/proofing/app/callback"],
                DEMO_BRAND["brand_name_en"],
            )
        ]
    )
    app = create_app(
        {
            **BASE_OVERRIDES,
            **DEMO_BRAND,  # a portal's header and footer, as in `idp demo`
            "issuer": issuer,
            "smtp_url": inbox.url,
            "database_url": database_url,
            "identity_app_issuer": proofing.issuer,
            "identity_app_client_id": PROOFING_CLIENT_ID,
            "identity_app_client_secret": PROOFING_SECRET,
            "registry_url": f"http://localhost:{registry_srv.server_port}/check",
            # The limiter's memory outlives one live app: the walks register often.
            "registration_rate_limit": "1000 per minute",
            "registration_domain_limit": "1000 per minute",
        }
    )
    idp_srv.app = app
    servers, rps, einvoice = [idp_srv, registry_srv], {}, ""
    settings = app.extensions["idp_settings"]
    with get_db(app).factory() as db:
        somchai = make_user(db, "somchai", name="Somchai Jaidee")
        alice = make_user(db, "alice")
        factor, totp_secret = mfa.start_totp(db, app.extensions["idp_settings"], somchai, "Phone")
        factor.status = "active"
        chai = make_user(db, "chai", name="Chai Member")
        chai_factor, chai_secret = mfa.start_totp(db, app.extensions["idp_settings"], chai, "Phone")
        chai_factor.status = "active"
        _verify_demo_people(db, somchai, alice)
        for slug, name, skip, min_acr, label in RPS:
            rp_srv = _serve()
            base = f"http://localhost:{rp_srv.server_port}"
            c = make_client(
                db,
                name=name,
                redirect_uris=(f"{base}/callback",),
                post_logout_redirect_uris=[f"{base}/logged-out"],
                skip_consent=skip,
            )
            row = db.scalar(select(Client).where(Client.client_id == c.client_id))
            row.min_acr = min_acr
            row.backchannel_logout_uri = f"{base}/backchannel-logout"  # issue 11
            scope = "openid profile email offline_access"
            auth_params: dict = {}
            if slug in VERIFIED_RPS:  # issue 10: verified people only, verified_claims
                row.required_membership = "verified"
                row.scopes = [*row.scopes, "membership", "verified_claims"]
                scope += " membership"
                auth_params = dict(VERIFIED_AUTH_PARAMS)
            if slug == "einvoice":  # an organisation client with a seat-limited right
                scope += " einvoice:submit"
                _org_setup(db, c.client_id, somchai, chai)
                einvoice = c.client_id
            rp_srv.app = create_rp(
                RPConfig(
                    slug=slug,
                    title=name,
                    issuer=issuer,
                    client_id=c.client_id,
                    client_secret=c.secret,
                    base_url=base,
                    step_up_label=label,
                    scope=scope,
                    auth_params=auth_params,
                    idp_name_th=settings.brand_name_th,
                    idp_name_en=settings.brand_name_en,
                    scope_labels={"einvoice:submit": ("ส่งใบกำกับภาษี", "Submit invoices")},
                )
            )
            servers.append(rp_srv)
            rps[slug] = base
        db.commit()
    live = Live(
        issuer, app, rps, servers, totp_secret, inbox, chai_secret, einvoice, proofing, registry_srv
    )
    live._stops.append(stop_proofing)
    return live


@contextmanager
def running() -> Iterator[Live]:
    """Outside pytest: everything of :func:`start_live` on a fresh SQLite database in a
    temporary directory, removed afterwards."""
    from idp.cli import init_instance

    with tempfile.TemporaryDirectory(prefix="idp-live-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'idp.db'}"
        setup = create_app({**BASE_OVERRIDES, "database_url": url})
        init_instance(setup)
        get_db(setup).dispose()
        inbox, stop_sink = start_smtp_sink()
        live = start_live(url, inbox)
        live._stops.append(stop_sink)
        try:
            yield live
        finally:
            live.stop()
