"""Hot-path indexes (issue 12, "How its cost grows")

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 12:10:00

Found by tests/integration/test_hot_path_plans.py (EXPLAIN on PostgreSQL with the hot
tables filled): two lookups by person scanned a whole big table.
- tokens.user_id: the person's live refresh tokens (account page, ending a person's
  grants on a factor reset, disabling or closure).
- audit_events.actor_user_id: the person's audit history as actor or subject (the
  PDPA data export); subject_user_id had its index already.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"])
    op.create_index("ix_audit_events_actor_user_id", "audit_events", ["actor_user_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_user_id", table_name="audit_events")
    op.drop_index("ix_tokens_user_id", table_name="tokens")
