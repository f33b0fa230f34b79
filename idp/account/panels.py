"""Sections of the /account page that other modules provide (issue 11: password and
profile, sessions, service requests, the person's data rights). A module registers a
function ``(db, user) -> template variables`` with :func:`panel`; the page's view
gathers them, and ``home.html`` includes each section's template. Keeps the page's
view small while each feature owns its section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from idp.models import User

Provider = Callable[[Session, User], dict[str, Any]]
_PROVIDERS: list[Provider] = []


def panel(fn: Provider) -> Provider:
    """Register ``fn`` as a provider of /account's template variables."""
    _PROVIDERS.append(fn)
    return fn


def gather(db: Session, user: User) -> dict[str, Any]:
    """Every registered provider's variables for ``user``'s /account page."""
    out: dict[str, Any] = {}
    for provider in _PROVIDERS:
        out.update(provider(db, user))
    return out
