"""The operator console (issue 4): its blueprint, the guard every page sits behind, and
the home page. Operators are marked from the CLI only (``idp users set-operator``);
anyone else gets a 404 and an audit record. Needs ``mfa`` like every console.

The pages live in one module per group, all on this blueprint (``create_app`` imports
each so that its routes register):

    org_pages.py     organisations: create, status, member limit, clients, the
                     power-of-attorney review (A1), an admin's email (A7)
    client_pages.py  clients' rights: seat limits, assurance levels, descriptions
    audit_pages.py   the audit search across all organisations, CSV export
    people.py        accounts: find, disable/enable, lift a lockout
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user, login_required

from idp.audit import AuditTag, record
from idp.db import session as db_session
from idp.mfa.guard import console_step_up

bp = Blueprint("admin", __name__, url_prefix="/operator")


def operator_required(view):
    """Platform operators only (others: 404 and an audit record), then the console's
    step-up (``mfa``, 12 h absolute, 15 min idle; SECURITY.md S-04)."""

    @wraps(view)
    @login_required
    def wrapper(**kw: Any) -> Any:
        if not current_user.is_operator:
            db = db_session()
            record(
                db,
                AuditTag.OP_ACCESS_DENIED,
                actor=current_user.id,
                subject=None,
                path=request.path,
            )
            db.commit()
            abort(404)
        return console_step_up("operator_console") or view(**kw)

    return wrapper


@bp.route("")
@operator_required
def home() -> Any:
    return redirect(url_for("admin.orgs"))
