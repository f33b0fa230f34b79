"""Mint what the benchmark consumes: one user and client, an access token, and many
single-use refresh tokens and authorization codes (written straight to the database,
so the load generator never has to run a browser flow for them)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path

from sqlalchemy import insert, text

from idp import create_app
from idp.account.services import create_user
from idp.cli import init_instance
from idp.db import get_db, without_statement_timeout
from idp.enrollment import notices
from idp.models import AuthorizationCode, Grant, Token
from idp.oidc.clients import register_client

VERIFIER = "bench-verifier-" + "x" * 40
REDIRECT = "http://localhost:9/cb"


def digest(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()


def main(out: Path, n: int) -> None:
    app = create_app()
    init_instance(app)
    t = int(time.time())
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
    with get_db(app).factory() as s:
        user = create_user(
            s,
            username=f"bench{secrets.token_hex(3)}",
            password="bench password 1",
            email=f"bench{secrets.token_hex(3)}@example.org",
            name="Bench User",
        )
        # The person has accepted the current personal-data notice, as every signed-up
        # person has: else each whole login stops at /signin/notice (issue 10's step).
        notices.accept(s, user, notices.current_version(s), ip=None, user_agent="bench", now=t)
        new = register_client(
            s,
            name="bench",
            redirect_uris=[REDIRECT],
            skip_consent=True,
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            scopes=["openid", "profile", "email", "offline_access", "api:read"],
            id_token_alg=sys.argv[3] if len(sys.argv) > 3 else "RS256",
        )
        client_id = new.row.client_id
        grant = Grant(
            client_id=client_id,
            user_id=user.id,
            scope="openid profile email offline_access",
            auth_time=t,
            acr="urn:idp:acr:pwd",
            amr=["pwd"],
            created_at=t,
        )
        s.add(grant)
        s.flush()
        access = secrets.token_urlsafe(32)
        s.add(
            Token(
                token_hash=digest(access),
                kind="access",
                grant_id=grant.id,
                client_id=client_id,
                user_id=user.id,
                scope=grant.scope,
                issued_at=t,
                expires_at=t + 86400,
            )
        )
        refresh, codes, rows_rt, rows_code = [], [], [], []
        for _ in range(n):
            rt, code = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            refresh.append(rt)
            codes.append(code)
            rows_rt.append(
                dict(
                    token_hash=digest(rt),
                    kind="refresh",
                    grant_id=grant.id,
                    client_id=client_id,
                    user_id=user.id,
                    scope=grant.scope,
                    issued_at=t,
                    expires_at=t + 86400,
                )
            )
            rows_code.append(
                dict(
                    code_hash=digest(code),
                    client_id=client_id,
                    user_id=user.id,
                    redirect_uri=REDIRECT,
                    scope="openid profile email",
                    nonce="n",
                    code_challenge=challenge.decode(),
                    code_challenge_method="S256",
                    auth_time=t,
                    acr="urn:idp:acr:pwd",
                    amr=["pwd"],
                    created_at=t,
                    expires_at=t + 86400,
                )
            )
        s.execute(insert(Token), rows_rt)
        s.execute(insert(AuthorizationCode), rows_code)
        s.commit()
    out.mkdir(parents=True, exist_ok=True)
    (out / "refresh.txt").write_text("\n".join(refresh) + "\n")
    (out / "codes.txt").write_text("\n".join(codes) + "\n")
    (out / "bench.json").write_text(
        json.dumps(
            {
                "client_id": client_id,
                "client_secret": new.secret,
                "access_token": access,
                "verifier": VERIFIER,
                "redirect_uri": REDIRECT,
                "username": user.username,
                "password": "bench password 1",
            }
        )
    )


def scale(n: int) -> None:
    """``--scale N`` (or ``BENCH_SCALE=N`` in the environment, which bench/run.sh passes
    through to every prepare): fill the database once with N people, active tokens,
    codes, sessions and audit events (bench/scale.py), so the run measures a grown
    database. A database that already has N people is left as it is."""
    from scale import fill  # bench/scale.py: this script's directory is on sys.path
    from sqlalchemy import func, select

    from idp.models import User

    app = create_app()
    init_instance(app)
    with get_db(app).factory() as s:
        if s.scalar(select(func.count()).select_from(User)) >= n:
            return
        started = time.perf_counter()
        without_statement_timeout(s.connection())  # a million rows per statement
        fill(s, n)
        for table in ("users", "tokens", "authorization_codes", "web_sessions", "audit_events"):
            s.execute(text(f"ANALYZE {table}"))
        s.commit()
    print(f"filled {n} rows per hot table in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    rows = int(os.environ.get("BENCH_SCALE", "0"))
    if "--scale" in sys.argv:  # prepare.py OUT N [ALG] --scale ROWS
        at = sys.argv.index("--scale")
        rows = int(sys.argv[at + 1])
        del sys.argv[at : at + 2]
    if rows:
        scale(rows)
    main(Path(sys.argv[1]), int(sys.argv[2]))
