"""Character rules for untrusted protocol values (RFC 6749 4.1.2.1, 3.1.1; RFC 3986 2;
SECURITY.md I-03)."""

from __future__ import annotations

import pytest

from idp.oidc.syntax import (
    error_text,
    is_error_text,
    is_uri_text,
    malformed_authorization_parameter,
)

RP = "https://rp.example.org/callback"


@pytest.mark.parametrize(
    "uri",
    [
        RP,
        RP + "?a=1&b=%20x",
        "https://[::1]:8443/cb",
        "http://localhost:5001/callback",
        "https://rp.example.org/a-b_c.d~e/!$&'()*+,;=:@",
    ],
)
def test_uri_text_accepts_every_rfc3986_character(uri):
    assert is_uri_text(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "",
        RP + "\r\n",
        RP + "\n",
        RP + "\r",
        RP + "\x00",
        RP + "\t",
        RP + "\x7f",
        RP + " ",
        RP + '"',
        RP + "\\",
        RP + "<>",
        RP + "{}|^`",
        RP + "/ก",
    ],
)
def test_uri_text_refuses_whitespace_controls_and_non_uri_characters_rfc3986_2(uri):
    assert not is_uri_text(uri)


@pytest.mark.parametrize(
    "text,ok",
    [
        ("Redirect URI is not supported by client.", True),
        ("Multiple 'scope' in request.", True),
        ("a\r\nb", False),
        ('say "no"', False),
        ("back\\slash", False),
        ("ไทย", False),
        ("tab\there", False),
    ],
)
def test_error_text_is_the_rfc6749_4_1_2_1_set(text, ok):
    assert is_error_text(text) is ok


def test_error_text_drops_only_forbidden_characters():
    assert error_text("Parameter 'a\r\n\"b\\ก' is too long.") == "Parameter 'ab' is too long."
    assert is_error_text(error_text("\x00\x7f\u202e mixed \t text"))


@pytest.mark.parametrize(
    "values,expected",
    [
        ({"redirect_uri": RP, "response_type": "code"}, None),
        ({"response_type": "code id_token"}, None),
        ({}, None),
        ({"redirect_uri": ""}, None),  # empty: the registered default, Authlib decides
        ({"response_type": ""}, None),  # empty: Authlib's unsupported_response_type
        ({"redirect_uri": RP + "\r\nX: 1", "response_type": "code"}, "redirect_uri"),
        ({"redirect_uri": RP + "\x00"}, "redirect_uri"),
        ({"redirect_uri": RP + "/ก"}, "redirect_uri"),
        ({"redirect_uri": RP, "response_type": "code\n"}, "response_type"),
        ({"redirect_uri": RP, "response_type": 'code"'}, "response_type"),
        ({"redirect_uri": RP, "response_type": "code  token"}, "response_type"),
    ],
)
def test_malformed_authorization_parameter(values, expected):
    assert malformed_authorization_parameter(values) == expected
