"""Typed SQLAlchemy 2 models. Columns only: rules live in the areas' pure modules."""

from idp.models.base import Base
from idp.models.client import Client
from idp.models.enrollment import (
    ApplicantDocument,
    IdentityVerification,
    NoticeAcceptance,
    PersonalDataNotice,
    ProofingTransaction,
    Registration,
    ReviewItem,
)
from idp.models.lifecycle import LogoutDelivery, ServiceRequest
from idp.models.mfa import AuditEvent, EmailCode, MfaFactor, RecoveryCode, WebAuthnChallenge
from idp.models.oauth import AuthorizationCode, Consent, Grant, Token
from idp.models.org import (
    ClientScope,
    Entitlement,
    Invitation,
    Membership,
    Organization,
    OrgChoice,
    OrgClient,
    OrgDocument,
)
from idp.models.outbox import OutboxMail
from idp.models.session import WebSession
from idp.models.signing_key import SigningKey
from idp.models.user import IdentifierCounter, User

__all__ = [
    "ApplicantDocument",
    "IdentityVerification",
    "NoticeAcceptance",
    "PersonalDataNotice",
    "ProofingTransaction",
    "Registration",
    "ReviewItem",
    "ClientScope",
    "Entitlement",
    "Invitation",
    "Membership",
    "OrgChoice",
    "OrgClient",
    "OrgDocument",
    "Organization",
    "AuditEvent",
    "EmailCode",
    "MfaFactor",
    "RecoveryCode",
    "WebAuthnChallenge",
    "AuthorizationCode",
    "Base",
    "Client",
    "Consent",
    "Grant",
    "IdentifierCounter",
    "SigningKey",
    "Token",
    "User",
    "WebSession",
    "LogoutDelivery",
    "ServiceRequest",
    "OutboxMail",
]
