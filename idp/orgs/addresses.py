"""The shapes of an organisation's head office (``Organization.head_office``) and contact
data (``Organization.contact``), and their field checks. Shared by the org profile in the
console (idp/orgs/profile.py) and company self-registration (idp/companies/)."""

from __future__ import annotations

import re

from idp.account.identifiers import is_valid_email
from idp.orgs.messages import profile_messages

ADDRESS_FIELDS = ("address", "district", "province", "postcode", "phone")
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone", "website")
PHONE = re.compile(r"\+?[0-9][0-9 -]{5,19}")


def check_profile(head: dict[str, str], contact: dict[str, str]) -> list[tuple[str, str]]:
    """Every invalid field with its translated message (the page's error summary lists
    them all at once, WCAG 3.3.1); empty when the profile can be saved."""
    messages = profile_messages()
    problems = []
    if head["postcode"] and not re.fullmatch(r"\d{5}", head["postcode"]):
        problems.append(("postcode", messages["postcode_invalid"]))
    for field, phone in (("phone", head["phone"]), ("contact_phone", contact["contact_phone"])):
        if phone and not PHONE.fullmatch(phone):
            problems.append((field, messages["phone_invalid"]))
    if contact["contact_email"] and not is_valid_email(contact["contact_email"]):
        problems.append(("contact_email", messages["email_invalid"]))
    if contact["website"] and not re.fullmatch(r"https?://[^\s<>\"']+", contact["website"]):
        problems.append(("website", messages["website_invalid"]))
    return problems
