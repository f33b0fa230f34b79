"""In-process CPU ms per request for the hot endpoints (issue 12): app.test_client()
against a scratch PostgreSQL database, best of 5 batches, plus the statements the first
request of each endpoint sends (SQL=1). Run from the repository root:
``N=501 [ONLY=userinfo,refresh] [SQL=1] [PROFILE=refresh [PROFILE_OUT=f]] .venv/bin/python
bench/probe.py``. Function calls (``python bench/calls.py f``) are the steady measure:
CPU time moves by ±30 % between runs on a shared machine, the calls do not.
"""

import base64
import json
import os
import secrets
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())
from pathlib import Path

from sqlalchemy import create_engine, text

N = int(os.environ.get("N", "300"))
admin = create_engine(
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
)
name = "idp_probe_" + secrets.token_hex(3)
with admin.connect() as c:
    c.execute(text(f'CREATE DATABASE "{name}"'))
url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
os.environ["IDP_DATABASE_URL"] = url
os.environ["IDP_ISSUER"] = "http://localhost"
os.environ["IDP_ENV"] = "development"
os.environ["IDP_LOGIN_RATE_LIMIT"] = "1000000 per minute"
try:
    sys.path.insert(0, "bench")
    import prepare

    out = Path(tempfile.mkdtemp())
    prepare.main(out, N)
    info = json.loads((out / "bench.json").read_text())
    refresh = (out / "refresh.txt").read_text().split()
    codes = (out / "codes.txt").read_text().split()
    import psycopg

    from idp import create_app

    WAITS = [0]
    _orig_wait = psycopg.Connection.wait

    def _wait(self, *a, **k):
        WAITS[0] += 1
        return _orig_wait(self, *a, **k)

    psycopg.Connection.wait = _wait
    app = create_app()
    c = app.test_client()
    from sqlalchemy import event

    from idp.db import get_db

    STMTS = []

    @event.listens_for(get_db(app).engine, "before_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany):
        STMTS.append(statement.split()[0] + " " + " ".join(statement.split()[1:6]))

    for ev in ("begin", "commit", "rollback"):
        event.listen(get_db(app).engine, ev, lambda conn, ev=ev: STMTS.append(ev.upper()))
    basic = (
        "Basic "
        + base64.b64encode(f"{info['client_id']}:{info['client_secret']}".encode()).decode()
    )
    bearer = "Bearer " + info["access_token"]
    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic}
    cases = {
        "discovery": lambda i: c.get("/.well-known/openid-configuration"),
        "jwks": lambda i: c.get("/jwks.json"),
        "userinfo": lambda i: c.get("/userinfo", headers={"Authorization": bearer}),
        "introspection": lambda i: c.post(
            "/introspect", data="token=" + info["access_token"], headers=form
        ),
        "client_credentials": lambda i: c.post(
            "/token", data="grant_type=client_credentials&scope=api:read", headers=form
        ),
        "refresh": lambda i: c.post(
            "/token", data="grant_type=refresh_token&refresh_token=" + refresh[i], headers=form
        ),
        "code_exchange": lambda i: c.post(
            "/token",
            data=f"grant_type=authorization_code&code={codes[i]}&redirect_uri={info['redirect_uri']}&code_verifier={info['verifier']}",
            headers=form,
        ),
        "revoke_unknown": lambda i: c.post("/revoke", data="token=nope" + str(i), headers=form),
    }
    only = os.environ.get("ONLY", "")
    prof = os.environ.get("PROFILE")
    for k, fn in cases.items():
        if only and k not in only.split(","):
            continue
        STMTS.clear()
        r = fn(0)
        if os.environ.get("SQL"):
            print(k, STMTS)
        assert r.status_code == 200, (k, r.status_code, r.data[:300])
        if prof == k:
            import cProfile
            import pstats

            pr = cProfile.Profile()
            pr.enable()
        WAITS[0] = 0
        best = []
        per = (N - 1) // 5
        for b in range(5):
            t0 = time.process_time()
            for i in range(1 + b * per, 1 + (b + 1) * per):
                r = fn(i)
                assert r.status_code == 200, (k, r.status_code, r.data[:300])
            best.append(time.process_time() - t0)
        dt = min(best) * (N - 1) / per
        waits = WAITS[0] / (5 * per)
        if prof == k:
            pr.disable()
            if os.environ.get("PROFILE_OUT"):  # for bench/calls.py: calls per package
                pr.dump_stats(os.environ["PROFILE_OUT"])
            pstats.Stats(pr).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(45)
        print(
            f"{k:<20} {1000 * dt / (N - 1):6.2f} CPU ms/req (best of 5)  "
            f"{waits:4.1f} psycopg waits/req",
            flush=True,
        )
finally:
    try:
        from idp.db import get_db

        get_db(app).dispose()
    except Exception:  # noqa: S110 - best effort before the database is dropped
        pass
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
