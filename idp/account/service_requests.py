"""Service requests, the service (issue 11, MISSION A8, B4, B6): what a person cannot do
alone, filed from /account, reviewed by an operator in the review queue (kind
``service_request``), carried out by the system on approval, the result mailed in the
person's language.

    filed (open) --approve--> approved   lost_device, locked_authenticator: every second
       |                                 factor and recovery code revoked, sessions ended
       |                                 email_change: a code to the new address; the
       |                                 email changes when the person enters it here
       |                                 holder_change: the admin right moves (below)
       \\--reject (reason)--> rejected    nothing changes; the reason is mailed

One open request per kind and person (a second is ``already_open``); each field has a
size limit (:data:`FIELDS`); an optional supporting document is checked like every
upload (:func:`idp.enrollment.review.attach`, SECURITY.md R-02, R-03). The request's
``status`` follows its review item; ``result`` says what the system did.

Change of holder (MISSION A3, A7): the new holder is the person at the email given, or,
without one, the requester. A member of the organisation with that address gets the
admin right at once; any other address is invited as admin (72-hour link). A requester
who was an admin (the previous holder handing over) loses the admin right and stays a
member, even when the invitation is still pending: a holder who resigned keeps no
admin right, and the operators (who approved it) can invite again.

Nothing here commits unless its docstring says so: the caller commits or rolls back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.account import email_change, panels
from idp.account.identifiers import email_key, is_valid_email
from idp.account.service_request_messages import (
    field_labels,
    kind_labels,
    result_labels,
    status_labels,
)
from idp.account.services import set_email
from idp.account.signout import end_sessions
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.enrollment import review
from idp.enrollment.review import ReviewError
from idp.mail import recipient_locale, send_templated
from idp.mfa import email_codes, email_otp
from idp.mfa import services as mfa
from idp.mfa.email_otp import Outcome, Purpose
from idp.models import Grant, Membership, Organization, ReviewItem, ServiceRequest, User
from idp.oidc.revocation import end_grants
from idp.orgs import invitations
from idp.orgs import services as orgs

KINDS = ("lost_device", "locked_authenticator", "email_change", "holder_change")
FACTOR_KINDS = ("lost_device", "locked_authenticator")
OPEN = review.UNDECIDED
# Field -> the longest value accepted (characters, after trimming).
FIELDS: Mapping[str, int] = {
    "unit_code": 32,
    "given_name": 100,
    "family_name": 100,
    "email": 254,
    "phone": 32,
    "division": 200,
    "department": 200,
    "ministry": 200,
    "username": 64,
    "explanation": 2000,
}
REQUIRED = ("given_name", "family_name", "email", "username", "explanation")
KIND_FIELDS: Mapping[str, tuple[str, ...]] = {"email_change": ("new_email",)}
EMAIL_FIELDS = ("email", "new_email", "new_holder_email")
PHONE = re.compile(r"[0-9+][0-9 \-]{5,19}")
DOCUMENT_KIND = "supporting"
OPERATOR_REASON_MAX = 200


class RequestError(ValueError):
    """``errors``: (field, code) pairs, or one ("", code) for the whole request."""

    def __init__(self, errors: list[tuple[str, str]], status: int = 400) -> None:
        super().__init__(errors[0][1])
        self.errors, self.status = errors, status

    @property
    def code(self) -> str:
        return self.errors[0][1]


@dataclass(frozen=True)
class OrgChoice:
    org: Organization
    role: str


def my_orgs(db: Session, user_id: int) -> list[OrgChoice]:
    """The organisations the person belongs to (a change of holder names one)."""
    rows = db.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.name_th)
    ).all()
    return [OrgChoice(org, role) for org, role in rows]


def prefill(user: User) -> dict[str, str]:
    """What the form can take from the account."""
    return {
        "given_name": user.given_name_th or user.given_name,
        "family_name": user.family_name_th or user.family_name,
        "email": user.email,
        "phone": user.phone_number,
        "username": user.username,
        "unit_code": user.agency,
    }


def check_details(kind: str, form: Mapping[str, str]) -> dict[str, str]:
    """The request's details from the form, trimmed; raises :class:`RequestError` with
    every field's problem (``required``, ``too_long``, ``email_invalid``,
    ``phone_invalid``). Pure: the account's own checks come in :func:`file`."""
    if kind not in KINDS:
        raise RequestError([("kind", "kind_invalid")])
    limits = dict(FIELDS)
    for name in KIND_FIELDS.get(kind, ()):
        limits[name] = 254
    if kind == "holder_change":
        limits["new_holder_email"] = 254
    details: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    for name, limit in limits.items():
        value = (form.get(name) or "").strip()
        if len(value) > limit:
            errors.append((name, "too_long"))
        elif not value and (name in REQUIRED or name in KIND_FIELDS.get(kind, ())):
            errors.append((name, "required"))
        elif value and name in EMAIL_FIELDS and not is_valid_email(value):
            errors.append((name, "email_invalid"))
        elif value and name == "phone" and not PHONE.fullmatch(value):
            errors.append((name, "phone_invalid"))
        details[name] = value
    if errors:
        raise RequestError(errors)
    return details


