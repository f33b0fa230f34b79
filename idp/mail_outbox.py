"""The mail outbox (issue 13 "SMTP down: mails are queued and retried, never lost and
never blocking a request").

:func:`idp.mail.send_templated` renders a mail and hands it to :func:`queue`, which
writes an :class:`~idp.models.OutboxMail`:

- inside a request, in the request's own session: the mail leaves only if the request
  commits (a rolled-back request sends nothing). A request that ends normally with the
  row flushed but never committed still sends it (:func:`_rescue_uncommitted`): before
  the outbox, every mail left at once, committed or not, and callers rely on that;
- outside a request (the CLI, ``idp jobs run``), in the session this thread last wrote
  in (the command's or job's own) while those writes are uncommitted, else
  in one of its own committed at once; sent in the committing thread (a command must
  not exit before its mail leaves).

A mail's life::

    queued (sealed; next_attempt_at = now) --SMTP took it--> sent (sent_at; blanked)
       |  ^
       |  +-- failed, attempts < IDP_MAIL_ATTEMPTS: next_attempt_at =
       |      min(now + next_delay, created_at + MAX_AGE)
       +-- failed, attempts = IDP_MAIL_ATTEMPTS --> gave_up (gave_up_at; blanked)
       +-- due at created_at + MAX_AGE (24 h) -----> gave_up (unsent, "expired"; blanked)

At rest (SECURITY.md X-06): a queued row holds the address, subject and bodies only as
one Fernet token (``sealed``, :func:`idp.crypto.encrypt` under a key of its own, from
IDP_SECRET_KEY), decrypted only by :func:`deliver`, and the address as a keyed hash
(``recipient_hash``, :func:`recipient_digest`) so that erasing an account finds its
mails (:func:`forget`). "Blanked" is all of these and the clear-text columns: an ended
row keeps its id, template, attempts, times and last error, for an operator. A row
queued by the release before migration 0020 has ``sealed`` empty and its mail in the
clear-text columns (``recipient``, ``subject``, ``text``, ``html``): it is sent as it
is; new rows leave those columns empty, so an old worker never mails ciphertext.

The first try runs right after the commit: in a thread (IDP_MAIL_DELIVERY=background,
:class:`MailWorker`) or in the committing thread (inline). Retries run from ``idp jobs
run`` (:func:`deliver_due`). A sender first claims a row with a conditional UPDATE
(``claimed_until < now``) that only one of two concurrent senders wins, so the worker
and the job never both send one mail. A sender that dies between the SMTP server's
"250" and its commit leaves the row to be sent again after LEASE: at least once, never
lost. Logs name the row id, attempt and template; never the address or a body (mails
hold codes and links). Sent and given-up rows are purged by the jobs (:func:`purge`),
which also blank an ended row of the old release (it blanked only the bodies).
Changing IDP_SECRET_KEY leaves queued mails unreadable: each fails ("InvalidToken")
and is given up within MAX_AGE.
"""

from __future__ import annotations

import json
import logging
import queue as queue_module
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_request_context
from sqlalchemy import delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from idp import crypto
from idp.config import Settings
from idp.db import get_db, now
from idp.models import OutboxMail
from idp.ops import metrics

if TYPE_CHECKING:
    from idp.mail import RenderedMail

log = logging.getLogger("idp.mail")

BACKOFF = (60, 300, 900, 3600, 6 * 3600)  # seconds after the 1st, 2nd, ... failure
LEASE = 120  # seconds a claimed mail is left alone: well over one SMTP try (10 s timeout)
BATCH = 100
DAY = 86400
# A mail not sent within a day of being queued is given up unsent: its codes expire in
# 10 minutes and its links (reset, registration resume, invitation) are asked for again
# from the page, while a day-old code would only confuse (SECURITY.md 0.3: an emailed
# code is valid 24 h at most). IDP_MAIL_ATTEMPTS may end it sooner (8: ~19 h).
MAX_AGE = DAY
GAVE_UP_KEPT_DAYS = 30  # a given-up row (no address, no body) stays for an operator
SEALED = b"idp mail outbox"  # the crypto.encrypt purpose: a key of its own

# What a session queued in its transaction: the ids and the rendered mails, handed to
# the sender once it commits; dropped when it rolls back.
_PENDING = "idp_mail_outbox"
_APP = "idp_mail_outbox_app"
_INLINE = "idp_mail_outbox_inline"
_WROTE = "idp_mail_outbox_wrote"  # the session flushed since its last commit
_WORKER = "idp_mail_worker"
_LOCK = threading.Lock()
_THIS_THREAD = threading.local()


