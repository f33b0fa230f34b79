"""``idp demo``: a SQLite instance with demo people and relying parties, the IdP, the
demo RPs and an SMTP sink served from one process. Ctrl-C stops everything."""

from __future__ import annotations

import hashlib
import secrets
import threading
from pathlib import Path

from sqlalchemy import select
from werkzeug.serving import make_server

from idp import create_app
from idp.account.services import create_user
from idp.admin.accounts import set_operator
from idp.cli import init_instance
from idp.db import get_db, now
from idp.enrollment import notices, verdicts
from idp.enrollment.verifiers import Method, Outcome, Verdict
from idp.mfa import services as mfa
from idp.models import Client, MfaFactor, User
from idp.oidc.acr import ACR_MFA, ACR_PASSWORD
from idp.oidc.clients import register_client
from idp.oidc.scopes import ASSURANCE_SCOPES

DEMO_USERS = [
    # username, email, name, password, has a soft token
    ("somchai", "somchai@example.co.th", "สมชาย ใจดี", "Mango-Sticky-Rice-42", True),
    ("alice", "alice@example.org", "Alice Example", "Green-Curry-Lime-17", False),
    ("nok", "nok@example.go.th", "นกน้อย ผู้ดูแลระบบ", "Pad-Thai-Tamarind-88", True),
]
DEMO_OPERATORS = {"nok"}  # platform operators: /operator
# Issue 10: the relying parties that require a verified member (and show the
# membership and verified_claims), and what the registry confirmed of the demo people
# who use them (stored as registry verdicts, the only source of verified_claims).
VERIFIED_RPS = {"search"}
DEMO_VERIFIED = {
    "somchai": {
        "given_name": "Somchai",
        "family_name": "Jaidee",
        "given_name#th": "สมชาย",
        "family_name#th": "ใจดี",
        "birthdate": "1985-03-14",
    },
    "alice": {"given_name": "Alice", "family_name": "Example", "birthdate": "1990-07-01"},
}

# slug, title, port offset, skip consent, min acr, email OTP allowed, step-up button
DEMO_RPS = [
    ("emt", "eMT - import material tracking", 1, True, ACR_PASSWORD, True, None),
    ("einvoice", "e-Invoice / e-Receipt", 2, False, ACR_MFA, True, "Submit an invoice"),
    ("gfmis", "GFMIS-like finance system", 3, True, ACR_MFA, False, None),
    ("search", "Records search", 4, True, ACR_PASSWORD, True, None),
]

# Each client's organisation scopes: name, Thai, English, seats per organisation.
DEMO_SCOPES = {
    "emt": [
        ("emt:view", "ดูข้อมูลการนำเข้า", "View imports", None),
        ("emt:release", "อนุมัติปล่อยสินค้า", "Release goods", None),
    ],
    "einvoice": [
        ("einvoice:submit", "ส่งใบกำกับภาษี", "Submit invoices", 3),
        ("einvoice:view", "ดูใบกำกับภาษี", "View invoices", None),
    ],
    "gfmis": [("gfmis:disburse", "เบิกจ่าย", "Disburse", None)],
    "search": [("search:query", "ค้นหาทะเบียน", "Search records", None)],
}

# Two companies sharing one member (alice, MISSION A5); somchai administers A.
DEMO_ORGS = [
    (
        "0105536092641",
        "บริษัท สยามนำเข้า จำกัด",
        "Siam Import Co., Ltd.",
        {
            "somchai": (
                "admin",
                [
                    "emt:view",
                    "emt:release",
                    "einvoice:submit",
                    "einvoice:view",
                    "gfmis:disburse",
                    "search:query",
                ],
            ),
            "alice": ("member", ["emt:view", "einvoice:view", "search:query"]),
        },
    ),
    (
        "0105548001239",
        "บริษัท ไทยค้าขาย จำกัด",
        "Thai Trading Co., Ltd.",
        {"alice": ("admin", ["einvoice:submit", "search:query"])},
    ),
    # Registered, waiting for an operator's approval (nok approves it at /operator).
    ("0105561234560", "บริษัท รอตรวจ จำกัด", "Awaiting Review Co., Ltd.", {}),
]
PENDING_ORGS = {"0105561234560"}
PROOFING_PORT_OFFSET = 8  # the demo proofing provider (identity app) on port + 8
# The demo agency's brand; the footer links go to the built-in pages.
DEMO_BRAND = {
    "brand_name_th": "ศูนย์บริการยืนยันตัวตนกลาง (สาธิต)",
    "brand_name_en": "Central Identity Service (demo)",
    "help_url": "/help",
    "privacy_url": "/privacy",
    "terms_url": "/terms",
}


