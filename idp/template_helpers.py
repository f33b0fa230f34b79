"""The Jinja filters and globals that put labels, not codes, on pages: organisation
names in the page's language, scope descriptions, audit actions and changes in words,
and sentences worded by the organisation's kind. Each is a thin wrapper over the one
function that decides (``idp.localized``, ``idp.oidc.scope_labels``,
``idp.audit_labels``, ``idp.orgs.messages``), with the page's language filled in."""

from __future__ import annotations

from flask import Flask

from idp import audit_labels
from idp.extensions import page_locale
from idp.localized import NamedOrganisation, org_name, other_org_name
from idp.models import ClientScope, Organization
from idp.oidc.scope_labels import describe
from idp.orgs.messages import kind_label, kind_wording


def page_org_name(org: NamedOrganisation) -> str:
    """``{{ org|org_name }}``: the name in the page's language (fallback: Thai)."""
    return org_name(org, page_locale())


def page_other_org_name(org: NamedOrganisation) -> str:
    """``{{ org|org_other_name }}``: the other language's name for consoles, or ''."""
    return other_org_name(org, page_locale())


def page_scope_label(scope: ClientScope) -> str:
    """``{{ scope|scope_label }}``: a declared right's description in the page's
    language (fallback: the other language, then the code)."""
    return describe(scope, page_locale()).label


def org_wording(org: Organization) -> dict[str, str]:
    """``{{ org_wording(org).no_right }}``: sentences worded for a company or an agency,
    with its name in the page's language."""
    return kind_wording(org.kind, page_org_name(org))


def install(app: Flask) -> None:
    env = app.jinja_env
    env.filters["org_name"] = page_org_name
    env.filters["org_other_name"] = page_other_org_name
    env.filters["scope_label"] = page_scope_label
    env.filters["audit_action"] = audit_labels.action_label
    env.filters["audit_summary"] = audit_labels.summary
    env.globals["audit_action_choices"] = audit_labels.action_choices
    env.globals["org_kind_label"] = kind_label
    env.globals["org_wording"] = org_wording