def _lock_person(db: Session, user_id: int) -> None:
    """Serialise this person's filings (a row lock on PostgreSQL, the write lock on
    SQLite), so two parallel submissions cannot both pass the one-open-per-kind rule."""
    db.execute(
        update(User)
        .where(User.id == user_id)
        .values(updated_at=now())
        .execution_options(synchronize_session=False)
    )


def file(
    db: Session,
    user: User,
    kind: str,
    form: Mapping[str, str],
    document: tuple[bytes, str] | None = None,
) -> ServiceRequest:
    """File a request and open its review item. Raises :class:`RequestError`
    (field problems, ``already_open`` 409, ``email_same``, ``email_taken``,
    ``org_invalid``, ``new_holder_required``) or
    :class:`idp.orgs.documents.DocumentError` for a refused file. Audited
    (``account:service_request:submitted``). Flushes; the caller commits."""
    details = check_details(kind, form)
    org_id: int | None = None
    if kind == "email_change":
        new = details["new_email"]
        if email_key(new) == user.email_key:
            raise RequestError([("new_email", "email_same")])
        if db.scalar(select(User.id).where(User.email_key == email_key(new))) is not None:
            raise RequestError([("new_email", "email_taken")])
    if kind == "holder_change":
        org_id = _holder_org(db, user, form.get("org_id", ""), details)
        details["org_id"] = str(org_id)
    _lock_person(db, user.id)
    already = db.scalar(
        select(ServiceRequest.id).where(
            ServiceRequest.user_id == user.id,
            ServiceRequest.kind == kind,
            ServiceRequest.status.in_(OPEN),
        )
    )
    if already is not None:
        raise RequestError([("", "already_open")], 409)
    item = review.open_item(
        db, kind=review.SERVICE_REQUEST, user_id=user.id, org_id=org_id, fresh=True
    )
    t = now()
    req = ServiceRequest(
        user_id=user.id,
        kind=kind,
        details=details,
        status="open",
        review_item_id=item.id,
        result="",
        created_at=t,
        updated_at=t,
    )
    db.add(req)
    db.flush()
    if document is not None:
        review.attach(db, item, DOCUMENT_KIND, document[0], document[1])
    audit: dict[str, object] = {"request": req.id, "kind": kind, "item": item.id}
    if org_id is not None:
        audit["org"] = org_id
    record(db, AuditTag.SERVICE_REQUEST_SUBMITTED, actor=user.id, subject=user.id, **audit)
    return req


def _holder_org(db: Session, user: User, raw: str, details: Mapping[str, str]) -> int:
    choices = {str(c.org.id): c for c in my_orgs(db, user.id)}
    choice = choices.get(raw.strip())
    if choice is None:
        raise RequestError([("org_id", "org_invalid")])
    new = details.get("new_holder_email", "")
    if choice.role == orgs.ADMIN and (not new or email_key(new) == user.email_key):
        raise RequestError([("new_holder_email", "new_holder_required")])
    return choice.org.id


def requests_of(db: Session, user_id: int) -> list[ServiceRequest]:
    """The person's requests, newest first."""
    return list(
        db.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.user_id == user_id)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        )
    )


def own_request(db: Session, user_id: int, request_id: int) -> ServiceRequest | None:
    """The person's own request, or None (another person's id is not found: R-08)."""
    req = db.get(ServiceRequest, request_id)
    return req if req is not None and req.user_id == user_id else None


def for_item(db: Session, item_id: int) -> ServiceRequest | None:
    """The request behind a review item (its review page shows the details)."""
    return db.scalar(select(ServiceRequest).where(ServiceRequest.review_item_id == item_id))


def org_of(db: Session, req: ServiceRequest) -> Organization | None:
    raw = (req.details or {}).get("org_id")
    return db.get(Organization, int(raw)) if raw and str(raw).isdigit() else None


@panels.panel
def _account_panel(db: Session, user: User) -> dict[str, object]:
    return {
        "service_requests": requests_of(db, user.id),
        "sr_kinds": kind_labels(),
        "sr_statuses": status_labels(),
        "sr_results": result_labels(),
    }


def labels() -> dict[str, dict[str, str]]:
    """Every label the request pages use."""
    return {
        "kinds": kind_labels(),
        "statuses": status_labels(),
        "results": result_labels(),
        "fields": field_labels(),
    }


# --- What the system does --------------------------------------------------------


