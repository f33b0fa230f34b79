"""Schema management through Alembic (no create_all outside tests of the migrations)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from idp.db import without_statement_timeout

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revision; idempotent."""
    cfg = alembic_config(str(engine.url))
    with engine.begin() as connection:
        without_statement_timeout(connection)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
