"""Alembic environment: the URL comes from Inkwell's settings (or the caller), never alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import models
from core.settings import Settings

config = context.config
url = config.attributes.get("database_url") or Settings().database.url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=models.Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:  # core/migrations.upgrade_database: its transaction holds the lock
        context.configure(connection=given, target_metadata=models.Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=models.Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
