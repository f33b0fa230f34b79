"""What a scope means to a person: the one front door for every page that shows scopes
(consent, the account page, the org console, the operator console).

The standard OIDC scopes (OIDC Core 5.4) have translated sentences of ours; a scope a
client declares (``einvoice:submit``) has the Thai and English descriptions the
operator wrote for it (``client_scopes``), shown in the page's language, falling back
to the other language, then to the code itself (:func:`idp.localized.pick`). A person
never sees the code as the label when a description exists; the consoles show it as
secondary text for the admins who manage rights by code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.localized import pick
from idp.models import ClientScope


@dataclass(frozen=True)
class ScopeLabel:
    name: str  # the code, for admins and element ids
    label: str  # what a person reads
    is_described: bool  # False: no description anywhere, the label is the code


def standard_scope_labels() -> dict[str, str]:
    """Our sentences for the standard scopes, in the request's language."""
    return {
        "openid": _("Know who you are (your account identifier)"),
        "profile": _("Your name and username"),
        "email": _("Your email address"),
        "phone": _("Your phone number"),
        "address": _("Your address"),
        "offline_access": _("Keep access while you are away"),
        "membership": _("Your membership: type, state and staff badge"),
        "verified_claims": _("Your verified identity: names and birth date as verified"),
    }


def describe(scope: ClientScope, locale: str) -> ScopeLabel:
    """A declared scope's label in ``locale`` (fallback: the other language, the code)."""
    label = pick(scope.description_th, scope.description_en, locale)
    return ScopeLabel(scope.name, label or scope.name, bool(label))


def scope_labels(
    db: Session, client_id: str, names: Iterable[str], locale: str
) -> list[ScopeLabel]:
    """Labels of ``names`` (as asked, in order) for the client's pages; a name neither
    standard nor declared by the client keeps its code."""
    names = list(dict.fromkeys(names))
    declared = {
        s.name: s
        for s in db.scalars(
            select(ClientScope).where(
                ClientScope.client_id == client_id, ClientScope.name.in_(names)
            )
        )
    }
    standard = standard_scope_labels()
    labels = []
    for name in names:
        if name in standard:
            labels.append(ScopeLabel(name, standard[name], True))
        elif name in declared:
            labels.append(describe(declared[name], locale))
        else:
            labels.append(ScopeLabel(name, name, False))
    return labels
