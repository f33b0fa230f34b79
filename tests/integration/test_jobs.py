"""`idp jobs run`: soft-token reminders 30, 7 and 1 days before expiry (MISSION B5)."""

from __future__ import annotations

import time_machine
from sqlalchemy import select

from idp.jobs import run_jobs
from idp.mfa import services
from idp.models import AuthorizationCode, User
from tests.factories import exchange, get_code, make_client, make_user

T0 = 1_800_000_000


def test_reminders_sent_once_per_threshold(app_factory, db, smtp_sink):
    app = app_factory(smtp_url=smtp_sink.url)
    settings = app.extensions["idp_settings"]
    make_user(db, locale="en")
    user = db.scalar(select(User))
    with app.app_context(), time_machine.travel(T0, tick=False) as traveller:
        factor, _ = services.start_totp(db, settings, user, "Phone")
        factor.status = "active"
        db.commit()
        expiry = factor.expires_at
        assert expiry == T0 + 730 * 86400
        assert run_jobs(db, settings)["totp_reminders_sent"] == 0
        sent = []
        for days_before in (31, 30, 29, 7, 6, 1, 0.5):
            traveller.move_to(expiry - int(days_before * 86400))
            sent.append(run_jobs(db, settings)["totp_reminders_sent"])
    assert sent == [0, 1, 0, 1, 0, 1, 0]
    subjects = [m["Subject"] for m in smtp_sink.to("alice@example.org")]
    assert subjects.count("Your authenticator app expires soon") == 3


def test_purge_removes_old_spent_codes(client, db, app):
    make_user(db)
    rp = make_client(db)
    with time_machine.travel(T0, tick=False) as traveller:
        code, verifier, _ = get_code(client, rp)
        exchange(client, rp, code, verifier)
        traveller.shift(2 * 86400)
        assert run_jobs(db, app.extensions["idp_settings"])["purged"] == 1
    assert db.scalar(select(AuthorizationCode)) is None
