"""The population-registry verifier (MISSION C2): national ID + Thai names + date of
birth, checked over HTTP against a configured endpoint (IDP_REGISTRY_URL).

The JSON contract (README "Plugging in a population registry"): we POST

    {"national_id": "1101700203450", "given_name_th": "สมชาย",
     "family_name_th": "ใจดี", "birthdate": "1985-04-12"}

(Gregorian ISO date; ``Authorization: Bearer IDP_REGISTRY_TOKEN`` when set) and expect
200 with ``{"match": true|false, "reference": "<the registry's transaction id>"}``.
A match confirms exactly the values we sent: they become the verdict's claims. Any
other status, a body that is not that shape, a timeout or a refused connection is
``UNAVAILABLE`` ("try later, or continue as a temporary member"), never a "no".

Outbound HTTP per SECURITY.md X-03: only the configured URL, connect 3 s and 10 s in
all (checked while reading, since ``requests``' read timeout is per chunk), no
redirects followed, at most 64 KiB of answer read, TLS verified. The number is sent
to the registry only; it is never logged (the log line names the outcome and the
reference).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import requests

from idp.config import Settings
from idp.enrollment.identity import NATIONAL_ID
from idp.enrollment.verifiers import ClaimedIdentity, Method, Outcome, Verdict

log = logging.getLogger("idp.enrollment.registry")

CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 10.0
MAX_ANSWER = 64 * 1024
TRUST_FRAMEWORK = (
    "th_dopa"  # the Thai population registry (Department of Provincial Administration)
)


class _TooSlow(Exception):
    pass


def _read_capped(resp: requests.Response, deadline: float) -> bytes:
    body = b""
    for chunk in resp.iter_content(8192):
        body += chunk
        if len(body) > MAX_ANSWER:
            raise ValueError("answer too large")
        if time.monotonic() > deadline:
            raise _TooSlow
    return body


@dataclass
class RegistryVerifier:
    """:class:`idp.enrollment.verifiers.Verifier` over IDP_REGISTRY_URL."""

    settings: Settings
    method: Method = Method.REGISTRY

    @property
    def is_configured(self) -> bool:
        return bool(self.settings.registry_url)

    def verify(self, claim: ClaimedIdentity, now: int) -> Verdict:
        def answer(outcome: Outcome, reason: str = "", reference: str = "") -> Verdict:
            log.info("registry check: %s %s ref=%s", outcome, reason, reference or "-")
            claims = {}
            if outcome is Outcome.VERIFIED:
                claims = {
                    "given_name#th": claim.given_name_th,
                    "family_name#th": claim.family_name_th,
                    "birthdate": claim.birthdate.isoformat() if claim.birthdate else "",
                }
                if claim.given_name_en:
                    claims["given_name"] = claim.given_name_en
                if claim.family_name_en:
                    claims["family_name"] = claim.family_name_en
            return Verdict(
                outcome=outcome,
                method=Method.REGISTRY,
                at=now,
                evidence_ref=reference,
                trust_framework=TRUST_FRAMEWORK if outcome is Outcome.VERIFIED else "",
                evidence_type="electronic_record" if outcome is Outcome.VERIFIED else "",
                claims=claims,
                reason=reason,
            )

        doc = claim.document
        if (
            not self.is_configured
            or doc is None
            or doc.kind != NATIONAL_ID
            or claim.birthdate is None
            or not claim.given_name_th.strip()
            or not claim.family_name_th.strip()
        ):
            return answer(Outcome.NOT_VERIFIED, "not_applicable")
        payload = {
            "national_id": doc.number,
            "given_name_th": claim.given_name_th.strip(),
            "family_name_th": claim.family_name_th.strip(),
            "birthdate": claim.birthdate.isoformat(),
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.settings.registry_token:
            headers["Authorization"] = f"Bearer {self.settings.registry_token}"
        deadline = time.monotonic() + TOTAL_TIMEOUT
        try:
            with requests.post(
                self.settings.registry_url,
                data=json.dumps(payload),
                headers=headers,
                timeout=(CONNECT_TIMEOUT, TOTAL_TIMEOUT),
                allow_redirects=False,
                stream=True,
            ) as resp:
                if resp.status_code != 200:
                    return answer(Outcome.UNAVAILABLE, f"status_{resp.status_code}")
                body = json.loads(_read_capped(resp, deadline))
        except (requests.Timeout, _TooSlow):
            return answer(Outcome.UNAVAILABLE, "timeout")
        except requests.RequestException:
            return answer(Outcome.UNAVAILABLE, "unreachable")
        except ValueError:
            return answer(Outcome.UNAVAILABLE, "bad_answer")
        if not isinstance(body, dict) or not isinstance(body.get("match"), bool):
            return answer(Outcome.UNAVAILABLE, "bad_answer")
        reference = body.get("reference")
        reference = reference[:100] if isinstance(reference, str) else ""
        if not body["match"]:
            return answer(Outcome.NOT_VERIFIED, "no_match", reference)
        return answer(Outcome.VERIFIED, "", reference)
