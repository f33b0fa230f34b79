"""emailotp: one table for every emailed code

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 10:00:00

Issue 8: one emailed-code module (idp.mfa.email_otp). Its codes, for sign-in and the
email change alike, live in ``email_codes`` with their purpose, a keyed hash of what
they are bound to, the address they went to and their tries. The old ``email_otps``
rows are dropped, not copied: they live at most 10 minutes and were hashed under a
key the new module no longer uses, so nobody could enter one successfully anyway (a
person signing in during the upgrade asks for a new code).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("sent_to", sa.String(length=254), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.Column("superseded_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_codes")),
    )
    with op.batch_alter_table("email_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_codes_slot", ["user_id", "purpose", "binding"], unique=False
        )
    with op.batch_alter_table("email_otps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_otps_user_id"))
        batch_op.drop_index(batch_op.f("ix_email_otps_flow_key"))
    op.drop_table("email_otps")


def downgrade() -> None:
    op.create_table(
        "email_otps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("flow_key", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.Column("superseded_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_otps_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_otps")),
    )
    with op.batch_alter_table("email_otps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_otps_flow_key"), ["flow_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_email_otps_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("email_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_email_codes_slot")
    op.drop_table("email_codes")
