"""The demo data (README's first command): people, operator, organisations, seats."""

from __future__ import annotations

from sqlalchemy import select

from idp.demo import seed
from idp.models import ClientScope, Organization, User


def test_demo_seed_is_complete_and_idempotent(app, db):
    secrets_first, totp = seed(app, "localhost", 5000)
    secrets_again, _ = seed(app, "localhost", 5000)  # a restart seeds nothing twice
    assert set(secrets_first) == set(secrets_again) == {"emt", "einvoice", "gfmis", "search"}
    assert {"somchai", "nok"} <= set(totp)
    operators = db.scalars(select(User.username).where(User.is_operator)).all()
    assert operators == ["nok"]
    statuses = dict(db.execute(select(Organization.identifier, Organization.status)).all())
    assert statuses == {
        "0105536092641": "active",
        "0105548001239": "active",
        "0105561234560": "pending",
    }
    seats = db.scalar(select(ClientScope.seat_limit).where(ClientScope.name == "einvoice:submit"))
    assert seats == 3
