"""Alembic, driven from code: `db-upgrade`, the tests' fresh databases."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from core.settings import ROOT


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    return config


def upgrade_database(url: str) -> None:
    """Alembic to head: brings any empty (or older) database up to date."""
    command.upgrade(alembic_config(url), "head")
