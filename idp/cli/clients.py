"""Relying parties: ``clients add|set|list|add-scope``."""

from __future__ import annotations

import json

import click

from idp.cli import _app, _fail, cli
from idp.oidc.acr import ACR_LADDER
from idp.orgs.entitlements import MAX_MEMBER_LIMIT


@cli.group()
def clients() -> None:
    """Manage relying parties."""


@clients.command("add")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--public", is_flag=True, help="no secret; PKCE always required")
@click.option("--scope", "scopes", multiple=True, help="allowed scope (repeatable)")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]),
)
@click.option("--no-pkce-required", is_flag=True)
@click.option("--skip-consent", is_flag=True)
@click.option("--id-token-alg", default="RS256", type=click.Choice(["RS256", "ES256"]))
@click.option("--client-id", default=None, help="choose the client_id (default: random)")
@click.option(
    "--min-acr",
    type=click.Choice(ACR_LADDER),
    default=ACR_LADDER[0],
    help="least authentication level the client accepts",
)
@click.option(
    "--scope-acr",
    "scope_acr",
    multiple=True,
    metavar="SCOPE=LEVEL",
    help="a scope that needs a level (repeatable)",
)
@click.option("--no-email-otp", is_flag=True, help="never accept an emailed code as second step")
@click.option(
    "--require-membership",
    type=click.Choice(["none", "verified", "staff_verified"]),
    default=None,
    help="the least membership a person needs to sign in to this client (default none)",
)
@click.option(
    "--release-id-document/--no-release-id-document",
    default=None,
    help="whether the client may receive identity document numbers (none are released yet)",
)
@click.option(
    "--backchannel-logout-uri",
    default=None,
    help="where logout tokens are POSTed (Back-Channel Logout 1.0; https, http on localhost "
    "in development)",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON (default)")
def clients_add(
    name,
    redirect_uris,
    post_logout,
    public,
    scopes,
    grant_types,
    no_pkce_required,
    skip_consent,
    id_token_alg,
    client_id,
    min_acr,
    scope_acr,
    no_email_otp,
    require_membership,
    release_id_document,
    backchannel_logout_uri,
    as_json,
) -> None:
    """Register a client; prints it as JSON (the secret is shown only now)."""
    from idp.db import get_db
    from idp.oidc.clients import ClientError, client_json, register_client

    app = _app()
    with get_db(app).factory() as s:
        try:
            new = register_client(
                s,
                name=name,
                redirect_uris=list(redirect_uris),
                post_logout_redirect_uris=list(post_logout),
                public=public,
                scopes=list(scopes),
                grant_types=list(grant_types),
                require_pkce=not no_pkce_required,
                skip_consent=skip_consent,
                id_token_alg=id_token_alg,
                client_id=client_id,
            )
            new.row.min_acr = min_acr
            new.row.scope_acr = _parse_scope_acr(scope_acr)
            new.row.allow_email_otp = not no_email_otp
            _set_membership(new.row, require_membership, release_id_document)
            _set_backchannel(app, new.row, backchannel_logout_uri)
        except ClientError as exc:
            _fail(str(exc))
        s.commit()
        click.echo(json.dumps(client_json(new.row, new.secret), ensure_ascii=False))


def _set_membership(row, require_membership: str | None, release: bool | None) -> None:
    """Issue 10: what membership the client requires ("none" clears it) and whether
    it may receive identity document numbers."""
    if require_membership is not None:
        row.required_membership = None if require_membership == "none" else require_membership
    if release is not None:
        row.release_id_document = release


def _set_backchannel(app, row, uri: str | None) -> None:
    """Issue 11: the client's back-channel logout URI ("" removes it)."""
    from idp.oidc.clients import check_backchannel_logout_uri

    if uri is None:
        return
    production = app.extensions["idp_settings"].is_production
    row.backchannel_logout_uri = (
        check_backchannel_logout_uri(uri, production=production) if uri else None
    )


def _parse_scope_acr(pairs: tuple[str, ...]) -> dict[str, str]:
    from idp.oidc.clients import ClientError

    out = {}
    for pair in pairs:
        scope, sep, level = pair.partition("=")
        if not sep or not scope or level not in ACR_LADDER:
            raise ClientError(
                f"--scope-acr needs SCOPE=LEVEL with LEVEL one of {', '.join(ACR_LADDER)}: {pair!r}"
            )
        out[scope] = level
    return out


@clients.command("set")
@click.option("--client-id", required=True)
@click.option("--min-acr", type=click.Choice(ACR_LADDER), default=None)
@click.option(
    "--scope-acr",
    "scope_acr",
    multiple=True,
    metavar="SCOPE=LEVEL",
    help="replaces the per-scope levels (repeatable)",
)
@click.option("--email-otp/--no-email-otp", default=None)
@click.option(
    "--require-membership",
    type=click.Choice(["none", "verified", "staff_verified"]),
    default=None,
    help="the least membership a person needs to sign in to this client (default none)",
)
@click.option(
    "--release-id-document/--no-release-id-document",
    default=None,
    help="whether the client may receive identity document numbers (none are released yet)",
)
@click.option(
    "--backchannel-logout-uri",
    default=None,
    help='where logout tokens are POSTed ("" removes it)',
)
def clients_set(
    client_id,
    min_acr,
    scope_acr,
    email_otp,
    require_membership,
    release_id_document,
    backchannel_logout_uri,
) -> None:
    """Change a client's step-up and membership settings; prints it as JSON."""
    from sqlalchemy import select

    from idp.db import get_db
    from idp.models import Client
    from idp.oidc.clients import ClientError, client_json

    app = _app()
    with get_db(app).factory() as s:
        row = s.scalar(select(Client).where(Client.client_id == client_id))
        if row is None:
            _fail(f"no client {client_id!r}")
        try:
            if scope_acr:
                row.scope_acr = _parse_scope_acr(scope_acr)
            _set_backchannel(app, row, backchannel_logout_uri)
        except ClientError as exc:
            _fail(str(exc))
        if min_acr:
            row.min_acr = min_acr
        if email_otp is not None:
            row.allow_email_otp = email_otp
        _set_membership(row, require_membership, release_id_document)
        s.commit()
        click.echo(json.dumps(client_json(row), ensure_ascii=False))


@clients.command("show")
@click.option("--client-id", required=True)
def clients_show(client_id) -> None:
    """Print one client as JSON (no secret), its back-channel logout URI included."""
    from sqlalchemy import select

    from idp.db import get_db
    from idp.models import Client
    from idp.oidc.clients import client_json

    with get_db(_app()).factory() as s:
        row = s.scalar(select(Client).where(Client.client_id == client_id))
        if row is None:
            _fail(f"no client {client_id!r}")
        click.echo(json.dumps(client_json(row), ensure_ascii=False))


@clients.command("list")
def clients_list() -> None:
    """Print every client as JSON lines (no secrets)."""
    from sqlalchemy import select

    from idp.db import get_db
    from idp.models import Client
    from idp.oidc.clients import client_json

    with get_db(_app()).factory() as s:
        for row in s.scalars(select(Client).order_by(Client.id)):
            click.echo(json.dumps(client_json(row), ensure_ascii=False))


@clients.command("add-scope")
@click.option("--client-id", required=True)
@click.option("--scope", "name", required=True, help="e.g. einvoice:submit")
@click.option("--description-th", default="")
@click.option("--description-en", default="")
@click.option("--min-acr", type=click.Choice(ACR_LADDER), default=ACR_LADDER[0])
@click.option(
    "--seat-limit",
    type=int,
    default=None,
    help=f"at most this many holders per organisation (1 to {MAX_MEMBER_LIMIT})",
)
@click.option("--json", "as_json", is_flag=True)
def clients_add_scope(
    client_id, name, description_th, description_en, min_acr, seat_limit, as_json
) -> None:
    """Declare a scope a client grants to organisation members."""
    # The operator console's service: the same name rule, seat maximum and audit
    # record (op:scope:added, no actor: the system) whoever declares the scope.
    from sqlalchemy.exc import IntegrityError

    from idp.admin.services import declare_scope
    from idp.db import get_db
    from idp.orgs.entitlements import InvalidScopeName, LimitOutOfRange, ScopeExists

    with get_db(_app()).factory() as s:
        try:
            scope = declare_scope(
                s,
                client_id,
                name,
                seat_limit=seat_limit,
                min_acr=min_acr,
                description_th=description_th,
                description_en=description_en,
                actor=None,
            )
            s.commit()
        except InvalidScopeName:
            _fail(f"invalid scope name {name!r}: use application:right, e.g. einvoice:submit")
        except LimitOutOfRange:
            _fail(f"--seat-limit must be a number from 1 to {MAX_MEMBER_LIMIT}: {seat_limit}")
        except (LookupError, ScopeExists, IntegrityError):
            _fail(f"unknown client {client_id!r} or scope {name!r} already declared")
        click.echo(
            json.dumps(
                {
                    "client_id": client_id,
                    "scope": scope.name,
                    "min_acr": scope.min_acr,
                    "seat_limit": scope.seat_limit,
                }
            )
        )
