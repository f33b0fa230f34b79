"""Staff registration (MISSION C3), the service: the directory check of a staff
applicant, the staff document (Step 4 "waiting for approval") and what an operator's
decision on it does.

::

    staff applicant ── directory match ──────────────────────────► staff_verified (badge)
         │ no match / directory down
         ▼ upload (staff ID card or signed form)
      pending ── approve ──► staff_verified (verdict "document", mail)
         │  ▲ ── more_info ──► pending, mail with the question; answer = a new upload
         │  └──── upload (corrected) ◄─┐
         └── reject (reason) ──► rejected, mail with the reason

Membership moves only through :mod:`idp.enrollment.membership` (``DOCUMENT_SUBMITTED``,
``APPROVED``, ``REJECTED``, ``DIRECTORY_MATCH``); pending and rejected accounts get no
tokens (:func:`membership.may_get_tokens`, the sign-in pipeline). The review item is
``review.STAFF_VERIFICATION`` for the account; its decision effects are registered here
with :func:`review.on_decision` (this module is imported at app start).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.enrollment import membership, review, verdicts
from idp.enrollment.directory import DirectoryVerifier, directory_for
from idp.enrollment.identity import NATIONAL_ID, IdentityDocument
from idp.enrollment.pii import reveal
from idp.enrollment.verifiers import ClaimedIdentity, Method, Outcome, Verdict
from idp.mail import recipient_locale, send_templated
from idp.models import ApplicantDocument, Registration, ReviewItem, User

DOCUMENT_KINDS = ("staff_card", "signed_form")
APPLICATION_PATH = "/account/application"  # the applicant's page (staff_pages.application)


class ApplicationError(ValueError):
    """``code`` picks the translated message (:func:`idp.enrollment.staff_messages`),
    ``status`` the HTTP status."""

    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code, self.status = code, status


def has_directory(settings: Settings, agency: str) -> bool:
    return directory_for(settings, agency) is not None


def claimed_identity(settings: Settings, registration: Registration) -> ClaimedIdentity:
    """What a registration claims, for the directory: its national ID (unsealed for the
    call only) and its email once the emailed code proved it (a match by an address
    nobody proved would prove nothing)."""
    document = None
    if registration.id_doc_kind == NATIONAL_ID and registration.id_doc_cipher:
        document = IdentityDocument(NATIONAL_ID, reveal(settings, registration.id_doc_cipher))
    return ClaimedIdentity(
        document=document,
        email=registration.email if registration.email_verified else "",
        agency=registration.agency,
    )


def directory_verdict(settings: Settings, registration: Registration, at: int) -> Verdict:
    """The agency directory's answer for a staff registration (never raises: an
    unreachable directory is ``UNAVAILABLE``, and the document path is offered)."""
    if registration.member_type != membership.MemberType.STAFF:
        return Verdict(Outcome.NOT_VERIFIED, Method.DIRECTORY, at, reason="not_applicable")
    return DirectoryVerifier(settings).verify(claimed_identity(settings, registration), at)


def apply_directory_match(db: Session, user: User, verdict: Verdict, at: int) -> bool:
    """Record the directory's verdict for the new account; a match gives the staff badge
    at once (``DIRECTORY_MATCH``). Returns whether it did. Flushes."""
    state = verdicts.apply_to_user(db, user, verdict, at)
    return state.has_badge


@dataclass(frozen=True)
class Application:
    """A staff applicant's application as they see it."""

    status: str  # the membership status
    item: ReviewItem | None  # the newest review item
    documents: list[ApplicantDocument]

    @property
    def question(self) -> str:
        """The operator's question (more information) or reason (rejection)."""
        if self.item is not None and self.item.status in ("more_info", "rejected"):
            return self.item.reason
        return ""

    @property
    def may_upload(self) -> bool:
        """A first document, a corrected one after a rejection, or an answer."""
        if self.item is not None and self.item.status == "more_info":
            return True
        return self.status not in (membership.Status.PENDING, membership.Status.STAFF_VERIFIED)


def latest_item(db: Session, user_id: int) -> ReviewItem | None:
    return db.scalar(
        select(ReviewItem)
        .where(ReviewItem.kind == review.STAFF_VERIFICATION, ReviewItem.user_id == user_id)
        .order_by(ReviewItem.submitted_at.desc(), ReviewItem.id.desc())
    )


