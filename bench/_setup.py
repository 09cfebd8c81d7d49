"""Shared set-up of the benchmarks: a fresh PostgreSQL database of this run, migrated.

Every run gets names of its own (database, data directory, Redis namespace): the
process id and a random suffix. Two runs at once then never drop or share each
other's database or broker keys; `drop_postgres` removes only the database this run made.
"""

from __future__ import annotations

import os
import secrets

import asyncpg

from outreach.config import Settings, set_settings
from outreach.db import make_engine, migrate, use_engine

ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unique_name(prefix: str) -> str:
    """`prefix` with this process's id and a random suffix: a name no other run uses."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


async def fresh_postgres(name: str) -> Settings:
    """Create database `name` (a `unique_name`), migrate it and make it this process's."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        # No DROP first: the name is this run's own, so it cannot exist yet; an existing
        # database of that name belongs to someone else and CREATE refuses loudly.
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings.from_env(
        {
            "DATABASE_URL": dsn,
            "SECRET_KEY": "benchmark-secret-key-0123456789abcdef",
            "OUTREACH_DATA_DIR": f"/tmp/{name}",
            "EMBEDDED_WORKER": "false",
        }
    )
    set_settings(settings)
    use_engine(make_engine(settings))
    await migrate()
    return settings


async def drop_postgres(name: str) -> None:
    """Drop this run's own database (FORCE ends only connections to that database)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
