"""The `idp` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from idp import create_app
from idp.db import get_db
from idp.models import AuditEvent
from idp.orgs.entitlements import MAX_MEMBER_LIMIT
from tests.conftest import USE_PG


@pytest.fixture
def run(tmp_path, template_db):
    if USE_PG:
        from tests.conftest import fresh_database_url

        url = fresh_database_url(template_db, tmp_path)
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "IDP_DATABASE_URL": url, "IDP_ENV": "development"}

    def _run(*args: str, stdin: str = "", smtp_url: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "idp.cli", *args],
            input=stdin,
            env={**env, "IDP_SMTP_URL": smtp_url} if smtp_url else env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert _run("init").returncode == 0
    _run.url = url
    return _run


@contextmanager
def database(run):
    """The app the commands of ``run`` see (same settings, so the same secret key) and
    a session on their database, to check what they left."""
    app = create_app({"database_url": run.url, "env": "development"})
    try:
        with get_db(app).factory() as s:
            yield app, s
    finally:
        get_db(app).dispose()


def audit_events(run, tag: str) -> list[AuditEvent]:
    with database(run) as (_app, s):
        return list(s.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def add_user(run, username: str) -> None:
    made = run(
        "users",
        "add",
        "--username",
        username,
        "--email",
        f"{username}@example.org",
        "--password-stdin",
        stdin="a long enough passphrase\n",
    )
    assert made.returncode == 0, made.stderr


def add_client(run, name: str = "e-Invoice") -> str:
    made = run("clients", "add", "--name", name, "--redirect-uri", "https://rp.example/cb")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)["client_id"]


def test_init_is_idempotent(run):
    result = run("init")
    assert result.returncode == 0 and "0 signing key(s) created" in result.stdout


def test_clients_add_prints_json_with_secret_once(run):
    result = run(
        "clients",
        "add",
        "--name",
        "eMT",
        "--redirect-uri",
        "https://emt.example/cb",
        "--redirect-uri",
        "https://emt.example/cb2",
        "--post-logout-redirect-uri",
        "https://emt.example/bye",
        "--scope",
        "openid",
        "--scope",
        "email",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["client_id"] and len(data["client_secret"]) >= 40
    assert data["redirect_uris"] == ["https://emt.example/cb", "https://emt.example/cb2"]
    listed = run("clients", "list")
    assert data["client_secret"] not in listed.stdout and data["client_id"] in listed.stdout


def test_public_client_has_no_secret(run):
    data = json.loads(
        run(
            "clients",
            "add",
            "--name",
            "SPA",
            "--redirect-uri",
            "https://spa.example/cb",
            "--public",
            "--skip-consent",
            "--json",
        ).stdout
    )
    assert "client_secret" not in data and data["public"] is True and data["skip_consent"] is True


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--name", "X", "--redirect-uri", "not a url"], "redirect URI"),
        (["--name", "X", "--redirect-uri", "https://x.example/cb#frag"], "fragment"),
        (["--name", "X"], "redirect-uri"),
        (
            ["--name", "X", "--redirect-uri", "https://x/cb", "--public", "--no-pkce-required"],
            "PKCE",
        ),
        (["--name", "X", "--redirect-uri", "https://x/cb", "--id-token-alg", "HS256"], "HS256"),
    ],
)
def test_clients_add_bad_input_fails_with_one_line(run, args, fragment):
    result = run("clients", "add", *args)
    assert result.returncode != 0
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "option,bad",
    [
        ("--redirect-uri", "https://x.example/cb\nSet-Cookie: a=1"),
        ("--post-logout-redirect-uri", "https://x.example/bye\r\nSet-Cookie: a=1"),
        ("--redirect-uri", "https://x.example/c\tb"),
        ("--redirect-uri", "https://x.example/cb\x01"),
        ("--post-logout-redirect-uri", 'https://x.example/cb"'),
        ("--redirect-uri", "https://x.example/\u0e01"),
    ],
    ids=["lf", "crlf-post-logout", "tab", "control", "quote-post-logout", "non-ascii"],
)
def test_clients_add_refuses_uris_that_are_not_uri_text_rfc3986_I03(run, option, bad):
    """A registered URI goes into Location headers; /authorize refuses the same
    characters before any lookup, so no client can ever be registered with them."""
    args = ["--name", "X", "--redirect-uri", "https://x.example/cb"]
    result = run("clients", "add", *args, option, bad)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "not allowed in a URI" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert run("clients", "list").stdout.count("x.example") == 0


def test_users_add_reads_password_from_stdin(run):
    result = run(
        "users",
        "add",
        "--username",
        "somchai",
        "--email",
        "somchai@example.co.th",
        "--name",
        "สมชาย ใจดี",
        "--password-stdin",
        "--json",
        stdin="a long enough passphrase\n",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sub"] and data["name"] == "สมชาย ใจดี"
    dup = run(
        "users",
        "add",
        "--username",
        "SOMCHAI",
        "--email",
        "other@example.org",
        "--password-stdin",
        stdin="a long enough passphrase\n",
    )
    assert dup.returncode == 1
    assert dup.stderr.strip() == "error: username is already registered"


def test_users_add_weak_password_refused(run):
    result = run(
        "users",
        "add",
        "--username",
        "bob",
        "--email",
        "bob@example.org",
        "--password-stdin",
        stdin="short\n",
    )
    assert result.returncode == 1 and "password" in result.stderr


def test_keys_rotate_adds_new_kids(run):
    result = run("keys", "rotate")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert len(data["new_kids"]) == 2 and data["old_keys_published_for"] > 0


def test_production_refuses_dev_secret(run, tmp_path):
    env = {
        **os.environ,
        "IDP_ENV": "production",
        "IDP_DATABASE_URL": "postgresql+psycopg://x/y",
        "IDP_ISSUER": "https://idp.example",
    }
    result = subprocess.run(
        [sys.executable, "-m", "idp.cli", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "IDP_SECRET_KEY" in result.stderr


def test_enrol_totp_is_audited_mailed_and_works_with_oathtool(run, smtp_sink):
    """`users enrol-totp` goes through the mfa service like self-service enrolment: the
    mfa:totp:enrolled record (no actor, via the CLI) and the "new authenticator" mail,
    so a factor the person did not ask for is noticed; a code from an independent
    generator (RFC 6238, oathtool) then passes the service's check."""
    from idp.mfa.services import verify_totp
    from idp.models import User
    from tests.otp import oathtool_code

    add_user(run, "somchai")
    result = run("users", "enrol-totp", "--username", "somchai", "--json", smtp_url=smtp_sink.url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["otpauth_uri"].startswith("otpauth://totp/idp:")
    (mail,) = smtp_sink.to("somchai@example.org")
    assert mail["Subject"] == "มีการเพิ่มแอปยืนยันตัวตนใหม่"  # no language chosen: th
    (event,) = audit_events(run, "mfa:totp:enrolled")
    with database(run) as (app, s):
        user = s.scalar(select(User).where(User.username == "somchai"))
        assert (event.actor_user_id, event.subject_user_id) == (None, user.id)
        assert event.details == {"factor": data["factor_id"], "via": "cli"}
        settings = app.extensions["idp_settings"]
        assert verify_totp(s, settings, user, oathtool_code(data["secret"])) is True
    assert run("users", "enrol-totp", "--username", "nobody").returncode == 1


def test_enrol_totp_without_a_mail_server_still_succeeds(run):
    """The notification is best effort (mfa.services.notify): with IDP_SMTP_URL
    unreachable the factor is still set up and audited, the command exits 0 with its
    JSON, and the undelivered notice is a warning on stderr, not silence: queued in the
    outbox for `idp jobs run` (issue 13)."""
    import socket

    add_user(run, "somchai")
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"smtp://127.0.0.1:{closed.getsockname()[1]}"
        result = run("users", "enrol-totp", "--username", "somchai", smtp_url=url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["secret"]
    assert "mail delivery failed id=" in result.stderr and "attempt=1" in result.stderr
    assert len(audit_events(run, "mfa:totp:enrolled")) == 1


def test_clients_min_acr_and_set(run):
    data = json.loads(
        run(
            "clients",
            "add",
            "--name",
            "GFMIS",
            "--redirect-uri",
            "https://gfmis.example/cb",
            "--min-acr",
            "urn:idp:acr:mfa",
            "--no-email-otp",
            "--json",
        ).stdout
    )
    assert data["min_acr"] == "urn:idp:acr:mfa" and data["allow_email_otp"] is False
    changed = run(
        "clients",
        "set",
        "--client-id",
        data["client_id"],
        "--scope-acr",
        "email=urn:idp:acr:phr",
        "--min-acr",
        "urn:idp:acr:pwd",
    )
    assert changed.returncode == 0, changed.stderr
    out = json.loads(changed.stdout)
    assert out["scope_acr"] == {"email": "urn:idp:acr:phr"} and out["min_acr"] == "urn:idp:acr:pwd"
    bad = run("clients", "set", "--client-id", data["client_id"], "--scope-acr", "email=high")
    assert bad.returncode == 1 and "SCOPE=LEVEL" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_jobs_run(run):
    result = run("jobs", "run")
    assert result.returncode == 0 and json.loads(result.stdout)["totp_reminders_sent"] == 0


def test_orgs_cli_members_scopes_and_seats(run):
    client = json.loads(
        run(
            "clients",
            "add",
            "--name",
            "e-Invoice",
            "--redirect-uri",
            "https://einv.example/cb",
            "--json",
        ).stdout
    )
    cid = client["client_id"]
    scope = run(
        "clients",
        "add-scope",
        "--client-id",
        cid,
        "--scope",
        "einvoice:submit",
        "--seat-limit",
        "1",
        "--description-th",
        "ส่งใบกำกับภาษี",
        "--json",
    )
    assert scope.returncode == 0, scope.stderr
    org = run(
        "orgs",
        "add",
        "--kind",
        "company",
        "--identifier",
        "0105536092641",
        "--name-th",
        "บริษัท ตัวอย่าง",
        "--client-id",
        cid,
        "--json",
    )
    assert org.returncode == 0, org.stderr
    assert json.loads(org.stdout)["status"] == "active"
    bad = run("orgs", "add", "--kind", "company", "--identifier", "0105536092642", "--name-th", "x")
    assert bad.returncode == 1 and "invalid identifier" in bad.stderr
    for name in ("ann", "ben"):
        run(
            "users",
            "add",
            "--username",
            name,
            "--email",
            f"{name}@example.org",
            "--password-stdin",
            stdin="a long enough passphrase\n",
        )
        added = run("orgs", "add-member", "--org", "0105536092641", "--username", name)
        assert added.returncode == 0, added.stderr
    ok = run(
        "orgs",
        "grant",
        "--org",
        "0105536092641",
        "--username",
        "ann",
        "--client-id",
        cid,
        "--scope",
        "einvoice:submit",
        "--json",
    )
    assert json.loads(ok.stdout)["seats_used"] == 1
    full = run(
        "orgs",
        "grant",
        "--org",
        "0105536092641",
        "--username",
        "ben",
        "--client-id",
        cid,
        "--scope",
        "einvoice:submit",
    )
    assert full.returncode == 1 and "seats" in full.stderr
    assert len(full.stderr.strip().splitlines()) == 1


def test_operator_right_and_org_status_from_the_cli(run):
    """Only the CLI makes an operator (SECURITY.md E-04); status changes follow the same
    rules as the operator console (a second approve is refused)."""
    run(
        "users",
        "add",
        "--username",
        "nok",
        "--email",
        "nok@example.org",
        "--password-stdin",
        stdin="a long enough passphrase\n",
    )
    made = run("users", "set-operator", "--username", "nok", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {"username": "nok", "is_operator": True}
    off = run("users", "set-operator", "--username", "nok", "--off", "--json")
    assert json.loads(off.stdout)["is_operator"] is False
    missing = run("users", "set-operator", "--username", "nobody")
    assert missing.returncode == 1 and missing.stderr.startswith("error:")

    run("orgs", "add", "--kind", "agency", "--identifier", "MOC-01", "--name-th", "กรม")
    suspended = run("orgs", "set-status", "--identifier", "MOC-01", "--action", "suspend")
    assert json.loads(suspended.stdout)["status"] == "suspended"
    again = run("orgs", "set-status", "--identifier", "MOC-01", "--action", "approve")
    assert again.returncode == 1 and "cannot approve an organisation that is suspended" in (
        again.stderr
    )
    back = run("orgs", "set-status", "--identifier", "MOC-01", "--action", "reactivate")
    assert json.loads(back.stdout)["status"] == "active"
    events = audit_events(run, "op:user:operator")
    assert [(e.actor_user_id, e.details["after"], e.details["via"]) for e in events] == [
        (None, True, "cli"),
        (None, False, "cli"),
    ]


def test_orgs_add_is_audited_and_has_the_consoles_limits(run):
    """`orgs add` passes the operator console's checks (a Thai name, a member limit
    of 1 to MAX_MEMBER_LIMIT: the CLI used to allow 100000) and leaves its records:
    op:org:created and op:org:clients, with no actor (the system)."""
    cid = add_client(run)
    base = ("orgs", "add", "--kind", "agency", "--identifier", "MOC-01")
    too_many = str(MAX_MEMBER_LIMIT + 1)
    refused = run(*base, "--name-th", "กรม", "--member-limit", too_many)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"error: --member-limit must be a number from 1 to {MAX_MEMBER_LIMIT}: {too_many}"
    )
    blank = run(*base, "--name-th", " ")
    assert blank.returncode == 1
    assert blank.stderr.strip() == "error: --name-th must not be empty"
    unknown = run(*base, "--name-th", "กรม", "--client-id", "no-such-client")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: identifier 'MOC-01' is already registered, or an unknown --client-id"
    )
    assert audit_events(run, "op:org:created") == []  # a refusal leaves nothing
    made = run(*base, "--name-th", "กรม", "--client-id", cid, "--json")
    assert made.returncode == 0, made.stderr
    org_id = json.loads(made.stdout)["id"]
    (created,) = audit_events(run, "op:org:created")
    assert (created.actor_user_id, created.org_id) == (None, org_id)
    assert created.details["after"] == {
        "identifier": "MOC-01",
        "name_th": "กรม",
        "member_limit": 10,
    }
    (clients,) = audit_events(run, "op:org:clients")
    assert clients.details["after"] == {cid: None}  # all of the client's scopes
    again = run(*base, "--name-th", "กรม")
    assert again.returncode == 1 and "already registered" in again.stderr


def test_set_status_mails_the_admins_like_the_console(run, smtp_sink):
    """Approval, suspension and reactivation are mailed to the organisation's admins
    (README, operator console) whether an operator or the CLI decides."""
    run("orgs", "add", "--kind", "agency", "--identifier", "MOC-01", "--name-th", "กรม")
    add_user(run, "ann")
    run("orgs", "add-member", "--org", "MOC-01", "--username", "ann", "--admin")
    suspended = run(
        "orgs",
        "set-status",
        "--identifier",
        "MOC-01",
        "--action",
        "suspend",
        smtp_url=smtp_sink.url,
    )
    assert suspended.returncode == 0, suspended.stderr
    (mail,) = smtp_sink.to("ann@example.org")
    assert mail["Subject"] == "กรม: ถูกระงับการใช้งาน"
    (event,) = audit_events(run, "op:org:status")
    assert (event.actor_user_id, event.details["after"]) == (None, "suspended")


def test_add_scope_is_audited_like_the_console(run):
    """`clients add-scope` goes through the operator console's service: one
    op:scope:added record, with no actor (the system) as for every CLI action."""
    cid = add_client(run)
    made = run("clients", "add-scope", "--client-id", cid, "--scope", "einvoice:view", "--json")
    assert made.returncode == 0, made.stderr
    (event,) = audit_events(run, "op:scope:added")
    assert event.actor_user_id is None
    assert event.details["client"] == cid and event.details["scope"] == "einvoice:view"


def test_add_scope_refuses_what_the_console_refuses(run):
    """The names test_operator_console refuses (scope_name_invalid: none may shadow a
    standard scope) and one seat maximum, MAX_MEMBER_LIMIT, for console and CLI (the
    CLI used to accept up to 100000 seats). Nothing is stored or audited."""
    cid = add_client(run)
    for name in ("openid", "Einvoice:View"):
        refused = run("clients", "add-scope", "--client-id", cid, "--scope", name)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            f"error: invalid scope name {name!r}: use application:right, e.g. einvoice:submit"
        )
    too_many = str(MAX_MEMBER_LIMIT + 1)
    refused = run(
        "clients", "add-scope", "--client-id", cid, "--scope", "a:b", "--seat-limit", too_many
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"error: --seat-limit must be a number from 1 to {MAX_MEMBER_LIMIT}: {too_many}"
    )
    assert audit_events(run, "op:scope:added") == []
    most = run(
        "clients",
        "add-scope",
        "--client-id",
        cid,
        "--scope",
        "a:b",
        "--seat-limit",
        str(MAX_MEMBER_LIMIT),
    )
    assert json.loads(most.stdout)["seat_limit"] == MAX_MEMBER_LIMIT


