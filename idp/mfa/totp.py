"""TOTP soft tokens (RFC 6238: SHA-1, 6 digits, 30 s) with pyotp; QR codes with qrcode."""

from __future__ import annotations

import base64
import io

import pyotp
import qrcode

STEP = 30
WINDOW = 1  # +-1 time step (SECURITY.md 7)


def new_secret() -> str:
    """160 random bits, base32 (RFC 4226 recommends >= 160)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The otpauth:// URI as a PNG data URI (inline image; CSP allows img-src data:)."""
    buf = io.BytesIO()
    qrcode.make(uri, box_size=6, border=2).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def matching_step(secret: str, code: str, at: int, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (within +-WINDOW of ``at``), or None.

    A step at or before ``last_step`` is refused: pyotp is stateless, so the replay
    guard is ours (NIST 800-63B "accept only once", ASVS 6.5.1).
    """
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = at // STEP
    for step in range(current - WINDOW, current + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(step * STEP), code):
            return step
    return None
