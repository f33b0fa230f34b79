"""Character rules for untrusted protocol values (pure: no Flask, no database).

Authlib puts some request values into error descriptions (the ``redirect_uri``, the
``response_type``) and its ``OAuth2Error`` refuses a description with characters that
RFC 6749 4.1.2.1 forbids there by raising ``ValueError``: a request carrying such a
value was a 500. These checks let us refuse those values first, and keep our own error
descriptions inside the allowed set.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from urllib.parse import unquote

# RFC 6749 4.1.2.1 / 5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_ERROR_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_NOT_ERROR_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
# RFC 3986 2: unreserved, reserved and "%" of pct-encoded; nothing else is in a URI.
_URI = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# RFC 6749 3.1.1 and appendix A.3: response-name *( SP response-name ).
_RESPONSE_TYPE = re.compile(r"[A-Za-z0-9_]+( [A-Za-z0-9_]+)*")


def is_error_text(text: str) -> bool:
    """May ``text`` appear in an ``error_description`` as it is (RFC 6749 4.1.2.1)?"""
    return _ERROR_TEXT.fullmatch(text) is not None


def error_text(text: str) -> str:
    """``text`` without the characters an ``error_description`` may not contain."""
    return _NOT_ERROR_TEXT.sub("", text)


def is_uri_text(value: str) -> bool:
    """Only characters a URI can contain (RFC 3986 2): no whitespace, control
    characters, quotes, backslashes or non-ASCII. Says nothing about structure."""
    return _URI.fullmatch(value) is not None


def malformed_authorization_parameter(values: Mapping[str, str]) -> str | None:
    """The name of the first parameter of an authorization request that breaks its
    syntax in a way Authlib cannot report (it would echo it into an error description),
    or None. A non-empty ``redirect_uri`` must be URI text (a registered one always is: clients.py
    refuses others), ``response_type`` must follow RFC 6749 3.1.1."""
    redirect_uri = values.get("redirect_uri")
    if redirect_uri and not is_uri_text(redirect_uri):
        return "redirect_uri"
    response_type = values.get("response_type")
    if response_type and _RESPONSE_TYPE.fullmatch(response_type) is None:
        return "response_type"
    return None


def basic_credentials(header: str) -> tuple[str, str] | None:
    """The client id and secret of an HTTP Basic ``Authorization`` header (RFC 7617),
    each form-urlencoded inside it (RFC 6749 2.3.1), or None when the header is not
    strictly that: base64 with nothing outside its alphabet, UTF-8, a ``:``, and no NUL
    before or after the unquoting (PostgreSQL refuses NUL in text: a 500 otherwise).
    Authlib decodes leniently; the token endpoints refuse first what this refuses."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if ":" not in decoded:
        return None
    client_id, secret = (unquote(part) for part in decoded.split(":", 1))
    if "\x00" in decoded or "\x00" in client_id or "\x00" in secret:
        return None
    return client_id, secret
