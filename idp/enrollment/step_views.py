"""The wizard's step 2 (prove who you are) and the registry check of a signed-in
person ("verify now", ``/account/verify/registry``). Routes on the ``enrollment``
blueprint (:mod:`idp.enrollment.views`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp import audit
from idp.audit import AuditTag
from idp.config import Settings
from idp.db import now
from idp.db import session as db_session
from idp.enrollment import identity, pii, registration, staff, verdicts, wizard
from idp.enrollment.registry import RegistryVerifier
from idp.enrollment.staff_messages import directory_message
from idp.enrollment.verifiers import ClaimedIdentity, Outcome, Verdict
from idp.enrollment.views import bp, current_or_404, limited, settings, steps_context
from idp.models import IdentityVerification, Registration


def _directory_verdict(s: Settings, reg: Registration) -> Verdict | None:
    """The staff directory's verdict for a staff registration (by national ID: the
    email is not proved yet at step 2), or None when no directory can say (not staff,
    no directory configured for the agency)."""
    if reg.member_type != "staff" or not staff.has_directory(s, reg.agency):
        return None
    return staff.directory_verdict(s, reg, now())


def _registry_offered(reg: Registration) -> bool:
    return bool(settings().registry_url) and reg.id_doc_kind == identity.NATIONAL_ID


def _names_form() -> dict[str, str]:
    f = request.form
    return {
        "given_name_th": wizard.clean(f.get("given_name_th", "")),
        "family_name_th": wizard.clean(f.get("family_name_th", "")),
        "birthdate": (f.get("birthdate", "") or "").strip()[:10],
    }


def _check_names(typed: dict[str, str]) -> list[tuple[str, str]]:
    errors = []
    if not typed["given_name_th"]:
        errors.append(("given_name_th", _("Enter your given name in Thai.")))
    if not typed["family_name_th"]:
        errors.append(("family_name_th", _("Enter your family name in Thai.")))
    born = wizard.parse_date(typed["birthdate"])
    if born is None or born >= date.fromtimestamp(now()):
        errors.append(("birthdate", _("Enter your date of birth.")))
    return errors


def _claim(document: identity.IdentityDocument, typed: dict[str, str]) -> ClaimedIdentity:
    return ClaimedIdentity(
        document=document,
        given_name_th=typed["given_name_th"],
        family_name_th=typed["family_name_th"],
        birthdate=wizard.parse_date(typed["birthdate"]),
    )


def _newest_verified(reg: Registration) -> IdentityVerification | None:
    rows = registration.verified_verdicts(db_session(), reg)
    return rows[-1] if rows else None


def _to_details(reg: Registration) -> Any:
    reg.step = wizard.later(reg.step, wizard.PROVE)
    db_session().commit()
    return redirect(url_for("enrollment.details"), code=303)


@bp.route("/register/prove", methods=["GET", "POST"])
@limited
def prove() -> Any:
    """Step 2: the configured ways to prove identity, or go on as a temporary member."""
    db, s = db_session(), settings()
    reg = current_or_404()
    if not wizard.may_enter(reg.step, wizard.PROVE):
        return redirect(url_for("enrollment.identity"))
    errors: list[tuple[str, str]] = []
    data = reg.data or {}
    typed = {k: data.get(k, "") for k in ("given_name_th", "family_name_th", "birthdate")}
    status = 200
    action = request.form.get("action") if request.method == "POST" else None
    if action == "registry" and _registry_offered(reg):
        typed = _names_form()
        errors = _check_names(typed)
        if not errors:
            verdict = RegistryVerifier(s).verify(
                _claim(registration.claimed_document(s, reg), typed), now()
            )
            registration.record_verdict(db, reg, verdict)
            reg.data = {**(reg.data or {}), **typed}  # prefilled into step 3
            db.commit()
            if verdict.verified:
                return _to_details(reg)
            if verdict.outcome is Outcome.UNAVAILABLE:
                return render_template(
                    "enrollment/registry_down.html",
                    temporary=True,
                    **steps_context(reg, wizard.PROVE),
                ), 503
            errors = [
                (
                    None,
                    _(
                        "The registry did not confirm these details. Check them, or "
                        "continue another way."
                    ),
                )
            ]
            status = 400
        else:
            status = 400
    elif action == "directory":
        verdict = _directory_verdict(s, reg)
        if verdict is not None:
            registration.record_verdict(db, reg, verdict)
            if verdict.verified:
                return _to_details(reg)
            errors = [(None, directory_message(verdict))]
            status = 503 if verdict.outcome is Outcome.UNAVAILABLE else 400
    elif action == "continue":
        return _to_details(reg)
    proofing = "proofing.start" in current_app.view_functions
    return render_template(
        "enrollment/prove.html",
        errors=errors,
        error_fields={f for f, _m in errors},
        typed=typed,
        registry=_registry_offered(reg),
        identity_app_url=url_for("proofing.start", next=url_for("enrollment.prove"))
        if proofing
        else None,
        staff=reg.member_type == "staff",
        temporary_days=s.temporary_member_days,
        directory=reg.member_type == "staff" and staff.has_directory(s, reg.agency),
        verified=_newest_verified(reg),
        **steps_context(reg, wizard.PROVE),
    ), status


@bp.route("/account/verify/registry", methods=["GET", "POST"])
@login_required
@limited
def verify_registry() -> Any:
    """ "Verify now" for a signed-in person (a temporary or expired member): the same
    registry check, applied through ``verdicts.apply_to_user``."""
    db, s = db_session(), settings()
    user = current_user
    if not s.registry_url or user.id_doc_kind != identity.NATIONAL_ID or not user.id_doc_cipher:
        abort(404)
    typed = {
        "given_name_th": user.given_name_th,
        "family_name_th": user.family_name_th,
        "birthdate": user.birthdate.isoformat() if user.birthdate else "",
    }
    errors: list[tuple[str | None, str]] = []
    done = False
    status = 200
    if request.method == "POST":
        typed = _names_form()
        errors = _check_names(typed)  # type: ignore[assignment]
        if not errors:
            document = identity.IdentityDocument(
                identity.NATIONAL_ID, pii.reveal(s, user.id_doc_cipher)
            )
            verdict = RegistryVerifier(s).verify(_claim(document, typed), now())
            if verdict.outcome is Outcome.UNAVAILABLE:
                verdicts.record(db, verdict=verdict, user_id=user.id)
                db.commit()
                return render_template("enrollment/registry_down.html", temporary=False), 503
            state = verdicts.apply_to_user(db, user, verdict, now())
            if verdict.verified:
                audit.record(
                    db,
                    AuditTag.ENROLLMENT_IDENTITY_VERIFIED,
                    actor=user.id,
                    subject=user.id,
                    method=str(verdict.method),
                    membership=str(state.status),
                )
                done = True
            else:
                errors = [
                    (
                        None,
                        _("The registry did not confirm these details. Check them and try again."),
                    )
                ]
                status = 400
            db.commit()
        else:
            status = 400
    return render_template(
        "enrollment/verify_registry.html",
        errors=errors,
        error_fields={f for f, _m in errors},
        typed=typed,
        done=done,
    ), status
