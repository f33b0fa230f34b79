"""The operator review queue, as the console and ``idp registrations`` use it (issue 10):
the queue (oldest first, filtered by kind and status), what an item's page shows, the
one audited front door to :func:`idp.enrollment.review.decide`, showing a full identity
document number (audited), and what deciding a ``document_check`` item does.

``document_check`` (SECURITY.md R-01: a registration whose identity document is already
on another account; the applicant was told only "submitted"):

* approve: "checked, no action" — the operator found nothing wrong (e.g. the same
  person again); nothing changes and nobody is mailed.
* reject: the new account, if the registration made one, is disabled (reason "other",
  audited like the console's disable: sessions and tokens end); a registration without
  an account is left to the purge job. Nothing is mailed: any mail would tell the
  applicant that the document is on file (no enumeration).
* more_info is refused for this kind (a question would have to say why).

Nothing here commits: the caller commits the decision, its audit record and the
kind's effects together, or rolls back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp.admin import accounts
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.enrollment import pii, review
from idp.enrollment.review import ReviewError
from idp.models import (
    ApplicantDocument,
    IdentityVerification,
    Organization,
    OrgDocument,
    Registration,
    ReviewItem,
    User,
)
from idp.orgs import documents

STATUSES = ("open", "more_info", "approved", "rejected")
WAITING = "waiting"  # the default filter: open and more_info
QUEUE_LIMIT = 200
# Where the company helper's ``describe(db, item)`` may live (first found is used).
_DESCRIBERS = ("idp.companies.review", "idp.companies.services", "idp.companies")


@dataclass
class ItemView:
    """Everything an item's page (or ``registrations show``) shows."""

    item: ReviewItem
    user: User | None
    registration: Registration | None
    org: Organization | None
    verifications: list[IdentityVerification] = field(default_factory=list)
    documents: list[ApplicantDocument] = field(default_factory=list)
    org_document: OrgDocument | None = None
    description: list[tuple[str, str]] | None = None  # from the company helper

    @property
    def masked_document(self) -> str:
        source = self.user or self.registration
        return source.id_doc_masked if source is not None else ""

    @property
    def can_reveal(self) -> bool:
        source = self.user or self.registration
        return bool(source is not None and source.id_doc_cipher)


def applicant_name(user: User | None, registration: Registration | None) -> str:
    """The applicant's names, Thai then Latin, else the username or email."""
    if user is not None:
        thai = f"{user.given_name_th} {user.family_name_th}".strip()
        latin = user.name or f"{user.given_name} {user.family_name}".strip()
        return " / ".join(n for n in (thai, latin) if n) or user.username
    if registration is not None:
        data = registration.data or {}
        thai = f"{data.get('given_name_th', '')} {data.get('family_name_th', '')}".strip()
        latin = f"{data.get('given_name', '')} {data.get('family_name', '')}".strip()
        return " / ".join(n for n in (thai, latin) if n) or registration.email
    return ""


def queue(db: Session, kind: str = "", status: str = WAITING) -> list[ReviewItem]:
    """Items oldest first (at most :data:`QUEUE_LIMIT`); an unknown ``kind`` means any
    kind, ``status`` one of :data:`STATUSES`, "all" or (default) the undecided ones."""
    stmt = select(ReviewItem).order_by(ReviewItem.submitted_at, ReviewItem.id).limit(QUEUE_LIMIT)
    if kind in review.KINDS:
        stmt = stmt.where(ReviewItem.kind == kind)
    if status in STATUSES:
        stmt = stmt.where(ReviewItem.status == status)
    elif status != "all":
        stmt = stmt.where(ReviewItem.status.in_(review.UNDECIDED))
    return list(db.scalars(stmt))


def _describer() -> Callable[[Session, ReviewItem], object] | None:
    for name in _DESCRIBERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        describe = getattr(module, "describe", None)
        if callable(describe):
            return describe
    return None


def _pairs(described: object) -> list[tuple[str, str]] | None:
    if isinstance(described, dict):
        return [(str(k), str(v)) for k, v in described.items()]
    if isinstance(described, list | tuple):
        try:
            return [(str(k), str(v)) for k, v in described]
        except (TypeError, ValueError):
            return None
    return None