def next_delay(attempts: int) -> int:
    """Seconds until the next try after ``attempts`` failed ones (1 -> 1 min, 2 -> 5 min,
    3 -> 15 min, 4 -> 1 h, then every 6 h)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _add(db: Session, app: Flask, to: str, template: str, mail: RenderedMail) -> None:
    """Hold the mail in the session until it commits (:func:`_before_commit` adds the
    row then): a row added now could be autoflushed by the request's next query, and
    that write would, on SQLite, block the request's other sessions (its browser
    session) until the end of a request that never commits."""
    db.connection()  # begun (no write yet), so that a rollback is seen and drops it
    db.info.setdefault(_PENDING, []).append([None, (to, template, mail)])
    db.info[_APP] = app


def recipient_digest(settings: Settings, to: str) -> str:
    """The keyed hash a row is found by for its address (SECURITY.md X-06 "looked up by
    keyed hash"): HMAC with IDP_SECRET_KEY, so a leaked table does not confirm a guessed
    address; case-folded, as addresses are compared elsewhere (``users.email_key``)."""
    return crypto.keyed_digest(settings.secret_key, "mail outbox recipient:" + to.strip().lower())


def _seal(settings: Settings, to: str, mail: RenderedMail) -> str:
    plain = {"to": to, "subject": mail.subject, "text": mail.text, "html": mail.html}
    return crypto.encrypt(settings.secret_key, json.dumps(plain), purpose=SEALED)


def _open(settings: Settings, row: OutboxMail) -> tuple[str, str, str, str]:
    """The address, subject and bodies to send: decrypted from ``sealed``, or as they
    are in a row queued in clear text by the release before migration 0020 (``sealed``
    empty, the address in ``recipient``). Raises InvalidToken if IDP_SECRET_KEY changed."""
    if not row.sealed:
        return row.recipient, row.subject, row.text, row.html
    plain = json.loads(crypto.decrypt(settings.secret_key, row.sealed, purpose=SEALED))
    return plain["to"], plain["subject"], plain["text"], plain["html"]


def _row(settings: Settings, to: str, template: str, mail: RenderedMail) -> OutboxMail:
    """The row of one mail: the address, subject and bodies only sealed (SECURITY.md
    X-06); the clear-text columns of the release before 0020 stay empty, so that one
    of its workers, should it pick the row up, tries an empty address, which SMTP
    servers refuse, rather than mailing ciphertext."""
    t = now()
    return OutboxMail(
        recipient="",
        recipient_hash=recipient_digest(settings, to),
        template=template,
        subject="",
        text="",
        html="",
        sealed=_seal(settings, to, mail),
        created_at=t,
        attempts=0,
        next_attempt_at=t,
        claimed_until=0,
        last_error="",
    )


def queue(to: str, template: str, mail: RenderedMail) -> None:
    """Queue one rendered mail (see the module's docstring for which transaction)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if has_request_context():
        _add(get_db(app).scoped(), app, to, template, mail)
        return
    ref = getattr(_THIS_THREAD, "session", None)
    db = ref() if ref is not None else None
    if db is not None and _writing(db) and _same_database(db, app):
        _add(db, app, to, template, mail)
        db.info[_INLINE] = True
    else:
        _write_own(app, [(to, template, mail)])


def _writing(db: Session) -> bool:
    """Whether ``db`` has flushed writes not yet committed, which the mail belongs
    with. A session that committed them (a best-effort notice after the change) is not
    waited for: the mail is committed at once on its own."""
    return db.in_transaction() and bool(db.info.get(_WROTE))


def _same_database(db: Session, app: Flask) -> bool:
    """Whether ``db`` writes to this app's database (by URL: two apps of one
    deployment, as in the tests, have an engine each)."""
    return str(db.get_bind().url) == str(get_db(app).engine.url)


def _write_own(
    app: Flask, mails: list[tuple[str, str, RenderedMail]], *, inline: bool = True
) -> None:
    """Write mails in a session of their own, committed; sent in this thread (inline)
    or as IDP_MAIL_DELIVERY says."""
    with get_db(app).factory() as own:
        for to, template, mail in mails:
            _add(own, app, to, template, mail)
        own.info[_INLINE] = inline
        own.commit()


def _wrote(db: Session) -> None:
    # Outside a request, the session whose work sends a mail is the one this thread
    # last wrote in (a command's, a job's); on SQLite it also holds the write lock.
    db.info[_WROTE] = True
    _THIS_THREAD.session = weakref.ref(db)


@event.listens_for(Session, "after_flush")
def _after_flush(db: Session, flush_context: Any) -> None:
    _wrote(db)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:  # db.execute(update(...))
        _wrote(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(db: Session) -> None:
    for entry in db.info.get(_PENDING, ()):
        if entry[0] is None:
            entry[0] = _row(db.info[_APP].extensions["idp_settings"], *entry[1])
            db.add(entry[0])


@event.listens_for(Session, "after_commit")
def _after_commit(db: Session) -> None:
    db.info.pop(_WROTE, None)
    pending = db.info.pop(_PENDING, None)
    app = db.info.pop(_APP, None)
    inline = db.info.pop(_INLINE, False)
    if pending and app is not None:
        kick(app, [row.id for row, _ in pending], inline=inline)


@event.listens_for(Session, "after_rollback")
def _after_rollback(db: Session) -> None:
    db.info.pop(_WROTE, None)
    db.info.pop(_PENDING, None)
    db.info.pop(_APP, None)
    db.info.pop(_INLINE, None)


def _rescue_uncommitted(exc: BaseException | None) -> None:
    """At the end of a request that raised nothing: mails it queued but never committed
    are written on their own (the rest of its uncommitted work is rolled back, as it
    would have been), so a view that mails without committing loses no mail."""
    db = get_db()
    if exc is not None or not db.scoped.registry.has():
        return
    pending = db.scoped().info.get(_PENDING)
    if not pending:
        return
    db.scoped().rollback()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        _write_own(app, [m for _, m in pending], inline=False)  # not in the request's time
    except Exception as err:  # noqa: BLE001 - the database went away: the page is sent
        log.error("mail outbox: could not keep a request's mail: %s", type(err).__name__)


def init_app(app: Flask) -> None:
    app.teardown_request(_rescue_uncommitted)


# Delivery.


def _claim(db: Session, row_id: int, t: int) -> bool:
    """Take one due mail for this sender; of two concurrent senders one wins. The lease
    runs from the clock now, not from ``t`` alone: a run that started minutes ago (slow
    jobs before it, a slow SMTP backlog) would otherwise take a lease already expired."""
    held = max(t, now())
    won = db.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == row_id,
            OutboxMail.sent_at.is_(None),
            OutboxMail.gave_up_at.is_(None),
            OutboxMail.next_attempt_at <= t,
            OutboxMail.claimed_until < held,
        )
        .values(claimed_until=held + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.commit()
    return won == 1


# What an ended row keeps, for an operator: id, template, attempts, times, last error.
_BLANK = dict.fromkeys(("recipient", "recipient_hash", "subject", "text", "html", "sealed"), "")


def _blank(row: OutboxMail) -> None:
    for column, value in _BLANK.items():
        setattr(row, column, value)


def deliver(db: Session, settings: Settings, row: OutboxMail, t: int) -> str:
    """Try one claimed mail now; "sent", "retry" or "gave_up", logged, committed. A mail
    queued MAX_AGE ago or more is given up without a try. The only place a queued mail
    is decrypted."""
    from idp.mail import send_mail

    expired = t - row.created_at >= MAX_AGE
    if expired:
        error = "expired"
    else:
        try:
            send_mail(settings.smtp_url, settings.mail_from, *_open(settings, row))
            error = ""
        except Exception as exc:  # noqa: BLE001 - any failure is a failed try, never a crash
            cause = exc.__cause__ or exc
            error = cause.__class__.__name__  # not str(exc): a reply may name the address
        row.attempts += 1
        if error:
            metrics.mail_failures.inc()
    if not error:
        row.sent_at, row.last_error, outcome = t, "", "sent"
        _blank(row)
        log.info("mail sent id=%d attempt=%d template=%s", row.id, row.attempts, row.template)
    elif expired or row.attempts >= settings.mail_attempts:
        row.gave_up_at, row.last_error, outcome = t, error[:200], "gave_up"
        _blank(row)
        log.error(
            "mail delivery given up id=%d attempts=%d template=%s error=%s",
            row.id,
            row.attempts,
            row.template,
            error,
        )
    else:
        row.last_error, outcome = error[:200], "retry"
        # Due again at MAX_AGE at the latest, to be given up then rather than hours later.
        row.next_attempt_at = min(t + next_delay(row.attempts), row.created_at + MAX_AGE)
        row.claimed_until = 0
        log.warning(
            "mail delivery failed id=%d attempt=%d template=%s error=%s retry_in=%ds",
            row.id,
            row.attempts,
            row.template,
            error,
            row.next_attempt_at - t,
        )
    db.commit()
    return outcome


def deliver_due(
    db: Session, settings: Settings, t: int, *, ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Send every mail due at ``t`` (or only those of ``ids``): what ``idp jobs run``
    and the worker call. Returns the count of each outcome."""
    counts = {"sent": 0, "retry": 0, "gave_up": 0}
    query = (
        select(OutboxMail.id)
        .where(
            OutboxMail.sent_at.is_(None),
            OutboxMail.gave_up_at.is_(None),
            OutboxMail.next_attempt_at <= t,
            OutboxMail.claimed_until < t,
        )
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(BATCH)
    )
    if ids is not None:
        query = query.where(OutboxMail.id.in_(list(ids)))
    while True:
        # Each row tried or claimed by another sender leaves the query, so this ends.
        batch = list(db.scalars(query))
        for row_id in batch:
            if _claim(db, row_id, t):
                row = db.get(OutboxMail, row_id, populate_existing=True)
                counts[deliver(db, settings, row, t)] += 1
        if len(batch) < BATCH:
            return counts


def purge(db: Session, t: int) -> int:
    """Drop sent mails a day old and given-up ones GAVE_UP_KEPT_DAYS old (their address
    and bodies were blanked when they ended). Ended rows that still hold an address or
    a body (ended by a worker of the release before 0020, which blanked only the
    bodies) are blanked first."""
    db.execute(
        update(OutboxMail)
        .where(
            or_(OutboxMail.sent_at.is_not(None), OutboxMail.gave_up_at.is_not(None)),
            or_(*(getattr(OutboxMail, column) != "" for column in _BLANK)),
        )
        .values(**_BLANK)
        .execution_options(synchronize_session=False)
    )
    n = db.execute(
        delete(OutboxMail).where(
            or_(
                OutboxMail.sent_at < t - DAY,
                OutboxMail.gave_up_at < t - GAVE_UP_KEPT_DAYS * DAY,
            )
        )
    ).rowcount
    db.commit()
    return n


def forget(db: Session, settings: Settings, address: str) -> int:
    """Delete every queued or ended mail to ``address`` (erasure, PDPA s.33; SECURITY.md
    X-06): found by its keyed hash, or by the address itself in a row queued in clear
    text before migration 0020. In the caller's transaction. Returns how many."""
    if not address.strip():  # an empty address would match every blanked row
        return 0
    return db.execute(
        delete(OutboxMail)
        .where(
            or_(
                OutboxMail.recipient_hash == recipient_digest(settings, address),
                func.lower(OutboxMail.recipient) == address.strip().lower(),
            )
        )
        .execution_options(synchronize_session=False)
    ).rowcount


class MailWorker:
    """One daemon thread per process that sends what a request queued, right after it
    committed, off the request path (like :mod:`idp.oidc.backchannel_worker`)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.jobs: queue_module.Queue[list[int]] = queue_module.Queue()
        self.thread: threading.Thread | None = None

    def submit(self, ids: list[int]) -> None:
        with _LOCK:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="mail-outbox", daemon=True)
                self.thread.start()
        self.jobs.put(ids)

    def wait_idle(self) -> None:
        """Block until every submitted batch was tried (tests, and a clean shutdown)."""
        self.jobs.join()

    def _run(self) -> None:
        while True:
            ids = self.jobs.get()
            try:
                _deliver_now(self.app, ids)
            finally:
                self.jobs.task_done()


def worker_for(app: Flask) -> MailWorker:
    with _LOCK:
        worker = app.extensions.get(_WORKER)
        if worker is None:
            worker = app.extensions[_WORKER] = MailWorker(app)
    return worker


def _deliver_now(app: Flask, ids: list[int]) -> Any:
    try:
        with get_db(app).factory() as db:
            return deliver_due(db, app.extensions["idp_settings"], now(), ids=ids)
    except Exception:  # noqa: BLE001 - the job retries; never fail the caller
        log.exception("mail outbox: delivery failed")
        return None


def kick(app: Flask, ids: list[int], *, inline: bool = False) -> None:
    """Send newly committed mails now: in this thread (inline) or the worker's."""
    if inline or app.extensions["idp_settings"].mail_delivery == "inline":
        _deliver_now(app, ids)
        return
    try:
        worker_for(app).submit(ids)
    except Exception:  # noqa: BLE001 - after commit: the response must not fail
        log.exception("mail outbox: worker could not start")
