"""The ``idp`` command line. Every command exits non-zero with a one-line error on
bad input."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from idp.config import ConfigError, load_settings
from idp.oidc.acr import ACR_LADDER


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _app(**overrides: Any):
    from idp import create_app

    try:
        return create_app(overrides=overrides or None)
    except ConfigError as exc:
        _fail(str(exc))


def init_instance(app) -> list[str]:
    """Create or upgrade the schema and ensure signing keys; idempotent."""
    from idp import schema
    from idp.db import get_db
    from idp.oidc.keys import ensure_keys

    db = get_db(app)
    if db.url.startswith("sqlite:///") and not db.url.startswith("sqlite:////"):
        from pathlib import Path

        Path(db.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    schema.upgrade(db.engine)
    with db.factory() as s:
        created = ensure_keys(s)
        s.commit()
        return [k.kid for k in created]


@click.group()
def cli() -> None:
    """idp - OpenID Connect identity provider."""


def main() -> None:
    """Entry point: click's usage errors become one line on stderr and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        _fail_code = exc.exit_code
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(_fail_code)


@cli.command()
def init() -> None:
    """Create or upgrade the schema and create signing keys (idempotent)."""
    app = _app()
    created = init_instance(app)
    click.echo(f"schema up to date; {len(created)} signing key(s) created")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=click.IntRange(1, 65535), show_default=True)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="gunicorn workers (default: 2 x CPUs + 1, at most 9)",
)
@click.option("--access-log", is_flag=True, help="log every request to stdout")
def serve(host: str, port: int, workers: int | None, access_log: bool) -> None:
    """Serve with gunicorn."""
    import os

    try:
        load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    if workers is None:
        workers = min(2 * (os.cpu_count() or 1) + 1, 9)
    args = [
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        "127.0.0.1",
        "idp.wsgi:app",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *args])  # noqa: S606


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
        except ClientError as exc:
            _fail(str(exc))
        s.commit()
        click.echo(json.dumps(client_json(new.row, new.secret), ensure_ascii=False))


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
def clients_set(client_id, min_acr, scope_acr, email_otp) -> None:
    """Change a client's step-up settings; prints it as JSON."""
    from sqlalchemy import select

    from idp.db import get_db
    from idp.models import Client
    from idp.oidc.clients import ClientError, client_json

    with get_db(_app()).factory() as s:
        row = s.scalar(select(Client).where(Client.client_id == client_id))
        if row is None:
            _fail(f"no client {client_id!r}")
        try:
            if scope_acr:
                row.scope_acr = _parse_scope_acr(scope_acr)
        except ClientError as exc:
            _fail(str(exc))
        if min_acr:
            row.min_acr = min_acr
        if email_otp is not None:
            row.allow_email_otp = email_otp
        s.commit()
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


@cli.group()
def users() -> None:
    """Manage people."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help="read the password from standard input (never from the command line)",
)
@click.option("--json", "as_json", is_flag=True)
def users_add(username, email, name, password_stdin, as_json) -> None:
    """Create a person; prints them as JSON with their `sub`."""
    from idp.account.services import AccountError, create_user
    from idp.db import get_db

    password = sys.stdin.readline().rstrip("\r\n")
    app = _app()
    with get_db(app).factory() as s:
        try:
            user = create_user(s, username=username, email=email, password=password, name=name)
        except AccountError as exc:
            _fail(str(exc))
        s.commit()
        click.echo(
            json.dumps(
                {
                    "sub": user.sub,
                    "username": user.username,
                    "email": user.email,
                    "name": user.name,
                },
                ensure_ascii=False,
            )
        )


@users.command("enrol-totp")
@click.option("--username", required=True)
@click.option("--name", default="Authenticator")
@click.option("--json", "as_json", is_flag=True)
def users_enrol_totp(username, name, as_json) -> None:
    """Give a person an active soft token; prints its otpauth:// URI and secret once."""
    from idp.account.services import find_login_user
    from idp.db import get_db
    from idp.mfa import totp
    from idp.mfa.services import start_totp

    app = _app()
    settings = app.extensions["idp_settings"]
    with get_db(app).factory() as s:
        user = find_login_user(s, username)
        if user is None:
            _fail(f"no user {username!r}")
        factor, secret = start_totp(s, settings, user, name)
        factor.status = "active"
        s.commit()
        click.echo(
            json.dumps(
                {
                    "username": user.username,
                    "factor_id": factor.id,
                    "secret": secret,
                    "otpauth_uri": totp.provisioning_uri(secret, user.email, "idp"),
                    "expires_at": factor.expires_at,
                }
            )
        )


@users.command("set-operator")
@click.option("--username", required=True)
@click.option("--off", is_flag=True, help="take the operator right away")
@click.option("--json", "as_json", is_flag=True)
def users_set_operator(username, off, as_json) -> None:
    """Make a person a platform operator (or no longer one). Only this command can:
    no web form sets the right (SECURITY.md E-04)."""
    from idp.account.services import find_login_user
    from idp.audit import AuditTag, record
    from idp.db import get_db

    app = _app()
    with get_db(app).factory() as s:
        user = find_login_user(s, username)
        if user is None:
            _fail(f"no user {username!r}")
        before, user.is_operator = user.is_operator, not off
        record(
            s,
            AuditTag.OP_OPERATOR_SET,
            actor=None,
            subject=user.id,
            before=before,
            after=user.is_operator,
            via="cli",
        )
        s.commit()
        click.echo(json.dumps({"username": user.username, "is_operator": user.is_operator}))


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


