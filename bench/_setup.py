"""Shared set-up of the benchmarks: a fresh PostgreSQL database, migrated."""

from __future__ import annotations

import os

import asyncpg

from outreach.config import Settings, set_settings
from outreach.db import make_engine, migrate, use_engine

ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def fresh_postgres(name: str) -> Settings:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
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
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
