"""Test fixtures: one suite, both databases, real services.

`db` runs each test on SQLite and on PostgreSQL. PostgreSQL comes from
TEST_PG_ADMIN_URL (default: the local server); when it cannot be reached the
postgres half is skipped, except on CI (CI=true), where that fails the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

# Before outreach is imported: keep the embedded defaults out of the working tree.
os.environ.setdefault("OUTREACH_DATA_DIR", "/tmp/outreach-tests-default")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.pop("SMTP_URL", None)

from outreach.config import Settings, set_settings
from outreach.db import all_tables, make_engine, migrate, use_engine
from tests.support import (
    ADMIN_DSN,
    TEST_DB_NAME,
    TEST_SECRET,
    postgres_dsn,
    require_service,
)


async def _recreate_postgres_database() -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            TEST_DB_NAME,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}"')
        await conn.execute(f'CREATE DATABASE "{TEST_DB_NAME}"')
    finally:
        await conn.close()


logging.getLogger("httpx").setLevel(logging.WARNING)


async def _drop_postgres_database() -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}" WITH (FORCE)')
    finally:
        await conn.close()


def make_settings(data_dir: Path, backend: str) -> Settings:
    env = {
        "OUTREACH_DATA_DIR": str(data_dir),
        "SECRET_KEY": TEST_SECRET,
        "BASE_URL": "http://outreach.test",
    }
    if backend == "postgres":
        env["DATABASE_URL"] = postgres_dsn()
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outreach")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, session_dir: Path) -> AsyncIterator[str]:
    """Migrate a fresh database of each kind once per session; yields the backend name."""
    backend: str = request.param
    data_dir = session_dir / backend
    if backend == "postgres":
        try:
            await _recreate_postgres_database()
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            require_service("PostgreSQL", str(exc))
    settings = make_settings(data_dir, backend)
    use_engine(make_engine(settings))
    await migrate()
    yield backend
    if backend == "postgres":
        await _drop_postgres_database()


@pytest.fixture
def settings(engine: str, session_dir: Path) -> Iterator[Settings]:
    """The settings of the current backend, returned by `get_settings()` during the test."""
    value = make_settings(session_dir / engine, engine)
    set_settings(value)
    yield value
    set_settings(None)


async def _empty_all_tables(backend: str) -> None:
    tables = all_tables()
    engine = tables[0]._meta.db
    names = ", ".join(t._meta.tablename for t in tables)
    if backend == "postgres":
        await engine.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(tables):
            await engine.run_ddl(f"DELETE FROM {table._meta.tablename}")


@pytest.fixture
async def db(engine: str, settings: Settings) -> AsyncIterator[str]:
    """An empty, migrated database of the current backend ("sqlite" or "postgres")."""
    await _empty_all_tables(engine)
    yield engine


@pytest.fixture
async def client(db: str) -> AsyncIterator[Any]:
    """The HTTP app on the current backend, without the in-process worker."""
    from litestar.testing import AsyncTestClient

    from outreach.app import create_app

    async with AsyncTestClient(app=create_app(start_workers=False, use_pool=False)) as test_client:
        yield test_client
