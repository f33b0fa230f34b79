"""Real hosts on one machine: Linux network namespaces, each linked to the machine by a
veth pair in a private /30 of 10.231.0.0/16, each running ``idp serve`` of its own.

The namespaces share the machine's filesystem, so a host reaches the machine's
PostgreSQL and a private Redis through their Unix sockets (a socket file crosses
network namespaces; TCP on 127.0.0.1 would not: each namespace has its own loopback).
From the machine, the test reaches a host only at its veth address, as a load balancer
reaches the hosts behind it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy.engine import make_url

PG_SOCKET_DIR = "/var/run/postgresql"


def why_no_namespaces() -> str:
    """Why this machine cannot make network namespaces, or "" if it can."""
    if os.geteuid() != 0:
        return "needs root: creating network namespaces and veth links takes CAP_NET_ADMIN"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip` (apt-get install iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`ip netns` does not work here: {probe.stderr.strip()}"
    if not Path(PG_SOCKET_DIR, ".s.PGSQL.5432").exists():
        return f"no PostgreSQL socket in {PG_SOCKET_DIR} for the namespaces to reach"
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _free_subnets(count: int) -> list[int]:
    """Third octets x such that no interface on the machine has an address in 10.231.x.*."""
    used = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    free = [x for x in range(1, 255) if f"10.231.{x}." not in used]
    return secrets.SystemRandom().sample(free, count)


@dataclass
class Namespace:
    name: str  # the namespace, also the prefix of its veth names (<= 15 characters)
    machine_addr: str  # the machine's end of the veth link
    addr: str  # the namespace's end

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], **kw)

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        # `ip netns exec` execs the command, so the Popen's pid is the command's own.
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)


@contextmanager
def namespace() -> Iterator[Namespace]:
    """A network namespace with a veth link to the machine in its own /30; removed
    afterwards even when the block fails."""
    tag = secrets.token_hex(3)
    name, outside, inside = f"idp{tag}", f"idp{tag}h", f"idp{tag}n"
    (x,) = _free_subnets(1)
    ns = Namespace(name, f"10.231.{x}.1", f"10.231.{x}.2")
    try:
        _ip("netns", "add", name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{ns.machine_addr}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{ns.addr}/30", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield ns
    finally:
        # Deleting one end of a veth pair deletes both.
        subprocess.run(["ip", "link", "del", outside], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def socket_database_url(url: str) -> str:
    """The same PostgreSQL database reached through the Unix socket instead of TCP."""
    parsed = make_url(url).set(host=None, port=None)
    parsed = parsed.update_query_dict({"host": PG_SOCKET_DIR})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def unix_redis(directory: Path) -> Iterator[str]:
    """A private redis-server listening only on a Unix socket in ``directory`` (no TCP
    port, nothing saved); yields the socket's path."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    path = directory / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700"]
        + ["--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        import redis

        store = redis.Redis(unix_socket_path=str(path))
        deadline = time.monotonic() + 30
        while True:  # poll until it answers (not a timing assertion)
            try:
                store.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                assert proc.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        store.close()
        yield str(path)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def free_port_on(addr: str) -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


@dataclass
class Host:
    """One ``idp serve`` in its namespace."""

    ns: Namespace
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://{self.ns.addr}:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    def cli(self, *args: str) -> str:
        """Run ``idp ARGS`` on this host (in its namespace, with its settings)."""
        done = self.ns.run(
            [sys.executable, "-m", "idp.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, workers: int) -> None:
        with self.log.open("a") as out:
            self.proc = self.ns.popen(
                [sys.executable, "-m", "idp.cli", "serve", "--host", self.ns.addr]
                + ["--port", str(self.port), "--workers", str(workers)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while True:  # poll until the server answers (not a timing assertion)
            try:
                requests.get(self.base + "/.well-known/openid-configuration", timeout=10)
                out = self.output()
                # Each worker's start line: granian's (the default) or gunicorn's.
                if out.count("Started worker-") + out.count("Booting worker") >= workers:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "idp serve did not start:\n" + self.output()
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@contextmanager
def hosts(
    count: int,
    database_url: str,
    workdir: Path,
    workers: int = 1,
    inbox: object | None = None,
    **settings: str,
) -> Iterator[list[Host]]:
    """``count`` hosts, each one ``idp serve`` in a namespace of its own, sharing the
    PostgreSQL database ``database_url`` (through its socket), one private Redis and
    ``settings`` (``IDP_*`` names). With ``inbox`` (an aiosmtpd handler), each host
    mails to an SMTP sink on its machine-side veth address, all sinks filling that one
    inbox. Everything is stopped and removed afterwards."""
    with ExitStack() as stack:
        redis_path = stack.enter_context(unix_redis(workdir))
        shared = {
            "IDP_DATABASE_URL": socket_database_url(database_url),
            "IDP_REDIS_URL": f"redis+unix://{redis_path}",
            # Mails leave within the request that sends them, so a test reads the code
            # from the sink at once (the outbox's background delivery is tested apart).
            "IDP_MAIL_DELIVERY": "inline",
            **settings,
        }
        made = []
        for i in range(count):
            ns = stack.enter_context(namespace())
            env = {**os.environ, **shared}
            if inbox is not None:
                from aiosmtpd.controller import Controller

                port = free_port_on(ns.machine_addr)
                sink = Controller(inbox, hostname=ns.machine_addr, port=port)
                sink.start()
                stack.callback(sink.stop)
                env["IDP_SMTP_URL"] = f"smtp://{ns.machine_addr}:{port}"
            host = Host(ns, free_port_on("127.0.0.1"), env, workdir / f"host{i}.log")
            stack.callback(host.stop)
            made.append(host)
        for host in made:
            host.start(workers)
        yield made
