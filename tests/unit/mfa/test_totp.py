"""TOTP verification: window, replay guard (NIST "accept only once"), format."""

from __future__ import annotations

import pyotp

from idp.mfa.totp import matching_step, new_secret, provisioning_uri

T = 1_800_000_000


def test_secret_is_160_bits():
    assert len(new_secret()) == 32  # base32: 5 bits per character


def test_current_and_adjacent_steps_accepted():
    secret = new_secret()
    totp = pyotp.TOTP(secret)
    for delta in (-30, 0, 30):
        assert matching_step(secret, totp.at(T + delta), T, None) == (T + delta) // 30


def test_two_steps_away_rejected():
    secret = new_secret()
    assert matching_step(secret, pyotp.TOTP(secret).at(T - 60), T, None) is None


def test_step_at_or_before_last_accepted_is_replay():
    secret = new_secret()
    code = pyotp.TOTP(secret).at(T)
    step = matching_step(secret, code, T, None)
    assert matching_step(secret, code, T, step) is None
    assert matching_step(secret, code, T + 10, step) is None


def test_malformed_codes_rejected():
    secret = new_secret()
    for code in ("", "12345", "1234567", "abcdef"):
        assert matching_step(secret, code, T, None) is None


def test_provisioning_uri_names_issuer_and_account():
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    uri = provisioning_uri(secret, "alice@example.org", "idp")
    assert uri.startswith("otpauth://totp/idp:alice%40example.org?")
    assert "issuer=idp" in uri and f"secret={secret}" in uri
