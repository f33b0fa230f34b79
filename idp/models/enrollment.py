"""Registration, identity proofing, the personal-data notice and the review queue
(issue 10). Rules live in :mod:`idp.enrollment`; these are columns."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class PersonalDataNotice(Base):
    """A version of the personal-data (PDPA) notice, Thai and English text. The newest
    version is the one asked for; a person who accepted an older one is asked again at
    their next sign-in (the pipeline's ``terms`` step). Versions are never edited:
    ``idp notice publish`` adds one."""

    __tablename__ = "personal_data_notices"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text_th: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    published_at: Mapped[int] = mapped_column(BigInteger)
    published_by: Mapped[str] = mapped_column(String(100), default="")


class NoticeAcceptance(Base):
    """Who accepted which notice version, when and from where (PDPA s.19: the
    controller must be able to show the consent). Kept when a registration is purged;
    ``user_id`` is filled once the registration becomes an account."""

    __tablename__ = "notice_acceptances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(ForeignKey("personal_data_notices.version"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), nullable=True
    )
    accepted_at: Mapped[int] = mapped_column(BigInteger)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class Registration(Base):
    """A registration in progress (a person, or a company with its first admin), kept
    across browser restarts and resumed through the emailed link or code; purged
    ``registration_days`` (7) after it was started unless it became an account.

    The identity document is stored like ``users.id_doc_*`` (encrypted, keyed hash,
    masked): never in ``data``. ``data`` holds the typed details (names, gender,
    birthdate as ISO text, mobile, agency, position; company fields)."""

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(43), unique=True)  # opaque, in URLs
    kind: Mapped[str] = mapped_column(String(16), default="person")  # person | company
    step: Mapped[str] = mapped_column(String(32), default="identity")
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | done
    member_type: Mapped[str] = mapped_column(String(16), default="public")
    agency: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(default=dict)
    id_doc_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    id_doc_cipher: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_doc_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    id_doc_masked: Mapped[str] = mapped_column(String(32), default="")
    nationality: Mapped[str | None] = mapped_column(String(2), nullable=True)
    passport_expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    email_key: Mapped[str] = mapped_column(String(254), default="", index=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    notice_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Keyed hash of the resume token mailed to the person (the token itself is never
    # stored); the browser that started it also holds the public id in its session.
    resume_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    locale: Mapped[str | None] = mapped_column(String(10), nullable=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), nullable=True
    )
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger, index=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class IdentityVerification(Base):
    """One verifier's verdict (:class:`idp.enrollment.verifiers.Verdict`) about a person
    or a registration. The ``verified_claims`` in tokens are built from the newest
    verified row of an account: its method, time, trust framework, evidence and the
    claims the source confirmed. No identity document number is stored here."""

    __tablename__ = "identity_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    method: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    at: Mapped[int] = mapped_column(BigInteger)
    evidence_ref: Mapped[str] = mapped_column(String(200), default="")
    trust_framework: Mapped[str] = mapped_column(String(64), default="")
    evidence_type: Mapped[str] = mapped_column(String(32), default="")
    claims: Mapped[dict] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(64), default="")


class ReviewItem(Base):
    """One thing an operator must look at (the review queue, oldest first): a staff
    verification without a directory match, or a company registration. Decided once:
    ``approved`` and ``rejected`` are final (a second decision is a 409); ``more_info``
    waits for the applicant's new upload, which reopens it."""

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_queue", "status", "submitted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # staff_verification | company_registration
    status: Mapped[str] = mapped_column(
        String(16), default="open"
    )  # open|more_info|approved|rejected
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )  # the applicant
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), nullable=True
    )
    # Reasons an operator should look twice, e.g. "document_on_file" (R-01: the
    # applicant is told nothing, the operator is).
    flags: Mapped[list] = mapped_column(default=list)
    submitted_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    decided_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # rejection reason / question


class ApplicantDocument(Base):
    """A file an applicant uploaded for a review item (staff ID card, signed form, an
    answer to "more information"). Checked by content like the power-of-attorney
    upload (:mod:`idp.orgs.documents`); bytes in the database, served only to operators
    as an attachment under a server-made name (SECURITY.md R-02..R-04)."""

    __tablename__ = "applicant_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # staff_card | signed_form | answer
    media_type: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[int] = mapped_column(BigInteger)


class ProofingTransaction(Base):
    """A cross-device identity-app check (SECURITY.md X-02): bound to the browser
    session that started it (``session_binding``, a keyed hash), single use, valid
    5 minutes; the QR carries only ``id``. ``state``/``nonce``/``code_verifier`` are
    those of our OpenID Connect request to the proofing provider."""

    __tablename__ = "proofing_transactions"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    session_binding: Mapped[str] = mapped_column(String(64))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="started")
    match_code: Mapped[str] = mapped_column(String(8))
    oauth_state: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    result: Mapped[dict | None] = mapped_column(nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
