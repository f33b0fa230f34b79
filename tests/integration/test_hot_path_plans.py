"""Every lookup on a hot path uses an index (issue 12 "How its cost grows"): on
PostgreSQL, with a few thousand rows in each hot table (bench/scale.py) and the tables
ANALYZEd, the planner's EXPLAIN of each hot query has no sequential scan of a big
table. (Not with enable_seqscan=off: the plan must be the one production would get.)"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import or_, select, text
from sqlalchemy.dialects import postgresql

from bench.scale import FILLED, fill
from idp.account.identifiers import username_key
from idp.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    Consent,
    Grant,
    Token,
    User,
    WebSession,
)
from tests.conftest import USE_PG

pytestmark = pytest.mark.skipif(
    not USE_PG, reason="query plans are PostgreSQL's (IDP_DATABASE_URL=postgresql+psycopg://...)"
)
ROWS = 5000


def _hot_queries(filled: dict) -> dict:
    person = filled["first_user"] + ROWS // 2
    digest = "0" * 64
    return {
        "token by hash (introspection, revocation, refresh)": select(Token).where(
            Token.token_hash == digest
        ),
        "access token and person by hash (userinfo)": select(Token, User)
        .join(User, User.id == Token.user_id)
        .where(Token.token_hash == digest, Token.kind == "access"),
        "code by hash (code exchange)": select(AuthorizationCode).where(
            AuthorizationCode.code_hash == digest
        ),
        "client by client_id": select(Client).where(
            Client.client_id == filled["client_id"], Client.is_active
        ),
        "session by id": select(WebSession).where(WebSession.id_hash == digest),
        "person by username or email (sign-in)": select(User).where(
            or_(User.username_key == username_key("someone"), User.email_key == "someone@x.org")
        ),
        "audit by person (the person's history)": select(AuditEvent)
        .where(AuditEvent.subject_user_id == person)
        .order_by(AuditEvent.id.desc())
        .limit(50),
        "audit by person as actor or subject (data export)": select(AuditEvent).where(
            or_(AuditEvent.subject_user_id == person, AuditEvent.actor_user_id == person)
        ),
        "live refresh tokens of a person (account page, factor reset)": select(
            Token.client_id, Token.scope
        )
        .join(Grant, Grant.id == Token.grant_id)
        .where(Token.user_id == person, Token.kind == "refresh", Token.revoked_at.is_(None)),
        "sessions of a person (sessions page, sign out everywhere)": select(WebSession).where(
            WebSession.user_id == person
        ),
        "consents of a person": select(Consent).where(Consent.user_id == person),
    }


def _seq_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in FILLED:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += _seq_scans(child)
    return found


def test_hot_queries_use_indexes_on_big_tables_issue12(db):
    filled = fill(db, ROWS)
    for table in FILLED:
        db.execute(text(f"ANALYZE {table}"))
    scans = {}
    for name, stmt in _hot_queries(filled).items():
        sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        plan = db.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        if found := _seq_scans(plan[0]["Plan"]):
            scans[name] = found
    assert scans == {}, scans
