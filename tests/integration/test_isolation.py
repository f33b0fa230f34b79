"""The test harness itself: what one test changes does not reach the next."""

from __future__ import annotations

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from idp.models import SigningKey
from idp.oidc.keys import rotate_keys
from tests.conftest import fresh_database_url


def _keys(url: str) -> list[tuple]:
    engine = create_engine(url)
    with Session(engine) as db:
        rows = db.execute(
            select(
                SigningKey.kid, SigningKey.alg, SigningKey.rotated_at, SigningKey.retire_after
            ).order_by(SigningKey.kid)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_rotated_signing_keys_do_not_leak_into_the_next_test(template_db, tmp_path):
    """On PostgreSQL every test reuses one database and conftest keeps its signing_keys
    table; a test that rotates keys (`idp keys rotate`, rotate_keys) must leave the next
    test the keys `idp init` made, or JWKS/kid tests depend on the order tests run in."""
    url = fresh_database_url(template_db, tmp_path)
    before = _keys(url)
    engine = create_engine(url)
    with Session(engine) as db:
        rotate_keys(db, retention_seconds=0)  # old keys rotated, retired ones deleted
        db.commit()
    engine.dispose()
    assert _keys(url) != before  # this test did change the keys
    next_test = fresh_database_url(template_db, tmp_path)  # what the next test starts with
    assert _keys(next_test) == before
    assert all(rotated_at is None for _kid, _alg, rotated_at, _retire in before)
