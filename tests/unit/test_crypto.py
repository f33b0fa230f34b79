"""idp.crypto: one key per use (HKDF ``info``), so a token of one use never decrypts as
another's (SECURITY.md X-06: the outbox's sealed mails and the TOTP seeds at rest)."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from idp import crypto

KEY = "test-secret-key-0123456789abcdef0123456789"


def test_a_token_decrypts_only_under_its_own_purpose_X06():
    token = crypto.encrypt(KEY, "a sealed mail", purpose=b"idp mail outbox")
    assert crypto.decrypt(KEY, token, purpose=b"idp mail outbox") == "a sealed mail"
    with pytest.raises(InvalidToken):
        crypto.decrypt(KEY, token)  # the TOTP seeds' key
    with pytest.raises(InvalidToken):
        crypto.decrypt(
            "another-secret-key-0123456789abcdef012345", token, purpose=b"idp mail outbox"
        )


def test_totp_seeds_keep_their_key():
    """The default purpose is the seeds' own: seeds enrolled before stay readable."""
    token = crypto.encrypt(KEY, "JBSWY3DPEHPK3PXP")
    assert crypto.decrypt(KEY, token, purpose=crypto.TOTP_SEEDS) == "JBSWY3DPEHPK3PXP"
