"""People: ``users add|enrol-totp|set-operator``."""

from __future__ import annotations

import json
import sys

import click

from idp.cli import _app, _fail, cli


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
    """Create a person; prints them as JSON with their `sub`. The person must choose a
    new password at the first sign-in (the password given here was chosen for them)."""
    from idp.account.services import AccountError, create_user
    from idp.db import get_db

    password = sys.stdin.readline().rstrip("\r\n")
    app = _app()
    with get_db(app).factory() as s:
        try:
            # Someone else chose this password: the person chooses their own at the
            # first sign-in, before any client gets a token (MISSION B2).
            user = create_user(
                s,
                username=username,
                email=email,
                password=password,
                name=name,
                must_change_password=True,
            )
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
    """Give a person an active soft token; prints its otpauth:// URI and secret once.

    The person is mailed, as after adding one themself, and it is audited. If the
    mail server (IDP_SMTP_URL) cannot be reached, the token is still set up and the
    command succeeds; the undelivered mail is a warning on stderr.
    \f
    Through mfa.services.provision_totp (mfa:totp:enrolled, no actor, via=cli): the
    mail is best effort there, logged as a warning as in the web application."""
    from idp.account.services import find_login_user
    from idp.db import get_db
    from idp.mfa import totp
    from idp.mfa.services import provision_totp

    app = _app()
    settings = app.extensions["idp_settings"]
    with app.app_context(), get_db(app).factory() as s:  # the mail renders templates
        user = find_login_user(s, username)
        if user is None:
            _fail(f"no user {username!r}")
        factor, secret = provision_totp(s, settings, user, name, actor=None, via="cli")
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
    from idp.admin.accounts import set_operator
    from idp.db import get_db

    app = _app()
    with get_db(app).factory() as s:
        user = find_login_user(s, username)
        if user is None:
            _fail(f"no user {username!r}")
        set_operator(s, user.id, not off, via="cli")
        s.commit()
        click.echo(json.dumps({"username": user.username, "is_operator": user.is_operator}))
