"""Company self-registration (issue 10, MISSION A1; SECURITY.md R-01..R-08), the service.

A signed-in person registers a company and becomes its first admin::

    draft (Registration kind "company", found from the browser session)
      └─submit──► Organization "pending" + Membership admin + power of attorney
                  + review item (company_registration)
                    ├─approve──► organisation "active" (the console and org claims open)
                    ├─reject───► organisation "rejected" ──resubmit──► "pending", new item
                    └─more_info─► item waits ──resubmit (edits, new upload)──► item open

A juristic ID already on file gets the same "submitted" answer (R-01: no enumeration);
no second organisation is made: the review item is filed against the one on file with
the flag ``identifier_on_file`` and the submitted data in its registration. Approving
such an item makes the applicant an admin of the organisation on file (the operator has
checked their power of attorney); rejecting or asking only mails them.

Every decision is audited (``company:registration:decided``) and mailed to the applicant
in their language. Nothing here commits: views and :func:`idp.enrollment.review.decide`'s
caller commit or roll back.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.admin.services import set_status
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.enrollment import review
from idp.enrollment.identity import DocumentInvalid, check_juristic_id
from idp.enrollment.review import COMPANY_REGISTRATION
from idp.localized import org_name
from idp.mail import recipient_locale
from idp.mfa.services import notify
from idp.models import ApplicantDocument, Organization, Registration, ReviewItem, User
from idp.orgs import documents
from idp.orgs.addresses import ADDRESS_FIELDS, CONTACT_FIELDS, check_profile
from idp.orgs.services import add_member, create_org, is_org_admin

log = logging.getLogger(__name__)

KIND = "company"
ON_FILE = "identifier_on_file"
OFFICES = ("head_office", "branch")
# Statuses of an organisation whose registration is not approved (yet): its admins have
# no console and no org claims.
NOT_APPROVED = ("pending", "rejected")


class CompanyError(ValueError):
    """``code`` picks the translated message (``companies.messages``), ``field`` the
    form field (or the wizard step for ``incomplete``)."""

    def __init__(self, code: str, field: str = "") -> None:
        super().__init__(code)
        self.code, self.field = code, field


@dataclass(frozen=True)
class Company:
    """What the applicant typed, as stored in ``Registration.data`` (a juristic ID is
    public registry data, not personal data: kept in clear)."""

    identifier: str = ""
    name_th: str = ""
    name_en: str = ""
    office: str = "head_office"
    branch_no: str = ""
    address: dict[str, str] | None = None
    contact: dict[str, str] | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Company:
        return cls(
            identifier=data.get("identifier", ""),
            name_th=data.get("name_th", ""),
            name_en=data.get("name_en", ""),
            office=data.get("office", "head_office"),
            branch_no=data.get("branch_no", ""),
            address={k: data.get("address", {}).get(k, "") for k in ADDRESS_FIELDS},
            contact={k: data.get("contact", {}).get(k, "") for k in CONTACT_FIELDS},
        )

    def data(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "name_th": self.name_th,
            "name_en": self.name_en,
            "office": self.office,
            "branch_no": self.branch_no,
            "address": dict(self.address or {}),
            "contact": dict(self.contact or {}),
        }


# -- checks (each returns every problem at once: [(field, code)]) -----------------------


def check_names(identifier: str, name_th: str, name_en: str) -> tuple[str, list[tuple[str, str]]]:
    """Step 1: the normalised juristic ID and the problems (bad format or check digit,
    a missing Thai or English name)."""
    problems: list[tuple[str, str]] = []
    try:
        identifier = check_juristic_id(identifier)
    except DocumentInvalid as exc:
        problems.append(("juristic_id", exc.code))
    if not name_th.strip():
        problems.append(("name_th", "name_th_missing"))
    if not name_en.strip():
        problems.append(("name_en", "name_en_missing"))
    return identifier, problems


def check_address(company: Company) -> list[tuple[str, str]]:
    """Step 2: the address (street, district, province, postcode required), the branch
    number for a branch (5 digits), the contact (name, email, phone required) and the
    profile's own format checks. Problems of the profile checks carry their message
    (code ``profile:<message>``)."""
    address, contact = company.address or {}, company.contact or {}
    problems: list[tuple[str, str]] = []
    if company.office not in OFFICES:
        problems.append(("office", "office_missing"))
    if company.office == "branch" and not (
        len(company.branch_no) == 5 and company.branch_no.isdigit()
    ):
        problems.append(("branch_no", "branch_no_invalid"))
    for field in ("address", "district", "province", "postcode"):
        if not address.get(field):
            problems.append((field, "required"))
    for field in ("contact_name", "contact_email", "contact_phone"):
        if not contact.get(field):
            problems.append((field, "required"))
    missing = {f for f, _ in problems}
    for field, message in check_profile(address, contact):
        if field not in missing:
            problems.append((field, "profile:" + message))
    return problems


def incomplete_step(company: Company) -> str | None:
    """The first wizard step whose data is missing or invalid, or None."""
    if check_names(company.identifier, company.name_th, company.name_en)[1]:
        return "start"
    if check_address(company):
        return "address"
    return None


# -- the draft -------------------------------------------------------------------------


def new_draft(db: Session, ip: str | None, locale: str | None) -> Registration:
    t = now()
    draft = Registration(
        public_id=secrets.token_urlsafe(32),
        kind=KIND,
        step="start",
        status="draft",
        data={},
        ip=ip,
        locale=locale,
        created_at=t,
        updated_at=t,
    )
    db.add(draft)
    db.flush()
    return draft


def load_draft(db: Session, public_id: str | None) -> Registration | None:
    """The company registration of this browser (any status), or None."""
    if not public_id:
        return None
    return db.scalar(
        select(Registration).where(Registration.public_id == public_id, Registration.kind == KIND)
    )


def save_draft(draft: Registration, company: Company, step: str) -> None:
    draft.data, draft.step, draft.updated_at = company.data(), step, now()


# -- submit, resubmit --------------------------------------------------------------------


def _office_fields(company: Company) -> tuple[dict[str, str], list[str]]:
    """``Organization.head_office`` and ``branches``: a head-office address fills the
    first; a branch's address is one line of the second (the head office stays empty
    until the org admin fills it in the console's profile)."""
    address = dict(company.address or {})
    if company.office == "head_office":
        return address, []
    parts = [address.get(k, "") for k in ("address", "district", "province", "postcode")]
    line = f"{company.branch_no} " + ", ".join(p for p in parts if p)
    return {k: "" for k in ADDRESS_FIELDS}, [line.strip()]