def reset_second_factors(db: Session, user: User, actor: int, reason: str) -> int:
    """THE reset of a person's second factors (an approved request, or the operator's
    action): every factor and recovery code revoked (:func:`idp.mfa.services.
    reset_factors`), every session ended (``ended_by_operator``), so the next sign-in
    that needs a second factor asks them to enrol one, and every grant ended (a lost
    phone's applications must not keep refreshing at their old assurance). Returns the
    factors ended. Flushes; the caller audits, commits and tells the person."""
    ended = mfa.reset_factors(db, user.id, reason)
    end_sessions(db, user, "ended_by_operator")
    end_grants(db, Grant.user_id == user.id)
    return ended


def _binding(req: ServiceRequest) -> str:
    """What the new address's code is bound to: this request (not a browser)."""
    return f"service-request:{req.id}"


def send_email_code(db: Session, settings: Settings, req: ServiceRequest, user: User) -> bool:
    """Mail a code for an approved email change to the new address (queued: it leaves
    after the caller commits). False within the resend pause. Flushes."""
    new = req.details["new_email"]
    issued = email_codes.issue(db, settings, user.id, Purpose.EMAIL_CHANGE, _binding(req), new)
    if issued.code is None:
        return False
    send_templated(
        settings,
        new,
        "email_change_code",
        recipient_locale(settings, user),
        username=user.username,
        email=new,
        code=issued.code,
        minutes=email_otp.POLICIES[Purpose.EMAIL_CHANGE].ttl // 60,
    )
    return True


def awaits_code(req: ServiceRequest) -> bool:
    return (
        req.kind == "email_change" and req.status == "approved" and req.result == "email_code_sent"
    )


def code_pending(db: Session, settings: Settings, req: ServiceRequest) -> bool:
    """Is a code for this request's new address still usable?"""
    found = email_codes.pending(db, settings, req.user_id, Purpose.EMAIL_CHANGE, _binding(req))
    return found is not None


def resend_code(db: Session, settings: Settings, user: User, req: ServiceRequest) -> None:
    """A new code for an approved email change (the old one stops working). Raises
    RequestError ``not_awaiting_code``, ``code_recently_sent``. Commits."""
    if req.user_id != user.id or not awaits_code(req):
        raise RequestError([("code", "not_awaiting_code")])
    if not send_email_code(db, settings, req, user):
        raise RequestError([("code", "code_recently_sent")], 429)
    db.commit()


def confirm_email(
    db: Session, settings: Settings, user: User, req: ServiceRequest, code: str
) -> str:
    """The person enters the code sent to the new address: the email changes to the
    address that code went to (verified), audited; returns the old address. Raises
    RequestError ``not_awaiting_code``, ``code_wrong``, ``code_locked``,
    ``code_expired``, ``email_taken``. Each try counts in the account's lockout
    (:func:`idp.mfa.email_codes.verify` commits the try); the change itself: the
    caller commits."""
    if req.user_id != user.id or not awaits_code(req):
        raise RequestError([("code", "not_awaiting_code")])
    verdict = email_codes.verify(
        db, settings, user.id, Purpose.EMAIL_CHANGE, _binding(req), code.strip()[:12]
    )
    if verdict.outcome is Outcome.LOCKED:
        raise RequestError([("code", "code_locked")], 429)
    if verdict.outcome is Outcome.WRONG:
        raise RequestError([("code", "code_wrong")])
    if not verdict.accepted or verdict.sent_to is None:
        raise RequestError([("code", "code_expired")])
    new = verdict.sent_to
    if db.scalar(select(User.id).where(User.email_key == email_key(new), User.id != user.id)):
        raise RequestError([("code", "email_taken")], 409)
    old = user.email
    set_email(user, new, verified=True)
    req.result, req.updated_at = "email_changed", now()
    record(
        db,
        AuditTag.ACCOUNT_EMAIL_CHANGED,
        actor=user.id,
        subject=user.id,
        before=old,
        after=user.email,
        via="service_request",
        request=req.id,
    )
    record(
        db,
        AuditTag.SERVICE_REQUEST_CARRIED_OUT,
        actor=user.id,
        subject=user.id,
        request=req.id,
        kind=req.kind,
        result=req.result,
    )
    return old


def tell_old_address(settings: Settings, user: User, old: str) -> None:
    """The old address learns of the change (best effort; it may be gone)."""
    email_change.tell_old_address(settings, user, old)


