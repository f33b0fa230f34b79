"""Demo relying parties that log in through the IdP with Authlib's OIDC client."""