def submit(
    db: Session, draft: Registration, user: User, data: bytes, filename: str
) -> ReviewItem | None:
    """Turn the draft into a pending organisation with ``user`` as its admin, its power
    of attorney and a review item. Returns the item, or None when this draft was already
    submitted (a double submission does nothing). Raises CompanyError ``incomplete``
    (field = the step to go back to) and :class:`idp.orgs.documents.DocumentError`
    (R-02, R-03). A juristic ID on file: see the module docstring (R-01)."""
    if draft.status == "done":
        return None
    company = Company.of(draft.data)
    step = incomplete_step(company)
    if step is not None:
        raise CompanyError("incomplete", step)
    documents.media_type_of(data)  # refuse a bad file before anything is created
    existing = db.scalar(select(Organization).where(Organization.identifier == company.identifier))
    if existing is not None:
        item = review.open_item(
            db,
            kind=COMPANY_REGISTRATION,
            org_id=existing.id,
            user_id=user.id,
            registration_id=draft.id,
            flags=(ON_FILE,),
        )
        review.attach(db, item, "power_of_attorney", data, filename)
        org_id = existing.id
    else:
        head_office, branches = _office_fields(company)
        org = create_org(
            db,
            kind=KIND,
            identifier=company.identifier,
            name_th=company.name_th,
            name_en=company.name_en,
            status="pending",
        )
        org.head_office, org.branches = head_office, branches
        org.contact = dict(company.contact or {})
        add_member(db, org.id, user, role="admin", actor=user.id)
        documents.upload(db, org.id, data, filename, user.id)
        item = review.open_item(
            db,
            kind=COMPANY_REGISTRATION,
            org_id=org.id,
            user_id=user.id,
            registration_id=draft.id,
        )
        review.attach(db, item, "power_of_attorney", data, filename)
        org_id = org.id
    draft.status, draft.step, draft.user_id, draft.org_id = "done", "submitted", user.id, org_id
    draft.email, draft.updated_at = user.email, now()
    record(
        db,
        AuditTag.COMPANY_SUBMITTED,
        actor=user.id,
        subject=user.id,
        org=org_id,
        item=item.id,
        flags=list(item.flags),
    )
    return item