@orgs.command("add")
@click.option("--kind", type=click.Choice(["company", "agency"]), required=True)
@click.option("--identifier", required=True, help="13-digit juristic ID, or the agency code")
@click.option("--name-th", required=True)
@click.option("--name-en", default="")
@click.option("--member-limit", type=click.IntRange(1, 100000), default=10, show_default=True)
@click.option("--client-id", "client_ids", multiple=True, help="a client it may use")
@click.option("--json", "as_json", is_flag=True)
def orgs_add(kind, identifier, name_th, name_en, member_limit, client_ids, as_json) -> None:
    """Register an organisation (active); prints it as JSON."""
    from sqlalchemy.exc import IntegrityError

    from idp.db import get_db
    from idp.orgs import services
    from idp.orgs.entitlements import OrgError

    with get_db(_app()).factory() as s:
        try:
            org = services.create_org(
                s,
                kind=kind,
                identifier=identifier,
                name_th=name_th,
                name_en=name_en,
                member_limit=member_limit,
            )
            for cid in client_ids:
                services.allow_client(s, org.id, cid)
            s.commit()
        except OrgError:
            _fail(f"invalid identifier for a {kind}: {identifier!r}")
        except IntegrityError:
            _fail(f"identifier {identifier!r} is already registered, or an unknown --client-id")
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
    from idp.admin.services import set_status
    from idp.db import get_db
    from idp.orgs.entitlements import StatusConflict

    app = _app()
    with get_db(app).factory() as s:
        org = _org(s, identifier)
        try:
            set_status(s, org.id, action, actor=None)
        except StatusConflict:
            _fail(f"cannot {action} an organisation that is {org.status}")
        s.commit()
        click.echo(_org_json(org))


def _org(s, identifier: str):
    from sqlalchemy import select

    from idp.models import Organization

    org = s.scalar(select(Organization).where(Organization.identifier == identifier))
    if org is None:
        _fail(f"no organisation {identifier!r}")
    return org


@clients.command("add-scope")
@click.option("--client-id", required=True)
@click.option("--scope", "name", required=True, help="e.g. einvoice:submit")
@click.option("--description-th", default="")
@click.option("--description-en", default="")
@click.option("--min-acr", type=click.Choice(ACR_LADDER), default=ACR_LADDER[0])
@click.option(
    "--seat-limit",
    type=click.IntRange(1, 100000),
    default=None,
    help="at most this many holders per organisation",
)
@click.option("--json", "as_json", is_flag=True)
def clients_add_scope(
    client_id, name, description_th, description_en, min_acr, seat_limit, as_json
) -> None:
    """Declare a scope a client grants to organisation members."""
    from sqlalchemy.exc import IntegrityError

    from idp.db import get_db
    from idp.orgs import services
    from idp.orgs.entitlements import InvalidScopeName, check_scope_name

    try:
        check_scope_name(name)
    except InvalidScopeName:
        _fail(f"invalid scope name {name!r}: use application:right, e.g. einvoice:submit")
    with get_db(_app()).factory() as s:
        try:
            scope = services.add_scope(
                s,
                client_id,
                name,
                description_th=description_th,
                description_en=description_en,
                min_acr=min_acr,
                seat_limit=seat_limit,
            )
            s.commit()
        except IntegrityError:
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


@cli.group()
def jobs() -> None:
    """Scheduled work (run from cron, e.g. hourly)."""


@jobs.command("run")
def jobs_run() -> None:
    """Soft-token expiry reminders (30, 7, 1 days before) and purges of spent codes."""
    from idp.db import get_db
    from idp.jobs import run_jobs

    app = _app()
    with get_db(app).factory() as s:
        click.echo(json.dumps(run_jobs(s, app.extensions["idp_settings"])))


@cli.group()
def keys() -> None:
    """Signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """New signing keys; old public keys stay in JWKS until their tokens expired."""
    from idp.db import get_db
    from idp.oidc.keys import rotate_keys

    app = _app()
    settings = app.extensions["idp_settings"]
    retention = settings.key_retention_seconds or settings.longest_token_lifetime
    with get_db(app).factory() as s:
        new = rotate_keys(s, retention)
        s.commit()
        click.echo(
            json.dumps({"new_kids": [k.kid for k in new], "old_keys_published_for": retention})
        )


@cli.command()
@click.option("--host", default="localhost", show_default=True)
@click.option("--port", default=5000, type=click.IntRange(1, 65535), show_default=True)
def demo(host: str, port: int) -> None:
    """Run the IdP with demo data and the demo relying parties (Ctrl-C stops)."""
    from idp.demo import run_demo

    run_demo(host, port)


if __name__ == "__main__":  # pragma: no cover
    main()
