"""The ``idp`` command line. Every command exits non-zero with a one-line error on
bad input.

One module per command group; each calls the same services as the consoles, so a
rule has one front door whoever uses it (an action from the command line is audited
with no actor, i.e. the system, and ``via="cli"`` where the service records it):

- :mod:`idp.cli.instance`: ``init``, ``serve``, ``demo``, ``jobs run``, ``keys rotate``
- :mod:`idp.cli.clients`: ``clients add|set|list|add-scope``
- :mod:`idp.cli.users`: ``users add|enrol-totp|set-operator``
- :mod:`idp.cli.orgs`: ``orgs add|add-member|grant|set-status``
- :mod:`idp.cli.registrations`: ``registrations list|show|decide`` (the review queue)
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from idp.config import ConfigError


def _fail(message: str) -> NoReturn:
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


# The command groups register themselves on ``cli`` when imported; they need the
# helpers above, hence the imports at the end.
from idp.cli import clients, instance, orgs, registrations, users  # noqa: E402

__all__ = [
    "cli",
    "clients",
    "init_instance",
    "instance",
    "main",
    "orgs",
    "registrations",
    "users",
]
