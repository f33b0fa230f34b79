"""Operator console, audit: search the trail across all organisations (by organisation,
action, who, whom, IP and dates) and export it as CSV. Routes live on the operator
blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, request
from sqlalchemy import select

from idp.admin.views import bp, operator_required
from idp.audit import EXPORT_LIMIT, AuditQuery, AuditTag, query_from_args, to_csv
from idp.audit import search as audit_search
from idp.db import session as db_session
from idp.extensions import page_locale
from idp.models import Organization


def _settings() -> Any:
    return current_app.extensions["idp_settings"]


def _audit_query(limit: int = 1000) -> tuple[AuditQuery, dict[str, str]]:
    org_identifier = request.args.get("org", "").strip()[:32]
    org_id = None
    if org_identifier:
        found = db_session().scalar(
            select(Organization.id).where(Organization.identifier == org_identifier)
        )
        org_id = found if found is not None else -1  # unknown organisation: no rows
    query, values = query_from_args(request.args, org_id, limit, _settings().zone)
    return query, {"org": org_identifier, **values}


@bp.route("/audit")
@operator_required
def audit() -> Any:
    query, args = _audit_query()
    return render_template(
        "admin/audit.html",
        rows=audit_search(db_session(), query),
        args=args,
        tags=[t.value for t in AuditTag],
    )


@bp.route("/audit.csv")
@operator_required
def audit_csv() -> Response:
    query, _args = _audit_query(EXPORT_LIMIT)
    return Response(
        to_csv(audit_search(db_session(), query), page_locale(), _settings().zone),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="audit.csv"',
        },
    )
