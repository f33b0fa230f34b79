"""``idp clients add|set --require-membership / --release-id-document`` and ``idp notice
publish`` (issue 10), run as real subprocesses."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from idp.models import AuditEvent, PersonalDataNotice
from tests.integration.test_cli import database, run  # noqa: F401 - the fixture


def test_clients_membership_requirement_and_id_document_release(run):  # noqa: F811
    made = run(
        "clients",
        "add",
        "--name",
        "Search",
        "--redirect-uri",
        "https://search.example/cb",
        "--require-membership",
        "verified",
        "--release-id-document",
    )
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    assert data["required_membership"] == "verified" and data["release_id_document"] is True
    changed = run(
        "clients",
        "set",
        "--client-id",
        data["client_id"],
        "--require-membership",
        "none",
        "--no-release-id-document",
    )
    out = json.loads(changed.stdout)
    assert out["required_membership"] is None and out["release_id_document"] is False
    bad = run("clients", "set", "--client-id", data["client_id"], "--require-membership", "gold")
    assert bad.returncode != 0 and "gold" in bad.stderr


def test_notice_publish_adds_the_next_version_audited(run, tmp_path):  # noqa: F811
    th, en = tmp_path / "th.txt", tmp_path / "en.txt"
    th.write_text("ประกาศความเป็นส่วนตัว ฉบับใหม่", encoding="utf-8")
    en.write_text("The new privacy notice.", encoding="utf-8")
    with database(run) as (_app, s):
        before = s.scalar(select(func.max(PersonalDataNotice.version))) or 0  # 1: migration 0012
    done = run("notice", "publish", "--th", str(th), "--en", str(en), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == before + 1
    again = run("notice", "publish", "--th", str(th), "--en", str(en))
    assert again.returncode == 0 and f"version {before + 2}" in again.stdout
    with database(run) as (_app, s):
        newest = s.scalar(
            select(PersonalDataNotice).where(PersonalDataNotice.version == before + 2)
        )
        assert newest.text_en == "The new privacy notice." and newest.published_by == "cli"
        tags = list(s.scalars(select(AuditEvent).where(AuditEvent.tag == "op:notice:published")))
        assert len(tags) == 2


def test_notice_publish_refuses_missing_or_empty_text(run, tmp_path):  # noqa: F811
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    en = tmp_path / "en.txt"
    en.write_text("Notice", encoding="utf-8")
    missing = run("notice", "publish", "--th", str(tmp_path / "nope.txt"), "--en", str(en))
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    blank = run("notice", "publish", "--th", str(empty), "--en", str(en))
    assert blank.returncode == 1 and "required" in blank.stderr
