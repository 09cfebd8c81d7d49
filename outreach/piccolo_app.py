"""The one Piccolo app: every feature's tables, one migration history."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from outreach.db import all_tables

APP_CONFIG = AppConfig(
    app_name="outreach",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=all_tables(),
    migration_dependencies=[],
    commands=[],
)
