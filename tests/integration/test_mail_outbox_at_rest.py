"""Queued mails at rest (issue 13 review; SECURITY.md X-06 "personal data encrypted at
rest, looked up by keyed hash", X-07 "no code in the logs", D-06 "SMTP down"): what a
stolen backup of the outbox shows, read with SQL over a connection of its own, not
through the model. A queued mail's address, subject and bodies are one Fernet token
(``sealed``), decrypted only by the sender; ended rows keep no address and no body; a
mail not sent within MAX_AGE is given up unsent; erasing an account leaves no mail to
its address. Real SMTP: the aiosmtpd sink, and a port nobody listens on for an outage.
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from idp import create_app, mail_outbox
from idp.db import get_db, now
from idp.jobs import erase_closed_accounts
from idp.mail import render_mail, send_templated
from idp.models import User
from idp.schema import alembic_config
from tests.conftest import BASE_OVERRIDES, empty_database_url
from tests.factories import make_user
from tests.integration.test_mail_outbox import _dead_smtp_url

CODE = "583920"
TO = "dora.mail@example.org"
DAY = 86400


@pytest.fixture
def down(app_factory):
    """The app with its SMTP server down: a queued mail stays queued (one failed try)."""
    return app_factory(smtp_url=_dead_smtp_url())


@pytest.fixture
def up(down, app_factory, smtp_sink):
    """A second app on the same database, its SMTP server up (the sink)."""
    return app_factory(smtp_url=smtp_sink.url)


def _queue(app, to: str = TO, code: str = CODE) -> None:
    """A request that mails a reset code and commits (sent inline, as in the tests)."""
    with app.test_request_context("/"):
        send_templated(
            app.extensions["idp_settings"],
            to,
            "password_reset_code",
            "en",
            username="dora",
            code=code,
            minutes=10,
        )
        get_db(app).scoped().commit()


def _raw_rows(app) -> list[dict]:
    """Every outbox row as stored, by SQL (what a database dump holds)."""
    with get_db(app).engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(text("SELECT * FROM mail_outbox ORDER BY id")).mappings()
        ]


def _dump(rows: list[dict]) -> str:
    return "\n".join(str(v) for row in rows for v in row.values())


def _assert_ended_and_blank(row: dict) -> None:
    """What an ended row keeps: id, template, attempts, times, error; nothing else."""
    assert (row["recipient"], row["recipient_hash"], row["sealed"]) == ("", "", "")
    assert (row["subject"], row["text"], row["html"]) == ("", "", "")
    assert row["template"] == "password_reset_code" and row["attempts"] >= 1


def _insert_clear_text_row(app, to: str, code: str, **ended) -> None:
    """A row as a worker of the release before migration 0020 wrote it: the address,
    subject and bodies in clear, and no value for ``sealed`` or ``recipient_hash`` (it
    does not know them: their server defaults apply)."""
    t = now()
    values = {
        "recipient": to,
        "template": "password_reset_code",
        "subject": "Your reset code",
        "text": f"Your code is {code}.\n",
        "html": f"<p>Your code is <b>{code}</b>.</p>",
        "created_at": t,
        "attempts": 1,
        "next_attempt_at": t,
        "claimed_until": 0,
        "sent_at": None,
        "gave_up_at": None,
        "last_error": "ConnectionRefusedError",
        **ended,
    }
    with get_db(app).engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mail_outbox (recipient, template, subject, text, html, created_at,"
                " attempts, next_attempt_at, claimed_until, sent_at, gave_up_at, last_error)"
                " VALUES (:recipient, :template, :subject, :text, :html, :created_at,"
                " :attempts, :next_attempt_at, :claimed_until, :sent_at, :gave_up_at,"
                " :last_error)"
            ),
            values,
        )


def test_a_queued_mail_holds_neither_its_code_nor_its_address_in_clear_X06(down):
    """SECURITY.md X-06: the stored row (SMTP down, so still queued) shows neither the
    code, nor the address or its user part, nor the subject, nor a bare SHA-256 of the
    address; the sealed token and the keyed hash are there."""
    _queue(down)
    (row,) = _raw_rows(down)
    assert row["sent_at"] is None and row["gave_up_at"] is None and row["attempts"] == 1
    assert row["sealed"].startswith("gAAAA")  # a Fernet token: the row under test
    with down.app_context():
        subject = render_mail(
            "password_reset_code", "en", username="dora", code=CODE, minutes=10
        ).subject
    stored = _dump([row])
    for clear in (CODE, TO, "dora.mail", subject):
        assert clear not in stored, clear
    assert hashlib.sha256(TO.encode()).hexdigest() not in stored
    assert row["recipient_hash"] == mail_outbox.recipient_digest(
        down.extensions["idp_settings"], TO
    )


def test_a_sealed_mail_arrives_intact_and_its_row_is_blanked_X06(down, up, smtp_sink, db):
    """D-06: the sealed mail, sent once SMTP is back, is the mail that was rendered:
    the same address, subject, text and HTML; then the row keeps no address, no body."""
    _queue(down)
    (row,) = _raw_rows(down)
    with up.app_context():
        rendered = render_mail("password_reset_code", "en", username="dora", code=CODE, minutes=10)
        settings = up.extensions["idp_settings"]
        assert mail_outbox.deliver_due(db, settings, row["next_attempt_at"])["sent"] == 1
    (msg,) = smtp_sink.messages
    assert msg["To"] == TO and msg["Subject"] == rendered.subject
    assert msg.get_body(("plain",)).get_content() == rendered.text
    assert msg.get_body(("html",)).get_content() == rendered.html
    assert CODE in rendered.text and CODE in rendered.html
    (row,) = _raw_rows(up)
    assert row["sent_at"] is not None
    _assert_ended_and_blank(row)


def test_a_clear_text_row_of_the_release_before_0020_is_still_sent(up, smtp_sink, db):
    """Issue 13 "never lost" across the upgrade: a row queued in clear text by an old
    worker (``sealed`` empty) is sent as it is, then blanked like any other."""
    _insert_clear_text_row(up, "old.worker@example.org", "271828")
    settings = up.extensions["idp_settings"]
    assert mail_outbox.deliver_due(db, settings, now())["sent"] == 1
    (msg,) = smtp_sink.messages
    assert msg["To"] == "old.worker@example.org" and msg["Subject"] == "Your reset code"
    assert "271828" in msg.get_body(("plain",)).get_content()
    (row,) = _raw_rows(up)
    assert row["sent_at"] is not None
    _assert_ended_and_blank(row)


def test_an_ended_clear_text_row_of_the_old_release_is_blanked_by_the_jobs_X06(up, db):
    """A row an old worker gave up keeps its address (it blanked only the bodies): the
    jobs' purge blanks it long before the row itself is dropped."""
    t = now()
    _insert_clear_text_row(up, "gave.up@example.org", "314159", gave_up_at=t, attempts=8)
    assert mail_outbox.purge(db, t) == 0  # not old enough to drop
    (row,) = _raw_rows(up)
    assert row["gave_up_at"] == t
    _assert_ended_and_blank(row)