def application(db: Session, org_id: int, user_id: int) -> Organization | None:
    """The organisation registered by ``user_id`` as shown on their application page:
    only for one of its admins while it is not approved; else None (the page is a 404,
    R-08)."""
    org = db.get(Organization, org_id)
    if org is None or org.status not in NOT_APPROVED or not is_org_admin(db, org_id, user_id):
        return None
    return org


def latest_item(db: Session, org_id: int) -> ReviewItem | None:
    return db.scalar(
        select(ReviewItem)
        .where(ReviewItem.kind == COMPANY_REGISTRATION, ReviewItem.org_id == org_id)
        .order_by(ReviewItem.submitted_at.desc(), ReviewItem.id.desc())
    )


def may_resubmit(db: Session, org: Organization) -> bool:
    """After a rejection, or while the operator waits for more information."""
    item = latest_item(db, org.id)
    return org.status == "rejected" or (item is not None and item.status == "more_info")


def current_company(org: Organization) -> Company:
    """The organisation's data in the wizard's shape, for the correction form."""
    office = "branch" if org.branches and not any(org.head_office.values()) else "head_office"
    address = dict(org.head_office)
    branch_no = ""
    if office == "branch":
        branch_no, _, rest = org.branches[0].partition(" ")
        parts = [p.strip() for p in rest.split(",")]
        address = dict(zip(("address", "district", "province", "postcode"), parts, strict=False))
    return Company.of(
        {
            "identifier": org.identifier,
            "name_th": org.name_th,
            "name_en": org.name_en,
            "office": office,
            "branch_no": branch_no,
            "address": address,
            "contact": org.contact,
        }
    )


def resubmit(
    db: Session, org: Organization, user: User, company: Company, data: bytes, filename: str
) -> ReviewItem:
    """Correct a rejected registration (or answer "more information"): the names, the
    address and the contact change, a new power of attorney replaces the current one
    (required after a rejection), and the item is opened again (a new one after a
    rejection, the same one after more_info). The juristic ID stays. Raises
    CompanyError ``not_resubmittable``, ``document_required`` or a field problem
    (``invalid``), and DocumentError."""
    if not may_resubmit(db, org):
        raise CompanyError("not_resubmittable")
    company = Company(**{**company.data(), "identifier": org.identifier})
    if check_names(company.identifier, company.name_th, company.name_en)[1] or check_address(
        company
    ):
        raise CompanyError("invalid")
    if org.status == "rejected" and not data:
        raise CompanyError("document_required", "document")
    before = {"name_th": org.name_th, "name_en": org.name_en, "status": org.status}
    head_office, branches = _office_fields(company)
    org.name_th, org.name_en = company.name_th.strip(), company.name_en.strip()
    org.head_office, org.branches, org.contact = head_office, branches, dict(company.contact or {})
    if org.status == "rejected":
        org.status = "pending"
    item = review.open_item(db, kind=COMPANY_REGISTRATION, org_id=org.id, user_id=user.id)
    if data:
        documents.upload(db, org.id, data, filename, user.id)
        review.attach(db, item, "power_of_attorney", data, filename)
    record(
        db,
        AuditTag.COMPANY_RESUBMITTED,
        actor=user.id,
        subject=user.id,
        org=org.id,
        item=item.id,
        before=before,
        after={"name_th": org.name_th, "name_en": org.name_en, "status": org.status},
    )
    return item


# -- the operator's decision ---------------------------------------------------------------


