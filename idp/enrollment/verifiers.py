"""Identity verifiers: one interface for every way of proving who a person is.

A verifier takes the claimed identity and answers with a :class:`Verdict`; it never
raises for "no" or "cannot say": those are verdicts too. The wizard, the "verify now"
page and the jobs call verifiers only through this interface, so a deployment plugs in
its own (README "Plugging in a registry, an identity app, a directory").

======================  =============================  ==========================
method                  module                         evidence (OIDC IDA 1.0)
======================  =============================  ==========================
``registry``            idp.enrollment.registry        ``electronic_record``
``identity_app``        idp.enrollment.identity_app    ``electronic_record`` from
                                                       the provider's verified_claims
``directory``           idp.enrollment.directory       ``electronic_record`` (staff)
``document``            operator review of an upload   ``document``
======================  =============================  ==========================

The answers of registries and identity apps are untrusted input (SECURITY.md X-04):
a verifier schema-checks them and puts into ``claims`` only what the other side
confirmed; the ``verified_claims`` we issue are built from a stored Verdict alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from idp.enrollment.identity import IdentityDocument


class Method(StrEnum):
    REGISTRY = "registry"
    IDENTITY_APP = "identity_app"
    DIRECTORY = "directory"
    DOCUMENT = "document"


class Outcome(StrEnum):
    VERIFIED = "verified"  # the source confirms the claimed identity
    NOT_VERIFIED = "not_verified"  # the source answered: no match
    UNAVAILABLE = "unavailable"  # not reachable, timed out, malformed answer: try later
    CANCELLED = "cancelled"  # the person cancelled (identity app)


@dataclass(frozen=True)
class ClaimedIdentity:
    """What the person says about themself; any part may be unknown yet."""

    document: IdentityDocument | None = None
    given_name_th: str = ""
    family_name_th: str = ""
    given_name_en: str = ""
    family_name_en: str = ""
    birthdate: date | None = None
    email: str = ""
    agency: str = ""  # the agency code, for staff


@dataclass(frozen=True)
class Verdict:
    """One verifier's answer.

    ``evidence_ref`` identifies the check at the source (the registry's transaction id,
    the identity app's ``txn``, the directory entry's DN) so an auditor can trace it;
    it never holds the identity document number. ``claims`` are the values the source
    confirmed (keys as OIDC claims: ``given_name``, ``family_name``, ``birthdate``,
    ``given_name#th``, ``family_name#th``, ...), the only source of ``verified_claims``.
    ``reason`` is a short machine code for the logs and the page (``timeout``,
    ``bad_answer``, ``no_match``, ``cancelled``), never personal data.
    """

    outcome: Outcome
    method: Method
    at: int
    evidence_ref: str = ""
    trust_framework: str = ""  # e.g. "th_dopa" (registry), the app's own framework
    evidence_type: str = ""  # IDA evidence type: electronic_record | document
    claims: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.VERIFIED


class Verifier(Protocol):
    """A synchronous verifier (registry, directory): one call, a bounded time
    (SECURITY.md X-03: connect 3 s, total 10 s). The identity app is asynchronous
    (cross-device) and has its own start/poll functions, ending in a Verdict too."""

    method: Method

    def verify(self, claim: ClaimedIdentity, now: int) -> Verdict: ...
