"""The staff-directory verifier (MISSION C3): is this person, by national ID or email,
in their agency's staff directory (LDAP)? A match gives the staff badge at once.

The directory of an agency is its ``directory`` entry in the agencies file, or the
IDP_DIRECTORY_* settings for every agency without one (:mod:`idp.enrollment.agencies`).
We bind as the configured service account (``bind_dn``; anonymous when empty), search
``base_dn`` (subtree) with ``filter``, in which ``{national_id}`` and ``{email}`` are
replaced by the claimed values, each escaped with ``escape_filter_chars`` (SECURITY.md
X-01: ``*)(uid=*`` is a value to look for, never filter syntax), and read at most two
entries:

* exactly one entry: ``VERIFIED``, method ``directory``, ``evidence_ref`` = the entry's
  DN (never the ID number), ``claims`` = what the directory holds of the person:
  ``given_name``/``family_name`` (``givenName``, ``sn``), the Thai ones
  (``givenName;lang-th``, ``sn;lang-th``) and ``email`` (``mail``);
* no entry: ``NOT_VERIFIED`` (``no_match``); two or more: ``NOT_VERIFIED``
  (``ambiguous``: an ID and an email pointing at different people prove nothing);
* the directory is not reachable, slow, refuses our bind or the search:
  ``UNAVAILABLE`` (the wizard offers the document path).

Transport: ``ldaps://``, or ``ldap://`` with StartTLS (``start_tls``), certificates
verified (``ca_file`` or the system's CAs). In production a plain ``ldap://`` is refused
at start-up (:func:`idp.config.check_production`) and again here (``plain_refused``),
unless the entry says ``allow_plain``. Time: connect 3 s, 10 s in all (X-03): each
step gets what is left of the 10 s as its socket timeout.

The bind password is never logged; log lines name the agency, the outcome and the DN.
The caller passes an email only once the person has proved it (the emailed code): a
match by an unproved address would prove nothing.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from dataclasses import dataclass

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from idp.config import Settings
from idp.enrollment.agencies import DirectoryConfig, find_agency, load_agencies
from idp.enrollment.identity import NATIONAL_ID
from idp.enrollment.verifiers import ClaimedIdentity, Method, Outcome, Verdict

log = logging.getLogger("idp.enrollment.directory")

CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 10.0
# LDAP attribute -> claim (OIDC names; "#th" for the Thai language tag).
CLAIM_ATTRIBUTES = {
    "givenName": "given_name",
    "sn": "family_name",
    "givenName;lang-th": "given_name#th",
    "sn;lang-th": "family_name#th",
    "mail": "email",
}
MAX_CLAIM = 200


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def search_filter(template: str, national_id: str, email: str) -> str:
    """``template`` with ``{national_id}`` and ``{email}`` replaced by the escaped
    values (RFC 4515 section 3; SECURITY.md X-01). Raises ValueError on a template
    with other fields."""
    return template.format(
        national_id=escape_filter_chars(national_id), email=escape_filter_chars(email)
    )


def directory_for(settings: Settings, agency_code: str) -> DirectoryConfig | None:
    """The directory serving ``agency_code``: its own entry, else the IDP_DIRECTORY_*
    one; None when the agency is unknown or nothing is configured."""
    agency = find_agency(settings, agency_code)
    return agency.directory if agency is not None else None


def any_directory(settings: Settings) -> bool:
    """Whether any agency has a directory (the wizard says so on step 2)."""
    return any(a.directory is not None for a in load_agencies(settings))


def _first(value: object) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").strip()[:MAX_CLAIM]


@dataclass
class DirectoryVerifier:
    """:class:`idp.enrollment.verifiers.Verifier` over the claimed agency's directory."""

    settings: Settings
    method: Method = Method.DIRECTORY

    def verify(self, claim: ClaimedIdentity, now: int) -> Verdict:
        config = directory_for(self.settings, claim.agency)
        national_id = (
            claim.document.number
            if claim.document is not None and claim.document.kind == NATIONAL_ID
            else ""
        )
        email = claim.email.strip()

        def answer(outcome: Outcome, reason: str = "", dn: str = "", claims=None) -> Verdict:
            log.info(
                "directory check for agency %s: %s %s dn=%s",
                claim.agency or "-",
                outcome,
                reason,
                dn or "-",
            )
            return Verdict(
                outcome=outcome,
                method=Method.DIRECTORY,
                at=now,
                evidence_ref=dn,
                evidence_type="electronic_record" if outcome is Outcome.VERIFIED else "",
                claims=dict(claims or {}),
                reason=reason,
            )

        if config is None or not (national_id or email):
            return answer(Outcome.NOT_VERIFIED, "not_applicable")
        if self.settings.is_production and config.is_plain:
            log.error("directory of agency %s: plain ldap:// refused in production", claim.agency)
            return answer(Outcome.UNAVAILABLE, "plain_refused")
        try:
            query = search_filter(config.filter, national_id, email)
        except (KeyError, IndexError, ValueError):
            log.error("directory of agency %s: the filter template is invalid", claim.agency)
            return answer(Outcome.UNAVAILABLE, "bad_filter")
        try:
            entries = self._search(config, query)
        except _Refused as refused:
            return answer(Outcome.UNAVAILABLE, refused.reason)
        if not entries:
            return answer(Outcome.NOT_VERIFIED, "no_match")
        if len(entries) > 1:
            return answer(Outcome.NOT_VERIFIED, "ambiguous")
        dn, attributes = entries[0]
        claims = {}
        for attribute, name in CLAIM_ATTRIBUTES.items():
            value = _first(attributes.get(attribute))
            if value:
                claims[name] = value
        return answer(Outcome.VERIFIED, "", dn[:200], claims)

    def _search(self, config: DirectoryConfig, query: str) -> list[tuple[str, dict]]:
        """The entries (DN, attributes) matching ``query``, at most two. Raises
        :class:`_Refused` with the reason when the directory cannot answer."""
        deadline = time.monotonic() + TOTAL_TIMEOUT

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Refused("timeout")
            return remaining

        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            version=ssl.PROTOCOL_TLS_CLIENT,
            ca_certs_file=config.ca_file or None,
        )
        try:
            server = Server(config.url, connect_timeout=CONNECT_TIMEOUT, tls=tls, get_info=NONE)
            conn = Connection(
                server,
                user=config.bind_dn or None,
                password=config.bind_password or None,
                receive_timeout=max(1, int(TOTAL_TIMEOUT)),  # ldap3 packs it as an int
                raise_exceptions=False,
                read_only=True,
            )
        except LDAPException:
            log.error("directory URL %r is not usable", config.url)
            raise _Refused("bad_config") from None
        try:
            conn.open()
            conn.socket.settimeout(left())
            if config.start_tls and not conn.start_tls():
                raise _Refused("tls_failed")
            conn.socket.settimeout(left())
            if not conn.bind():
                log.error(
                    "directory %s refused the bind as %s: %s",
                    config.url,
                    config.bind_dn or "(anonymous)",
                    conn.result.get("description", "?"),
                )
                raise _Refused("bind_failed")
            conn.socket.settimeout(left())
            ok = conn.search(
                config.base_dn,
                query,
                search_scope=SUBTREE,
                attributes=list(CLAIM_ATTRIBUTES),
                size_limit=2,
                time_limit=int(max(1, left())),
            )
            result = conn.result.get("description", "")
            if not ok and result not in ("success", "noSuchObject", "sizeLimitExceeded"):
                log.error("directory %s refused the search: %s", config.url, result)
                raise _Refused("search_failed")
            return [
                (str(e["dn"]), dict(e.get("attributes") or {}))
                for e in (conn.response or [])
                if e.get("type") == "searchResEntry"
            ]
        except _Refused:
            raise
        except (LDAPException, OSError, ssl.SSLError) as err:
            reason = "timeout" if "timed out" in str(err).lower() else "unreachable"
            log.warning("directory %s not reachable: %s", config.url, type(err).__name__)
            raise _Refused(reason) from None
        finally:
            with contextlib.suppress(LDAPException, OSError):
                conn.unbind()
            if conn.socket is not None:  # ldap3 leaves it open after a failed connect
                conn.socket.close()
