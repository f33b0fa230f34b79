"""The layer contract (pyproject.toml ``[tool.importlinter]``, issue 8) covers every
module: each module of an area is classed as a view (it has routes) or not, so a new
module cannot slip past the contract unclassified."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("account", "admin", "mfa", "oidc", "orgs", "dev", "companies", "enrollment", "ops")


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["name"].startswith("Services and pure"))


def _area_modules() -> dict[str, Path]:
    found = {}
    for area in AREAS:
        for path in (ROOT / "idp" / area).glob("*.py"):
            if path.name != "__init__.py":
                found[f"idp.{area}.{path.stem}"] = path
    return found


def test_every_area_module_is_classified_as_view_or_not():
    contract = _contract()
    classified = set(contract["source_modules"]) | set(contract["forbidden_modules"])
    assert sorted(set(_area_modules()) - classified) == []


def test_modules_with_routes_are_the_views():
    views = set(_contract()["forbidden_modules"])
    with_routes = {m for m, p in _area_modules().items() if ".route(" in p.read_text()}
    assert with_routes == views
