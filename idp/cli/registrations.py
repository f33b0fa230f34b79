"""The review queue: ``registrations list|show|decide``, through the console's service
(:mod:`idp.admin.reviews`: the same audit record, the same effects per kind).

Exit codes: 0 done, 1 bad input (unknown operator, no reason...), 3 refused (403: not a
platform operator, or the operator's own application), 4 no such item (404), 5 already
decided (409). Errors are one line on stderr. The identity document is shown masked
only: the full number is for the console's audited "show" button.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from idp.cli import _app, cli

EXIT_OF_STATUS = {400: 1, 403: 3, 404: 4, 409: 5}
# English one-liners (the command line is not translated), by ReviewError code.
CLI_MESSAGES = {
    "not_found": "no such review item",
    "own_application": "an operator cannot decide their own application",
    "already_decided": "this item was already decided",
    "reason_required": "--reason is required to reject or to ask for more information",
    "decision_invalid": "--decision must be approve, reject or more_info",
    "more_info_unavailable": "more_info is not available for document_check items",
    "not_operator": "that account is not a platform operator",
}


def _refuse(code: str, status: int) -> NoReturn:
    click.echo(f"error: {CLI_MESSAGES.get(code, code)}", err=True)
    sys.exit(EXIT_OF_STATUS.get(status, 1))


def _summary(v) -> dict:
    from idp.admin.reviews import applicant_name

    item = v.item
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "submitted_at": item.submitted_at,
        "decided_at": item.decided_at,
        "applicant": applicant_name(v.user, v.registration),
        "username": v.user.username if v.user else None,
        "org": v.org.identifier if v.org else None,
        "flags": list(item.flags or []),
    }


def _details(v) -> dict:
    return {
        **_summary(v),
        "reason": v.item.reason,
        "identity_document": v.masked_document,
        "email": (v.user.email if v.user else v.registration.email if v.registration else None),
        "verifications": [
            {"method": r.method, "outcome": r.outcome, "at": r.at, "reason": r.reason}
            for r in v.verifications
        ],
        "documents": [
            {
                "id": d.id,
                "kind": d.kind,
                "media_type": d.media_type,
                "size": d.size,
                "sha256": d.sha256,
                "uploaded_at": d.uploaded_at,
            }
            for d in v.documents
        ],
        "org_document": v.org_document.id if v.org_document else None,
        "description": dict(v.description) if v.description else None,
    }


def _line(s: dict) -> str:
    who = s["applicant"] or s["username"] or s["org"] or "-"
    return f"{s['id']}\t{s['kind']}\t{s['status']}\t{s['submitted_at']}\t{who}"


@cli.group()
def registrations() -> None:
    """The operator review queue (applications waiting for a decision)."""


@registrations.command("list")
@click.option("--kind", default="", help="staff_verification, company_registration, document_check")
@click.option(
    "--status",
    default="waiting",
    help="waiting (default: open and more_info), open, more_info, approved, rejected, all",
)
@click.option("--json", "as_json", is_flag=True)
def registrations_list(kind, status, as_json) -> None:
    """The queue, oldest first."""
    from idp.admin import reviews
    from idp.db import get_db

    app = _app()
    with get_db(app).factory() as s:
        rows = [_summary(reviews.view(s, i.id)) for i in reviews.queue(s, kind, status)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            click.echo(_line(row))


@registrations.command("show")
@click.argument("item_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def registrations_show(item_id, as_json) -> None:
    """One item: applicant (identity document masked), verifier results, documents."""
    from idp.admin import reviews
    from idp.db import get_db
    from idp.enrollment.review import ReviewError

    app = _app()
    with get_db(app).factory() as s:
        try:
            details = _details(reviews.view(s, item_id))
        except ReviewError as exc:
            _refuse(exc.code, exc.status)
    if as_json:
        click.echo(json.dumps(details, ensure_ascii=False))
    else:
        for key, value in details.items():
            click.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")


@registrations.command("decide")
@click.argument("item_id", type=int)
@click.option("--operator", "operator", required=True, help="the deciding operator's username")
@click.option("--decision", required=True, type=click.Choice(["approve", "reject", "more_info"]))
@click.option("--reason", default="", help="required to reject or to ask (more_info)")
@click.option("--json", "as_json", is_flag=True)
def registrations_decide(item_id, operator, decision, reason, as_json) -> None:
    """Decide an item once, as the named operator (audited with via=cli)."""
    from idp.account.services import find_login_user
    from idp.admin import reviews
    from idp.db import get_db
    from idp.enrollment.review import ReviewError

    app = _app()
    settings = app.extensions["idp_settings"]
    with app.app_context(), get_db(app).factory() as s:  # effects may mail
        user = find_login_user(s, operator)
        if user is None:
            click.echo(f"error: no user {operator!r}", err=True)
            sys.exit(1)
        if not user.is_operator:
            _refuse("not_operator", 403)
        try:
            item = reviews.decide(s, settings, item_id, user.id, decision, reason, via="cli")
        except ReviewError as exc:
            s.rollback()
            _refuse(exc.code, exc.status)
        s.commit()
        out = {"id": item.id, "kind": item.kind, "status": item.status, "reason": item.reason}
    click.echo(json.dumps(out, ensure_ascii=False) if as_json else f"{out['id']}: {out['status']}")
