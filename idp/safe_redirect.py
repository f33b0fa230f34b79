"""Where the browser may be sent back to after signing in: a path on this site, never
another origin (SECURITY.md I-08, OWASP ASVS 5.0 V3.7 open redirects). Pure: no Flask.

A browser resolves a ``Location`` against the current origin, so a value that starts
with a single ``/`` stays on this site, while ``//host``, ``/\\host`` (browsers read
``\\`` as ``/``), ``https://host`` and ``javascript:`` do not. Browsers also drop tabs
and newlines from URLs (``/\\t/host`` becomes ``//host``), and some servers decode
``%2F`` before routing, so those are refused too, also once percent-decoded.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048


def _printable_ascii(text: str) -> bool:
    return all("\x21" <= c <= "\x7e" for c in text)


def local_path(value: str | None) -> str | None:
    """``value`` when it is a path of this site with an optional query, else None.

    Accepted: at most ``MAX_LENGTH`` characters of printable ASCII (no space, no
    control character), starting with exactly one ``/``, no backslash, no scheme, host
    or fragment; its path percent-decoded still starts with one ``/`` and has no
    backslash or control character. The query is kept as it is.
    """
    if not value or len(value) > MAX_LENGTH or not _printable_ascii(value):
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment or "#" in value:
        return None
    decoded = unquote(parts.path)
    if decoded.startswith("//") or "\\" in decoded or not _printable_ascii(decoded):
        return None
    return value
