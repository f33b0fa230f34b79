"""Load: N simulated people signing in again and again against a real `idp serve` on
PostgreSQL + Redis (issue 13 "bench/load.py").

Each person, in a loop until the time is up: /authorize, the login page, the password,
the emailed code (step-up: the client requires urn:idp:acr:mfa-email; the code comes
from an SMTP sink inside this process), the code exchange, userinfo, one refresh and
RP-initiated logout. Prints whole journeys per second, p50/p95/p99 per step, errors by
step and status, and the server's CPU seconds (its process tree, from /proc).

    .venv/bin/python bench/load.py --people 50 --duration 300

It recreates the database ``--database`` (default ``idp_load``) on the PostgreSQL of
``--pg`` and starts a private redis-server on a free port; nothing else is touched.
``bench/crash.py`` drives the same load while it kills workers and the server.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

PASSWORD = "load test password 1"  # noqa: S105 - the simulated people's password
REDIRECT = "http://rp.load.test/cb"
LOGGED_OUT = "http://rp.load.test/bye"
STEPS = (
    "authorize",
    "login_page",
    "password",
    "challenge_page",
    "send_code",
    "mail_arrives",  # from the send_code request to the code in the sink (the outbox)
    "step_up",
    "redirect",  # the hops back through /authorize after the password and the code
    "token",
    "userinfo",
    "refresh",
    "logout",
)


def free_port(addr: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


# --- The mail sink: the latest code per address -------------------------------------


MAIL_WAIT = 30  # seconds a person waits for the emailed code before giving up


class CodeSink:
    """aiosmtpd handler keeping each recipient's newest 6-digit code and when it came.
    Mails leave after the request's commit (the outbox's worker thread), so a code is
    waited for: one that arrived after the request that asked for it."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[float, str]] = {}
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        found = re.search(r"\b(\d{6})\b", text)
        if found:
            with self.arrived:
                self.codes[msg["To"]] = (time.monotonic(), found.group(1))
                self.arrived.notify_all()
        return "250 OK"

    def take(self, address: str, since: float, timeout: float = MAIL_WAIT) -> str | None:
        """The code mailed to ``address`` after ``since`` (monotonic), waiting for it."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                at, code = self.codes.get(address, (0.0, None))
                if code is not None and at >= since:
                    del self.codes[address]
                    return code
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.arrived.wait(left)


@contextmanager
def smtp_sink() -> Iterator[tuple[CodeSink, str]]:
    from aiosmtpd.controller import Controller

    sink = CodeSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@contextmanager
def private_redis(directory: Path) -> Iterator[str]:
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        import redis

        store = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(300):
            try:
                store.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        store.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- The database and its people -----------------------------------------------------


def recreate_database(pg: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{pg}/{name}"


def prepare(database_url: str, people: int) -> dict:
    """Schema, keys, ``people`` people (notice accepted) and one confidential client
    that requires the emailed code. Returns what the load needs."""
    from idp import create_app
    from idp.account.services import create_user
    from idp.cli import init_instance
    from idp.db import get_db
    from idp.enrollment.notices import current_version
    from idp.models import Client
    from idp.oidc.acr import ACR_MFA_EMAIL
    from idp.oidc.clients import register_client

    app = create_app({"database_url": database_url})
    init_instance(app)
    tag = secrets.token_hex(3)
    with get_db(app).factory() as s:
        version = current_version(s)
        names = []
        for i in range(people):
            name = f"load{tag}{i}"
            create_user(
                s,
                username=name,
                email=f"{name}@load.test",
                password=PASSWORD,
                name=f"Load Person {i}",
                notice_version=version,
            )
            names.append(name)
        new = register_client(
            s,
            name="load",
            redirect_uris=[REDIRECT],
            post_logout_redirect_uris=[LOGGED_OUT],
            skip_consent=True,
            public=False,
        )
        s.flush()
        s.get(Client, new.row.id).min_acr = ACR_MFA_EMAIL
        s.commit()
        info = {"client_id": new.row.client_id, "secret": new.secret, "people": names}
    get_db(app).dispose()
    return info


# --- The server ----------------------------------------------------------------------


@dataclass
class Server:
    env: dict
    port: int
    workers: int | None
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [sys.executable, "-m", "idp.cli", "serve", "--port", str(self.port)]
        if self.workers:
            args += ["--workers", str(self.workers)]
        with self.log.open("a") as out:
            # A session of its own: bench/crash.py kills the whole tree as a host dies.
            self.proc = subprocess.Popen(
                args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                requests.get(self.base + "/.well-known/openid-configuration", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError("idp serve did not start:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def server_env(database_url: str, redis_url: str, smtp_url: str) -> dict:
    return {
        **os.environ,
        "IDP_DATABASE_URL": database_url,
        "IDP_REDIS_URL": redis_url,
        "IDP_SMTP_URL": smtp_url,
        "IDP_SECRET_KEY": "load-test-secret-" + "0123456789abcdef" * 2,
        "IDP_ISSUER": "http://localhost",
        # every simulated person comes from 127.0.0.1: the per-address limits would
        # measure the limiter, not the IdP
        "IDP_LOGIN_RATE_LIMIT": "1000000 per minute",
        "IDP_BACKCHANNEL_LOGOUT_WORKER": "false",
    }


# --- The people ----------------------------------------------------------------------


@dataclass
class Results:
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)  # (step, status or exception name)
    error_log: list[tuple[float, str, object]] = field(default_factory=list)  # monotonic
    journeys: int = 0
    # What the load received and must still find (bench/crash.py checks it): the last
    # refresh token of each finished journey, the grant of which the server committed.
    refresh_tokens: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class StepFailed(Exception):
    pass


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    if not found:
        raise StepFailed("no csrf token")
    return found.group(1)


def local(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def journey(
    base: str, info: dict, username: str, sink: CodeSink, results: Results, think: float = 0.0
) -> None:
    """One whole sign-in with step-up, token, userinfo, refresh and logout; every step
    timed, the first failing step counted (with its status) and the journey given up.
    ``think``: a person's pause (uniform 0.5-1.5 x seconds, untimed) where a person
    reads or types: before the password and before the emailed code."""
    http = requests.Session()

    def pause() -> None:
        if think:
            time.sleep(think * (0.5 + secrets.randbelow(1000) / 1000))

    auth = (info["client_id"], info["secret"])

    def failed(name: str, what: object) -> None:
        with results.lock:
            results.errors[(name, what)] += 1
            results.error_log.append((time.monotonic(), name, what))

    def step(name: str, method: str, path: str, expect: tuple[int, ...], **kw):
        t0 = time.perf_counter()
        try:
            resp = http.request(method, base + path, allow_redirects=False, timeout=60, **kw)
        except requests.RequestException as exc:
            failed(name, type(exc).__name__)
            raise StepFailed(name) from exc
        results.timings[name].append(time.perf_counter() - t0)
        if resp.status_code not in expect:
            failed(name, resp.status_code)
            raise StepFailed(name)
        return resp

    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": info["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "openid profile email offline_access",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    resp = step("authorize", "GET", "/authorize?" + urlencode(params), (302, 303))
    login = local(resp.headers["Location"])
    page = step("login_page", "GET", login, (200,))
    data = {"username": username, "password": PASSWORD, "csrf_token": csrf(page.text)}
    pause()
    resp = step("password", "POST", login, (302, 303), data=data)
    while "/mfa/" not in resp.headers["Location"]:  # on through /authorize to the step-up
        resp = step("redirect", "GET", local(resp.headers["Location"]), (302, 303))
    challenge_page = local(resp.headers["Location"])
    page = step("challenge_page", "GET", challenge_page, (200,))
    flow = parse_qs(urlsplit(challenge_page).query)["flow"][0]
    asked = time.monotonic()
    step(
        "send_code",
        "POST",
        f"/mfa/email/send?flow={flow}",
        (303,),
        data={"csrf_token": csrf(page.text)},
    )
    code = sink.take(f"{username}@load.test", since=asked)
    results.timings["mail_arrives"].append(time.monotonic() - asked)  # after send_code asked
    if code is None:
        failed("send_code", "no mail")
        raise StepFailed("send_code")
    data = {"method": "email", "code": code, "csrf_token": csrf(page.text)}
    pause()
    resp = step("step_up", "POST", challenge_page, (302, 303), data=data)
    while not resp.headers["Location"].startswith(REDIRECT):  # back through /authorize
        resp = step("redirect", "GET", local(resp.headers["Location"]), (302, 303))
    got = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "code": got,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    tokens = step("token", "POST", "/token", (200,), data=exchange, auth=auth).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    step("userinfo", "GET", "/userinfo", (200,), headers=bearer)
    renew = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    renewed = step("refresh", "POST", "/token", (200,), data=renew, auth=auth).json()
    bye = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT})
    step("logout", "GET", "/logout?" + bye, (302,))
    with results.lock:
        results.journeys += 1
        results.refresh_tokens.append(renewed["refresh_token"])


def run_load(
    base: str,
    info: dict,
    sink: CodeSink,
    duration: float,
    think: float = 0.0,
    ramp: float = 0.0,
) -> Results:
    """Every person in its own thread, journeys back to back until ``duration`` ends
    (a journey in flight then is finished); ``think`` as in :func:`journey`. ``ramp``:
    the people arrive one after another over that many seconds (as a load tool's spawn
    rate), not all in the same instant; the ramp counts in ``duration``."""
    results = Results()
    started = time.monotonic()
    stop_at = started + duration
    people = info["people"]

    def person(index: int, username: str) -> None:
        time.sleep(max(0.0, started + ramp * index / len(people) - time.monotonic()))
        while time.monotonic() < stop_at:
            try:
                journey(base, info, username, sink, results, think)
            except StepFailed:
                time.sleep(0.2)  # do not spin on a server that is down
            except Exception as exc:  # noqa: BLE001 - counted, never silent
                with results.lock:
                    results.errors[("journey", type(exc).__name__)] += 1
                    results.error_log.append((time.monotonic(), "journey", type(exc).__name__))
                time.sleep(0.2)

    threads = [
        threading.Thread(target=person, args=(i, u), daemon=True) for i, u in enumerate(people)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(results: Results, wall: float, cpu: float, people: int) -> str:
    lines = [
        f"{people} people, {wall:.0f} s: {results.journeys} whole journeys "
        f"({results.journeys / wall:.2f}/s), server CPU {cpu:.0f} s "
        f"({results.journeys / cpu if cpu else 0:.2f} journeys per CPU-s)",
        "",
        "| step | requests | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in STEPS:
        values = results.timings.get(name, [])
        ms = [1000 * percentile(values, q) for q in (0.5, 0.95, 0.99)]
        lines.append(f"| {name} | {len(values)} | {ms[0]:.0f} | {ms[1]:.0f} | {ms[2]:.0f} |")
    total = sum(results.errors.values())
    lines.append("")
    lines.append(f"errors: {total}")
    for (name, status), n in sorted(results.errors.items(), key=str):
        lines.append(f"  {name}: {status} x{n}")
    return "\n".join(lines)


@contextmanager
def stack(args) -> Iterator[tuple[Server, dict, CodeSink]]:
    """Database, people, Redis, SMTP sink and the server, torn down afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="idp-load-"))
    url = recreate_database(args.pg, args.database)
    info = prepare(url, args.people)
    with private_redis(workdir) as redis_url, smtp_sink() as (sink, smtp_url):
        server = Server(
            server_env(url, redis_url, smtp_url), free_port(), args.workers, workdir / "serve.log"
        )
        server.start()
        try:
            yield server, info, sink
        finally:
            server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--workers", type=int, default=None, help="idp serve's default")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="idp_load")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds a person pauses before typing the password and the code (0: none)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="seconds over which the people arrive one by one (0: all at once)",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = arguments()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the sink: a line per SMTP verb
    with stack(args) as (server, info, sink):
        requests.get(server.base + "/jwks.json", timeout=30)  # warm every import
        cpu0, t0 = tree_cpu(server.proc.pid), time.monotonic()
        results = run_load(server.base, info, sink, args.duration, args.think, args.ramp)
        cpu, wall = tree_cpu(server.proc.pid) - cpu0, time.monotonic() - t0
    print(
        f"think time: {args.think:g} s (uniform 0.5-1.5 x) before the password and the code;"
        f" arrivals over {args.ramp:g} s"
    )
    print(report(results, wall, cpu, args.people))
    if args.json:
        steps = {
            name: {f"p{int(q * 100)}": percentile(v, q) for q in (0.5, 0.95, 0.99)}
            for name, v in results.timings.items()
        }
        errors = {f"{k[0]}:{k[1]}": n for k, n in results.errors.items()}
        print(json.dumps({"journeys": results.journeys, "steps": steps, "errors": errors}))


if __name__ == "__main__":
    main()
