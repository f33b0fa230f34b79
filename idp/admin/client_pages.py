"""Operator console, clients' rights: declare a client's scopes (``application:right``)
and set each one's seat limit per organisation, assurance level and descriptions. Routes
live on the operator blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from idp.account.forms import PostForm
from idp.admin import services
from idp.admin.messages import operator_messages
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import Client, ClientScope
from idp.oidc.acr import ACR_LADDER
from idp.orgs.entitlements import OrgError


@bp.route("/clients")
@operator_required
def clients() -> Any:
    db = db_session()
    scopes: dict[str, list[ClientScope]] = {}
    for scope in db.scalars(select(ClientScope).order_by(ClientScope.name)):
        scopes.setdefault(scope.client_id, []).append(scope)
    return render_template(
        "admin/clients.html",
        clients=list(db.scalars(select(Client).order_by(Client.name))),
        scopes=scopes,
        levels=ACR_LADDER,
        form=PostForm(),
        message=operator_messages().get(request.args.get("m", "")),
    )


def _scope_fields() -> dict[str, Any] | None:
    """The scope form's values, or None when the seat limit is not a whole number."""
    form = request.form
    raw_limit = form.get("seat_limit", "").strip()
    if raw_limit and not raw_limit.isdigit():
        return None
    return {
        "seat_limit": int(raw_limit) if raw_limit else None,
        "min_acr": form.get("min_acr", ""),
        "description_th": form.get("description_th", "").strip()[:500],
        "description_en": form.get("description_en", "").strip()[:500],
    }


def _back_to_clients(message: str) -> Any:
    return redirect(url_for("admin.clients", m=message), code=303)


@bp.route("/scopes/<int:scope_id>", methods=["POST"])
@operator_required
def update_scope(scope_id: int) -> Any:
    fields = _scope_fields()
    if not PostForm().validate_on_submit() or fields is None:
        return _back_to_clients("limit_invalid")
    db = db_session()
    try:
        services.update_scope(db, scope_id, actor=current_user.id, **fields)
    except LookupError:
        db.rollback()
        abort(404)
    except ValueError as exc:  # OrgError is a ValueError too
        db.rollback()
        return _back_to_clients(exc.code if isinstance(exc, OrgError) else "level_invalid")
    db.commit()
    return _back_to_clients("saved")


@bp.route("/clients/<client_id>/scopes", methods=["POST"])
@operator_required
def declare_scope(client_id: str) -> Any:
    fields = _scope_fields()
    if not PostForm().validate_on_submit() or fields is None:
        return _back_to_clients("limit_invalid")
    db = db_session()
    try:
        services.declare_scope(
            db, client_id, request.form.get("name", "").strip(), actor=current_user.id, **fields
        )
    except LookupError:
        db.rollback()
        abort(404)
    except ValueError as exc:
        db.rollback()
        return _back_to_clients(exc.code if isinstance(exc, OrgError) else "level_invalid")
    db.commit()
    return _back_to_clients("scope_added")
