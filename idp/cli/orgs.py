"""Organisations, the operator console's equivalents: ``orgs add|add-member|grant|
set-status``."""

from __future__ import annotations

import json

import click

from idp.cli import _app, _fail, cli
from idp.orgs.entitlements import MAX_MEMBER_LIMIT


@cli.group()
def orgs() -> None:
    """Organisations (the operator console's CLI equivalents)."""


def _org_json(org) -> str:
    return json.dumps(
        {
            "id": org.id,
            "kind": org.kind,
            "identifier": org.identifier,
            "name_th": org.name_th,
            "name_en": org.name_en,
            "status": org.status,
            "member_limit": org.member_limit,
        },
        ensure_ascii=False,
    )


def _org(s, identifier: str):
    from sqlalchemy import select

    from idp.models import Organization

    org = s.scalar(select(Organization).where(Organization.identifier == identifier))
    if org is None:
        _fail(f"no organisation {identifier!r}")
    return org


@orgs.command("add")
@click.option("--kind", type=click.Choice(["company", "agency"]), required=True)
@click.option("--identifier", required=True, help="13-digit juristic ID, or the agency code")
@click.option("--name-th", required=True)
@click.option("--name-en", default="")
@click.option(
    "--member-limit",
    type=int,
    default=10,
    show_default=True,
    help=f"1 to {MAX_MEMBER_LIMIT}",
)
@click.option("--client-id", "client_ids", multiple=True, help="a client it may use")
@click.option("--json", "as_json", is_flag=True)
def orgs_add(kind, identifier, name_th, name_en, member_limit, client_ids, as_json) -> None:
    """Register an organisation (active); prints it as JSON."""
    # The operator console's checks and audit records (op:org:created, op:org:clients;
    # no actor: the system), without its first admin: add one with add-member --admin.
    from sqlalchemy.exc import IntegrityError

    from idp.admin.services import CreateRefused, register_organisation
    from idp.db import get_db
    from idp.orgs.entitlements import (
        IdentifierTaken,
        InvalidIdentifier,
        LimitOutOfRange,
        OrgError,
    )

    taken = f"identifier {identifier!r} is already registered, or an unknown --client-id"
    with get_db(_app()).factory() as s:
        try:
            org = register_organisation(
                s,
                kind=kind,
                identifier=identifier,
                name_th=name_th,
                name_en=name_en,
                member_limit=member_limit,
                client_ids=client_ids,
                actor=None,
            )
            s.commit()
        except InvalidIdentifier:
            _fail(f"invalid identifier for a {kind}: {identifier!r}")
        except LimitOutOfRange:
            _fail(f"--member-limit must be a number from 1 to {MAX_MEMBER_LIMIT}: {member_limit}")
        except CreateRefused:  # name_missing: the only code without a first admin
            _fail("--name-th must not be empty")
        except (IdentifierTaken, LookupError, IntegrityError):
            _fail(taken)
        except OrgError as exc:
            _fail(f"cannot register {identifier!r}: {exc.code}")
        click.echo(_org_json(org))


@orgs.command("add-member")
@click.option("--org", "identifier", required=True, help="the organisation's identifier")
@click.option("--username", required=True)
@click.option("--admin", is_flag=True, help="make them an org admin")
@click.option("--json", "as_json", is_flag=True)
def orgs_add_member(identifier, username, admin, as_json) -> None:
    """Add an existing account to an organisation."""
    from idp.account.services import find_login_user
    from idp.db import get_db
    from idp.orgs import services
    from idp.orgs.entitlements import MemberLimitReached

    with get_db(_app()).factory() as s:
        org, user = _org(s, identifier), find_login_user(s, username)
        if user is None:
            _fail(f"no user {username!r}")
        try:
            m = services.add_member(s, org.id, user, role="admin" if admin else "member")
            s.commit()
        except MemberLimitReached:
            _fail(f"{identifier} already has its limit of {org.member_limit} members")
        click.echo(json.dumps({"org": org.identifier, "username": user.username, "role": m.role}))


@orgs.command("grant")
@click.option("--org", "identifier", required=True)
@click.option("--username", required=True)
@click.option("--client-id", required=True)
@click.option("--scope", "scope_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def orgs_grant(identifier, username, client_id, scope_name, as_json) -> None:
    """Grant a member one of a client's scopes, within its seat limit."""
    from sqlalchemy import select

    from idp.account.services import find_login_user
    from idp.db import get_db
    from idp.models import ClientScope
    from idp.orgs import services
    from idp.orgs.entitlements import SeatLimitReached

    with get_db(_app()).factory() as s:
        org, user = _org(s, identifier), find_login_user(s, username)
        scope = s.scalar(
            select(ClientScope).where(
                ClientScope.client_id == client_id, ClientScope.name == scope_name
            )
        )
        if user is None or scope is None:
            _fail("unknown user, client or scope")
        try:
            services.grant_scope(s, org.id, user.id, scope.id)
            s.commit()
        except SeatLimitReached:
            _fail(f"all {scope.seat_limit} seats of {scope_name} are in use in {identifier}")
        except LookupError:
            _fail(f"{username} is not a member, or {identifier} may not use {client_id}")
        used, limit = services.seat_usage(s, org.id, scope.id)
        click.echo(
            json.dumps(
                {
                    "org": identifier,
                    "username": user.username,
                    "scope": scope_name,
                    "seats_used": used,
                    "seat_limit": limit,
                }
            )
        )


@orgs.command("set-status")
@click.option("--identifier", required=True)
@click.option("--action", type=click.Choice(["approve", "suspend", "reactivate"]), required=True)
@click.option("--json", "as_json", is_flag=True)
def orgs_set_status(identifier, action, as_json) -> None:
    """Approve, suspend or reactivate an organisation (suspending ends its tokens)."""
    # As in the operator console: audited (no actor: the system), then, after the
    # commit, the organisation's admins are mailed (best effort, as there).
    from idp.admin.services import notify_status, set_status
    from idp.db import get_db
    from idp.orgs.entitlements import StatusConflict

    app = _app()
    with app.app_context(), get_db(app).factory() as s:  # the mails render templates
        org = _org(s, identifier)
        try:
            set_status(s, org.id, action, actor=None)
        except StatusConflict:
            _fail(f"cannot {action} an organisation that is {org.status}")
        s.commit()
        notify_status(s, app.extensions["idp_settings"], org)
        click.echo(_org_json(org))
