from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class Client(Base):
    """A relying party. Authlib's ClientMixin is implemented by
    :class:`idp.oidc.clients.OAuthClient`, a thin wrapper, so rules stay out of models."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 hex of a high-entropy generated secret (RECIPES.md 9); None = public client.
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list] = mapped_column(default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(default=list)
    scopes: Mapped[list] = mapped_column(default=list)
    grant_types: Mapped[list] = mapped_column(default=list)
    require_pkce: Mapped[bool] = mapped_column(default=True)
    skip_consent: Mapped[bool] = mapped_column(default=False)
    id_token_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Step-up (MFA issue): the least acr this client accepts, per-scope minimums, and
    # whether an emailed code may serve as the second step.
    min_acr: Mapped[str] = mapped_column(String(64), default="urn:idp:acr:pwd")
    scope_acr: Mapped[dict] = mapped_column(default=dict)
    allow_email_otp: Mapped[bool] = mapped_column(default=True)
    # Issue 10: the membership a person needs for this client (None | "verified" |
    # "staff_verified"; idp.enrollment.membership.meets), and whether its tokens may
    # carry the identity document number (off: SECURITY.md X-06).
    required_membership: Mapped[str | None] = mapped_column(String(16), nullable=True)
    release_id_document: Mapped[bool] = mapped_column(default=False)
    # Issue 11: OpenID Connect Back-Channel Logout 1.0. Where a signed logout_token is
    # POSTed when a session this client signed in through ends (None: not told), and
    # whether the client needs ``sid`` in it (always sent; advertised as required).
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None
