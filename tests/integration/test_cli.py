"""The `idp` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import USE_PG


@pytest.fixture
def run(tmp_path, template_db):
    if USE_PG:
        from tests.conftest import fresh_database_url

        url = fresh_database_url(template_db, tmp_path)
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "IDP_DATABASE_URL": url, "IDP_ENV": "development"}

    def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "idp.cli", *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert _run("init").returncode == 0
    return _run


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


def test_enrol_totp_prints_secret_usable_by_independent_generator(run):
    from tests.otp import oathtool_code

    run(
        "users",
        "add",
        "--username",
        "somchai",
        "--email",
        "s@example.org",
        "--password-stdin",
        stdin="a long enough passphrase\n",
    )
    result = run("users", "enrol-totp", "--username", "somchai", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["otpauth_uri"].startswith("otpauth://totp/idp:")
    assert len(oathtool_code(data["secret"])) == 6
    assert run("users", "enrol-totp", "--username", "nobody").returncode == 1


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
