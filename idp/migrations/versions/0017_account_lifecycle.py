"""Account lifecycle (issue 11): forced password change, sessions' devices, back-channel
logout, service requests, account closure

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 16:00:00

- users.must_change_password: the pipeline's password_change step (MISSION B2);
  users.closure_requested_at / closed_at / erased_at: the PDPA closure of an account.
- web_sessions.user_agent / ip: the sessions list on /account.
- clients.backchannel_logout_uri / backchannel_logout_session_required (OpenID Connect
  Back-Channel Logout 1.0 section 2.2) and logout_deliveries, the retried outbox.
- service_requests (MISSION B6), reviewed in the review queue.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("closure_requested_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("user_agent", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("ip", sa.String(45), nullable=False, server_default=""))
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("backchannel_logout_uri", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "backchannel_logout_session_required",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
            )
        )
    op.create_table(
        "logout_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False, index=True),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sid", sa.String(43), nullable=False),
        sa.Column("sub", sa.String(64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("gave_up_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=False),
    )
    op.create_index(
        "ix_logout_deliveries_due", "logout_deliveries", ["delivered_at", "gave_up_at", "due_at"]
    )
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "review_item_id",
            sa.Integer(),
            sa.ForeignKey("review_items.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_requests")
    op.drop_index("ix_logout_deliveries_due", "logout_deliveries")
    op.drop_table("logout_deliveries")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("backchannel_logout_session_required")
        batch.drop_column("backchannel_logout_uri")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("ip")
        batch.drop_column("user_agent")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("closed_at")
        batch.drop_column("closure_requested_at")
        batch.drop_column("must_change_password")
