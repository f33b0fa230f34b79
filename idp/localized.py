"""Texts kept in both languages (a Thai and an English column), shown in the page's
language. Pure: no Flask, no database; the caller passes the locale.

The rule is the same for every such pair (an organisation's name, a client scope's
description): the text in the page's language, else the other language's text (a
Thai name on an English page beats no name at all), else the fallback (a code)."""

from __future__ import annotations

from typing import Protocol


class NamedOrganisation(Protocol):
    name_th: str
    name_en: str


def pick(th: str | None, en: str | None, locale: str, fallback: str = "") -> str:
    """``th`` or ``en`` for ``locale`` ("th", "en", or a tag like "en_US"), falling back
    to the other language, then to ``fallback``. Blank texts count as missing."""
    th, en = (th or "").strip(), (en or "").strip()
    first, second = (en, th) if str(locale).lower().startswith("en") else (th, en)
    return first or second or fallback


def org_name(org: NamedOrganisation, locale: str) -> str:
    """The organisation's name in ``locale``: ``name_en`` on English pages when it is
    set, else the Thai name (always set; the legal name)."""
    return pick(org.name_th, org.name_en, locale)


def other_org_name(org: NamedOrganisation, locale: str) -> str:
    """The organisation's name in the other language, when it has one that differs
    from :func:`org_name` (consoles show it as secondary text); else empty."""
    shown = org_name(org, locale)
    other = pick(org.name_en, org.name_th, locale)  # the reverse preference
    return other if other != shown else ""