def view(db: Session, item_id: int) -> ItemView:
    """An item with its applicant, verifier results and documents; raises
    :class:`ReviewError` ``not_found`` (404)."""
    item = db.get(ReviewItem, item_id)
    if item is None:
        raise ReviewError("not_found", 404)
    user = db.get(User, item.user_id) if item.user_id is not None else None
    registration = (
        db.get(Registration, item.registration_id) if item.registration_id is not None else None
    )
    org = db.get(Organization, item.org_id) if item.org_id is not None else None
    whose = []
    if user is not None:
        whose.append(IdentityVerification.user_id == user.id)
    if registration is not None:
        whose.append(IdentityVerification.registration_id == registration.id)
    verifications = (
        list(
            db.scalars(
                select(IdentityVerification)
                .where(or_(*whose))
                .order_by(IdentityVerification.at, IdentityVerification.id)
            )
        )
        if whose
        else []
    )
    docs = list(
        db.scalars(
            select(ApplicantDocument)
            .where(ApplicantDocument.review_item_id == item.id)
            .order_by(ApplicantDocument.uploaded_at, ApplicantDocument.id)
        )
    )
    result = ItemView(item, user, registration, org, verifications, docs)
    if org is not None:
        result.org_document = documents.current(db, org.id)
    if item.kind == review.COMPANY_REGISTRATION:
        describe = _describer()
        if describe is not None:
            result.description = _pairs(describe(db, item))
    return result


def applicant_document(db: Session, item_id: int, doc_id: int) -> ApplicantDocument:
    """A file of this item only (another item's file: ``not_found``, R-08)."""
    doc = db.scalar(
        select(ApplicantDocument).where(
            ApplicantDocument.id == doc_id, ApplicantDocument.review_item_id == item_id
        )
    )
    if doc is None:
        raise ReviewError("not_found", 404)
    return doc


def download_headers(doc: ApplicantDocument) -> dict[str, str]:
    """Like the power-of-attorney download (R-04: attachment, server-made name,
    nosniff, sandboxed, not cached)."""
    headers = documents.download_headers(doc, "")  # type: ignore[arg-type]
    name = f"applicant-{doc.review_item_id}-{doc.id}.{documents.EXTENSIONS[doc.media_type]}"
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return headers


def reveal_document(db: Session, settings: Settings, item_id: int, operator_id: int) -> str:
    """The applicant's full identity document number, for this operator, now; audited
    (who saw whose number, never the number). Raises ``not_found``."""
    shown = view(db, item_id)
    source = shown.user or shown.registration
    if source is None or not source.id_doc_cipher:
        raise ReviewError("not_found", 404)
    number = pii.reveal(settings, source.id_doc_cipher)
    record(
        db,
        AuditTag.OP_REVIEW_DOCUMENT_SHOWN,
        actor=operator_id,
        subject=shown.item.user_id,
        item=item_id,
        kind=shown.item.kind,
    )
    return number


def decide(
    db: Session,
    settings: Settings,
    item_id: int,
    operator_id: int,
    decision: str,
    reason: str,
    *,
    via: str | None = None,
) -> ReviewItem:
    """:func:`idp.enrollment.review.decide` with its audit record (``op:review:decided``,
    before/after status, the reason). Same :class:`ReviewError` codes, and
    ``more_info_unavailable`` (400) for a ``document_check`` item. Does not commit."""
    item = db.get(ReviewItem, item_id)
    if item is None:
        raise ReviewError("not_found", 404)
    before = item.status
    if item.kind == review.DOCUMENT_CHECK and decision == "more_info":
        if item.user_id == operator_id:
            raise ReviewError("own_application", 403)
        raise ReviewError("more_info_unavailable")
    decided = review.decide(db, settings, item_id, operator_id, decision, reason)
    details: dict[str, object] = {
        "item": item_id,
        "kind": decided.kind,
        "before": before,
        "after": decided.status,
        "reason": decided.reason,
    }
    if decided.org_id is not None:
        details["org"] = decided.org_id
    if via:
        details["via"] = via
    record(db, AuditTag.OP_REVIEW_DECIDED, actor=operator_id, subject=decided.user_id, **details)
    return decided


@review.on_decision(review.DOCUMENT_CHECK)
def _document_check(
    db: Session, settings: Settings, item: ReviewItem, decision: str, reason: str, operator: int
) -> None:
    """See the module docstring: reject disables the account the registration made."""
    if decision != "reject" or item.user_id is None:
        return
    user = db.get(User, item.user_id)
    if user is not None and user.is_active:
        accounts.set_active(db, user.id, False, "other", operator)
