"""A real OpenLDAP (Debian's ``slapd``, mdb back end) on a free port with a small
fixture staff directory (RECIPES.md section 12). Used by the directory verifier's
tests, the staff registration tests and the e2e test.

:func:`serve_ldap` starts it in a directory of the caller's and yields a
:class:`LdapDirectory` (its URL and the bind credentials of a read-only service
account); it stops slapd on exit. Needs the apt packages slapd and ldap-utils.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException

SUFFIX = "dc=moc,dc=example"
BASE_DN = f"ou=people,{SUFFIX}"
ROOT_DN, ROOT_PW = f"cn=admin,{SUFFIX}", "root-secret"
READER_DN, READER_PW = f"cn=reader,{SUFFIX}", "reader-pw-7f3a"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"

# The fixture people: valid check digits (idp.enrollment.identity).
SOMCHAI_ID, SOMCHAI_MAIL = "1101700203450", "somchai@moc.example"
MALEE_ID, MALEE_MAIL = "5100200333011", "malee@moc.example"

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {d}/db
index objectClass eq
index uid,mail,employeeNumber eq
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{reader}" read by * none
"""

PEOPLE = [
    (
        SUFFIX,
        [("objectClass", "dcObject"), ("objectClass", "organization"), ("dc", "moc")]
        + [("o", "Example MOC")],
    ),
    (BASE_DN, [("objectClass", "organizationalUnit"), ("ou", "people")]),
    (
        READER_DN,
        [("objectClass", "organizationalRole"), ("objectClass", "simpleSecurityObject")]
        + [("cn", "reader"), ("userPassword", READER_PW)],
    ),
    (
        f"uid=somchai,{BASE_DN}",
        [
            ("objectClass", "inetOrgPerson"),
            ("uid", "somchai"),
            ("cn", "Somchai Jaidee"),
            ("givenName", "Somchai"),
            ("sn", "Jaidee"),
            ("givenName;lang-th", "สมชาย"),
            ("sn;lang-th", "ใจดี"),
            ("mail", SOMCHAI_MAIL),
            ("employeeNumber", SOMCHAI_ID),
            ("title", "Trade officer"),
        ],
    ),
    (
        f"uid=malee,{BASE_DN}",
        [
            ("objectClass", "inetOrgPerson"),
            ("uid", "malee"),
            ("cn", "Malee Srisuk"),
            ("givenName", "Malee"),
            ("sn", "Srisuk"),
            ("mail", MALEE_MAIL),
            ("employeeNumber", MALEE_ID),
        ],
    ),
    # A second entry with somchai's mail would make a lookup ambiguous; none here.
]


def _ldif() -> str:
    out = []
    for dn, attrs in PEOPLE:
        out.append(f"dn: {dn}")
        for name, value in attrs:
            if value.isascii():
                out.append(f"{name}: {value}")
            else:  # RFC 2849: a non-ASCII value is written base64
                out.append(f"{name}:: {base64.b64encode(value.encode()).decode()}")
        out.append("")
    return "\n".join(out) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LdapDirectory:
    url: str
    bind_dn: str = READER_DN
    bind_password: str = READER_PW
    base_dn: str = BASE_DN


def _ready(url: str) -> bool:
    host, port = url.removeprefix("ldap://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:  # refused / not accepting yet
        return False
    conn = Connection(Server(url, connect_timeout=1), ROOT_DN, ROOT_PW)
    try:
        return bool(conn.bind())
    except LDAPException:
        return False
    finally:
        conn.unbind()


@contextmanager
def serve_ldap(d: Path, timeout: float = 10.0) -> Iterator[LdapDirectory]:
    """Run slapd with the fixture directory under ``d`` until the block ends."""
    (d / "db").mkdir(parents=True, exist_ok=True)
    conf = d / "slapd.conf"
    conf.write_text(
        SLAPD_CONF.format(d=d, suffix=SUFFIX, rootdn=ROOT_DN, rootpw=ROOT_PW, reader=READER_DN)
    )
    (d / "people.ldif").write_text(_ldif(), encoding="utf-8")
    subprocess.run([SLAPADD, "-q", "-f", conf, "-l", d / "people.ldif"], check=True)
    with open(d / "slapd.log", "w") as log:
        proc = url = None
        for _attempt in range(3):  # a new port if another process grabbed ours
            url = f"ldap://127.0.0.1:{free_port()}"  # no trailing "/": ldap3 rejects it
            proc = subprocess.Popen(
                [SLAPD, "-f", conf, "-h", url, "-d", "stats"], stdout=log, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                if _ready(url):
                    break
                time.sleep(0.02)  # polling for start-up, not timing a behaviour
            else:
                proc.kill()
                proc.wait()
                proc = None
                continue
            break
        if proc is None or url is None:
            raise RuntimeError("slapd did not start:\n" + (d / "slapd.log").read_text()[-3000:])
        try:
            yield LdapDirectory(url)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
