"""Open-redirect rules for ``next`` after sign-in (SECURITY.md I-08)."""

from __future__ import annotations

import pytest

from idp.safe_redirect import MAX_LENGTH, local_path


@pytest.mark.parametrize(
    "value",
    [
        "/account",
        "/operator",
        "/operator/orgs?status=pending&q=Siam+Import",
        "/orgs/3/admin/audit?tag=org:scope:granted&since=2025-01-01",
        "/account/security",
        "/invite/AbC-123_xyz",
        "/operator/people?q=a%40b.example",
    ],
)
def test_paths_of_this_site_are_kept_with_their_query_I08(value):
    assert local_path(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "account",
        "evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "/path\\..\\x",
        "https://evil.example",
        "https://evil.example/account",
        "http:/evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "\t/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "\r\n/account",
        " /account",
        "/account ",
        "/acc\x00ount",
        "/acc\x7fount",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "/%09/evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "/operator/orgs?q=a\r\nSet-Cookie:x=1",
        "/operator/orgs?q=a b",
        "/account#fragment",
        "/บัญชี",
        "/" + "a" * MAX_LENGTH,
    ],
)
def test_anything_that_could_leave_the_site_is_refused_I08(value):
    assert local_path(value) is None


def test_the_longest_accepted_path_is_max_length():
    value = "/" + "a" * (MAX_LENGTH - 1)
    assert local_path(value) == value
