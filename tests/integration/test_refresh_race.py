"""One refresh token presented several times at once to `idp serve` (gunicorn, several
worker processes) on PostgreSQL: RFC 9700 4.14.2 and SECURITY.md P-22 (rotation with
reuse detection) must hold across processes, not only inside one."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from idp.db import now
from idp.models import Grant, Token
from idp.oidc.tokens import token_digest
from tests.conftest import USE_PG
from tests.factories import exchange, get_code, make_client, make_user
from tests.served import idp_serve

pytestmark = pytest.mark.skipif(
    not USE_PG,
    reason="needs PostgreSQL: SQLite lets one writer in at a time, so requests in separate "
    "worker processes cannot race (this runs in the PostgreSQL pass of ./dev test)",
)

# Enough that the old end_grants deadlocked (a 500 to a loser) in every run tried.
WORKERS = 6
RACERS = 6
ROUNDS = 20


def _fire_together(count: int, call) -> list:
    """Run ``call()`` in ``count`` threads released at the same moment by a barrier."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _live_refresh_tokens(db, grant_id: int) -> list[str]:
    """Digests of the family's refresh tokens that could still be used."""
    db.rollback()  # read what the server processes committed
    grant = db.execute(select(Grant.revoked_at).where(Grant.id == grant_id)).scalar_one()
    if grant is not None:
        return []
    return list(
        db.scalars(
            select(Token.token_hash).where(
                Token.grant_id == grant_id,
                Token.kind == "refresh",
                Token.revoked_at.is_(None),
                Token.used_at.is_(None),
                Token.expires_at > now(),
            )
        )
    )


def test_parallel_refreshes_of_one_token_never_fork_the_family_P22(app, client, db, tmp_path):
    make_user(db)
    rp = make_client(db)
    url = app.extensions["idp_settings"].database_url
    with idp_serve(url, tmp_path / "serve.log", workers=WORKERS) as served:
        token_url = served.base + "/token"

        def refresh(value: str) -> requests.Response:
            return requests.post(
                token_url,
                data={"grant_type": "refresh_token", "refresh_token": value},
                auth=(rp.client_id, rp.secret),
                timeout=60,
            )

        # Every worker has imported the app before the first race.
        _fire_together(2 * WORKERS, lambda: requests.get(served.base + "/jwks.json", timeout=60))
        for _ in range(ROUNDS):
            code, verifier, _loc = get_code(client, rp, scope="openid offline_access")
            issued = exchange(client, rp, code, verifier).get_json()["refresh_token"]
            grant_id = db.scalar(
                select(Token.grant_id).where(Token.token_hash == token_digest(issued))
            )

            answers = _fire_together(RACERS, lambda value=issued: refresh(value))

            winners = [a.json()["refresh_token"] for a in answers if a.status_code == 200]
            losers = [a for a in answers if a.status_code != 200]
            assert len(winners) <= 1, f"{len(winners)} refreshes of one token succeeded"
            assert {(a.status_code, a.json()["error"]) for a in losers} == {(400, "invalid_grant")}
            # Not forked: at most one live child, and it is the winner's; then that token
            # either works, or the whole family was revoked (reuse detected) and it fails.
            live = _live_refresh_tokens(db, grant_id)
            assert len(live) <= 1, "two live refresh tokens in one family"
            child = winners[0] if winners else issued
            follow = refresh(child)
            family_revoked = not live
            assert (follow.status_code == 200) is not family_revoked, follow.text
            assert live == ([] if family_revoked else [token_digest(child)])