@review.on_decision(COMPANY_REGISTRATION)
def decided(
    db: Session,
    settings: Settings,
    item: ReviewItem,
    decision: str,
    reason: str,
    operator_id: int,
) -> None:
    """What a decision on a company registration does (called by ``review.decide`` in
    its transaction): approve -> the organisation is active (``set_status``, which
    raises StatusConflict unless it is pending) or, for a juristic ID on file, the
    applicant becomes its admin; reject -> the organisation is "rejected"; more_info ->
    nothing changes but the mail. Audited; the applicant is mailed in their language
    (best effort: a mail outage does not undo the decision)."""
    org = db.get(Organization, item.org_id) if item.org_id is not None else None
    applicant = db.get(User, item.user_id) if item.user_id is not None else None
    if org is None:
        raise LookupError(item.org_id)
    on_file = ON_FILE in (item.flags or [])
    if not on_file and decision == "approve":
        set_status(db, org.id, "approve", operator_id)
    elif not on_file and decision == "reject":
        before, org.status = org.status, "rejected"
        record(
            db,
            AuditTag.OP_ORG_STATUS_CHANGED,
            actor=operator_id,
            subject=None,
            org=org.id,
            before=before,
            after=org.status,
        )
    elif on_file and decision == "approve" and applicant is not None:
        add_member(db, org.id, applicant, role="admin", actor=operator_id)
    record(
        db,
        AuditTag.COMPANY_DECIDED,
        actor=operator_id,
        subject=item.user_id,
        org=org.id,
        item=item.id,
        decision=decision,
        reason=reason,
    )
    if applicant is not None:
        draft = db.get(Registration, item.registration_id) if item.registration_id else None
        shown = Company.of(draft.data) if on_file and draft is not None else current_company(org)
        locale = recipient_locale(settings, applicant)
        notify(
            settings,
            applicant,
            "company_decision",
            org=org_name(_Named(shown.name_th, shown.name_en), locale),
            identifier=org.identifier,
            decision=decision,
            reason=reason,
            link=_link(settings, org, decision, on_file),
        )


def _link(settings: Settings, org: Organization, decision: str, on_file: bool) -> str:
    """Approved: the org console; otherwise the application page to correct it (for a
    juristic ID on file, which has no page of its own: the registration's start)."""
    if decision == "approve":
        return f"{settings.issuer}/orgs/{org.id}/admin"
    if on_file:
        return f"{settings.issuer}/register/company"
    return f"{settings.issuer}/register/company/{org.id}"


@dataclass(frozen=True)
class _Named:
    name_th: str
    name_en: str


def describe(db: Session, item: ReviewItem) -> dict[str, Any]:
    """What the operator's review queue shows for a company registration item.

    Returns a dict with:
    ``identifier`` (the 13-digit juristic ID), ``name_th``, ``name_en``,
    ``office`` ("head_office" | "branch"), ``branch_no`` ("" or 5 digits),
    ``address`` (dict: address, district, province, postcode, phone),
    ``contact`` (dict: contact_name, contact_email, contact_phone, website),
    ``org_id``, ``org_status`` (pending | rejected | active ...),
    ``document_id`` (the current ``OrgDocument`` id of the organisation, served by the
    operator console's org document download; None if missing),
    ``applicant_document_ids`` (the item's ``ApplicantDocument`` ids, newest first),
    ``applicant_id``, ``on_file`` (True when the juristic ID was already registered:
    the data shown are then those submitted, the organisation is the one on file;
    approving makes the applicant its admin), ``flags`` (the item's flags).
    """
    org = db.get(Organization, item.org_id) if item.org_id is not None else None
    on_file = ON_FILE in (item.flags or [])
    draft = db.get(Registration, item.registration_id) if item.registration_id else None
    if on_file and draft is not None:
        company = Company.of(draft.data)
    elif org is not None:
        company = current_company(org)
    else:
        company = Company.of(draft.data if draft is not None else {})
    current = documents.current(db, org.id) if org is not None and not on_file else None
    attached = list(
        db.scalars(
            select(ApplicantDocument.id)
            .where(ApplicantDocument.review_item_id == item.id)
            .order_by(ApplicantDocument.id.desc())
        )
    )
    return {
        **company.data(),
        "org_id": org.id if org is not None else None,
        "org_status": org.status if org is not None else None,
        "document_id": current.id if current is not None else None,
        "applicant_document_ids": attached,
        "applicant_id": item.user_id,
        "on_file": on_file,
        "flags": list(item.flags or []),
    }
