"""Queued mails encrypted at rest (issue 13 review: the outbox held codes, links and
addresses in clear text until sent)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 18:45:00

- mail_outbox.sealed: one Fernet token of a queued mail's address, subject and bodies
  (SECURITY.md X-06, encrypted at rest); mail_outbox.recipient_hash: a keyed hash of
  the address, indexed, so that erasing an account finds its mails.

New columns only, with a server default, so workers of the previous release keep
writing their rows (clear text, ``sealed`` empty: the new sender sends those as they
are). New rows leave the old clear-text columns empty rather than putting ciphertext
in them: an old worker that picks one up tries an empty address, which every SMTP
server refuses (retried, never sent as garbage). The old columns are dropped one
release later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("sealed", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("recipient_hash", sa.String(64), nullable=False, server_default="")
        )
    op.create_index("ix_mail_outbox_recipient_hash", "mail_outbox", ["recipient_hash"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_recipient_hash", table_name="mail_outbox")
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("recipient_hash")
        batch.drop_column("sealed")
