"""The operator review queue, the service (issue 10): one queue for everything a person
must look at (staff verifications without a directory match, company registrations).

    open ──approve──► approved      (final)
      │  ──reject───► rejected      (final; the applicant may submit again: a new item)
      └──more_info──► more_info ──applicant answers (upload)──► open

Decisions go through :func:`decide` only (views, CLI and jobs alike): one conditional
UPDATE makes a second decision a :class:`ReviewError` ``already_decided`` (409), and an
operator never decides their own application (403). What a decision *does* (the
membership, the organisation's status, the mail) belongs to the area that owns the
kind: it registers a function with :func:`on_decision`, called in the same
transaction, so a failure there leaves the item undecided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.db import now
from idp.models import ApplicantDocument, ReviewItem
from idp.orgs.documents import display_name, media_type_of

STAFF_VERIFICATION = "staff_verification"
COMPANY_REGISTRATION = "company_registration"
# A registration whose identity document is already on file: the applicant is
# told nothing more than "submitted"; an operator looks.
DOCUMENT_CHECK = "document_check"
# A person's service request (issue 11, MISSION B6: idp.account.service_requests); one
# item per request, so a person's requests of different kinds are decided apart.
SERVICE_REQUEST = "service_request"
KINDS = (STAFF_VERIFICATION, COMPANY_REGISTRATION, DOCUMENT_CHECK, SERVICE_REQUEST)
DECISIONS = ("approve", "reject", "more_info")
UNDECIDED = ("open", "more_info")
_STATUS_AFTER = {"approve": "approved", "reject": "rejected", "more_info": "more_info"}


class ReviewError(ValueError):
    """``code`` picks the translated message, ``status`` the HTTP status."""

    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code, self.status = code, status


# kind -> what a decision does: f(db, settings, item, decision, reason, operator_id)
Decider = Callable[[Session, Settings, ReviewItem, str, str, int], None]
_DECIDERS: dict[str, Decider] = {}


def on_decision(kind: str) -> Callable[[Decider], Decider]:
    """Register what deciding an item of ``kind`` does (one function per kind)."""

    def register(fn: Decider) -> Decider:
        _DECIDERS[kind] = fn
        return fn

    return register


def open_item(
    db: Session,
    *,
    kind: str,
    user_id: int | None = None,
    org_id: int | None = None,
    registration_id: int | None = None,
    flags: tuple[str, ...] = (),
    fresh: bool = False,
) -> ReviewItem:
    """The undecided item of this kind and subject (the applicant, and the
    organisation when given), or a new one (a resubmission after
    a rejection opens a new item; the rejected one stays as it was decided).
    ``fresh``: always a new item (a service request is its own item). Flushes."""
    if kind not in KINDS:
        raise ValueError(kind)
    t = now()
    # The subject is the applicant and, when given, the organisation too: one person
    # may register two companies, each with its own item.
    subject = [ReviewItem.user_id == user_id] if user_id is not None else []
    if org_id is not None or user_id is None:
        subject.append(ReviewItem.org_id == org_id)
    item = (
        None
        if fresh
        else db.scalar(
            select(ReviewItem).where(
                ReviewItem.kind == kind, ReviewItem.status.in_(UNDECIDED), *subject
            )
        )
    )
    if item is None:
        item = ReviewItem(
            kind=kind,
            status="open",
            user_id=user_id,
            org_id=org_id,
            registration_id=registration_id,
            flags=sorted(set(flags)),
            submitted_at=t,
            updated_at=t,
            reason="",
        )
        db.add(item)
    else:
        item.status, item.updated_at = "open", t
        item.flags = sorted(set(item.flags) | set(flags))
    db.flush()
    return item


def attach(
    db: Session, item: ReviewItem, kind: str, data: bytes, filename: str
) -> ApplicantDocument:
    """Store an applicant's file for ``item``, checked by content (R-02, R-03: raises
    :class:`idp.orgs.documents.DocumentError`). Answering "more information" reopens
    the item. Flushes."""
    media_type = media_type_of(data)
    doc = ApplicantDocument(
        review_item_id=item.id,
        kind=kind,
        media_type=media_type,
        original_name=display_name(filename),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        uploaded_at=now(),
    )
    db.add(doc)
    if item.status == "more_info":
        item.status, item.updated_at = "open", now()
    db.flush()
    return doc


def decide(
    db: Session, settings: Settings, item_id: int, operator_id: int, decision: str, reason: str
) -> ReviewItem:
    """Decide an item once. Raises :class:`ReviewError`: ``not_found`` (404),
    ``own_application`` (403), ``reason_required`` (400: reject and more_info need
    one), ``already_decided`` (409). Does not commit: the caller commits (with the
    audit record and the kind's effects) or rolls back."""
    item = db.get(ReviewItem, item_id)
    if item is None:
        raise ReviewError("not_found", 404)
    if item.user_id == operator_id:
        raise ReviewError("own_application", 403)
    if decision not in DECISIONS:
        raise ReviewError("decision_invalid")
    reason = (reason or "").strip()
    if decision != "approve" and not reason:
        raise ReviewError("reason_required")
    t = now()
    won = db.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item_id, ReviewItem.status.in_(UNDECIDED))
        .values(
            status=_STATUS_AFTER[decision],
            reason=reason[:2000],
            updated_at=t,
            decided_at=t if decision != "more_info" else None,
            decided_by=operator_id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise ReviewError("already_decided", 409)
    db.refresh(item)
    decider = _DECIDERS.get(item.kind)
    if decider is not None:
        decider(db, settings, item, decision, reason, operator_id)
    return item
