"""users.locale: the language the person chose, NULL until chosen

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:00:00

Issue 9: every mail goes out in its recipient's language. ``users.locale`` existed
(it fed the OIDC ``locale`` claim) but nobody ever chose it: every row holds the model
default "th". It becomes nullable, NULL meaning "not chosen" (mails then use
IDP_DEFAULT_LOCALE), and those "th" values, which nobody chose, become NULL, so a
deployment whose default is English writes to its people in English until they choose.

SQLite cannot drop a NOT NULL constraint in place, and Alembic's batch mode would copy
the table and DROP the old one: with foreign keys on, that DROP deletes every row that
references ``users`` with ON DELETE CASCADE (memberships, factors, grants...). So on
SQLite the values move to a new nullable column and the old one is dropped natively
(ALTER TABLE ... DROP COLUMN, SQLite 3.35+), which touches no other table. The
downgrade makes NULL "th" again (on SQLite with a column default 'th', which 0009 did
not have: SQLite cannot add a NOT NULL column without one).
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _replace_column(new_type: str, value: str) -> None:
    """SQLite: ``locale`` becomes a column of ``new_type`` holding ``value`` (SQL)."""
    if sqlite3.sqlite_version_info < (3, 35):
        raise RuntimeError(
            "migration 0010 needs SQLite 3.35 or newer (ALTER TABLE DROP COLUMN); "
            f"this Python has {sqlite3.sqlite_version}"
        )
    op.execute(f"ALTER TABLE users ADD COLUMN locale_new {new_type}")
    op.execute(f"UPDATE users SET locale_new = {value}")  # noqa: S608 - our literals only
    op.execute("ALTER TABLE users DROP COLUMN locale")
    op.execute("ALTER TABLE users RENAME COLUMN locale_new TO locale")


def upgrade() -> None:
    if _is_sqlite():
        _replace_column("VARCHAR(10)", "NULLIF(locale, 'th')")
    else:
        op.alter_column("users", "locale", existing_type=sa.String(length=10), nullable=True)
        op.execute("UPDATE users SET locale = NULL WHERE locale = 'th'")


def downgrade() -> None:
    if _is_sqlite():
        _replace_column("VARCHAR(10) NOT NULL DEFAULT 'th'", "COALESCE(locale, 'th')")
    else:
        op.execute("UPDATE users SET locale = 'th' WHERE locale IS NULL")
        op.alter_column("users", "locale", existing_type=sa.String(length=10), nullable=False)