def _queue_items(run) -> dict[str, int]:
    """Two operators, an applicant with a staff verification and one of the operators'
    own application, made directly with the review service."""
    from idp.admin.accounts import set_operator
    from idp.enrollment import review
    from idp.models import User

    for name in ("op", "op2", "somsak"):
        add_user(run, name)
    with database(run) as (_app, s):
        users = {u.username: u for u in s.scalars(select(User))}
        set_operator(s, users["op"].id, True, via="cli")
        # A staff applicant waiting for the decision (the membership state machine
        # refuses a decision about anyone else).
        users["somsak"].member_type, users["somsak"].membership_status = "staff", "pending"
        staff = review.open_item(s, kind=review.STAFF_VERIFICATION, user_id=users["somsak"].id)
        own = review.open_item(s, kind=review.STAFF_VERIFICATION, user_id=users["op"].id)
        s.commit()
        return {"staff": staff.id, "own": own.id}


def test_registrations_list_show_decide_and_their_exit_codes(run):
    """Issue 10: the same service as the console (audited via=cli); 404 -> 4,
    403 -> 3, 409 -> 5, each one line on stderr."""
    items = _queue_items(run)
    listed = run("registrations", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == [items["staff"], items["own"]]
    shown = run("registrations", "show", str(items["staff"]), "--json")
    assert json.loads(shown.stdout)["username"] == "somsak"
    missing = run("registrations", "show", "999", "--json")
    assert missing.returncode == 4 and missing.stderr.strip() == "error: no such review item"

    def decide(item, operator="op", *extra):
        args = ("registrations", "decide", str(item), "--operator", operator, "--json")
        return run(*args, *extra)

    no_reason = decide(items["staff"], "op", "--decision", "reject")
    assert no_reason.returncode == 1 and "--reason" in no_reason.stderr
    not_op = decide(items["staff"], "op2", "--decision", "approve")
    assert not_op.returncode == 3 and "not a platform operator" in not_op.stderr
    own = decide(items["own"], "op", "--decision", "approve")
    assert own.returncode == 3 and "own application" in own.stderr
    ok = decide(items["staff"], "op", "--decision", "reject", "--reason", "card unreadable")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "rejected"
    twice = decide(items["staff"], "op", "--decision", "approve")
    assert twice.returncode == 5 and len(twice.stderr.strip().splitlines()) == 1
    audit = audit_events(run, "op:review:decided")
    assert len(audit) == 1 and audit[0].details["via"] == "cli"
    assert audit[0].details["reason"] == "card unreadable"
    waiting = json.loads(run("registrations", "list", "--json").stdout)
    assert [r["id"] for r in waiting] == [items["own"]]
