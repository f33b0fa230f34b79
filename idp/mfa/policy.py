"""Step-up policy (pure): does what the session has done satisfy what is demanded?

Inputs are frozen values; no clock inside (``now`` is passed). The authorization view
only redirects on the decision's ``next_step``.

Levels, lowest first (each satisfies those below it)::

    urn:idp:acr:pwd        password
    urn:idp:acr:mfa-email  password + email OTP     (not AAL2: NIST 800-63B, ASVS 6.3.6)
    urn:idp:acr:mfa        password + TOTP | password + WebAuthn             (AAL2)
    urn:idp:acr:phr        WebAuthn with user verification (phishing-resistant)

Demands come from the client's minimum, each requested scope's level, ``acr_values``
(voluntary) and an essential ``acr`` in the ``claims`` parameter. Voluntary values are
met when the person can meet them and otherwise fall back to what was done (OIDC Core
5.5.1.1); the client's and scopes' minimums and essential values must be met or the
request fails (``access_denied``), after enrolment where the person has no factor.
Freshness: ``max_age`` or ``prompt=login`` make factors older than the cut-off count for
nothing, so the whole login (password and second factor) is done again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from idp.oidc.acr import (
    ACR_LADDER,
    ACR_MFA,
    ACR_MFA_EMAIL,
    ACR_PASSWORD,
    ACR_PHISHING_RESISTANT,
)

# Factor kinds a session can record, with the amr values (RFC 8176) they add.
PASSWORD, TOTP, EMAIL, WEBAUTHN, WEBAUTHN_UV, RECOVERY = (
    "pwd",
    "totp",
    "email",
    "webauthn",
    "webauthn_uv",
    "recovery",
)
AMR_EMAIL = "email"  # no RFC 8176 value for an emailed code: our documented custom value
AMR = {
    PASSWORD: ("pwd",),
    TOTP: ("otp",),
    EMAIL: (AMR_EMAIL,),
    WEBAUTHN: ("hwk",),
    WEBAUTHN_UV: ("hwk", "user"),
    RECOVERY: ("otp",),
}
# What each second factor lifts a password login to.
FACTOR_LEVEL = {
    EMAIL: ACR_MFA_EMAIL,
    TOTP: ACR_MFA,
    RECOVERY: ACR_MFA,
    WEBAUTHN: ACR_MFA,
    WEBAUTHN_UV: ACR_PHISHING_RESISTANT,
}


def rank(acr: str) -> int:
    return ACR_LADDER.index(acr)


@dataclass(frozen=True)
class Requirement:
    client_min: str = ACR_PASSWORD
    scope_levels: tuple[str, ...] = ()
    voluntary: tuple[str, ...] = ()  # acr_values, in preference order
    essential: tuple[str, ...] | None = None  # claims.id_token.acr.values when essential
    max_age: int | None = None
    login_after: int | None = None  # prompt=login: factors must be newer than this
    email_allowed: bool = True  # the client accepts email OTP as a second step


@dataclass(frozen=True)
class SessionAuth:
    factors: dict[str, int] = field(default_factory=dict)  # kind -> time it was proven
    enrolled: frozenset[str] = frozenset()  # second-factor kinds the person can use


@dataclass(frozen=True)
class Decision:
    satisfied: bool
    reasons: tuple[str, ...] = ()
    next_step: str | None = None  # "password" | "second_factor" | "enrol" | "deny"
    required: str = ACR_PASSWORD
    factors: tuple[str, ...] = ()  # kinds that would satisfy the next step
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: int | None = None  # when satisfied: the latest factor that counted
    description: str = ""


def _fresh(auth: SessionAuth, req: Requirement, now: int) -> dict[str, int]:
    cutoff = -1
    if req.max_age is not None:
        cutoff = max(cutoff, now - req.max_age)
    if req.login_after is not None:
        cutoff = max(cutoff, req.login_after)
    return {k: t for k, t in auth.factors.items() if t >= cutoff}


def achieved(factors: dict[str, int] | set[str]) -> str | None:
    """The level the proven factors reach (None without a password)."""
    if PASSWORD not in factors:
        return None
    best = ACR_PASSWORD
    for kind in factors:
        level = FACTOR_LEVEL.get(kind)
        if level and rank(level) > rank(best):
            best = level
    return best


def amr_for(factors: dict[str, int] | set[str]) -> tuple[str, ...]:
    values: list[str] = []
    for kind in (PASSWORD, TOTP, RECOVERY, EMAIL, WEBAUTHN, WEBAUTHN_UV):
        if kind in factors:
            values += [v for v in AMR[kind] if v not in values]
    if len([k for k in factors if k != PASSWORD]) and PASSWORD in factors:
        values.append("mfa")
    return tuple(values)


def factors_for(level: str, email_allowed: bool) -> tuple[str, ...]:
    """Second-factor kinds whose level meets ``level``."""
    kinds = [
        k for k in (TOTP, WEBAUTHN_UV, WEBAUTHN, EMAIL) if rank(FACTOR_LEVEL[k]) >= rank(level)
    ]
    if not email_allowed:
        kinds = [k for k in kinds if k != EMAIL]
    return tuple(kinds)


def _usable(kinds: tuple[str, ...], enrolled: frozenset[str]) -> tuple[str, ...]:
    # WebAuthn credentials can do UV or not; an enrolled "webauthn" may do both.
    have = set(enrolled)
    if WEBAUTHN in have:
        have.add(WEBAUTHN_UV)
    return tuple(k for k in kinds if k in have)


def required_level(req: Requirement) -> str:
    """The level that must be met: the client's and the scopes' minimums and an
    essential acr (voluntary ``acr_values`` are wishes, not requirements). The refresh
    grant checks a grant's acr against it, so a refresh never bypasses step-up."""
    hard = [req.client_min, *req.scope_levels]
    known_essential = [a for a in (req.essential or ()) if a in ACR_LADDER]
    if known_essential:  # any listed value is acceptable: the lowest is the bar
        hard.append(min(known_essential, key=rank))
    return max(hard, key=rank)


