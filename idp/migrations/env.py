from __future__ import annotations

from alembic import context

from idp.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        from idp.db import make_engine, without_statement_timeout

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            without_statement_timeout(connection)
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