def test_a_mail_not_sent_within_max_age_is_given_up_unsent_and_blanked_X06(
    app_factory, smtp_sink, db, caplog
):
    """A code is useless after minutes, a day-old one only confuses: the last retry is
    due at MAX_AGE at the latest (not hours later, whatever IDP_MAIL_ATTEMPTS says),
    and then the mail is given up without a try, even with SMTP back; logged by id,
    without the address or the code (X-07)."""
    down = app_factory(smtp_url=_dead_smtp_url(), mail_attempts=100)
    _queue(down)
    (row,) = _raw_rows(down)
    created = row["created_at"]
    settings = down.extensions["idp_settings"]
    # A retry a minute before the bound is due again at the bound, not 5 minutes later.
    late = created + mail_outbox.MAX_AGE - 60
    assert mail_outbox.deliver_due(db, settings, late)["retry"] == 1
    (row,) = _raw_rows(down)
    assert row["next_attempt_at"] == created + mail_outbox.MAX_AGE
    up = app_factory(smtp_url=smtp_sink.url, mail_attempts=100)
    up_settings = up.extensions["idp_settings"]
    with caplog.at_level(logging.INFO, logger="idp.mail"):
        counts = mail_outbox.deliver_due(db, up_settings, row["next_attempt_at"])
    assert counts == {"sent": 0, "retry": 0, "gave_up": 1}
    assert smtp_sink.messages == []
    (row,) = _raw_rows(up)
    assert row["gave_up_at"] == created + mail_outbox.MAX_AGE
    assert (row["attempts"], row["last_error"]) == (2, "expired")  # no third try
    _assert_ended_and_blank(row)
    assert f"mail delivery given up id={row['id']} attempts=2" in caplog.text
    assert "error=expired" in caplog.text
    assert "dora" not in caplog.text and CODE not in caplog.text