def seed(app, host: str, port: int) -> tuple[dict[str, str], dict[str, str]]:
    """Create the demo people and clients if missing. Returns fresh client secrets
    (secrets are stored only as digests, so a new one each start) and the demo soft
    tokens' secrets (for an authenticator app or `oathtool --totp -b SECRET`)."""
    settings = app.extensions["idp_settings"]
    client_secrets: dict[str, str] = {}
    totp_secrets: dict[str, str] = {}
    with app.app_context(), get_db(app).factory() as s:  # mails render templates
        for username, email, name, password, with_totp in DEMO_USERS:
            user = s.scalar(select(User).where(User.username_key == username))
            if user is None:
                user = create_user(
                    s,
                    username=username,
                    email=email,
                    password=password,
                    name=name,
                    email_verified=True,
                    notice_version=notices.current_version(s),
                )
            if username in DEMO_VERIFIED and verdicts.latest_verified(s, user.id) is None:
                verdicts.record(
                    s,
                    verdict=Verdict(
                        outcome=Outcome.VERIFIED,
                        method=Method.REGISTRY,
                        at=now(),
                        evidence_ref=f"demo-{username}",
                        trust_framework="th_dopa",
                        evidence_type="electronic_record",
                        claims=DEMO_VERIFIED[username],
                    ),
                    user_id=user.id,
                )
            if user.is_operator != (username in DEMO_OPERATORS):
                set_operator(s, user.id, username in DEMO_OPERATORS, via="demo")
            if with_totp:
                factor = s.scalar(
                    select(MfaFactor).where(
                        MfaFactor.user_id == user.id,
                        MfaFactor.kind == "totp",
                        MfaFactor.status == "active",
                    )
                )
                if factor is None:
                    factor, _ = mfa.provision_totp(
                        s, settings, user, "Demo authenticator", actor=None, via="demo"
                    )
                totp_secrets[username] = mfa.totp_secret(settings, factor)
        for slug, title, offset, skip, min_acr, email_ok, _label in DEMO_RPS:
            base = f"http://{host}:{port + offset}"
            client_id = f"demo-{slug}"
            row = s.scalar(select(Client).where(Client.client_id == client_id))
            if row is None:
                row = register_client(
                    s,
                    name=title,
                    client_id=client_id,
                    redirect_uris=[f"{base}/callback"],
                    post_logout_redirect_uris=[f"{base}/logged-out"],
                    skip_consent=skip,
                ).row
            row.min_acr, row.allow_email_otp = min_acr, email_ok
            # Issue 11: logging out at the IdP signs the person out of every demo RP.
            row.backchannel_logout_uri = f"{base}/backchannel-logout"
            if slug in VERIFIED_RPS:  # issue 10: verified people only, verified_claims
                row.required_membership = "verified"
                row.scopes = list(dict.fromkeys([*row.scopes, *ASSURANCE_SCOPES]))
            secret = secrets.token_urlsafe(32)
            row.secret_hash = hashlib.sha256(secret.encode()).hexdigest()
            client_secrets[slug] = secret
        s.flush()
        _seed_orgs(s)
        s.commit()
    return client_secrets, totp_secrets


def _seed_orgs(s) -> None:
    from idp.models import ClientScope, Organization
    from idp.orgs import services as orgs

    scope_ids = {}
    for slug, scopes in DEMO_SCOPES.items():
        for name, th, en, seats in scopes:
            row = s.scalar(select(ClientScope).where(ClientScope.name == name))
            if row is None:
                row = orgs.add_scope(
                    s, f"demo-{slug}", name, description_th=th, description_en=en, seat_limit=seats
                )
            scope_ids[name] = row.id
    for identifier, name_th, name_en, people in DEMO_ORGS:
        if s.scalar(select(Organization).where(Organization.identifier == identifier)):
            continue
        org = orgs.create_org(
            s,
            kind="company",
            identifier=identifier,
            name_th=name_th,
            name_en=name_en,
            status="pending" if identifier in PENDING_ORGS else "active",
        )
        for slug in DEMO_SCOPES:
            orgs.allow_client(s, org.id, f"demo-{slug}")
        for username, (role, granted) in people.items():
            user = s.scalar(select(User).where(User.username_key == username))
            orgs.add_member(s, org.id, user, role=role)
            for name in granted:
                orgs.grant_scope(s, org.id, user.id, scope_ids[name])


