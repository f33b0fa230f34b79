"""Shared fixtures. The database is SQLite by default and PostgreSQL when
``IDP_DATABASE_URL`` points to one: a fresh database is created for the run."""

from __future__ import annotations

import gc
import os
import secrets
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from idp import create_app
from idp.cli import init_instance
from idp.db import get_db
from idp.models import Base

PG_URL = os.environ.get("IDP_DATABASE_URL", "")
USE_PG = PG_URL.startswith("postgresql")

BASE_OVERRIDES = {
    "env": "test",
    "issuer": "http://localhost",
    "login_rate_limit": "10000 per minute",
    "secret_key": "test-secret-key-0123456789abcdef0123456789",
    # Mails still go through the outbox, sent by the request's own thread right after
    # its commit: a test reads the sink deterministically, and "no mail" means none.
    # tests/integration/test_mail_outbox.py covers the background worker (the default).
    "mail_delivery": "inline",
}


def pytest_collection_modifyitems(config, items) -> None:
    """The PostgreSQL pass runs what the database can change: the integration and
    interop tests, and the end-to-end files marked ``both_databases`` (the issues' full
    stories). Unit tests never touch a database, and the other browser walks check
    markup and flows already run on SQLite; running them twice cost CI ~10 minutes."""
    if not USE_PG:
        return
    kept, dropped = [], []
    for item in items:
        parts = item.path.parts
        on_both = "e2e" not in parts or item.get_closest_marker("both_databases")
        (kept if "unit" not in parts and on_both else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _pg_admin_url(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return base + "/postgres", name


@contextmanager
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own with no schema, dropped afterwards: a SQLite file in
    ``tmp_path``, or a private database on the PostgreSQL of the run (migration
    tests upgrade it to the revision they start from)."""
    if not USE_PG:
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    admin_url, _ = _pg_admin_url(PG_URL)
    name = f"idp_mig_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Iterator[str]:
    """A migrated database with signing keys, made once per run."""
    if USE_PG:
        admin_url, _ = _pg_admin_url(PG_URL)
        name = f"idp_test_{secrets.token_hex(4)}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        app = create_app({**BASE_OVERRIDES, "database_url": url})
        init_instance(app)
        get_db(app).dispose()
        _snapshot_signing_keys(url)
        yield url
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        app = create_app({**BASE_OVERRIDES, "database_url": f"sqlite:///{path}"})
        init_instance(app)
        get_db(app).dispose()
        yield str(path)


KEEP_TABLES = {"signing_keys", "alembic_version"}
# The signing keys of each PostgreSQL template, as `idp init` made them. The table is
# not truncated (new RSA keys per test would be slow) but put back to this before each
# test, so keys rotated by one test (`idp keys rotate`) never reach the next.
_SIGNING_KEYS: dict[str, list[dict]] = {}
# Likewise the personal-data notice that migration 0012 publishes: every test starts
# with version 1 only, as a fresh SQLite copy of the template does.
_NOTICES: dict[str, list[dict]] = {}


# RESTART IDENTITY of the emptied tables: the sequences their columns own (serial or
# identity), not signing_keys' (its rows are put back with their ids).
RESTART_EMPTIED_SEQUENCES = text(
    "SELECT setval(s.oid, 1, false) FROM pg_class s"
    " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE s.relkind = 'S' AND t.relname <> ALL(:keep)"
)


def _snapshot_signing_keys(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as c:
        keys = Base.metadata.tables["signing_keys"]
        _SIGNING_KEYS[url] = [dict(r) for r in c.execute(keys.select()).mappings()]
        notices = Base.metadata.tables["personal_data_notices"]
        _NOTICES[url] = [dict(r) for r in c.execute(notices.select()).mappings()]
    engine.dispose()


def fresh_database_url(template_db: str, tmp_path: Path) -> str:
    """The database for one test: a copy of the template (SQLite), or the template
    itself emptied of everything but its original schema and signing keys (PostgreSQL)."""
    if USE_PG:
        engine = create_engine(template_db)
        names = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        keys = Base.metadata.tables["signing_keys"]
        with engine.begin() as c:
            # DELETE, not TRUNCATE: the tables hold a few rows, and TRUNCATE's new files
            # cost ~75 ms a test against ~15 ms (replica role: no trigger, no FK check,
            # so the append-only audit table empties too and the order does not matter).
            c.execute(text("SET LOCAL session_replication_role = replica"))
            for name in names:
                c.execute(Base.metadata.tables[name].delete())
            c.execute(RESTART_EMPTIED_SEQUENCES, {"keep": sorted(KEEP_TABLES)})
            c.execute(keys.delete())
            c.execute(keys.insert(), _SIGNING_KEYS[template_db])
            if _NOTICES[template_db]:
                c.execute(
                    Base.metadata.tables["personal_data_notices"].insert(), _NOTICES[template_db]
                )
        engine.dispose()
        return template_db
    target = tmp_path / "idp.db"
    shutil.copyfile(template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="session", autouse=True)
def _frozen_heap() -> None:
    """Move what imports and session fixtures made into the collector's permanent
    generation, so each test's ``collect_garbage_quietly`` scans only what tests made
    since: ~0.1 s less per PostgreSQL test."""
    gc.collect()
    gc.freeze()


def collect_garbage_quietly() -> None:
    """Collect what a test left in reference cycles when it ends, not at a random later
    point: a session's connection or a live server thread's half-sent static file freed
    by the garbage collector otherwise raises its ResourceWarning (an error under
    ``filterwarnings = error``) inside whichever test happens to run then (seen once
    each on the PostgreSQL pass of issue 10). Finding the test that leaks is left in
    the closing note. Not per test everywhere: a full collection costs ~0.1 s."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def app_factory(template_db, tmp_path):
    made = []

    def make(**overrides):
        url = fresh_database_url(template_db, tmp_path) if not made else made[0][1]
        app = create_app({**BASE_OVERRIDES, "database_url": url, **overrides})
        made.append((app, url))
        return app

    yield make
    for app, _ in made:
        get_db(app).dispose()
    if USE_PG:  # psycopg warns about a connection left to the collector; SQLite does not
        collect_garbage_quietly()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A SQLAlchemy session outside any request, for arranging and asserting."""
    s = get_db(app).factory()
    yield s
    s.close()


@pytest.fixture
def app_context(app):
    """An app context for calling a service that mails directly, outside any request
    (mails are rendered from the app's templates, as ``idp jobs run`` does it). Not
    with ``client`` in the same test: its requests would share this context's ``g``."""
    with app.app_context():
        yield


class Inbox:
    """Messages received by the in-process SMTP server (RECIPES.md 6)."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        import email
        import email.policy

        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


def start_smtp_sink() -> tuple[Inbox, object]:
    """A real SMTP server (aiosmtpd) collecting mail in an Inbox; returns the inbox
    (``.url`` for IDP_SMTP_URL) and a function that stops it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:  # aiosmtpd cannot bind port 0 itself (RECIPES.md 6)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{port}"
    return inbox, controller.stop


@pytest.fixture
def smtp_sink():
    inbox, stop = start_smtp_sink()
    yield inbox
    stop()


@pytest.fixture(scope="session")
def ldap_directory(tmp_path_factory):
    """A real OpenLDAP (slapd) with the fixture staff directory, for the session
    (tests/ldap_server.py)."""
    from tests.ldap_server import serve_ldap

    with serve_ldap(tmp_path_factory.mktemp("slapd")) as directory:
        yield directory
