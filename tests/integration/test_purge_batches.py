"""`idp jobs run` purges expired tokens, sessions (with their parked sign-in flows)
and codes in bounded batches (issue 12 "How its cost grows"): a backlog larger than
one batch goes entirely, nothing live goes, and one run does at most its bound."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from idp.jobs import PURGE_BATCH, purge_in_batches, run_jobs
from idp.models import AuthorizationCode, Grant, Token, WebSession
from tests.factories import make_user

T0 = 1_800_000_000
DAY = 86400
EXPIRED = PURGE_BATCH * 2 + PURGE_BATCH // 2  # two and a half batches
LIVE = 30


def _grant(db, created_at: int = T0 - 3 * DAY, sid: str | None = None) -> int:
    return db.execute(
        insert(Grant).values(client_id="rp", scope="openid", amr=[], created_at=created_at, sid=sid)
    ).inserted_primary_key[0]


def _tokens(db, grant_id: int, n: int, expires_at: int, tag: str) -> None:
    db.execute(
        insert(Token),
        [
            {
                "token_hash": f"{tag}{i:060d}",
                "kind": "refresh" if i % 2 else "access",
                "grant_id": grant_id,
                "client_id": "rp",
                "scope": "openid",
                "issued_at": expires_at - 600,
                "expires_at": expires_at,
            }
            for i in range(n)
        ],
    )


def _sessions(db, n: int, last_seen: int, created_at: int, tag: str) -> None:
    db.execute(
        insert(WebSession),
        [
            {
                "id_hash": f"{tag}{i:060d}",
                "sid": f"{tag}{i:040d}",
                "data": '{"flows": {}}',
                "created_at": created_at,
                "last_seen": last_seen,
            }
            for i in range(n)
        ],
    )


def _codes(db, grant_id: int, n: int, expires_at: int, tag: str) -> None:
    user_id = make_user(db, f"coder{tag}").id
    db.execute(
        insert(AuthorizationCode),
        [
            {
                "code_hash": f"{tag}{i:060d}",
                "client_id": "rp",
                "redirect_uri": "https://rp.example/cb",
                "scope": "openid",
                "user_id": user_id,
                "auth_time": expires_at - 60,
                "created_at": expires_at - 60,
                "amr": [],
                "expires_at": expires_at,
                "grant_id": grant_id,
            }
            for i in range(n)
        ],
    )


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_purge_over_several_batches_takes_every_expired_row_and_no_live_one_issue12(
    app, db, time_machine
):
    """Tokens expired more than a day ago, sessions past their idle or absolute
    lifetime and day-old codes go, over more than one batch each; tokens still inside
    their tombstone day, live sessions and fresh codes stay."""
    settings = app.extensions["idp_settings"]
    time_machine.move_to(T0, tick=False)
    grant_id = _grant(db)
    _tokens(db, grant_id, EXPIRED, T0 - DAY - 1, "x")
    _tokens(db, grant_id, LIVE, T0 - DAY + 60, "d")  # expired, but within the day kept
    _tokens(db, grant_id, LIVE, T0 + 600, "l")
    idle, absolute = settings.session_idle_ttl, settings.session_absolute_ttl
    _sessions(db, EXPIRED, T0 - idle - 1, T0 - idle - 1, "i")  # idle too long
    _sessions(db, LIVE, T0 - 5, T0 - absolute - 1, "a")  # active but too old
    _sessions(db, LIVE, T0 - 5, T0 - idle, "s")
    _codes(db, grant_id, EXPIRED, T0 - DAY - 1, "c")
    _codes(db, grant_id, LIVE, T0 - 30, "f")
    db.commit()

    done = run_jobs(db, settings)

    assert done["tokens_purged"] == EXPIRED
    assert done["sessions_purged"] == EXPIRED + LIVE
    assert done["purged"] == EXPIRED
    hashes = set(db.scalars(select(Token.token_hash)))
    assert len(hashes) == 2 * LIVE and all(h[0] in "dl" for h in hashes)
    assert {s[0] for s in db.scalars(select(WebSession.sid))} == {"s"}
    assert _count(db, WebSession) == LIVE
    assert {c[0] for c in db.scalars(select(AuthorizationCode.code_hash))} == {"f"}
    assert run_jobs(db, settings)["tokens_purged"] == 0


def test_one_purge_run_is_bounded_and_the_next_run_finishes_issue12(app, db):
    """At most ``max_batches`` statements of ``batch`` rows per run: a backlog beyond
    that waits for the next run instead of making one long job."""
    grant_id = _grant(db)
    _tokens(db, grant_id, 25, T0 - 2 * DAY, "x")
    _tokens(db, grant_id, 5, T0 + 600, "l")
    db.commit()
    expired = Token.expires_at < T0 - DAY
    assert purge_in_batches(db, Token, expired, batch=10, max_batches=2) == 20
    assert _count(db, Token) == 10
    assert purge_in_batches(db, Token, expired, batch=10, max_batches=2) == 5
    assert set(h[0] for h in db.scalars(select(Token.token_hash))) == {"l"}


def test_grants_go_once_unusable_tokenless_and_past_any_session_issue12(app, db, time_machine):
    """A family goes when no token of it is left, it can no longer be refreshed and no
    session of its sid is alive; one with a token left (a replay tombstone), younger
    than that horizon or whose sid a live session carries stays."""
    settings = app.extensions["idp_settings"]
    time_machine.move_to(T0, tick=False)
    horizon = max(settings.refresh_absolute_ttl, settings.session_absolute_ttl) + DAY
    old = [_grant(db, T0 - horizon - 1) for _ in range(3)]
    young = _grant(db, T0 - horizon + 60)
    _tokens(db, old[2], 1, T0 - 600, "t")  # expired, still inside its tombstone day
    # A sid kept through a login that went on (rotate(keep_sid=True)): its session is
    # younger than the grant and alive, so the grant still names its clients.
    renewed = _grant(db, T0 - horizon - 1, sid=f"s{0:040d}")
    _sessions(db, 1, T0 - 5, T0 - 60, "s")
    db.commit()

    assert run_jobs(db, settings)["grants_purged"] == 2
    assert set(db.scalars(select(Grant.id))) == {old[2], young, renewed}
    assert _count(db, Token) == 1


def test_signed_in_and_anonymous_expired_sessions_go_over_several_batches_issue13(
    app, db, time_machine
):
    """Expired sessions of people (ended through the front door, reason ``expired``)
    and anonymous ones, mixed over more batches than one: all go, each counted once,
    the live one stays."""
    from idp.jobs import purge_sessions
    from idp.models import LogoutDelivery

    settings = app.extensions["idp_settings"]
    time_machine.move_to(T0, tick=False)
    people = [make_user(db, f"p{i}").id for i in range(3)]
    stale = T0 - settings.session_idle_ttl - 1
    _sessions(db, 5, stale, stale, "a")  # anonymous
    for i in range(len(people)):
        _sessions(db, 2, stale, stale, f"u{i}")
        _sessions(db, 1, T0 - 5, T0 - 5, f"l{i}")
    for i, person in enumerate(people):
        db.execute(
            WebSession.__table__.update()
            .where(WebSession.sid.like(f"u{i}%") | WebSession.sid.like(f"l{i}%"))
            .values(user_id=person)
        )
    db.commit()

    assert purge_sessions(db, settings, T0, batch=3, max_batches=10) == 5 + 3 * 2
    assert {s[0] for s in db.scalars(select(WebSession.sid))} == {"l"}
    assert _count(db, WebSession) == 3
    assert _count(db, LogoutDelivery) == 0  # no client was signed in through them
    assert purge_sessions(db, settings, T0, batch=3, max_batches=10) == 0