def application_of(db: Session, user: User) -> Application | None:
    """The person's own staff application (a staff member without a badge who sent
    nothing yet has one with no item), or None for anybody else."""
    item = latest_item(db, user.id)
    if item is None:
        if user.member_type != membership.MemberType.STAFF:
            return None
        return Application(user.membership_status, None, [])
    docs = list(
        db.scalars(
            select(ApplicantDocument)
            .where(ApplicantDocument.review_item_id == item.id)
            .order_by(ApplicantDocument.uploaded_at, ApplicantDocument.id)
        )
    )
    return Application(user.membership_status, item, docs)


def submit_document(
    db: Session,
    user: User,
    data: bytes,
    filename: str,
    kind: str = "staff_card",
    registration_id: int | None = None,
) -> ReviewItem:
    """Store a staff applicant's document and put it before an operator.

    * first submission, or a corrected one after a rejection: membership
      ``DOCUMENT_SUBMITTED`` (pending), a (new) open review item with the file;
    * answer to "more information": the file joins the item, which reopens; the
      membership stays pending.

    Raises :class:`idp.orgs.documents.DocumentError` for a refused file (R-02, R-03)
    and :class:`ApplicationError`: ``not_staff`` (400), ``already_verified`` (409),
    ``already_submitted`` (409: waiting for an operator already). Flushes; the caller
    commits (or rolls back, leaving everything as it was)."""
    if kind not in DOCUMENT_KINDS:
        kind = "staff_card"
    state = verdicts.state_of(user)
    if state.member_type is not membership.MemberType.STAFF:
        raise ApplicationError("not_staff")
    if state.has_badge:
        raise ApplicationError("already_verified", 409)
    t = now()
    current = latest_item(db, user.id)
    if state.status is membership.Status.PENDING:
        if current is None or current.status != "more_info":
            raise ApplicationError("already_submitted", 409)
        item = current
        answer = True
    else:
        try:
            submitted = membership.apply(state, membership.Event.DOCUMENT_SUBMITTED, t)
        except membership.TransitionRefused:
            raise ApplicationError("already_submitted", 409) from None
        verdicts.set_state(user, submitted)
        item = review.open_item(
            db,
            kind=review.STAFF_VERIFICATION,
            user_id=user.id,
            registration_id=registration_id,
        )
        answer = False
    doc = review.attach(db, item, "answer" if answer else kind, data, filename)
    record(
        db,
        AuditTag.ENROLLMENT_STAFF_DOCUMENT_SUBMITTED,
        actor=user.id,
        subject=user.id,
        item=item.id,
        document=doc.id,
        media_type=doc.media_type,
    )
    db.flush()
    return item


def _mail(settings: Settings, user: User, decision: str, reason: str) -> None:
    send_templated(
        settings,
        user.email,
        "staff_decision",
        recipient_locale(settings, user),
        decision=decision,
        reason=reason,
        application_url=f"{settings.issuer}{APPLICATION_PATH}",
    )


@review.on_decision(review.STAFF_VERIFICATION)
def decided(
    db: Session, settings: Settings, item: ReviewItem, decision: str, reason: str, operator: int
) -> None:
    """What an operator's decision on a staff document does (R-05, R-06): approve ->
    staff_verified with a ``document`` verdict; reject -> rejected with the reason;
    more_info -> the question. The applicant is mailed in their language. A membership
    that is no longer pending refuses the decision (``ReviewError`` 409: the whole
    decision rolls back)."""
    user = db.get(User, item.user_id) if item.user_id is not None else None
    if user is None:
        raise review.ReviewError("not_found", 404)
    t = now()
    if decision in ("approve", "reject"):
        event = membership.Event.APPROVED if decision == "approve" else membership.Event.REJECTED
        try:
            verdicts.set_state(user, membership.apply(verdicts.state_of(user), event, t))
        except membership.TransitionRefused:
            raise review.ReviewError("already_decided", 409) from None
        if decision == "approve":
            verdicts.record(
                db,
                Verdict(
                    outcome=Outcome.VERIFIED,
                    method=Method.DOCUMENT,
                    at=t,
                    evidence_ref=f"review:{item.id}",
                    evidence_type="document",
                ),
                user_id=user.id,
            )
    db.flush()
    _mail(settings, user, decision, reason)
