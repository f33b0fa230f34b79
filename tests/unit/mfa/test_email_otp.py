"""Emailed one-time codes, the pure rules (SECURITY.md 7 "Email OTP / reset code"):
6 digits from ``secrets``, keyed hash, 10-minute TTL, resend pause, attempt limit,
single use, superseded by a resend."""

from __future__ import annotations

import hashlib

import pytest

from idp import crypto
from idp.mfa import email_otp
from idp.mfa.email_otp import POLICIES, Outcome, Policy, Purpose, StoredCode

T = 1_800_000_000
KEY = email_otp.code_key("test-secret-key-0123456789abcdef0123456789")
POLICY = Policy(ttl=600, resend_after=90, max_attempts=5)


def stored(code: str = "123456", **kw) -> StoredCode:
    return StoredCode(
        code_hash=email_otp.hash_code(KEY, code),
        created_at=kw.pop("created_at", T),
        expires_at=kw.pop("expires_at", T + 600),
        **kw,
    )


def test_code_is_six_digits_over_the_whole_range_NIST_800_63B_5_1_3(monkeypatch):
    asked = []

    def randbelow(n: int) -> int:
        asked.append(n)
        return 42

    monkeypatch.setattr(email_otp.secrets, "randbelow", randbelow)
    assert email_otp.new_code() == "000042"  # leading zeros kept: always 6 digits
    assert asked == [10**6]  # every 6-digit value possible, from the secrets RNG


def test_every_purpose_keeps_codes_at_most_10_minutes_ASVS_6_5_5():
    assert set(POLICIES) == set(Purpose)
    assert all(0 < p.ttl <= 600 and 0 < p.max_attempts <= 5 for p in POLICIES.values())


def test_each_caller_keeps_its_resend_pause_A10():
    """Sign-in codes 90 s apart, email-change codes 60 s ("less than a minute")."""
    assert POLICIES[Purpose.MFA].resend_after == 90
    assert POLICIES[Purpose.EMAIL_CHANGE].resend_after == 60


def test_hash_is_keyed_not_bare_sha256_SECURITY_7():
    digest = email_otp.hash_code(KEY, "123456")
    assert digest != hashlib.sha256(b"123456").hexdigest()
    assert "123456" not in digest
    assert digest == email_otp.hash_code(KEY, " 123456 ")  # blanks around do not count
    other = email_otp.code_key("another-secret-key-0123456789abcdef0123456")
    assert email_otp.hash_code(other, "123456") != digest  # needs the server key


def test_code_key_is_derived_and_separate_from_other_uses():
    secret = "test-secret-key-0123456789abcdef0123456789"
    assert KEY not in (secret.encode(), crypto.derive_key(secret, b"idp totp seeds"))
    # Not the HMAC keyed with the secret key itself (crypto.keyed_digest).
    assert email_otp.hash_code(KEY, "123456") != crypto.keyed_digest(secret, "123456")


def test_binding_is_stored_as_keyed_hash():
    flow_id = "Zk3xQ-flow-id"
    bound = email_otp.hash_binding(KEY, flow_id)
    assert flow_id not in bound and len(bound) == 64
    assert bound != email_otp.hash_binding(KEY, flow_id + "x")
    assert bound != email_otp.hash_code(KEY, flow_id)  # domain-separated from codes
    other = email_otp.code_key("another-secret-key-0123456789abcdef0123456")
    assert email_otp.hash_binding(other, flow_id) != bound  # keyed too


@pytest.mark.parametrize(
    ("last_sent", "t", "wait"),
    [
        (None, T, 0),  # never sent: now
        (T, T, 90),
        (T, T + 89, 1),
        (T, T + 90, 0),
        (T, T + 1000, 0),
    ],
)
def test_resend_pause_A10(last_sent, t, wait):
    assert email_otp.resend_wait(POLICY, last_sent, t) == wait


@pytest.mark.parametrize(
    ("code", "presented", "t", "outcome"),
    [
        (stored(), "123456", T, Outcome.ACCEPTED),
        (stored(), " 123456\n", T, Outcome.ACCEPTED),
        (stored(), "123457", T, Outcome.WRONG),
        (stored(), "", T, Outcome.WRONG),
        (stored(attempts=3), "000000", T, Outcome.WRONG),
        (stored(attempts=4), "000000", T, Outcome.SPENT),  # the last try: ask anew
        (stored(attempts=4), "123456", T, Outcome.ACCEPTED),
        (stored(attempts=5), "123456", T, Outcome.SPENT),  # tries used up
        (stored(), "123456", T + 599, Outcome.ACCEPTED),
        (stored(), "123456", T + 600, Outcome.SPENT),  # 10 minutes: expired
        (stored(used_at=T), "123456", T + 1, Outcome.SPENT),  # single use
        (stored(superseded_at=T + 90), "123456", T + 91, Outcome.SPENT),  # resent
        (None, "123456", T, Outcome.SPENT),  # none sent
    ],
)
def test_judge(code, presented, t, outcome):
    assert email_otp.judge(POLICY, code, presented, t, KEY) is outcome


def test_judge_compares_in_constant_time(monkeypatch):
    seen = []

    def compare_digest(a, b):
        seen.append((a, b))
        return a == b

    monkeypatch.setattr(email_otp.hmac, "compare_digest", compare_digest)
    assert email_otp.judge(POLICY, stored(), "123456", T, KEY) is Outcome.ACCEPTED
    assert seen == [(stored().code_hash, email_otp.hash_code(KEY, "123456"))]
