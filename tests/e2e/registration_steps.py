"""Browser steps of the people's registration wizard, shared by the e2e test and the
accessibility walk (issue 10 "People")."""

from __future__ import annotations

import re

from playwright.sync_api import expect

PASSWORD = "correct horse battery staple"
# Fixture people of the demo registry (idp/dev/registry_people.json).
MALEE = {
    "national_id": "1103700456121",
    "given_name_th": "มาลี",
    "family_name_th": "ศรีสุข",
    "given_name_en": "Malee",
    "family_name_en": "Srisuk",
    "birthdate": "1990-09-01",
}


def code_from(inbox, address: str) -> str:
    """The newest registration code mailed to ``address`` (its subject ends in it)."""
    for mail in reversed(inbox.to(address)):
        found = re.search(r": (\d{6})$", str(mail["Subject"]))
        if found:
            return found.group(1)
    raise AssertionError(f"no registration code mailed to {address}")


def fill_identity(page, person: dict, email: str) -> None:
    page.check("#member-public")
    page.check("#doc-national")
    page.fill("#national_id", person["national_id"])
    page.fill("#email", email)
    page.check("#notice")
    page.click("#identity-next")


def fill_registry(page, person: dict) -> None:
    page.fill("#given_name_th", person["given_name_th"])
    page.fill("#family_name_th", person["family_name_th"])
    page.fill("#birthdate", person["birthdate"])
    page.click("#registry-check")


def fill_details(page, person: dict, code: str) -> None:
    expect(page.locator("#given_name_th")).to_have_value(person["given_name_th"])
    page.fill("#given_name_en", person["given_name_en"])
    page.fill("#family_name_en", person["family_name_en"])
    page.select_option("#gender", "female")
    page.fill("#code", code)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("#details-submit")