def _change_holder(
    db: Session, settings: Settings, req: ServiceRequest, user: User, operator: int
) -> str:
    org = org_of(db, req)
    mine = orgs.membership(db, org.id, user.id) if org is not None else None
    if org is None or mine is None:
        raise ReviewError("service_request_holder_refused")
    new_email = (req.details or {}).get("new_holder_email", "")
    outgoing = mine.role == orgs.ADMIN
    result = "holder_promoted"
    try:
        if not new_email or email_key(new_email) == user.email_key:
            if outgoing:
                raise ReviewError("service_request_holder_refused")
            orgs.set_role(db, org.id, user.id, orgs.ADMIN, actor=operator)
        else:
            holder = db.scalar(select(User).where(User.email_key == email_key(new_email)))
            member = orgs.membership(db, org.id, holder.id) if holder is not None else None
            if member is not None:
                if member.role != orgs.ADMIN:
                    orgs.set_role(db, org.id, holder.id, orgs.ADMIN, actor=operator)
            else:
                invitations.invite(
                    db, settings, org, new_email, operator, role=orgs.ADMIN, locale=user.locale
                )
                result = "holder_invited"
    except invitations.InvitationError:
        raise ReviewError("service_request_holder_refused") from None
    if outgoing:
        # The previous holder's right ends now, even while the invitation waits: the
        # operator approved the handover (see the module docstring).
        mine.role = "member"
        record(
            db,
            AuditTag.ORG_ROLE_CHANGED,
            actor=operator,
            subject=user.id,
            org=org.id,
            before=orgs.ADMIN,
            after="member",
            via="service_request",
        )
    return result


@review.on_decision(review.SERVICE_REQUEST)
def decided(
    db: Session, settings: Settings, item: ReviewItem, decision: str, reason: str, operator: int
) -> None:
    """Carry out an approved request (module docstring), record what was done
    (``account:service_request:carried_out``) and mail the result. A question
    (more_info) is refused: approve or reject. Raising ReviewError rolls the whole
    decision back."""
    req = for_item(db, item.id)
    user = db.get(User, req.user_id) if req is not None else None
    if req is None or user is None:
        raise ReviewError("not_found", 404)
    if decision == "more_info":
        raise ReviewError("service_request_no_question")
    result = ""
    if decision == "approve":
        if req.kind in FACTOR_KINDS:
            why = "lost_device" if req.kind == "lost_device" else "other"
            ended = reset_second_factors(db, user, operator, why)
            result = "factors_reset"
            extra: dict[str, object] = {"factors": ended}
        elif req.kind == "email_change":
            new = req.details["new_email"]
            if db.scalar(select(User.id).where(User.email_key == email_key(new))) is not None:
                raise ReviewError("service_request_email_taken")
            send_email_code(db, settings, req, user)
            result, extra = "email_code_sent", {}
        else:
            result = _change_holder(db, settings, req, user, operator)
            extra = {"org": int(req.details["org_id"])}
    else:
        extra = {}
    req.status, req.result, req.updated_at = item.status, result, now()
    record(
        db,
        AuditTag.SERVICE_REQUEST_CARRIED_OUT,
        actor=operator,
        subject=user.id,
        request=req.id,
        kind=req.kind,
        decision=decision,
        result=result,
        reason=reason,
        **extra,
    )
    db.flush()
    _mail_result(settings, user, req, reason)


def _mail_result(settings: Settings, user: User, req: ServiceRequest, reason: str) -> None:
    """The result in the person's language (best effort: the decision stands, and the
    person sees it on /account). An approved email change is told at the new address
    too, since the old one is gone."""
    to = [user.email]
    if req.kind == "email_change" and req.status == "approved":
        to.append(req.details["new_email"])
    for address in to:
        send_templated(
            settings,
            address,
            "service_request_result",
            recipient_locale(settings, user),
            username=user.username,
            kind=req.kind,
            approved=req.status == "approved",
            result=req.result,
            reason=reason,
            request_url=f"{settings.issuer}/account/requests/{req.id}",
        )


def reset_by_operator(db: Session, user_id: int, operator: int, reason: str) -> User:
    """The operator's "reset second factors" on the people page: a reason (at most
    :data:`OPERATOR_REASON_MAX` characters) is required; audited
    (``op:user:factors_reset`` with the reason). Raises RequestError
    ``factors_reason_missing``, ``factors_self``; LookupError for no such person.
    The caller commits, then tells the person."""
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    reason = (reason or "").strip()[:OPERATOR_REASON_MAX]
    if not reason:
        raise RequestError([("reason", "factors_reason_missing")])
    if user.id == operator:
        raise RequestError([("reason", "factors_self")], 403)
    ended = reset_second_factors(db, user, operator, "other")
    record(
        db, AuditTag.OP_FACTORS_RESET, actor=operator, subject=user.id, reason=reason, factors=ended
    )
    return user


def tell_factors_reset(settings: Settings, user: User) -> None:
    """The person learns of an operator's reset (the factor-removed mail)."""
    mfa.notify(settings, user, "factor_removed", kind="all", name="", reason="", when=now())
