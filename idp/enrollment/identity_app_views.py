"""Identity proofing with the identity app, cross-device (MISSION B1 step 2,
SECURITY.md X-02): the desktop page shows a QR code and a match code and waits; the
phone opens the QR's URL, is sent to the proofing provider, confirms there and comes
back to our callback; the desktop page sees the result and continues by itself (or on
"Check status", without JavaScript).

For a registration in progress (``session["enrollment.registration"]``) the verdict is
recorded for it; for a signed-in person ("verify now") it is applied to their
membership. Services: :mod:`idp.enrollment.cross_device`, :mod:`idp.enrollment.identity_app`.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from idp.db import now
from idp.db import session as db_session
from idp.enrollment import cross_device, identity_app
from idp.enrollment.cross_device import TransactionRefused
from idp.enrollment.identity_app import ProviderUnavailable
from idp.enrollment.verifiers import Outcome
from idp.extensions import limiter, page_locale
from idp.mfa.totp import qr_data_uri
from idp.models import ProofingTransaction, Registration
from idp.safe_redirect import local_path

bp = Blueprint("proofing", __name__)
BINDING = "proofing.binding"
CURRENT = "proofing.tx"
NEXT = "proofing.next"
REGISTRATION = "enrollment.registration"


def _settings():
    return current_app.extensions["idp_settings"]


def _poll_limit() -> str:
    return _settings().proofing_poll_rate_limit


def _poll_key() -> str:
    tx = (request.view_args or {}).get("tx_id") or request.form.get("tx", "")
    return f"{request.remote_addr}|{tx[:64]}"


def _next() -> str:
    return local_path(session.get(NEXT)) or url_for("account.home")


def _subject() -> tuple[int | None, int | None] | None:
    """(user_id, registration_id) of whoever proves their identity, or None."""
    public_id = session.get(REGISTRATION)
    if isinstance(public_id, str) and public_id:
        reg = db_session().scalar(select(Registration).where(Registration.public_id == public_id))
        if reg is not None and reg.status != "done":
            return None, reg.id
    if current_user.is_authenticated:
        return current_user.id, None
    return None


def _as_temporary() -> bool:
    """Does "not now" leave the person a temporary member (a registration, or a member
    who is temporary or expired), rather than as they were?"""
    if session.get(REGISTRATION) or not current_user.is_authenticated:
        return True
    return current_user.membership_status in ("temporary", "expired")


def _callback_url() -> str:
    return _settings().issuer + url_for("proofing.callback")


def _outcome_page(reason: str, status: int = 200, phone: bool = False) -> tuple[str, int]:
    return (
        render_template(
            "proofing/phone.html" if phone else "proofing/result.html",
            reason=reason,
            next_url=_next(),
            retry_url=url_for("proofing.start", next=_next()),
            as_temporary=_as_temporary(),
        ),
        status,
    )


def _start_page(tx: ProofingTransaction, waiting: bool = False) -> str:
    phone_url = _settings().issuer + url_for("proofing.phone", tx_id=tx.id)
    return render_template(
        "proofing/start.html",
        tx=tx,
        qr=qr_data_uri(phone_url),
        status_url=url_for("proofing.status", tx_id=tx.id),
        waiting=waiting,
        next_url=_next(),
        as_temporary=_as_temporary(),
    )


def _live_current(db, subject, at: int) -> ProofingTransaction | None:
    tx_id = session.get(CURRENT)
    if not tx_id:
        return None
    try:
        tx = cross_device.for_session(
            db, tx_id, secret_key=_settings().secret_key, binding_value=session.get(BINDING)
        )
    except TransactionRefused:
        return None
    if cross_device.status_of(tx, at) != cross_device.STARTED:
        return None
    if (tx.user_id, tx.registration_id) != subject:
        return None
    return tx


@bp.route("/proofing/app")
@limiter.limit(_poll_limit)  # per client IP: each new page may open a transaction
def start() -> Any:
    """The desktop page: QR code, match code, status. Takes ``?next=`` (a path here)."""
    if not identity_app.is_configured(_settings()):
        return _outcome_page("not_offered", 404)
    wanted = local_path(request.args.get("next"))
    if wanted:
        session[NEXT] = wanted
    subject = _subject()
    if subject is None:
        return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
    db, at = db_session(), now()
    tx = _live_current(db, subject, at)
    if tx is None:
        try:
            identity_app.metadata(_settings())  # a clear page now rather than on the phone
        except ProviderUnavailable:
            return _outcome_page("unavailable", 503)
        binding = session.get(BINDING) or cross_device.new_binding_value()
        session[BINDING] = binding
        user_id, registration_id = subject
        tx = cross_device.open_transaction(
            db,
            secret_key=_settings().secret_key,
            binding_value=binding,
            request=identity_app.start(),
            now=at,
            user_id=user_id,
            registration_id=registration_id,
        )
        db.commit()
        session[CURRENT] = tx.id
    return _start_page(tx)


def _bound(tx_id: str | None) -> ProofingTransaction:
    try:
        return cross_device.for_session(
            db_session(),
            tx_id,
            secret_key=_settings().secret_key,
            binding_value=session.get(BINDING),
        )
    except TransactionRefused:
        abort(404)


@bp.route("/proofing/app/status/<tx_id>")
@limiter.limit(_poll_limit, key_func=_poll_key)
def status(tx_id: str) -> Any:
    """JSON ``{"status": ...}`` for the page's script; 404 for any other session."""
    try:
        tx = cross_device.for_session(
            db_session(),
            tx_id,
            secret_key=_settings().secret_key,
            binding_value=session.get(BINDING),
        )
    except TransactionRefused:
        return jsonify(error="not_found"), 404
    return jsonify(status=cross_device.status_of(tx, now()))


