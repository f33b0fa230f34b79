"""`kill -9` under load (issue 13 "Faults survived"): while ``bench/load.py``'s people
sign in, kill one gunicorn worker, then the whole server (master and workers at once,
as when a host loses power), and start it again as systemd's ``Restart=always`` would.
Then show:

1. the master brought a new worker up in place of the killed one;
2. no committed write was lost: every refresh token a finished journey received is
   still accepted by the restarted server;
3. nothing is half-written (SQL): no consumed code without its grant and tokens, no
   grant without tokens, no rotated refresh token without its successor in a live family;
4. only requests in flight (or sent while the server was down) failed, and none with a
   5xx; a code mail whose first try died with its worker or host is still queued in the
   outbox for ``idp jobs run`` (a person waiting for it gave up, the mail is not lost).

    .venv/bin/python bench/crash.py --people 50 --duration 90
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import MAIL_WAIT, Server, arguments, report, run_load, stack, tree_cpu  # noqa: E402

HALF_WRITTEN = {
    "consumed codes without a grant holding an access token": """
        SELECT count(*) FROM authorization_codes c
        WHERE c.used_at IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM tokens t WHERE t.grant_id = c.grant_id AND t.kind = 'access')""",
    "grants without any token": """
        SELECT count(*) FROM grants g
        WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = g.id)""",
    "rotated refresh tokens without a successor in a live family": """
        SELECT count(*) FROM tokens r JOIN grants g ON g.id = r.grant_id
        WHERE r.kind = 'refresh' AND r.used_at IS NOT NULL AND g.revoked_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM tokens n WHERE n.grant_id = r.grant_id
                          AND n.kind = 'refresh' AND n.id > r.id)""",
}
# A mail whose first try died with its worker or host is not lost: it stays queued, and
# `idp jobs run` sends it once its lease (mail_outbox.LEASE) has passed.
QUEUED_MAILS = "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL"


def workers_of(master: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        children |= {int(c) for c in (task / "children").read_text().split()}
    return children


def wait(what: str, check, seconds: float = 60) -> float:
    """Poll ``check`` until true; the seconds it took."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > seconds:
            raise SystemExit(f"FAILED: {what} within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - t0


def answers(server: Server) -> bool:
    try:
        return requests.get(server.base + "/jwks.json", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def main() -> None:
    args = arguments()
    workers = args.workers or 3
    args.workers = workers
    events: list[tuple[float, str]] = []
    with stack(args) as (server, info, sink):
        requests.get(server.base + "/jwks.json", timeout=30)
        box: dict = {}
        cpu0, t0 = tree_cpu(server.proc.pid), time.monotonic()
        load = threading.Thread(
            target=lambda: box.update(r=run_load(server.base, info, sink, args.duration))
        )
        load.start()

        time.sleep(args.duration * 0.25)
        before = workers_of(server.proc.pid)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        events.append((time.monotonic(), f"kill -9 worker {victim}"))
        took = wait(
            "the master replacing the worker",
            lambda: (
                len(workers_of(server.proc.pid) - before) == 1
                and len(workers_of(server.proc.pid)) == workers
            ),
        )
        replaced = workers_of(server.proc.pid) - before
        events.append((time.monotonic(), f"worker {victim} replaced by {replaced} in {took:.1f} s"))

        time.sleep(args.duration * 0.25)
        cpu_before_host_kill = tree_cpu(server.proc.pid) - cpu0
        os.killpg(server.proc.pid, signal.SIGKILL)  # master and workers at once
        server.proc.wait()
        down_at = time.monotonic()
        events.append((down_at, f"kill -9 the whole server (master {server.proc.pid})"))
        server.start()
        up_at = time.monotonic()
        events.append((up_at, f"restarted, answering after {up_at - down_at:.1f} s"))
        cpu1 = tree_cpu(server.proc.pid)
        load.join()
        results = box["r"]
        cpu = cpu_before_host_kill + tree_cpu(server.proc.pid) - cpu1
        wall = time.monotonic() - t0

        # 2. Every refresh token the load received is still known and valid.
        auth = (info["client_id"], info["secret"])
        refused = Counter()
        for value in results.refresh_tokens:
            resp = requests.post(
                server.base + "/token",
                data={"grant_type": "refresh_token", "refresh_token": value},
                auth=auth,
                timeout=60,
            )
            if resp.status_code != 200:
                refused[(resp.status_code, resp.text[:80])] += 1
        database_url = server.env["IDP_DATABASE_URL"]
    engine = create_engine(database_url)
    with engine.connect() as c:
        half = {name: c.execute(text(sql)).scalar_one() for name, sql in HALF_WRITTEN.items()}
        unsent = c.execute(text(QUEUED_MAILS)).scalar_one()
    engine.dispose()

    print(report(results, wall, cpu, args.people))
    print()
    for at, what in events:
        print(f"  t={at - t0:6.1f} s  {what}")
    kill_worker_at = events[0][0]
    by_window = Counter()
    for at, step, what in results.error_log:
        # A code that never came was noticed MAIL_WAIT after the request that asked for
        # it; its mail was in flight if that request was answered up to 5 s before a
        # kill (committed, its first try still in the dead worker's send thread).
        early = 5 if what == "no mail" else 0
        if what == "no mail":
            at -= MAIL_WAIT
        if kill_worker_at - early <= at <= kill_worker_at + 5:
            window = "within 5 s of the worker kill"
        elif down_at - early <= at <= up_at + 1:
            window = "while the server was down"
        else:
            window = "at any other time"
        by_window[(window, step, what)] += 1
    print()
    print("errors by when they happened:")
    for (window, step, what), n in sorted(by_window.items(), key=str):
        print(f"  {window}: {step} {what} x{n}")
    server_errors = sum(n for (_, _, what), n in by_window.items() if str(what).startswith("5"))
    elsewhere = sum(n for (window, _, _), n in by_window.items() if window == "at any other time")
    print()
    print(f"worker replaced by the master: {bool(replaced)}")
    print(
        f"refresh tokens received by finished journeys: {len(results.refresh_tokens)}, "
        f"refused after the restart: {sum(refused.values())} {dict(refused) or ''}"
    )
    for name, n in half.items():
        print(f"{name}: {n}")
    print(f"5xx answers: {server_errors}; failures outside the kill windows: {elsewhere}")
    ok = replaced and not refused and not any(half.values()) and not server_errors
    print(f"(not an error) mails queued for a retry by `idp jobs run`: {unsent}")
    no_mail = sum(n for (_, _, what), n in by_window.items() if what == "no mail")
    print(f"codes that never came: {no_mail}, each a mail still queued: {no_mail <= unsent}")
    ok = ok and not elsewhere and no_mail <= unsent
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
