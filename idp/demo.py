"""``idp demo``: a SQLite instance with demo people and relying parties, the IdP and
the demo RPs served from one process. Ctrl-C stops everything."""

from __future__ import annotations

import hashlib
import secrets
import threading
from pathlib import Path

from sqlalchemy import select
from werkzeug.serving import make_server

from idp import create_app
from idp.account.services import create_user
from idp.cli import init_instance
from idp.db import get_db
from idp.models import Client, User
from idp.oidc.clients import register_client

DEMO_USERS = [
    # username, email, name, password
    ("somchai", "somchai@example.co.th", "สมชาย ใจดี", "Mango-Sticky-Rice-42"),
    ("alice", "alice@example.org", "Alice Example", "Green-Curry-Lime-17"),
]

DEMO_RPS = [
    # slug, title, port offset, skip consent
    ("emt", "eMT - import material tracking", 1, True),
    ("einvoice", "e-Invoice / e-Receipt", 2, False),
]


def seed(app, host: str, port: int) -> dict[str, str]:
    """Create the demo people and clients if missing; return fresh client secrets
    (a new secret each start, since secrets are stored only as digests)."""
    secrets_by_slug: dict[str, str] = {}
    with get_db(app).factory() as s:
        for username, email, name, password in DEMO_USERS:
            if s.scalar(select(User).where(User.username_key == username)) is None:
                create_user(
                    s,
                    username=username,
                    email=email,
                    password=password,
                    name=name,
                    email_verified=True,
                )
        for slug, title, offset, skip in DEMO_RPS:
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
            secret = secrets.token_urlsafe(32)
            row.secret_hash = hashlib.sha256(secret.encode()).hexdigest()
            secrets_by_slug[slug] = secret
        s.commit()
    return secrets_by_slug


def run_demo(host: str = "localhost", port: int = 5000, instance: str = "instance/demo") -> None:
    from relying_parties.app import RPConfig, create_rp

    Path(instance).mkdir(parents=True, exist_ok=True)
    issuer = f"http://{host}:{port}"
    app = create_app(
        {
            "database_url": f"sqlite:///{Path(instance).resolve() / 'demo.db'}",
            "issuer": issuer,
            "env": "development",
        }
    )
    init_instance(app)
    client_secrets = seed(app, host, port)
    servers = [make_server(host, port, app, threaded=True)]
    lines = [f"IdP            {issuer}   (discovery: {issuer}/.well-known/openid-configuration)"]
    for slug, title, offset, _skip in DEMO_RPS:
        base = f"http://{host}:{port + offset}"
        rp = create_rp(
            RPConfig(
                slug=slug,
                title=title,
                issuer=issuer,
                client_id=f"demo-{slug}",
                client_secret=client_secrets[slug],
                base_url=base,
            )
        )
        servers.append(make_server(host, port + offset, rp, threaded=True))
        lines.append(f"{title:<14} {base}")
    print("idp demo is running:")
    for line in lines:
        print("  " + line)
    print("Demo logins (username / password):")
    for username, _e, _n, password in DEMO_USERS:
        print(f"  {username} / {password}")
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