def decide(req: Requirement, auth: SessionAuth, now: int) -> Decision:
    fresh = _fresh(auth, req, now)
    if PASSWORD not in fresh:
        reasons = ("no_session",) if not auth.factors else ("reauthenticate",)
        return Decision(False, reasons, "password")

    known_essential = tuple(a for a in (req.essential or ()) if a in ACR_LADDER)
    if req.essential is not None and not known_essential:
        return Decision(
            False,
            ("acr_unknown",),
            "deny",
            description="None of the requested essential acr values is supported.",
        )

    required = required_level(req)
    voluntary = [a for a in req.voluntary if a in ACR_LADDER]
    target = required
    if voluntary:
        wish = min(voluntary, key=rank)
        if rank(wish) > rank(required):
            can = _usable(factors_for(wish, req.email_allowed), auth.enrolled)
            if can or rank(achieved(fresh) or ACR_PASSWORD) >= rank(wish):
                target = wish

    have = achieved(fresh) or ACR_PASSWORD
    if rank(have) >= rank(target):
        return Decision(
            True, (), None, target, acr=have, amr=amr_for(fresh), auth_time=max(fresh.values())
        )

    kinds = factors_for(target, req.email_allowed)
    usable = _usable(kinds, auth.enrolled)
    reasons = ("acr_unmet",) if auth.enrolled - {EMAIL} else ("no_second_factor",)
    if usable:
        return Decision(False, reasons, "second_factor", target, usable)
    # Nothing enrolled meets it. The client's (or a scope's) own minimum leads through
    # enrolment; an essential acr the person cannot meet is refused (SECURITY.md M-02).
    enrollable = tuple(k for k in kinds if k in (TOTP, WEBAUTHN, WEBAUTHN_UV))
    own_minimum = max([req.client_min, *req.scope_levels], key=rank)
    if not enrollable or rank(target) > rank(own_minimum):
        return Decision(
            False,
            reasons,
            "deny",
            target,
            description="The required authentication level cannot be reached.",
        )
    return Decision(False, reasons, "enrol", target, enrollable)
