"""The schema check of an identity app's ``verified_claims`` (OpenID Connect for
Identity Assurance 1.0 section 5; SECURITY.md X-04: untrusted input)."""

from __future__ import annotations

import copy

import pytest

from idp.enrollment.verified_claims import VerifiedClaimsInvalid, check, request_claims

NOW = 1_800_000_000
GOOD = {
    "verification": {
        "trust_framework": "th_dopa",
        "time": "2027-01-15T08:00:00Z",
        "verification_process": "txn-123",
        "evidence": [{"type": "electronic_record", "record": {"type": "population_register"}}],
    },
    "claims": {
        "given_name": "Somsri",
        "family_name": "Rakthai",
        "given_name#th": "สมศรี",
        "birthdate": "1990-04-13",
        "national_id": "1101700123456",
        "email": "not-asked@example.org",
    },
}


def _with(path: str, value):
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = doc
    for name in parents:
        node = node[name]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return doc


def test_a_good_answer_keeps_only_the_verified_names_and_birthdate_ida_5():
    checked = check(GOOD, NOW)
    assert checked.trust_framework == "th_dopa"
    assert checked.verification_process == "txn-123"
    assert checked.evidence_type == "electronic_record"
    assert checked.verified_at == 1_800_000_000  # 2027-01-15T08:00:00Z
    assert checked.claims == {
        "given_name": "Somsri",
        "family_name": "Rakthai",
        "given_name#th": "สมศรี",
        "birthdate": "1990-04-13",
    }


def test_time_is_read_as_utc_epoch():
    assert check(_with("verification.time", "2027-01-15T08:00:00+07:00"), NOW).verified_at == (
        check(GOOD, NOW).verified_at - 7 * 3600
    )


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("verification", KeyError, "no_verified_claims"),
        ("verification", "text", "no_verified_claims"),
        ("verification.trust_framework", KeyError, "bad_trust_framework"),
        ("verification.trust_framework", "", "bad_trust_framework"),
        ("verification.trust_framework", "Has Spaces", "bad_trust_framework"),
        ("verification.trust_framework", 7, "bad_trust_framework"),
        ("verification.time", KeyError, "bad_time"),
        ("verification.time", "yesterday", "bad_time"),
        ("verification.time", "2099-01-01T00:00:00Z", "bad_time"),
        ("verification.time", 1700000000, "bad_time"),
        ("verification.verification_process", KeyError, "bad_verification_process"),
        ("verification.verification_process", "", "bad_verification_process"),
        ("verification.verification_process", "x" * 201, "bad_verification_process"),
        ("verification.evidence", KeyError, "bad_evidence"),
        ("verification.evidence", [], "bad_evidence"),
        ("verification.evidence", [{"type": "hearsay"}], "bad_evidence"),
        ("verification.evidence", [{}], "bad_evidence"),
        ("verification.evidence", "electronic_record", "bad_evidence"),
        ("claims", KeyError, "no_claims"),
        ("claims", {}, "no_claims"),
        ("claims", {"national_id": "1101700123456"}, "no_claims"),
        ("claims", {"given_name": 42, "birthdate": "1990-02-30"}, "no_claims"),
        ("claims", {"given_name": "a\x00b"}, "no_claims"),
    ],
)
def test_a_malformed_answer_is_refused_with_a_code_x04(path, value, code):
    with pytest.raises(VerifiedClaimsInvalid) as refused:
        check(_with(path, value), NOW)
    assert refused.value.code == code


@pytest.mark.parametrize("value", [None, "x", 3, [], [{}] * 6])
def test_no_verified_claims_at_all_is_refused(value):
    with pytest.raises(VerifiedClaimsInvalid):
        check(value, NOW)


def test_an_array_takes_its_first_valid_element_ida_5_2():
    bad = _with("verification.evidence", [])
    assert check([bad, GOOD], NOW).verification_process == "txn-123"
    with pytest.raises(VerifiedClaimsInvalid) as refused:
        check([bad, bad], NOW)
    assert refused.value.code == "bad_evidence"


def test_unusable_claims_are_dropped_not_kept():
    doc = _with("claims", {"given_name": "Somsri", "family_name": "", "birthdate": "13/04/1990"})
    assert check(doc, NOW).claims == {"given_name": "Somsri"}


def test_the_request_asks_names_and_birthdate_with_the_verification_metadata_ida_6():
    asked = request_claims()["id_token"]["verified_claims"]
    assert set(asked["verification"]) == {
        "trust_framework",
        "time",
        "verification_process",
        "evidence",
    }
    assert {"given_name", "family_name", "birthdate"} <= set(asked["claims"])