def test_erasure_leaves_no_mail_to_the_person_X06(down, db):
    """PDPA s.33 / SECURITY.md X-06: erasing a closed account deletes every outbox row
    to its address, sealed (found by the keyed hash, any letter case) or queued in
    clear text by the previous release; another person's mail stays."""
    dora = make_user(db, "dora", email=TO)
    _queue(down, TO.upper(), "111111")
    _queue(down, "someone.else@example.org", "222222")
    _insert_clear_text_row(down, TO, "333333")
    assert len(_raw_rows(down)) == 3
    t = now()
    dora = db.get(User, dora.id)
    dora.closed_at, dora.is_active = t - 31 * DAY, False
    db.commit()
    settings = down.extensions["idp_settings"]
    with down.app_context():
        assert erase_closed_accounts(db, settings, t) == 1
    rows = _raw_rows(down)
    other = mail_outbox.recipient_digest(settings, "someone.else@example.org")
    assert [r["recipient_hash"] for r in rows] == [other]
    stored = _dump(rows)
    assert "dora.mail" not in stored and "111111" not in stored and "333333" not in stored


@pytest.fixture
def url_at_0019(tmp_path):
    """A database migrated to 0019 only, the schema of the release before (PostgreSQL:
    a private one)."""
    with empty_database_url(tmp_path) as url:
        command.upgrade(alembic_config(url), "0019")
        yield url


def test_a_mail_queued_before_migration_0020_is_sent_after_it(url_at_0019, smtp_sink):
    """The upgrade while old workers run (docs/deployment.md): a row the old release
    queued before 0020 ran gets the new columns' defaults (``sealed`` empty: clear
    text) and is sent by the new sender; 0020 downgrades and upgrades again."""
    engine = create_engine(url_at_0019)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mail_outbox (recipient, template, subject, text, html, created_at,"
                " attempts, next_attempt_at, claimed_until, last_error) VALUES ('early@example"
                ".org', 'password_reset_code', 'Code', 'Code 161803', '<p>161803</p>', :t, 1,"
                " :t, 0, 'ConnectionRefusedError')"
            ),
            {"t": now()},
        )
    engine.dispose()
    cfg = alembic_config(url_at_0019)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "0019")
    command.upgrade(cfg, "head")
    app = create_app({**BASE_OVERRIDES, "database_url": url_at_0019, "smtp_url": smtp_sink.url})
    try:
        with get_db(app).factory() as db:
            (row,) = _raw_rows(app)
            assert (row["sealed"], row["recipient_hash"]) == ("", "")
            settings = app.extensions["idp_settings"]
            assert mail_outbox.deliver_due(db, settings, now())["sent"] == 1
        (msg,) = smtp_sink.messages
        assert msg["To"] == "early@example.org"
        assert msg.get_body(("plain",)).get_content().strip() == "Code 161803"
    finally:
        get_db(app).dispose()
