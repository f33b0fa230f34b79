"""The personal-data notice: ``notice publish``."""

from __future__ import annotations

import json
import pathlib

import click

from idp.cli import _app, _fail, cli


@cli.group()
def notice() -> None:
    """The personal-data (PDPA) notice."""


def _read(path: str, which: str) -> str:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read the {which} text {path!r}: {exc.__class__.__name__}")


@notice.command("publish")
@click.option("--th", "th_file", required=True, help="file with the Thai text (UTF-8)")
@click.option("--en", "en_file", required=True, help="file with the English text (UTF-8)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def notice_publish(th_file, en_file, as_json) -> None:
    """Publish a new version (the newest + 1): everybody is asked to accept it once,
    at their next sign-in. Audited (op:notice:published)."""
    from idp.db import get_db, now
    from idp.enrollment.notices import NoticeError, publish

    text_th, text_en = _read(th_file, "Thai"), _read(en_file, "English")
    with get_db(_app()).factory() as s:
        try:
            row = publish(s, text_th, text_en, by="cli", now=now())
        except NoticeError as exc:
            _fail(str(exc))
        s.commit()
        data = {"version": row.version, "published_at": row.published_at}
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(f"published notice version {data['version']}")
