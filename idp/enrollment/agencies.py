"""The agencies whose staff may register as staff (MISSION C1, C3), from
IDP_AGENCIES_FILE (a JSON list) or the built-in sample list (``agencies.json``).

Each entry: ``code``, ``name_th``, ``name_en``, optional ``require_second_factor``
(staff of this agency enrol a soft token as the wizard's last step) and optional
``directory``: the agency's staff directory (LDAP) with ``url``, ``bind_dn``,
``bind_password_env`` (the NAME of an environment variable holding the password: no
secret in the file), ``base_dn``, ``filter`` (``{national_id}`` and ``{email}`` are
replaced, escaped), ``start_tls``, ``ca_file`` and ``allow_plain`` (README "Staff
directory (LDAP)"). Without a ``directory``, the IDP_DIRECTORY_*
settings, when set, serve every agency.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from idp.config import ConfigError, Settings

BUILT_IN = Path(__file__).with_name("agencies.json")


@dataclass(frozen=True)
class DirectoryConfig:
    url: str
    bind_dn: str
    bind_password: str
    base_dn: str
    filter: str
    allow_plain: bool = False
    start_tls: bool = False  # StartTLS on an ldap:// URL (RFC 4511 section 4.14)
    ca_file: str = ""  # CA bundle (PEM) to verify the server; empty = the system's

    @property
    def is_plain(self) -> bool:
        """Credentials and answers would cross the network in clear (SECURITY.md X-01):
        an ``ldap://`` URL without StartTLS and not explicitly allowed."""
        return self.url.lower().startswith("ldap://") and not (self.start_tls or self.allow_plain)

    def __repr__(self) -> str:  # never the bind password, in a log or a traceback
        return (
            f"DirectoryConfig(url={self.url!r}, bind_dn={self.bind_dn!r}, base_dn={self.base_dn!r})"
        )


@dataclass(frozen=True)
class Agency:
    code: str
    name_th: str
    name_en: str
    require_second_factor: bool = False
    directory: DirectoryConfig | None = None

    def name(self, locale: str) -> str:
        return self.name_th if locale == "th" or not self.name_en else self.name_en


def _global_directory(settings: Settings) -> DirectoryConfig | None:
    if not settings.directory_url:
        return None
    return DirectoryConfig(
        url=settings.directory_url,
        bind_dn=settings.directory_bind_dn,
        bind_password=settings.directory_bind_password,
        base_dn=settings.directory_base_dn,
        filter=settings.directory_filter,
        allow_plain=settings.directory_allow_plain,
        start_tls=settings.directory_start_tls,
        ca_file=settings.directory_ca_file,
    )


@cache
def _read(path: str) -> tuple[dict, ...]:
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"IDP_AGENCIES_FILE {path!r} is not readable JSON: {exc}") from None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("code"), str) and e.get("name_th") for e in entries
    ):
        raise ConfigError(f"IDP_AGENCIES_FILE {path!r}: a list of {{code, name_th, ...}}")
    return tuple(entries)


def load_agencies(settings: Settings) -> list[Agency]:
    """The configured agencies, in file order. Raises ConfigError on a bad file."""
    fallback = _global_directory(settings)
    agencies = []
    for entry in _read(settings.agencies_file or str(BUILT_IN)):
        d = entry.get("directory")
        directory = fallback
        if isinstance(d, dict):
            directory = DirectoryConfig(
                url=str(d.get("url", "")),
                bind_dn=str(d.get("bind_dn", "")),
                bind_password=os.environ.get(str(d.get("bind_password_env", "")), ""),
                base_dn=str(d.get("base_dn", "")),
                filter=str(d.get("filter", settings.directory_filter)),
                allow_plain=bool(d.get("allow_plain", False)),
                start_tls=bool(d.get("start_tls", False)),
                ca_file=str(d.get("ca_file", "")),
            )
        agencies.append(
            Agency(
                code=entry["code"],
                name_th=entry["name_th"],
                name_en=str(entry.get("name_en", "")),
                require_second_factor=bool(entry.get("require_second_factor", False)),
                directory=directory,
            )
        )
    return agencies


def find_agency(settings: Settings, code: str) -> Agency | None:
    return next((a for a in load_agencies(settings) if a.code == code), None)
