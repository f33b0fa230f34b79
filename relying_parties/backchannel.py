"""The receiving side of OpenID Connect Back-Channel Logout 1.0 for the demo RPs.

The IdP POSTs ``logout_token=<JWT>`` to ``/backchannel-logout`` (section 2.5). The
token is checked as section 2.6 says: signature with a key of the IdP's JWKS (fetched
again once when the ``kid`` is unknown: a rotation), ``typ`` logout+jwt when present,
``iss`` the IdP, ``aud`` this client, ``iat`` and ``exp`` (small leeway), the
back-channel logout ``events`` member, a ``sid`` or ``sub``, no ``nonce``, and a
``jti`` not seen before. Then this RP's sessions for that ``sid`` (or, with ``sub``
alone, every session of ``sub`` started before the token) are ended (2.7), answer 200;
anything wrong is 400 with an error (2.8), ``Cache-Control: no-store`` on both.

The demo keeps its sessions in Flask's signed cookie, which the back channel cannot
delete; so the RP keeps a server-side revocation set keyed by ``sid`` (and ``sub``
cut-offs) and checks it on every request (:meth:`Revocations.is_ended`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY = 60  # seconds of clock skew accepted on iat/exp
MAX_AGE = 600  # a token issued longer ago than this is refused (iat, 2.6 step 5)
ALGORITHMS = ["RS256", "ES256"]


class InvalidLogoutToken(ValueError):
    """Section 2.6 refused the token; ``str()`` says which check (never the token)."""


@dataclass
class Revocations:
    """Ended sessions of one RP: sids, per-sub cut-offs and seen jtis (in memory: a
    restart of the demo also drops every cookie, its secret key being new)."""

    sids: set[str] = field(default_factory=set)
    subs: dict[str, int] = field(default_factory=dict)
    jtis: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def end(self, claims: dict) -> None:
        with self.lock:
            if claims.get("sid"):
                self.sids.add(claims["sid"])
            else:
                self.subs[claims["sub"]] = max(self.subs.get(claims["sub"], 0), claims["iat"])

    def seen(self, jti: str, t: int) -> bool:
        """Record ``jti``; True if it came before (a replay). Old ones are forgotten once
        no token carrying them could still be accepted."""
        with self.lock:
            for old in [j for j, at in self.jtis.items() if at < t - MAX_AGE - LEEWAY]:
                del self.jtis[old]
            if jti in self.jtis:
                return True
            self.jtis[jti] = t
            return False

    def is_ended(self, sid: str | None, sub: str | None, logged_in_at: int) -> bool:
        with self.lock:
            if sid and sid in self.sids:
                return True
            return bool(sub) and self.subs.get(sub, -1) >= logged_in_at


def validate_logout_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    jwks: Callable[[bool], dict],
    now: int | None = None,
) -> dict:
    """The claims of a valid logout token; raises :class:`InvalidLogoutToken`.
    ``jwks(force)`` returns the IdP's JWK set (``force``: fetch it again)."""
    t = int(time.time()) if now is None else now
    if not token or len(token) > 8192:
        raise InvalidLogoutToken("missing")
    try:
        kid = jws.extract_compact(token.encode()).headers().get("kid")
        keys = KeySet.import_key_set(jwks(False))
        if kid and not any(k.kid == kid for k in keys.keys):
            keys = KeySet.import_key_set(jwks(True))  # a key rotation: fetch once more
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
    except (ValueError, JoseError) as exc:
        raise InvalidLogoutToken("signature") from exc
    typ = decoded.header.get("typ")
    if typ is not None and typ.lower() not in ("logout+jwt", "application/logout+jwt"):
        raise InvalidLogoutToken("typ")
    claims = decoded.claims
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    events = claims.get("events")
    checks = [
        (claims.get("iss") == issuer, "iss"),
        (client_id in auds, "aud"),
        (isinstance(claims.get("iat"), int) and t - MAX_AGE <= claims["iat"] <= t + LEEWAY, "iat"),
        (isinstance(claims.get("exp"), int) and claims["exp"] > t - LEEWAY, "exp"),
        (isinstance(events, dict) and isinstance(events.get(LOGOUT_EVENT), dict), "events"),
        (bool(claims.get("sid")) or bool(claims.get("sub")), "sid_or_sub"),
        ("nonce" not in claims, "nonce"),
        (isinstance(claims.get("jti"), str) and bool(claims["jti"]), "jti"),
    ]
    for ok, name in checks:
        if not ok:
            raise InvalidLogoutToken(name)
    return claims
