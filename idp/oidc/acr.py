"""Authentication context classes (our URNs, ordered) and RFC 8176 amr values.

Issue 2 only knows passwords; the MFA issue extends the ladder's use.
"""

from __future__ import annotations

ACR_PASSWORD = "urn:idp:acr:pwd"  # noqa: S105 - a URN, not a secret
ACR_MFA_EMAIL = "urn:idp:acr:mfa-email"
ACR_MFA = "urn:idp:acr:mfa"
ACR_PHISHING_RESISTANT = "urn:idp:acr:phr"

# Lowest to highest; each level satisfies those below it.
ACR_LADDER = (ACR_PASSWORD, ACR_MFA_EMAIL, ACR_MFA, ACR_PHISHING_RESISTANT)
AMR_PASSWORD = "pwd"  # noqa: S105 - RFC 8176 value
