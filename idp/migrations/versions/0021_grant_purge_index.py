"""An index for purging grants (issue 12, "How its cost grows")

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:10:00

``idp jobs run`` deletes dead grants (``purge_grants``); ``authorization_codes.grant_id``
refers to them (ON DELETE SET NULL), so each deleted grant looked for its codes with a
scan of the table without this index.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_authorization_codes_grant_id", "authorization_codes", ["grant_id"])


def downgrade() -> None:
    op.drop_index("ix_authorization_codes_grant_id", table_name="authorization_codes")
