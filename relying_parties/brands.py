"""How each demo relying party looks: its own name (Thai and English), a short mark for
its logo tile, an accent colour and a one-line summary, so that the demo reads as
separate government applications that all delegate sign-in to the same IdP.

Every accent is the background of white text (header, primary button), so each keeps
WCAG 2.1 1.4.3's 4.5:1 against white (checked in tests/unit/relying_parties).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Brand:
    name_th: str
    name_en: str
    mark: str  # two to four characters on the logo tile
    accent: str  # #rrggbb, 4.5:1 against white
    summary_th: str = ""
    summary_en: str = ""

    def name(self, locale: str) -> str:
        return self.name_th if locale == "th" else self.name_en

    def summary(self, locale: str) -> str:
        return self.summary_th if locale == "th" else self.summary_en


# Keyed by RPConfig.slug: the demo (idp/demo.py) and the e2e tests use these slugs.
BRANDS: dict[str, Brand] = {
    "emt": Brand(
        name_th="ระบบติดตามวัตถุดิบนำเข้า (eMT)",
        name_en="eMT – Import Material Tracking",
        mark="eMT",
        accent="#0b6b4f",
        summary_th="ติดตามวัตถุดิบที่นำเข้าภายใต้สิทธิยกเว้นอากร และขออนุมัติปล่อยสินค้า",
        summary_en="Track materials imported under duty exemption and request their release.",
    ),
    "einvoice": Brand(
        name_th="ระบบใบกำกับภาษีและใบรับอิเล็กทรอนิกส์",
        name_en="e-Invoice / e-Receipt",
        mark="eTax",
        accent="#9a3412",
        summary_th="ส่งและตรวจดูใบกำกับภาษีและใบรับอิเล็กทรอนิกส์ของกิจการ",
        summary_en="Submit and view your business's electronic tax invoices and receipts.",
    ),
    "gfmis": Brand(
        name_th="ระบบบริหารการเงินการคลังภาครัฐ (สาธิต)",
        name_en="GFMIS-like Finance System",
        mark="GF",
        accent="#5b2a86",
        summary_th="เบิกจ่ายและติดตามงบประมาณของหน่วยงาน",
        summary_en="Disburse and follow the budget of a government agency.",
    ),
    "search": Brand(
        name_th="ระบบค้นหาข้อมูลทะเบียน",
        name_en="Records Search",
        mark="RS",
        accent="#1d4ed8",
        summary_th="ค้นหาข้อมูลทะเบียนนิติบุคคลและใบอนุญาต",
        summary_en="Search the registers of companies and licences.",
    ),
    "records": Brand(
        name_th="ระบบทะเบียนเอกสารอิเล็กทรอนิกส์",
        name_en="e-Records",
        mark="eR",
        accent="#9f1239",
        summary_th="ยื่นและติดตามเอกสารราชการของกิจการ",
        summary_en="File and follow your business's official documents.",
    ),
}

NEUTRAL_ACCENT = "#334155"


def brand_for(slug: str, title: str) -> Brand:
    """The slug's brand, or a neutral one named after the RP's title."""
    return BRANDS.get(slug) or Brand(
        name_th=title, name_en=title, mark=title[:2], accent=NEUTRAL_ACCENT
    )


def _mix(colour: str, other: str, weight: float) -> str:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = (round(x * (1 - weight) + y * weight) for x, y in zip(a, b, strict=True))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def stylesheet(brand: Brand) -> str:
    """The brand's custom properties, served as a same-origin file (the CSP has no
    'unsafe-inline', so the colour cannot go into a style attribute)."""
    accent = brand.accent
    return (
        ":root{"
        f"--accent:{accent};"
        f"--accent-dark:{_mix(accent, '#000000', 0.25)};"
        f"--accent-soft:{_mix(accent, '#ffffff', 0.9)};"
        f"--accent-line:{_mix(accent, '#ffffff', 0.6)};"
        "}\n"
    )


def favicon(brand: Brand) -> str:
    """An SVG tile in the accent colour with the brand's mark."""
    size = 30 if len(brand.mark) <= 2 else 22 if len(brand.mark) == 3 else 17
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{brand.accent}"/>'
        f'<text x="32" y="42" font-family="sans-serif" font-size="{size}" font-weight="700" '
        f'text-anchor="middle" fill="#ffffff">{escape(brand.mark)}</text></svg>'
    )
