"""Inserts that two requests can race on, raced for real on PostgreSQL (issue 13 "Load
and bad input": 50 concurrent sign-ins gave two HTTP 500s, two consents of one person
to one client colliding on uq_consents_user_id). Each racer is its own session on its
own connection, released by a barrier; none may raise, and one row must hold the
right values (SECURITY.md section 7: a failed or concurrent request never leaves a
half-written state)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from idp.db import get_db
from idp.models import Consent, OrgChoice, OrgClient
from idp.oidc.signin import remember_consent
from idp.orgs import services
from idp.orgs.login import remember_org
from tests.conftest import USE_PG
from tests.factories import make_client, make_user

pytestmark = pytest.mark.skipif(
    not USE_PG,
    reason="needs PostgreSQL: SQLite lets one writer in at a time, so two transactions "
    "cannot race on a unique constraint (this runs in the PostgreSQL pass of ./dev test)",
)

RACERS = 8
ROUNDS = 4  # the old code lost at least one racer in every round tried


def _race(app, work) -> list[BaseException]:
    """``work(session, i)`` then commit, in RACERS threads released together; returns
    what they raised."""
    barrier = threading.Barrier(RACERS)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        with get_db(app).factory() as s:
            barrier.wait()
            try:
                work(s, i)
                s.commit()
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_concurrent_consents_of_one_person_make_one_row_with_every_scope_issue13(app, db):
    user = make_user(db)
    for n in range(ROUNDS):
        rp = make_client(db, name=f"RP {n}")

        def consent(s, i, client_id=rp.client_id):
            remember_consent(s, user.id, client_id, ["openid", f"scope{i}"])

        assert _race(app, consent) == []
        db.rollback()
        rows = db.scalars(
            select(Consent).where(Consent.user_id == user.id, Consent.client_id == rp.client_id)
        ).all()
        assert len(rows) == 1
        # Merged, not overwritten: every racer's scope is remembered.
        assert set(rows[0].scope.split()) == {"openid"} | {f"scope{i}" for i in range(RACERS)}


def test_concurrent_organisation_choices_make_one_row_issue13(app, db):
    user = make_user(db)
    orgs = [
        services.create_org(db, kind="agency", identifier=f"RACE-{i}", name_th=f"Org {i}")
        for i in range(RACERS)
    ]
    db.commit()
    org_ids = [o.id for o in orgs]
    for n in range(ROUNDS):
        rp = make_client(db, name=f"Org RP {n}")

        def choose(s, i, client_id=rp.client_id):
            remember_org(s, user.id, client_id, org_ids[i])
            services.allow_client(s, org_ids[0], client_id)

        assert _race(app, choose) == []
        db.rollback()
        choices = db.scalars(
            select(OrgChoice).where(
                OrgChoice.user_id == user.id, OrgChoice.client_id == rp.client_id
            )
        ).all()
        assert len(choices) == 1 and choices[0].org_id in org_ids
        allowed = db.scalars(select(OrgClient).where(OrgClient.client_id == rp.client_id)).all()
        assert [(a.org_id, a.scopes) for a in allowed] == [(org_ids[0], None)]
