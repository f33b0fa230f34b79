"""The mail outbox (issue 13 "SMTP down: mails are queued and retried, never lost and
never blocking a request"; SECURITY.md section 7): every mail is written in the
transaction that sends it, delivered after the commit, retried by ``idp jobs run``,
sent once however many senders race, given up after IDP_MAIL_ATTEMPTS, and its body
(a code) blanked once it ends. Real SMTP: the aiosmtpd sink, and a port nobody
listens on for an outage."""

from __future__ import annotations

import logging
import socket
import threading

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from idp import mail_outbox
from idp.db import get_db, now
from idp.jobs import run_jobs
from idp.mail import send_templated
from idp.models import OutboxMail
from tests.factories import make_user
from tests.integration.test_password_reset import ALICE_ID, _codes, _start, _with_document


def _dead_smtp_url() -> str:
    """An SMTP URL on a port nobody listens on (bound, then closed): connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"smtp://127.0.0.1:{port}"


def _rows(db) -> list[OutboxMail]:
    db.rollback()  # read what the app's sessions committed
    return list(db.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _queue_outside_a_request(app, to: str, n: int = 1) -> None:
    """What a command does: mails queued in its own transaction, committed."""
    with app.app_context(), get_db(app).factory() as s:
        make_user(s, "sender")  # a write: the mails go with this transaction
        for i in range(n):
            send_templated(
                app.extensions["idp_settings"],
                to,
                "password_reset_code",
                "en",
                username=f"u{i}",
                code=f"{100000 + i}",
                minutes=10,
            )
        s.commit()


def _mail_failures() -> float:
    return REGISTRY.get_sample_value("idp_mail_failures_total") or 0.0


def test_smtp_down_the_reset_request_succeeds_and_the_job_sends_the_code_once_later(
    app_factory, db, smtp_sink
):
    """Issue 13: with the SMTP server down the forgot-password request answers as
    usual (the background worker's try fails off the request path); the code waits in
    the outbox, and ``idp jobs run`` sends it once SMTP is back, once."""
    down = app_factory(
        smtp_url=_dead_smtp_url(), mail_delivery="background", password_reset_answer_ms=0
    )
    settings = down.extensions["idp_settings"]
    _with_document(db, settings, make_user(db, "alice", locale="en"), ALICE_ID)
    client = down.test_client()
    failures_before = _mail_failures()
    resp = _start(client)
    assert resp.status_code in (200, 303)
    # The person is told the mail may be late (issue 13), in their language.
    page = client.get("/account/forgot/code").get_data(as_text=True)
    assert "The email may take a few minutes to arrive." in page
    client.set_cookie("idp_lang", "th", domain="localhost")
    page = client.get("/account/forgot/code").get_data(as_text=True)
    assert "อีเมลอาจใช้เวลาสักครู่จึงจะมาถึง" in page
    mail_outbox.worker_for(down).wait_idle()
    (row,) = _rows(db)
    assert (row.attempts, row.sent_at, row.last_error) == (1, None, "ConnectionRefusedError")
    assert _mail_failures() == failures_before + 1  # seen in /metrics
    assert row.next_attempt_at > now()  # backed off, not hammering the server

    up = app_factory(smtp_url=smtp_sink.url)
    with up.app_context():
        up_settings = up.extensions["idp_settings"]
        assert run_jobs(db, up_settings)["mails_sent"] == 0  # not due yet
        t = row.next_attempt_at
        assert mail_outbox.deliver_due(db, up_settings, t) == {"sent": 1, "retry": 0, "gave_up": 0}
        assert mail_outbox.deliver_due(db, up_settings, t + 3600)["sent"] == 0
    assert len(_codes(smtp_sink)) == 1
    (row,) = _rows(db)
    # Sent: the code is gone from the database.
    assert row.sent_at == t and (row.subject, row.text, row.html) == ("", "", "")


def test_a_rolled_back_request_sends_nothing_and_a_committed_one_sends_once(
    app_factory, db, smtp_sink
):
    """SECURITY.md section 7 (a failed request leaves nothing behind): the mail is part
    of the request's transaction."""
    app = app_factory(smtp_url=smtp_sink.url)
    settings = app.extensions["idp_settings"]
    args = ("ann@example.org", "password_reset_code", "en")
    with app.test_request_context("/"):
        send_templated(settings, *args, username="ann", code="111111", minutes=10)
        get_db(app).scoped().rollback()
    assert _rows(db) == [] and smtp_sink.messages == []
    with app.test_request_context("/"):
        send_templated(settings, *args, username="ann", code="222222", minutes=10)
        get_db(app).scoped().commit()
    assert [m["To"] for m in smtp_sink.messages] == ["ann@example.org"]
    assert "222222" in smtp_sink.messages[0].get_body(("plain",)).get_content()


def test_a_request_that_mails_without_committing_still_sends(app_factory, db, smtp_sink):
    """Issue 13 "never lost": a view that mails after its last commit (a best-effort
    notice) and ends normally still sends the mail."""
    app = app_factory(smtp_url=smtp_sink.url)
    settings = app.extensions["idp_settings"]
    with app.test_request_context("/"):
        send_templated(
            settings,
            "ann@example.org",
            "password_reset_code",
            "en",
            username="ann",
            code="333333",
            minutes=10,
        )
    assert [m["To"] for m in smtp_sink.messages] == ["ann@example.org"]


def test_the_worker_sends_after_the_request_commits(app_factory, db, smtp_sink):
    """IDP_MAIL_DELIVERY=background, the default: a thread sends it, not the request."""
    app = app_factory(smtp_url=smtp_sink.url, mail_delivery="background")
    settings = app.extensions["idp_settings"]
    with app.test_request_context("/"):
        send_templated(
            settings,
            "ann@example.org",
            "password_reset_code",
            "en",
            username="ann",
            code="444444",
            minutes=10,
        )
        get_db(app).scoped().commit()
    mail_outbox.worker_for(app).wait_idle()
    assert [m["To"] for m in smtp_sink.messages] == ["ann@example.org"]
    (row,) = _rows(db)
    assert row.sent_at is not None and row.text == ""


def test_racing_senders_send_each_mail_once(app_factory, db, smtp_sink):
    """Issue 13: the worker and ``idp jobs run`` (here six senders at the same instant)
    claim a mail before sending it, so none goes out twice."""
    down = app_factory(smtp_url=_dead_smtp_url())
    _queue_outside_a_request(down, "bob@example.org", n=12)
    assert [r.attempts for r in _rows(db)] == [1] * 12  # each tried once, failed
    up = app_factory(smtp_url=smtp_sink.url)
    settings = up.extensions["idp_settings"]
    t = max(r.next_attempt_at for r in _rows(db))
    barrier = threading.Barrier(6)
    results: list[dict] = []

    def sender() -> None:
        with get_db(up).factory() as s:
            barrier.wait()
            results.append(mail_outbox.deliver_due(s, settings, t))

    threads = [threading.Thread(target=sender) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert sum(r["sent"] for r in results) == 12
    codes = sorted(m.get_body(("plain",)).get_content() for m in smtp_sink.to("bob@example.org"))
    assert len(codes) == 12 and len(set(codes)) == 12


def test_a_mail_is_given_up_after_the_last_attempt_logged_without_address_or_code(
    app_factory, db, caplog
):
    """Issue 13: retried IDP_MAIL_ATTEMPTS times, then given up with a clear log line
    naming the row (never the address or the code: SECURITY.md section 7, logs)."""
    app = app_factory(smtp_url=_dead_smtp_url(), mail_attempts=2)
    settings = app.extensions["idp_settings"]
    with caplog.at_level(logging.INFO, logger="idp.mail"):
        _queue_outside_a_request(app, "carol@example.org")  # attempt 1
        (row,) = _rows(db)
        assert mail_outbox.deliver_due(db, settings, row.next_attempt_at)["gave_up"] == 1
    (row,) = _rows(db)
    assert row.attempts == 2 and row.gave_up_at is not None and row.text == ""
    assert f"mail delivery failed id={row.id} attempt=1" in caplog.text
    assert f"mail delivery given up id={row.id} attempts=2" in caplog.text
    assert "carol@" not in caplog.text and "100000" not in caplog.text
    # Purged by the jobs once old enough; never sent again meanwhile.
    assert mail_outbox.deliver_due(db, settings, row.gave_up_at + 10**6)["sent"] == 0
    assert mail_outbox.purge(db, row.gave_up_at + 31 * 86400) == 1
    assert db.scalar(select(func.count()).select_from(OutboxMail)) == 0


@pytest.mark.parametrize("value", ["later", ""])
def test_mail_delivery_setting_is_checked(app_factory, value):
    from idp.config import ConfigError

    with pytest.raises(ConfigError, match="IDP_MAIL_DELIVERY"):
        app_factory(mail_delivery=value)


def test_a_request_that_fails_after_mailing_sends_nothing(app_factory, db, smtp_sink):
    """SECURITY.md section 7 / D-04: a request that raises after queueing a mail (its
    error page answered by the app's handler, so no teardown sees the exception)
    leaves neither its writes nor its mail behind."""
    app = app_factory(smtp_url=smtp_sink.url)
    settings = app.extensions["idp_settings"]

    def mails_then_fails():
        send_templated(
            settings,
            "ann@example.org",
            "password_reset_code",
            "en",
            username="ann",
            code="444444",
            minutes=10,
        )
        raise RuntimeError("a bug after the mail was queued")

    app.add_url_rule("/mails-then-fails", view_func=mails_then_fails)
    assert app.test_client().get("/mails-then-fails").status_code == 500
    assert _rows(db) == [] and smtp_sink.messages == []