@bp.route("/proofing/app/check", methods=["GET", "POST"])
@limiter.limit(_poll_limit, key_func=_poll_key, methods=["POST"])
def check() -> Any:
    """ "Check status" (and the script, once done): take the result, once. A GET (the
    language switch on the re-shown page) goes back to the start page."""
    if request.method == "GET":
        return redirect(url_for("proofing.start", lang=request.args.get("lang")))
    tx = _bound(request.form.get("tx"))
    db, at = db_session(), now()
    state = cross_device.status_of(tx, at)
    if state in (cross_device.STARTED, cross_device.OPENED):
        return _start_page(tx, waiting=True)
    if state == "expired":
        return _outcome_page("expired", 410)
    if state == cross_device.CLAIMED:
        return _outcome_page("used", 409)
    user = current_user if current_user.is_authenticated else None
    try:
        verdict = cross_device.claim(db, tx, at, user=user)
    except TransactionRefused as refused:
        db.rollback()
        return _outcome_page("expired" if refused.reason == "expired" else "used", 409)
    db.commit()
    session.pop(CURRENT, None)
    if verdict.outcome is Outcome.VERIFIED:
        return redirect(_next(), code=303)
    return _outcome_page(str(verdict.outcome))


@bp.route("/proofing/app/t/<tx_id>")
def phone(tx_id: str) -> Any:
    """The QR's URL, opened on the phone: once, then on to the provider."""
    if not identity_app.is_configured(_settings()):
        return _outcome_page("not_found", 404, phone=True)
    db, at = db_session(), now()
    try:
        meta = identity_app.metadata(_settings())
    except ProviderUnavailable:
        return _outcome_page("unavailable", 503, phone=True)
    try:
        tx = cross_device.open_on_phone(db, tx_id, at)
    except TransactionRefused as refused:
        db.rollback()
        return _outcome_page(
            refused.reason, 404 if refused.reason == "not_found" else 409, phone=True
        )
    db.commit()
    url = identity_app.authorization_url(
        _settings(),
        meta,
        cross_device.auth_request(tx),
        redirect_uri=_callback_url(),
        binding_message=tx.match_code,
        ui_locales=page_locale(),
    )
    return redirect(url, code=303)


@bp.route("/proofing/app/callback")
def callback() -> Any:
    """The provider sends the phone back here: the verdict goes into the transaction."""
    db, at = db_session(), now()
    try:
        tx = cross_device.by_state(db, request.args.get("state"))
    except TransactionRefused:
        return _outcome_page("not_found", 404, phone=True)
    state = cross_device.status_of(tx, at)
    if state == "expired":
        return _outcome_page("expired", 410, phone=True)
    if state != cross_device.OPENED:
        return _outcome_page("used", 409, phone=True)
    verdict = identity_app.finish(
        _settings(),
        request.args,
        cross_device.auth_request(tx),
        redirect_uri=_callback_url(),
        now=at,
    )
    try:
        cross_device.store_result(db, tx, verdict, at)
    except TransactionRefused as refused:
        db.rollback()
        return _outcome_page(refused.reason, 409, phone=True)
    db.commit()
    return render_template(
        "proofing/phone.html", reason=str(verdict.outcome), match_code=tx.match_code
    )
