"""authorization_codes.claims, grants.claims: the verified_claims request of a sign-in

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-02 05:00:00

Issue 10: a relying party asks for ``verified_claims`` through the OIDC ``claims``
request parameter (OpenID Connect for Identity Assurance 1.0). What it asked for, per
target (``id_token``, ``userinfo``), is kept with the code and then the grant, so the
ID token, the refreshed ID token and userinfo release exactly that. NULL: no such
request (the ``verified_claims`` scope then releases everything verified).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("authorization_codes", sa.Column("claims", sa.JSON(), nullable=True))
    op.add_column("grants", sa.Column("claims", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("grants", "claims")
    op.drop_column("authorization_codes", "claims")
