"""Fill a database with N people, N active tokens, N sessions, N authorization codes and
N audit events (issue 12, "How its cost grows"): `bench/prepare.py --scale N`, and the
PostgreSQL test that EXPLAINs the hot queries (tests/integration/test_hot_path_plans.py).

Each table is filled by one INSERT ... SELECT that copies a template row N times over a
row generator (a recursive CTE: PostgreSQL and SQLite alike), so a million rows take
seconds, not the hours of ORM inserts. Unique columns get a suffix, and the rows point
at people spread over the filled ones, so the indexes see realistic selectivity. The
template rows are real ones made through the services, so every column the schema gains
is filled the way the product fills it."""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from idp.account.services import create_user
from idp.audit import AuditTag, record
from idp.models import AuditEvent, AuthorizationCode, Grant, Token, User, WebSession
from idp.oidc.clients import register_client

FILLED = ("users", "tokens", "authorization_codes", "web_sessions", "audit_events")


def clone(db: Session, table: Table, template_id: int, n: int, spread: dict[str, str]) -> None:
    """Copy row ``template_id`` of ``table`` ``n`` times in one statement. Unique string
    columns get ``-<row number>``; ``spread`` maps a column to an SQL expression over
    ``g.n`` (the row number) and ``t`` (the template)."""
    columns = [c for c in table.columns if not c.primary_key]
    values = []
    for column in columns:
        if column.name in spread:
            values.append(spread[column.name])
        elif column.unique:
            values.append(f"substr(t.{column.name}, 1, 20) || '-' || g.n")
        else:
            values.append(f"t.{column.name}")
    names = ", ".join(c.name for c in columns)
    # Table and column names come from the models, the numbers are bound: no input here.
    sql = (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
        f"INSERT INTO {table.name} ({names}) SELECT {', '.join(values)} "
        f"FROM {table.name} t, g WHERE t.id = :id"
    )
    db.execute(text(sql), {"n": n, "id": template_id})


def fill(db: Session, n: int) -> dict[str, Any]:
    """N of each hot table's rows (plus the templates); returns the templates' ids and
    the filled people's id range. Commits."""
    t = int(time.time())
    tag = secrets.token_hex(3)
    person = create_user(
        db,
        username=f"scale{tag}",
        password="scale password 1",  # noqa: S106 - a filler account nobody signs in to
        email=f"scale{tag}@example.org",
        name="Scale Filler",
    )
    rp = register_client(db, name=f"scale {tag}", redirect_uris=["http://localhost:9/cb"])
    grant = Grant(client_id=rp.row.client_id, user_id=person.id, scope="openid", created_at=t)
    db.add(grant)
    db.flush()
    common = {"client_id": rp.row.client_id, "user_id": person.id, "scope": "openid"}
    token = Token(
        token_hash=f"scale-token-{tag}",
        kind="access",
        grant_id=grant.id,
        issued_at=t,
        expires_at=t + 86400,
        **common,
    )
    code = AuthorizationCode(
        code_hash=f"scale-code-{tag}",
        redirect_uri="http://localhost:9/cb",
        auth_time=t,
        created_at=t,
        expires_at=t + 60,
        **common,
    )
    web = WebSession(
        id_hash=f"scale-session-{tag}", sid=f"scale-sid-{tag}", created_at=t, last_seen=t
    )
    db.add_all([token, code, web])
    record(db, AuditTag.ENROLLMENT_ACCOUNT_CREATED, actor=person.id, subject=person.id)
    db.flush()
    first = db.scalar(select(func.max(User.id))) + 1
    clone(db, User.__table__, person.id, n, {})
    db.flush()
    # The filled people, round robin: every person holds a few rows of each table.
    someone = f"({first} + (g.n % {n}))"
    for model, row_id, spread in (
        (Token, token.id, {"user_id": someone}),
        (AuthorizationCode, code.id, {"user_id": someone}),
        (WebSession, web.id, {"user_id": someone}),
        (AuditEvent, _last_audit(db), {"actor_user_id": someone, "subject_user_id": someone}),
    ):
        clone(db, model.__table__, row_id, n, spread)
    db.commit()
    return {"first_user": first, "last_user": first + n - 1, "client_id": rp.row.client_id}


def _last_audit(db: Session) -> int:
    return db.scalar(select(func.max(AuditEvent.id)))