def run_demo(host: str = "localhost", port: int = 5000, instance: str = "instance/demo") -> None:
    from idp.dev.outbox import start_sink
    from idp.dev.proofing_provider import ProviderClient, start_proofing_provider
    from idp.dev.registry import create_registry
    from relying_parties.app import VERIFIED_AUTH_PARAMS, RPConfig, create_rp

    Path(instance).mkdir(parents=True, exist_ok=True)
    sink, smtp_port = start_sink()
    # The demo population registry (fixture people, idp/dev/registry_people.json) on a
    # free port: the wizard's step 2 checks against it (README "Registration").
    registry = make_server("127.0.0.1", 0, create_registry(), threaded=True)
    registry_url = f"http://127.0.0.1:{registry.server_port}/check"
    issuer = f"http://{host}:{port}"
    # The identity app (cross-device proofing): the demo proofing provider plays it.
    proofing_secret = secrets.token_urlsafe(32)
    proofing, stop_proofing = start_proofing_provider(
        [
            ProviderClient(
                "demo-idp",
                proofing_secret,
                [f"{issuer}/proofing/app/callback"],
                DEMO_BRAND["brand_name_en"],
            )
        ],
        host=host,
        port=port + PROOFING_PORT_OFFSET,
    )
    app = create_app(
        {
            "database_url": f"sqlite:///{Path(instance).resolve() / 'demo.db'}",
            "issuer": issuer,
            "env": "development",
            "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
            "dev_outbox": True,
            "identity_app_issuer": proofing.issuer,
            "identity_app_client_id": "demo-idp",
            "identity_app_client_secret": proofing_secret,
            "registry_url": registry_url,
            **DEMO_BRAND,
        }
    )
    init_instance(app)
    client_secrets, totp_secrets = seed(app, host, port)
    settings = app.extensions["idp_settings"]
    servers = [make_server(host, port, app, threaded=True), registry]
    lines = [
        f"IdP          {issuer}   (discovery: {issuer}/.well-known/openid-configuration)",
        f"Mail outbox  {issuer}/dev/outbox",
        f"Identity app {proofing.issuer}   (demo proofing provider: {issuer}/proofing/app)",
        f"Register     {issuer}/register   (demo registry {registry_url}: national ID "
        "1101700203450, สมชาย ใจดี, born 1985-04-12)",
    ]
    for slug, title, offset, _skip, min_acr, _email, label in DEMO_RPS:
        base = f"http://{host}:{port + offset}"
        scope = " ".join(
            ["openid profile email offline_access"]
            + (["membership"] if slug in VERIFIED_RPS else [])
            + [name for name, *_ in DEMO_SCOPES[slug]]
        )
        rp = create_rp(
            RPConfig(
                slug=slug,
                title=title,
                issuer=issuer,
                client_id=f"demo-{slug}",
                client_secret=client_secrets[slug],
                base_url=base,
                step_up_label=label,
                scope=scope,
                auth_params=dict(VERIFIED_AUTH_PARAMS) if slug in VERIFIED_RPS else {},
                idp_name_th=settings.brand_name_th,
                idp_name_en=settings.brand_name_en,
                scope_labels={name: (th, en) for name, th, en, _s in DEMO_SCOPES[slug]},
            )
        )
        servers.append(make_server(host, port + offset, rp, threaded=True))
        lines.append(f"{base}  {title} (requires {min_acr.rsplit(':', 1)[1]})")
    print("idp demo is running:")
    for line in lines:
        print("  " + line)
    print("Demo logins (username / password):")
    for username, _e, _n, password, _t in DEMO_USERS:
        extra = ""
        if username in totp_secrets:
            extra = (
                f"  + authenticator app secret {totp_secrets[username]} "
                f"(codes: oathtool --totp -b {totp_secrets[username]})"
            )
        else:
            extra = "  (no second factor yet: e-Invoice will ask to set one up)"
        print(f"  {username} / {password}{extra}")
    print(
        "Organisations: Siam Import (somchai admin, alice member) and Thai Trading "
        "(alice admin); org admin console: sign in, then /account."
    )
    print(
        "Operator console (nok): /operator - approve 'Awaiting Review Co.', set limits, "
        "clients, seats, assurance levels; audit search."
    )
    print("Press Ctrl-C to stop.")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        for s in servers:
            s.shutdown()
        stop_proofing()
        sink.stop()
