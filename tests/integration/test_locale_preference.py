"""The person's chosen language (``users.locale``, issue 9): set by the language switch
while signed in, by a sign-in after choosing it, and at account creation from the page;
never by what a relying party (``ui_locales``) or the browser (Accept-Language) asks for
(account.services.remember_locale). Migration 0010 keeps every other row intact."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from alembic import command
from sqlalchemy import MetaData, create_engine, select, text

from idp.models import User
from idp.oidc.scopes import user_claims
from idp.schema import alembic_config
from tests.conftest import empty_database_url
from tests.factories import (
    authorize_params,
    csrf_token,
    login,
    mail_text,
    make_client,
    make_user,
    pkce_pair,
    query,
)


def _locale(db, username="alice"):
    db.expire_all()
    return db.scalar(select(User.locale).where(User.username_key == username))


def test_the_switch_while_signed_in_is_remembered(client, db):
    make_user(db)
    login(client)
    assert _locale(db) is None  # a sign-in without a choice sets nothing
    assert client.get("/account?lang=en").status_code == 200
    assert _locale(db) == "en"
    client.get("/account/security?lang=th")
    assert _locale(db) == "th"
    client.get("/account?lang=xx")  # not a language of ours: ignored
    assert _locale(db) == "th"


def test_the_switch_while_signed_out_is_remembered_at_sign_in(client, db):
    make_user(db)
    client.get("/login?lang=en")  # sets the idp_lang cookie
    assert _locale(db) is None  # nobody is signed in yet
    assert login(client).status_code == 303
    assert _locale(db) == "en"


def test_ui_locales_and_accept_language_are_not_the_persons_choice(client, db):
    """An English-only relying party (ui_locales=en) and an English browser show English
    pages, but do not turn a person's mails English."""
    make_user(db)
    rp = make_client(db)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    _verifier, challenge = pkce_pair()
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, ui_locales="en")))
    flow = query(resp.headers["Location"])["flow"]
    page = client.get(f"/login?flow={flow}").get_data(as_text=True)
    assert 'lang="en"' in page
    assert login(client, flow=flow).status_code == 303
    client.get("/account")
    assert _locale(db) is None


def test_a_wrong_password_does_not_store_the_choice(client, db):
    make_user(db)
    client.get("/login?lang=en")
    assert login(client, password="not the password").status_code == 200
    assert _locale(db) is None


def test_the_locale_claim_is_the_chosen_language_or_absent(db):
    """OIDC Core 5.1 ``locale``: only what the person chose, not a guess."""
    user = make_user(db)
    assert "locale" not in user_claims(user, "openid profile")
    user.locale = "en"
    assert user_claims(user, "openid profile")["locale"] == "en"


@pytest.mark.parametrize("page_locale", ["th", "en"])
def test_an_account_made_from_an_invitation_keeps_the_pages_language(
    app_factory, db, smtp_sink, page_locale
):
    from idp.orgs import invitations
    from idp.orgs import services as orgs

    app = app_factory(smtp_url=smtp_sink.url)
    org = orgs.create_org(db, kind="agency", identifier="MOC-01", name_th="กรม")
    db.commit()
    with app.app_context():
        invitations.invite(db, app.extensions["idp_settings"], org, "new@example.org", None)
    db.commit()
    link = re.search(r"http://localhost(/invite/\S+)", mail_text(smtp_sink.messages[0])).group(1)
    browser = app.test_client()
    page = browser.get(f"{link}?lang={page_locale}").get_data(as_text=True)
    assert f'lang="{page_locale}"' in page
    done = browser.post(
        link,  # the form posts without ?lang: the cookie the switch set carries the choice
        data={
            "username": "newbie",
            "name": "New Person",
            "password": "a long passphrase here",
            "id_kind": "national",
            "national_id": "1101700230708",
            "csrf_token": csrf_token(page),
        },
    )
    assert done.status_code == 303
    assert _locale(db, "newbie") == page_locale


# --- Migration 0010 -------------------------------------------------------------------


@pytest.fixture
def url_at_0009(tmp_path):
    """A database migrated to 0009 only (PostgreSQL: a private one)."""
    with empty_database_url(tmp_path) as url:
        yield url


def _row(table, **given) -> dict:
    """A row of ``table`` as the schema stood: every NOT NULL column filled."""
    blank = {"INTEGER": 0, "BIGINT": 0, "BOOLEAN": False, "JSON": "{}"}
    row = {}
    for column in table.columns:
        if column.name in given:
            row[column.name] = given[column.name]
        elif not column.nullable and not column.primary_key:
            kind = type(column.type).__name__.upper()
            row[column.name] = next((v for k, v in blank.items() if k in kind), "")
    return row


def test_migration_0010_unsets_the_default_and_keeps_every_other_row(url_at_0009):
    """Nobody chose the "th" the rows held: it becomes NULL (not chosen). A value someone
    set survives, and no row that references a user is lost: SQLite's table copy would
    have cascaded the DROP of ``users`` into memberships (ON DELETE CASCADE)."""
    cfg = alembic_config(url_at_0009)
    command.upgrade(cfg, "0009")
    engine = create_engine(url_at_0009)
    tables = MetaData()
    tables.reflect(engine)
    with engine.begin() as c:
        for uid, locale in ((1, "th"), (2, "en")):
            c.execute(
                tables.tables["users"].insert(),
                _row(
                    tables.tables["users"],
                    id=uid,
                    sub=f"s{uid}",
                    username_key=f"u{uid}",
                    email_key=f"u{uid}@x.org",
                    locale=locale,
                ),
            )
        c.execute(
            tables.tables["organizations"].insert(), _row(tables.tables["organizations"], id=1)
        )
        c.execute(
            tables.tables["memberships"].insert(),
            _row(tables.tables["memberships"], org_id=1, user_id=1),
        )
    command.upgrade(cfg, "0010")
    with engine.connect() as c:
        assert c.execute(text("SELECT id, locale FROM users ORDER BY id")).all() == [
            (1, None),
            (2, "en"),
        ]
        assert c.execute(text("SELECT count(*) FROM memberships")).scalar() == 1
    command.downgrade(cfg, "0009")
    with engine.connect() as c:
        assert c.execute(text("SELECT locale FROM users ORDER BY id")).scalars().all() == [
            "th",
            "en",
        ]
        assert c.execute(text("SELECT count(*) FROM memberships")).scalar() == 1
    engine.dispose()
