"""`idp jobs run`: soft-token reminders 30, 7 and 1 days before expiry (MISSION B5);
temporary memberships expired and reminded 14 and 3 days before (MISSION C2, R-07),
unfinished registrations and finished proofing transactions purged (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from idp.enrollment import review
from idp.jobs import expire_memberships, run_jobs
from idp.mfa import services
from idp.models import (
    AuditEvent,
    AuthorizationCode,
    EmailCode,
    NoticeAcceptance,
    PersonalDataNotice,
    ProofingTransaction,
    Registration,
    ReviewItem,
    User,
)
from tests.factories import exchange, get_code, mail_text, make_client, make_user

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


# --- issue 10: temporary memberships, unfinished registrations, proofing -------------


def _temporary(db, username: str, expires_at: int, locale: str = "en") -> User:
    user = make_user(db, username, locale=locale)
    user.membership_status, user.membership_expires_at = "temporary", expires_at
    db.commit()
    return user


def test_temporary_member_expires_once_through_the_state_machine_R07(app, db):
    """MISSION C2, SECURITY.md R-07: past ``membership_expires_at`` -> expired, audited
    once; the job run again changes nothing."""
    settings = app.extensions["idp_settings"]
    gone = _temporary(db, "gone", T0 + 60 * 86400)
    kept = _temporary(db, "kept", T0 + 61 * 86400)
    with app.app_context(), time_machine.travel(T0 + 60 * 86400, tick=False):
        assert run_jobs(db, settings)["memberships_expired"] == 1
        assert run_jobs(db, settings)["memberships_expired"] == 0
    db.expire_all()
    assert db.get(User, gone.id).membership_status == "expired"
    assert db.get(User, kept.id).membership_status == "temporary"
    audit = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == "account:membership:expired")
    ).all()
    assert [a.subject_user_id for a in audit] == [gone.id]


def test_expiry_works_in_bounded_batches(app, db):
    for n in range(5):
        _temporary(db, f"t{n}", T0)
    with time_machine.travel(T0 + 1, tick=False):
        assert expire_memberships(db, T0 + 1, batch=2) == 5
    assert db.scalar(select(User).where(User.membership_status == "temporary")) is None


def test_membership_reminders_14_and_3_days_before_once_each(app_factory, db, smtp_sink):
    """Running the job twice sends one mail per threshold (idempotent)."""
    app = app_factory(smtp_url=smtp_sink.url)
    settings = app.extensions["idp_settings"]
    expiry = T0 + 60 * 86400
    _temporary(db, "tom", expiry)
    sent = []
    with app.app_context(), time_machine.travel(T0, tick=False) as traveller:
        for days_before in (15, 14, 14, 10, 3, 3, 1):
            traveller.move_to(expiry - days_before * 86400)
            sent.append(run_jobs(db, settings)["membership_reminders_sent"])
    assert sent == [0, 1, 0, 0, 1, 0, 0]
    mails = smtp_sink.to("tom@example.org")
    assert [m["Subject"] for m in mails] == ["Your temporary membership ends soon"] * 2
    assert "14 days" in mail_text(mails[0]) and "3 days" in mail_text(mails[1])


def test_membership_reminder_in_thai_has_the_buddhist_era_date(app_factory, db, smtp_sink):
    app = app_factory(smtp_url=smtp_sink.url)
    expiry = T0 + 60 * 86400  # 2027 CE = 2570 BE
    _temporary(db, "somchai", expiry, locale="th")
    with app.app_context(), time_machine.travel(expiry - 14 * 86400, tick=False):
        assert run_jobs(db, app.extensions["idp_settings"])["membership_reminders_sent"] == 1
    text = mail_text(smtp_sink.to("somchai@example.org")[0])
    year = datetime.fromtimestamp(expiry, UTC).year
    assert str(year + 543) in text and str(year) not in text


def _registration(db, public_id: str, created_at: int, status: str = "draft") -> Registration:
    reg = Registration(
        public_id=public_id, status=status, created_at=created_at, updated_at=created_at
    )
    db.add(reg)
    db.flush()
    return reg


def test_unfinished_registrations_purged_after_registration_days_keeping_consent(app, db):
    """PDPA s.19: the notice acceptance survives its registration (link set to NULL);
    finished registrations and ones an operator still has to decide stay."""
    settings = app.extensions["idp_settings"]
    old = _registration(db, "old", T0)
    young = _registration(db, "young", T0 + 86400)
    done = _registration(db, "done", T0, status="done")
    waiting = _registration(db, "waiting", T0)
    item = review.open_item(db, kind=review.DOCUMENT_CHECK, registration_id=waiting.id)
    db.add(PersonalDataNotice(version=99, text_th="ก", text_en="a", published_at=T0))
    db.flush()
    db.add(NoticeAcceptance(version=99, registration_id=old.id, accepted_at=T0))
    db.add(
        EmailCode(
            registration_id=old.id,
            purpose="registration",
            binding="b",
            sent_to="x@example.org",
            code_hash="h",
            created_at=T0,
            expires_at=T0 + 600,
        )
    )
    db.commit()
    with time_machine.travel(T0 + settings.registration_days * 86400 + 1, tick=False):
        assert run_jobs(db, settings)["registrations_purged"] == 1
        assert run_jobs(db, settings)["registrations_purged"] == 0
    db.expire_all()
    left = {r.public_id for r in db.scalars(select(Registration))}
    assert left == {"young", "done", "waiting"}
    acceptance = db.scalar(select(NoticeAcceptance))
    assert acceptance is not None and acceptance.registration_id is None
    assert db.scalar(select(EmailCode)) is None
    assert db.get(ReviewItem, item.id) is not None and young.id and done.id


def test_finished_proofing_transactions_purged_after_a_day_X02(app, db):
    settings = app.extensions["idp_settings"]
    for n, expires in enumerate((T0, T0 + 2 * 86400)):
        db.add(
            ProofingTransaction(
                id=f"tx{n}",
                session_binding="s",
                status="done",
                match_code="1234",
                oauth_state=f"state{n}",
                nonce="n",
                code_verifier="v",
                created_at=expires - 300,
                expires_at=expires,
            )
        )
    db.commit()
    with time_machine.travel(T0 + 86400 + 1, tick=False):
        assert run_jobs(db, settings)["proofing_purged"] == 1
        assert run_jobs(db, settings)["proofing_purged"] == 0
    assert [t.id for t in db.scalars(select(ProofingTransaction))] == ["tx1"]
