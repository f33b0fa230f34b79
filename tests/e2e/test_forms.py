"""Form behaviour in Chromium: the show-password toggle and the error summary that takes
focus so a screen reader announces it (WCAG 2.1 3.3.1, 4.1.3)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("lang,show,hide", [("th", "แสดง", "ซ่อน"), ("en", "Show", "Hide")])
def test_the_password_can_be_shown_and_hidden_again(live, page, lang, show, hide):
    page.goto(f"{live.issuer}/login?lang={lang}")
    password = page.locator("#password")
    toggle = page.locator(".idp-show-password")
    password.fill("Secret phrase 1")
    expect(toggle).to_have_text(show)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(password).to_have_attribute("type", "text")
    expect(toggle).to_have_text(hide)
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(password).to_be_focused()
    toggle.click()
    expect(password).to_have_attribute("type", "password")
    expect(toggle).to_have_text(show)


def test_a_wrong_password_is_announced_and_the_typed_password_is_not_shown(live, page):
    page.goto(f"{live.issuer}/login?lang=en")
    page.fill("#username", "somchai")
    page.fill("#password", "not the password")
    page.click("#sign-in")
    expect(page.locator("#login-error")).to_have_attribute("role", "alert")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("#username")).to_have_value("somchai")
