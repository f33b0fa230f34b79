"""The membership claim and verified_claims (OpenID Connect for Identity Assurance 1.0)
built from a stored verdict alone (SECURITY.md X-04)."""

from __future__ import annotations

import pytest

from idp.oidc import assurance
from idp.oidc.claims_request import (
    ClaimsParameterError,
    scope_with_verified_claims,
    verified_claims_request,
)

AT = 1_767_322_800  # 2026-01-02T03:00:00Z
CLAIMS = {
    "given_name": "Somchai",
    "family_name": "Jaidee",
    "birthdate": "1990-05-01",
    "given_name#th": "สมชาย",
    "family_name#th": "ใจดี",
    "id_number": "1101700230705",  # never released, whatever a verifier stored
}


def full():
    return assurance.full_verified_claims(
        method="registry",
        at=AT,
        trust_framework="th_dopa",
        evidence_type="electronic_record",
        evidence_ref="txn-42",
        claims=CLAIMS,
    )


def test_full_verified_claims_shape_ida_1_0():
    vc = full()
    assert vc["verification"] == {
        "trust_framework": "th_dopa",
        "time": "2026-01-02T03:00:00Z",
        "verification_process": "registry",
        "evidence": [
            {
                "type": "electronic_record",
                "check_details": [{"check_method": "data", "txn": "txn-42"}],
                "time": "2026-01-02T03:00:00Z",
            }
        ],
    }
    assert set(vc["claims"]) == set(assurance.CLAIMS_IN_VERIFIED_CLAIMS)


def test_identity_numbers_and_unknown_claims_are_never_released_X04():
    assert "id_number" not in full()["claims"]


def test_a_verdict_without_claims_or_framework_releases_nothing():
    kw = dict(method="directory", at=AT, evidence_type="", evidence_ref="")
    assert assurance.full_verified_claims(trust_framework="th_agency", claims={}, **kw) is None
    assert assurance.full_verified_claims(trust_framework="", claims=CLAIMS, **kw) is None


@pytest.mark.parametrize(
    "request_,claims,verification",
    [
        (None, set(assurance.CLAIMS_IN_VERIFIED_CLAIMS), set(assurance.VERIFICATION_ELEMENTS)),
        ({"claims": {"given_name": None}}, {"given_name"}, {"trust_framework"}),
        (
            {"verification": {"time": None, "evidence": None}, "claims": {"birthdate": None}},
            {"birthdate"},
            {"trust_framework", "time", "evidence"},
        ),
        (
            {"verification": {"trust_framework": {"value": "th_dopa"}}, "claims": {"a": None}},
            None,  # no requested claim is available
            None,
        ),
        (
            {
                "verification": {"trust_framework": {"value": "eidas"}},
                "claims": {"given_name": None},
            },
            None,
            None,
        ),
        (
            {
                "verification": {"trust_framework": {"values": ["eidas", "th_dopa"]}},
                "claims": {"given_name#th": None},
            },
            {"given_name#th"},
            {"trust_framework"},
        ),
        ({"claims": {}}, None, None),
        ({"verification": {}}, None, None),
        (
            [{"claims": {"nope": None}}, {"claims": {"family_name": None}}],
            {"family_name"},
            {"trust_framework"},
        ),
    ],
)
def test_requested_sub_claims_are_honoured_ida_1_0_section_6(request_, claims, verification):
    picked = assurance.select_verified_claims(full(), request_)
    if claims is None:
        assert picked is None
    else:
        assert set(picked["claims"]) == claims
        assert set(picked["verification"]) == verification


def test_nothing_when_not_verified():
    assert assurance.select_verified_claims(None, None) is None


@pytest.mark.parametrize(
    "status,expires,claim",
    [
        (
            "temporary",
            AT,
            {"type": "public", "state": "temporary", "badge": False, "expires_at": AT},
        ),
        ("verified", None, {"type": "public", "state": "verified", "badge": False}),
    ],
)
def test_membership_claim(status, expires, claim):
    assert assurance.membership_claim("public", status, expires, False) == claim


def test_claims_parameter_verified_claims_request():
    raw = (
        '{"id_token": {"verified_claims": {"claims": {"given_name": null}}},'
        ' "userinfo": {"email": null}}'
    )
    assert verified_claims_request(raw) == {"id_token": {"claims": {"given_name": None}}}
    assert verified_claims_request(None) == {}
    for bad in (
        '{"userinfo": {"verified_claims": 3}}',
        '{"userinfo": {"verified_claims": []}}',
        '{"userinfo": {"verified_claims": {"claims": []}}}',
    ):
        with pytest.raises(ClaimsParameterError):
            verified_claims_request(bad)


def test_a_claims_request_adds_the_scope_only_for_a_client_allowed_it():
    raw = '{"userinfo": {"verified_claims": {"claims": {"given_name": null}}}}'
    assert scope_with_verified_claims("openid", raw, ["openid", "verified_claims"])[0] == (
        "openid verified_claims"
    )
    assert scope_with_verified_claims("openid", raw, ["openid"]) == ("openid", {})
