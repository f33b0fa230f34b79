"""The agency's brand: names, logo, primary colour and footer links from ``IDP_*``.

The colour is checked for WCAG 2.1 contrast (1.4.3, 4.5:1 against white) at start-up,
because it is the background of every primary button and the colour of every link: a
pale brand colour would make the whole IdP fail AA. The stylesheet that applies it is a
same-origin file (``/brand.css``), so the CSP keeps ``style-src 'self'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
LOGO_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
MIN_CONTRAST = 4.5


class BrandError(ValueError):
    """A brand setting cannot be used; the message names the variable."""


class BrandSettings(Protocol):
    brand_name_th: str
    brand_name_en: str
    brand_logo: str
    brand_primary_colour: str
    help_url: str
    privacy_url: str
    terms_url: str


@dataclass(frozen=True)
class FooterLink:
    kind: str  # help | privacy | terms
    url: str


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def shade(colour: str, factor: float) -> str:
    """``colour`` darkened towards black by ``factor`` (0..1): hover and active states."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * (1 - factor)):02x}" for c in (r, g, b))


def check_brand(settings: BrandSettings) -> None:
    colour = settings.brand_primary_colour
    if not HEX_COLOUR.fullmatch(colour):
        raise BrandError(f"IDP_BRAND_PRIMARY_COLOUR must be #rrggbb, not {colour!r}")
    ratio = contrast_ratio(colour, "#ffffff")
    if ratio < MIN_CONTRAST:
        raise BrandError(
            f"IDP_BRAND_PRIMARY_COLOUR {colour} has a contrast of {ratio:.2f}:1 against white; "
            f"white text on it needs {MIN_CONTRAST}:1 (WCAG 2.1 1.4.3): choose a darker colour"
        )
    if settings.brand_logo:
        path = Path(settings.brand_logo)
        if path.suffix.lower() not in LOGO_TYPES or not path.is_file():
            raise BrandError(
                "IDP_BRAND_LOGO must be an existing .svg, .png or .jpg file, "
                f"not {settings.brand_logo!r}"
            )
    for name in ("help_url", "privacy_url", "terms_url"):
        url = getattr(settings, name)
        if url and (not url.startswith(("https://", "http://", "/")) or url.startswith("//")):
            raise BrandError(f"IDP_{name.upper()} must be an http(s) URL or a path, not {url!r}")


def brand_name(settings: BrandSettings, locale: str) -> str:
    return settings.brand_name_th if locale == "th" else settings.brand_name_en


def footer_links(settings: BrandSettings) -> list[FooterLink]:
    pairs = (
        ("help", settings.help_url),
        ("privacy", settings.privacy_url),
        ("terms", settings.terms_url),
    )
    return [FooterLink(kind, url) for kind, url in pairs if url]


def stylesheet(settings: BrandSettings) -> str:
    """Bootstrap 5.3 custom properties for the brand colour (buttons, links, focus ring)."""
    c = settings.brand_primary_colour
    r, g, b = (int(c[i : i + 2], 16) for i in (1, 3, 5))
    hover, active = shade(c, 0.15), shade(c, 0.3)
    return f"""/* generated from IDP_BRAND_PRIMARY_COLOUR */
:root {{
  --bs-primary: {c}; --bs-primary-rgb: {r}, {g}, {b};
  --bs-link-color: {c}; --bs-link-color-rgb: {r}, {g}, {b};
  --bs-link-hover-color: {hover}; --bs-link-hover-color-rgb: {r}, {g}, {b};
  --idp-brand: {c}; --idp-brand-dark: {active};
  --bs-focus-ring-color: rgba({r}, {g}, {b}, .45);
}}
.btn-primary {{
  --bs-btn-bg: {c}; --bs-btn-border-color: {c};
  --bs-btn-hover-bg: {hover}; --bs-btn-hover-border-color: {hover};
  --bs-btn-active-bg: {active}; --bs-btn-active-border-color: {active};
  --bs-btn-disabled-bg: {c}; --bs-btn-disabled-border-color: {c};
  --bs-btn-focus-shadow-rgb: {r}, {g}, {b};
}}
.btn-outline-primary {{
  --bs-btn-color: {c}; --bs-btn-border-color: {c};
  --bs-btn-hover-bg: {c}; --bs-btn-hover-border-color: {c};
  --bs-btn-active-bg: {active}; --bs-btn-active-border-color: {active};
  --bs-btn-focus-shadow-rgb: {r}, {g}, {b};
}}
"""


class Brand:
    """The brand as templates see it: ``brand.name`` in the page's language, the links."""

    def __init__(self, settings: BrandSettings) -> None:
        self._settings = settings
        self.footer_links = footer_links(settings)
        self.has_logo_file = bool(settings.brand_logo)

    @property
    def name(self) -> str:
        from flask_babel import get_locale

        return brand_name(self._settings, str(get_locale() or "th"))

    def name_in(self, locale: str) -> str:
        """For mails: the recipient's language, not the page's."""
        return brand_name(self._settings, locale)
