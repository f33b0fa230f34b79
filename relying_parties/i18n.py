"""The demo relying parties' own words in Thai and English, and human dates.

A relying party is a separate application: it keeps its own small catalogue instead of
the IdP's (whose strings are the IdP's product). Pure logic: no Flask, no clock.

Dates are shown in Thailand's time zone (UTC+7, no daylight saving) and, in Thai, with
the Buddhist-era year (พ.ศ. = Common Era + 543), as Thai government services do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

LOCALES = ("th", "en")
DEFAULT_LOCALE = "th"
THAILAND = timezone(timedelta(hours=7), "ICT")
BUDDHIST_ERA_OFFSET = 543
NBSP = "\u00a0"  # keeps the time and its unit on one line

TH_MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)
EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# English text -> Thai. Placeholders use str.format names.
THAI: dict[str, str] = {
    "Skip to content": "ข้ามไปยังเนื้อหา",
    "Demo application": "แอปพลิเคชันสาธิต",
    "Language": "ภาษา",
    "Sign in with {idp}": "เข้าสู่ระบบด้วย {idp}",
    "This service uses {idp} for sign-in: one account for every e-service, "
    "with the same password and second factor.": (
        "บริการนี้ใช้ {idp} ในการเข้าสู่ระบบ: บัญชีเดียวสำหรับทุกบริการอิเล็กทรอนิกส์ ด้วยรหัสผ่านและปัจจัยที่สองชุดเดียวกัน"
    ),
    "You will be taken to {idp} and brought back here.": ("ระบบจะพาท่านไปยัง {idp} แล้วกลับมาที่หน้านี้"),
    "Signed in": "เข้าสู่ระบบแล้ว",
    "Username": "ชื่อผู้ใช้",
    "Email": "อีเมล",
    "Acting for": "ดำเนินการในนามของ",
    "Tax ID": "เลขประจำตัวผู้เสียภาษี",
    "Switch organisation": "เปลี่ยนนิติบุคคล",
    "How you signed in": "วิธีที่ท่านเข้าสู่ระบบ",
    "Assurance level": "ระดับความน่าเชื่อถือ",
    "Methods": "วิธีการยืนยันตัวตน",
    "Signed in at": "เข้าสู่ระบบเมื่อ",
    "Access expires": "สิทธิ์เข้าถึงหมดอายุ",
    "Renewable without signing in again": "ต่ออายุได้โดยไม่ต้องเข้าสู่ระบบใหม่",
    "Yes (refresh token)": "ได้ (มีโทเค็นรีเฟรช)",
    "No": "ไม่ได้",
    "Rights granted to this application": "สิทธิ์ที่ท่านให้แก่แอปพลิเคชันนี้",
    "Sign out": "ออกจากระบบ",
    "Signing out here also signs you out of {idp}.": ("การออกจากระบบที่นี่จะออกจากระบบ {idp} ด้วย"),
    "This action asks you to confirm who you are again with your second factor.": (
        "การดำเนินการนี้จะขอให้ท่านยืนยันตัวตนอีกครั้งด้วยปัจจัยที่สอง"
    ),
    "{action}: done at acr {acr}": "{action}: ดำเนินการแล้วที่ระดับ acr {acr}",
    "For developers: raw claims": "สำหรับนักพัฒนา: ข้อมูล claims ดิบ",
    "ID token claims": "claims ในโทเค็น ID",
    "UserInfo response": "ผลลัพธ์จาก UserInfo",
    "You have signed out": "ท่านออกจากระบบแล้ว",
    "You have signed out of {app} and of {idp}.": "ท่านออกจากระบบ {app} และ {idp} แล้ว",
    "On a shared computer, close the browser as well.": (
        "หากใช้คอมพิวเตอร์ร่วมกับผู้อื่น โปรดปิดเบราว์เซอร์ด้วย"
    ),
    "Sign in again": "เข้าสู่ระบบอีกครั้ง",
    "Back to {app}": "กลับไปที่ {app}",
    "A demo relying party of idp. Sign-in is delegated to {idp} with OpenID Connect.": (
        "แอปพลิเคชันสาธิตของ idp ที่มอบหมายการเข้าสู่ระบบให้ {idp} ด้วย OpenID Connect"
    ),
    "Sign-in did not complete.": "การเข้าสู่ระบบไม่สำเร็จ",
    "Sign-in was cancelled or not allowed.": "การเข้าสู่ระบบถูกยกเลิกหรือไม่ได้รับอนุญาต",
    "The sign-out response could not be checked; you are signed out of this application.": (
        "ไม่สามารถตรวจสอบผลการออกจากระบบได้ ท่านได้ออกจากแอปพลิเคชันนี้แล้ว"
    ),
    "Error code": "รหัสข้อผิดพลาด",
    # The step-up actions of the demo (RPConfig.step_up_label).
    "Submit an invoice": "ส่งใบกำกับภาษี",
    # Standard OpenID Connect scopes.
    "Confirm who you are": "ยืนยันตัวตนของท่าน",
    "Your name and username": "ชื่อและชื่อผู้ใช้ของท่าน",
    "Your email address": "ที่อยู่อีเมลของท่าน",
    "Your phone number": "หมายเลขโทรศัพท์ของท่าน",
    "Your address": "ที่อยู่ของท่าน",
    "Stay signed in while you are away": "คงการเข้าสู่ระบบไว้ระหว่างที่ท่านไม่ได้ใช้งาน",
    # Assurance levels (README: the acr table), lowest first.
    "Password": "รหัสผ่าน",
    "Password and a code sent by email": "รหัสผ่านและรหัสที่ส่งทางอีเมล",
    "Two factors: password and an authenticator": "สองปัจจัย: รหัสผ่านและอุปกรณ์ยืนยันตัวตน",
    "Phishing-resistant: passkey or security key": ("ป้องกันฟิชชิง: พาสคีย์หรือกุญแจความปลอดภัย"),
    "Unknown level": "ไม่ทราบระดับ",
    # RFC 8176 amr values (and the IdP's "email").
    "password": "รหัสผ่าน",
    "one-time code": "รหัสใช้ครั้งเดียว",
    "code by email": "รหัสทางอีเมล",
    "security key or passkey": "กุญแจความปลอดภัยหรือพาสคีย์",
    "user verification (PIN or biometrics)": "การยืนยันผู้ใช้ (PIN หรือไบโอเมตริกซ์)",
    "more than one factor": "มากกว่าหนึ่งปัจจัย",
    "software key": "กุญแจซอฟต์แวร์",
    # Membership and verified identity (the membership claim, verified_claims).
    "Your membership": "สถานะสมาชิกของท่าน",
    "Member type": "ประเภทสมาชิก",
    "Member of the public": "บุคคลทั่วไป",
    "Government staff": "เจ้าหน้าที่รัฐ",
    "State": "สถานะ",
    "Temporary member": "สมาชิกชั่วคราว",
    "Verified member": "สมาชิกที่ยืนยันตัวตนแล้ว",
    "Verified staff": "เจ้าหน้าที่ที่ยืนยันแล้ว",
    "Waiting for review": "รอการตรวจสอบ",
    "Not accepted": "ไม่ผ่านการตรวจสอบ",
    "Expired": "หมดอายุ",
    "Staff badge": "ตราเจ้าหน้าที่",
    "Yes": "มี",
    "Until": "ใช้ได้ถึง",
    "Verified identity": "ข้อมูลตัวตนที่ยืนยันแล้ว",
    "Checked with": "ตรวจสอบกับ",
    "Checked at": "ตรวจสอบเมื่อ",
    "Evidence": "หลักฐาน",
    "Electronic record": "ข้อมูลทะเบียนอิเล็กทรอนิกส์",
    "Document": "เอกสาร",
    "Given name": "ชื่อ",
    "Family name": "นามสกุล",
    "Given name (Thai)": "ชื่อ (ภาษาไทย)",
    "Family name (Thai)": "นามสกุล (ภาษาไทย)",
    "Date of birth": "วันเกิด",
    "Population registry (DOPA)": "ทะเบียนราษฎร (กรมการปกครอง)",
    "Identity app": "แอปยืนยันตัวตน",
    "Agency directory": "ทะเบียนบุคลากรของหน่วยงาน",
    "No verified identity was released.": "ไม่ได้รับข้อมูลตัวตนที่ยืนยันแล้ว",
    "Verified membership and the identity sent by {idp}.": (
        "สถานะสมาชิกและข้อมูลตัวตนที่ยืนยันแล้วซึ่ง {idp} ส่งมา"
    ),
    "Your membership and verified identity": "สถานะสมาชิกและข้อมูลตัวตนที่ยืนยันแล้ว",
    "Your membership: type, state and staff badge": "สถานะสมาชิกของท่าน: ประเภท สถานะ และตราเจ้าหน้าที่",
    "Your verified identity: names and birth date as verified": (
        "ข้อมูลตัวตนที่ยืนยันแล้ว: ชื่อและวันเกิดตามที่ได้รับการยืนยัน"
    ),
}

MEMBERSHIP_WORDS = {
    "public": "Member of the public",
    "staff": "Government staff",
    "temporary": "Temporary member",
    "verified": "Verified member",
    "staff_verified": "Verified staff",
    "pending": "Waiting for review",
    "rejected": "Not accepted",
    "expired": "Expired",
    "electronic_record": "Electronic record",
    "document": "Document",
    "th_dopa": "Population registry (DOPA)",
    "th_identity_app": "Identity app",
    "th_agency": "Agency directory",
}
VERIFIED_CLAIM_WORDS = {
    "given_name": "Given name",
    "family_name": "Family name",
    "given_name#th": "Given name (Thai)",
    "family_name#th": "Family name (Thai)",
    "birthdate": "Date of birth",
}


def membership_words(code: str | None, locale: str) -> str:
    """A membership, trust-framework or evidence code in words (unknown: the code)."""
    return translate(locale, MEMBERSHIP_WORDS[code]) if code in MEMBERSHIP_WORDS else code or ""


def verified_claim_words(name: str, locale: str) -> str:
    return translate(locale, VERIFIED_CLAIM_WORDS.get(name, name))


STANDARD_SCOPES = {
    "openid": "Confirm who you are",
    "profile": "Your name and username",
    "email": "Your email address",
    "phone": "Your phone number",
    "address": "Your address",
    "offline_access": "Stay signed in while you are away",
    "membership": "Your membership: type, state and staff badge",
    "verified_claims": "Your verified identity: names and birth date as verified",
}

ACR_WORDS = {
    "urn:idp:acr:pwd": "Password",
    "urn:idp:acr:mfa-email": "Password and a code sent by email",
    "urn:idp:acr:mfa": "Two factors: password and an authenticator",
    "urn:idp:acr:phr": "Phishing-resistant: passkey or security key",
}

AMR_WORDS = {
    "pwd": "password",
    "otp": "one-time code",
    "email": "code by email",
    "hwk": "security key or passkey",
    "user": "user verification (PIN or biometrics)",
    "mfa": "more than one factor",
    "swk": "software key",
}


def translate(locale: str, text: str, **values: object) -> str:
    """``text`` in ``locale`` (English is the key; unknown text stays English)."""
    if locale == "th":
        text = THAI.get(text, text)
    return text.format(**values) if values else text


def choose_locale(chosen: str | None, browser_best: str | None) -> str:
    """The person's explicit choice, else the browser's preferred of ours, else Thai."""
    for candidate in (chosen, browser_best):
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE


def human_datetime(epoch: float, locale: str) -> str:
    """``epoch`` as a date and time in Thailand: ``2 ธันวาคม พ.ศ. 2569 เวลา 06:49 น.``
    or ``2 December 2026, 06:49 ICT``."""
    t = datetime.fromtimestamp(epoch, THAILAND)
    if locale == "th":
        year = t.year + BUDDHIST_ERA_OFFSET
        return f"{t.day} {TH_MONTHS[t.month - 1]} พ.ศ. {year} เวลา{NBSP}{t:%H:%M}{NBSP}น."
    return f"{t.day} {EN_MONTHS[t.month - 1]} {t.year}, {t:%H:%M}{NBSP}ICT"


def machine_datetime(epoch: float) -> str:
    """ISO 8601 with the offset, for ``<time datetime>``: machines read the CE year."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(THAILAND).isoformat()


def acr_words(acr: str | None, locale: str) -> str:
    return translate(locale, ACR_WORDS.get(acr or "", "Unknown level"))


def amr_words(amr: list[str] | None, locale: str) -> list[str]:
    return [translate(locale, AMR_WORDS[v]) if v in AMR_WORDS else v for v in amr or ()]


def scope_words(scope: str, locale: str, own: dict[str, tuple[str, str]]) -> str:
    """A right's description: the RP's own (Thai, English) pair, a standard scope's, or
    the code itself when neither knows it."""
    if scope in own:
        th, en = own[scope]
        return th if locale == "th" else en
    if scope in STANDARD_SCOPES:
        return translate(locale, STANDARD_SCOPES[scope])
    return scope
