"""sign-in counts per typed username or email

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00

Issue 9: the login page says "sign-in with this name is paused" after too many
failures. It reads that from a count per typed identifier (a keyed hash of the
normalised username or email), kept for names without an account too, so the message
is the same for every name and confirms no account (SECURITY.md A-02). The account's
own counter (``users.failed_logins``) still decides whether a password is verified.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identifier_counters",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("last_attempt_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_identifier_counters")),
    )


def downgrade() -> None:
    op.drop_table("identifier_counters")
