"""Benchmark `idp serve` (default workers) on PostgreSQL with wrk -t2 -c16 -d10s.

Reports requests/s and requests per server CPU-second (CPU time of the server's
process tree sampled from /proc before and after each run; wrk shares the two cores,
so the per-CPU-second figure is the comparable one). Median of 3 runs.

In the same run, for each server of ``--servers`` (granian, gunicorn sync, gunicorn
gthread), the floors (bench/floors/: raw WSGI hello, Flask hello, Flask token-sim
signing one RS256 JWT) with the same worker count, then idp itself: every endpoint on
the first server, ``--compare`` endpoints on the others; resident memory of the idp
server (per worker and in total, from /proc) after its endpoints ran.

    python bench/bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

HERE = Path(__file__).parent
# This checkout's idp (its server settings), not whichever one the venv has installed.
sys.path.insert(0, str(HERE.parent))
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of pid and all its descendants."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        stack.extend(int(c) for c in children)
    return total


def tree_pids(pid: int) -> list[int]:
    """pid and all its descendant processes (threads are not processes)."""
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids.append(p)
        stack.extend(int(c) for c in children)
    return pids


def rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def memory(pid: int) -> dict:
    """Resident memory of the main process and of each worker (MiB)."""
    workers = [rss_mib(p) for p in tree_pids(pid) if p != pid]
    main = rss_mib(pid)
    return {
        "main_mib": round(main, 1),
        "workers": len(workers),
        "per_worker_mib": round(statistics.mean(workers), 1) if workers else 0.0,
        "total_mib": round(main + sum(workers), 1),
    }


# name -> (server, threads per worker) as `idp serve --server S --threads T` takes them;
# bench/RESULTS.md of 2026-12-03 ran granian at 1 thread (now "granian-bt1")
SERVERS = {
    "granian": ("granian", 4),  # what `idp serve` runs by default
    "granian-bt1": ("granian", 1),
    "gunicorn": ("gunicorn", 1),
    "gunicorn-gthread": ("gunicorn", 4),
}


def median_of(runs: list[dict]) -> dict:
    med = sorted(runs, key=lambda r: r["per_cpu"])[len(runs) // 2]
    return {
        "median_rps": statistics.median(r["rps"] for r in runs),
        "median_per_cpu": med["per_cpu"],
        "non2xx": sum(r["non2xx"] for r in runs),
        "runs": runs,
    }


def repeat(name: str, pid: int, make, n: int) -> dict:
    runs = []
    for i in range(n):
        r = measure(pid, make())
        r.pop("raw", None)
        runs.append(r)
        print(
            f"{name:<36} run {i + 1}: {r['rps']:8.0f} req/s {r['per_cpu']:8.0f} "
            f"req/CPU-s  non-2xx {r['non2xx']}",
            flush=True,
        )
    return median_of(runs)


def floors(spec: str, workers: int, runs: int, duration: int) -> dict:
    """The floor apps under one server with idp's worker count."""
    from idp.cli.instance import server_command

    server, threads = SERVERS[spec]
    env = {**os.environ, "PYTHONPATH": str(HERE / "floors"), "PYTHONUNBUFFERED": "1"}
    basic = "Basic " + base64.b64encode(b"bench-client:bench-secret-0123456789abcdef").decode()
    cases = {
        "wsgi_hello": ("hello_wsgi:app", "/", "get.lua", {}),
        "flask_hello": ("hello_flask:app", "/", "get.lua", {}),
        "token_sim": (
            "hello_flask:app",
            "/token-sim",
            "post.lua",
            {"AUTH_HEADER": basic, "BODY": "grant_type=client_credentials&scope=api:read"},
        ),
    }
    out = {}
    for name, (target, path, script, wrk_env) in cases.items():
        port = free_port()
        argv = server_command(server, "127.0.0.1", port, workers, threads, False, target)
        proc = subprocess.Popen(
            [sys.executable, "-m", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/", proc)
            url = base + path
            out[name] = repeat(
                f"floor {name} [{spec}]",
                proc.pid,
                lambda url=url, script=script, wrk_env=wrk_env: (
                    lambda: wrk(url, script, wrk_env, duration)
                ),
                runs,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return out


def wrk(url: str, script: str, env: dict, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{duration}s", "-s", str(HERE / script), url],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    ).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": total,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "raw": out,
    }


def measure(pid: int, fn) -> dict:
    cpu0, t0 = tree_cpu(pid), time.monotonic()
    result = fn()
    cpu, wall = tree_cpu(pid) - cpu0, time.monotonic() - t0
    result.update(
        cpu=cpu,
        wall=wall,
        rps=result["requests"] / wall,
        per_cpu=result["requests"] / cpu if cpu else 0.0,
    )
    return result


def login_load(base: str, info: dict, duration: float, threads: int = 4) -> dict:
    """Whole password logins: authorize -> login form -> code -> token."""
    done, failed, stop = [0], [0], time.monotonic() + duration
    auth = (info["client_id"], info["client_secret"])
    challenge = (
        base64.urlsafe_b64encode(__import__("hashlib").sha256(info["verifier"].encode()).digest())
        .rstrip(b"=")
        .decode()
    )

    def one() -> bool:
        s = requests.Session()
        r = s.get(
            f"{base}/authorize",
            params={
                "response_type": "code",
                "client_id": info["client_id"],
                "redirect_uri": info["redirect_uri"],
                "scope": "openid profile",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
        )
        where = "authorize"

        def moved(resp: requests.Response) -> str:
            if "Location" not in resp.headers:
                title = re.search(r"alert[^>]*>\s*([^<]{0,120})", resp.text)
                raise LookupError(f"{where} {resp.status_code} {title and title.group(1)}")
            return resp.headers["Location"]

        login_url = urljoin(base, moved(r))
        page = s.get(login_url)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        r = s.post(
            login_url,
            data={"username": info["username"], "password": info["password"], "csrf_token": token},
            allow_redirects=False,
        )
        where = "password"
        r = s.get(urljoin(base, moved(r)), allow_redirects=False)
        where = "authorize again"
        code = parse_qs(urlsplit(moved(r)).query)["code"][0]
        r = s.post(
            f"{base}/token",
            auth=auth,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": info["redirect_uri"],
                "code_verifier": info["verifier"],
            },
        )
        ok = r.status_code == 200 and "id_token" in r.json()
        if not ok:
            key = f"token {r.status_code} {r.text[:80]}"
            reasons[key] = reasons.get(key, 0) + 1
        return ok

    reasons: dict[str, int] = {}

    def worker():
        while time.monotonic() < stop:
            try:
                ok = one()
            except Exception as err:  # noqa: BLE001 - counted, the run goes on
                key = f"{type(err).__name__}: {str(err)[:80]}"
                reasons[key] = reasons.get(key, 0) + 1
                ok = False
            (done if ok else failed)[0] += 1

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if reasons:
        print("  failed logins:", reasons, flush=True)
    return {"requests": done[0], "non2xx": failed[0], "socket_errors": ""}


def wait_for(url: str, proc: subprocess.Popen) -> None:
    for _ in range(300):
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            if proc.poll() is not None:
                sys.exit("server exited")
            time.sleep(0.1)
    sys.exit("server did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    from idp.cli.instance import default_workers

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--alg", default="RS256", choices=["RS256", "ES256"])
    ap.add_argument("--only", default="", help="endpoints to run on the first server")
    ap.add_argument("--servers", default="granian,gunicorn,gunicorn-gthread")
    ap.add_argument("--compare", default="discovery,userinfo,client_credentials")
    ap.add_argument("--no-floors", action="store_true")
    args = ap.parse_args()
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    workers = default_workers()
    results: dict = {"workers": workers, "floors": {}, "idp": {}, "memory": {}}
    for n, spec in enumerate(args.servers.split(",")):
        if not args.no_floors:
            results["floors"][spec] = floors(spec, workers, args.runs, args.duration)
        only = args.only if n == 0 else args.compare
        idp, mem = run_idp(args, spec, only)
        results["idp"][spec], results["memory"][spec] = idp, mem
        print(f"memory [{spec}]: {json.dumps(mem)}", flush=True)
        (out / f"results-{args.alg}.json").write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(results: dict) -> None:
    """Every figure as requests per server CPU-second and as a ratio to its floors."""
    print("\nserver            endpoint              req/CPU-s  /wsgi  /flask  /token-sim")
    for spec, endpoints in results["idp"].items():
        fl = {k: v["median_per_cpu"] for k, v in results["floors"].get(spec, {}).items()}
        rows = [(f"floor {k}", v) for k, v in fl.items()]
        rows += [(k, v["median_per_cpu"]) for k, v in endpoints.items()]
        for name, per_cpu in rows:
            ratios = [
                f"{per_cpu / fl[f]:6.2f}" if fl.get(f) else "     -"
                for f in ("wsgi_hello", "flask_hello", "token_sim")
            ]
            print(f"{spec:<17} {name:<20} {per_cpu:10.0f}  " + "  ".join(ratios))


def run_idp(args, spec: str, only: str) -> tuple[dict, dict]:
    """idp under one server: the endpoints of ``only`` (all when empty)."""
    server, threads = SERVERS[spec]
    out = HERE / "out"
    port = free_port()
    base = f"http://localhost:{port}"
    env = {
        **os.environ,
        "IDP_DATABASE_URL": args.db,
        "IDP_ISSUER": base,
        "IDP_LOGIN_RATE_LIMIT": "1000000 per minute",
        "IDP_ENV": "development",
    }
    per_run = 40_000
    subprocess.run(
        [sys.executable, str(HERE / "prepare.py"), str(out), str(per_run), args.alg],
        env=env,
        check=True,
    )
    info = json.loads((out / "bench.json").read_text())
    basic = (
        "Basic "
        + base64.b64encode(f"{info['client_id']}:{info['client_secret']}".encode()).decode()
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "idp.cli", "serve", "--port", str(port), "--server", server]
        + ["--threads", str(threads)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def prepared() -> tuple[dict, str]:
        """Fresh single-use refresh tokens and codes (and a client) for one run."""
        subprocess.run(
            [sys.executable, str(HERE / "prepare.py"), str(out), str(per_run), args.alg],
            env=env,
            check=True,
        )
        i = json.loads((out / "bench.json").read_text())
        return i, "Basic " + base64.b64encode(
            f"{i['client_id']}:{i['client_secret']}".encode()
        ).decode()

    def consume(kind: str):
        i, auth = prepared()
        body = (
            "grant_type=refresh_token&refresh_token=ITEM"
            if kind == "refresh"
            else "grant_type=authorization_code&code=ITEM&redirect_uri="
            + i["redirect_uri"]
            + "&code_verifier="
            + i["verifier"]
        )
        listing = out / ("refresh.txt" if kind == "refresh" else "codes.txt")
        return lambda: wrk(
            base + "/token",
            "consume.lua",
            {"AUTH_HEADER": auth, "LIST_FILE": str(listing), "BODY_TEMPLATE": body},
            args.duration,
        )

    try:
        wait_for(base + "/jwks.json", proc)
        bearer = f"Bearer {info['access_token']}"
        cases = {
            "discovery": lambda: (
                lambda: wrk(
                    base + "/.well-known/openid-configuration", "get.lua", {}, args.duration
                )
            ),
            "jwks": lambda: lambda: wrk(base + "/jwks.json", "get.lua", {}, args.duration),
            "userinfo": lambda: (
                lambda: wrk(base + "/userinfo", "get.lua", {"AUTH_HEADER": bearer}, args.duration)
            ),
            "introspection": lambda: (
                lambda: wrk(
                    base + "/introspect",
                    "post.lua",
                    {"AUTH_HEADER": basic, "BODY": f"token={info['access_token']}"},
                    args.duration,
                )
            ),
            "client_credentials": lambda: (
                lambda: wrk(
                    base + "/token",
                    "post.lua",
                    {"AUTH_HEADER": basic, "BODY": "grant_type=client_credentials&scope=api:read"},
                    args.duration,
                )
            ),
            "refresh": lambda: consume("refresh"),
            "code_exchange": lambda: consume("code"),
            "password_login": lambda: lambda: login_load(base, info, args.duration),
        }
        results = {}
        for name, make in cases.items():
            if only and name not in only.split(","):
                continue
            results[name] = repeat(f"{name} [{spec}]", proc.pid, make, args.runs)
        return results, memory(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
