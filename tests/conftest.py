"""Test fixtures: one suite, both databases, real services.

`db` runs each test on SQLite and on PostgreSQL. PostgreSQL comes from
TEST_PG_ADMIN_URL (default: the local server); when it cannot be reached the
postgres half is skipped, except on CI (CI=true), where that fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from _pytest.terminal import TerminalReporter

# The tests' files (SQLite databases, mail, data dirs of the servers they start) on a
# RAM disk where there is one: on this machine's disk every SQLite commit waits about 10 ms
# for fsync (a write under 1 ms on tmpfs), and what a test writes must outlive its process,
# not a power cut. Workers and the servers the tests start inherit it.
if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", "/dev/shm")

# Before outreach is imported: keep the embedded defaults out of the working tree.
os.environ.setdefault("OUTREACH_DATA_DIR", "/tmp/outreach-tests-default")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.pop("SMTP_URL", None)

from piccolo.engine.postgres import PostgresEngine

from outreach.config import Settings, get_settings, set_settings
from outreach.db import all_tables, make_engine, migrate, use_engine
from tests.cheap_hashing import use_cheap_password_hashing
from tests.support import (
    ADMIN_DSN,
    TEST_DB_NAME,
    TEST_SECRET,
    postgres_dsn,
    require_service,
)

use_cheap_password_hashing()


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
        # A commit need not wait for its WAL on disk (about 4 ms here): a crash of the server
        # could lose the last commits, which no test does; every answer is the same.
        await conn.execute(f'ALTER DATABASE "{TEST_DB_NAME}" SET synchronous_commit = off')
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


class _PooledTestEngine(PostgresEngine):
    """PostgreSQL through pools kept per event loop for the test process.

    Without a pool every statement outside a transaction opened a connection of its own
    (a new PostgreSQL backend process: 5 to 20 ms here, most of a PostgreSQL test's time).
    An asyncpg pool serves only the loop that made it: the tests run on pytest-asyncio's
    session loop, whose pool `engine` starts; another loop that lives long (Schemathesis'
    portal thread) gets one through `pool_for_this_loop`; any other loop gets new
    connections as before. It is not the production pool: `db.serving_from_pool()` stays
    false, so the per-process caches stay off and every test reads what it wrote.
    """

    # Enough connections for the tests that race requests on purpose; idle ones close after
    # a few seconds, so that three workers, the servers the tests start and a second suite
    # beside stay under PostgreSQL's 100 connections.
    POOL = {"min_size": 1, "max_size": 8, "max_inactive_connection_lifetime": 3.0}

    @property  # type: ignore[override]
    def pool(self) -> Any:
        pools = self.__dict__.get("_pools")
        if not pools:
            return None
        try:
            return pools.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    @pool.setter
    def pool(self, value: Any) -> None:
        pools = self.__dict__.setdefault("_pools", {})
        if value is None:
            if pools:  # Piccolo sets None when made (no loop runs then) and when closed
                pools.pop(asyncio.get_running_loop(), None)
        else:
            pools[asyncio.get_running_loop()] = value

    async def start_connection_pool(self, **kwargs: Any) -> None:
        await super().start_connection_pool(**{**self.POOL, **kwargs})

    async def pool_for_this_loop(self) -> None:
        if self.pool is None:
            await self.start_connection_pool()


# The engine of each backend this process has made and migrated, used again when the order
# of the tests switches backend.
_engines: dict[str, Any] = {}


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, session_dir: Path) -> AsyncIterator[str]:
    """Migrate a fresh database of each kind once per process; yields the backend name.

    pytest sets this fixture up again each time the order of the tests switches backend
    (more often with xdist, whose workers take the tests in batches): the engine and the
    database made the first time are used again. PostgreSQL's is dropped when the session
    ends.
    """
    backend: str = request.param
    settings = make_settings(session_dir / backend, backend)
    if backend not in _engines:
        if backend == "postgres":
            try:
                await _recreate_postgres_database()
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                require_service("PostgreSQL", str(exc))
            made: Any = _PooledTestEngine(config={"dsn": settings.database_url})
        else:
            made = make_engine(settings)
        use_engine(made)
        await migrate()
        if backend == "postgres":
            await made.start_connection_pool()
        _engines[backend] = made
    use_engine(_engines[backend])
    yield backend


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "postgres" in _engines:
        # Close the pools' connections first: a pool that sees its connections dropped with
        # the database would try to open new ones and log a traceback at the end of the run.
        for pool in _engines["postgres"].__dict__.get("_pools", {}).values():
            with contextlib.suppress(RuntimeError):  # its loop already closed: nothing runs
                pool.terminate()
        with contextlib.suppress(TimeoutError, OSError, asyncpg.PostgresError):
            asyncio.run(_drop_postgres_database())


@pytest.fixture
def settings(engine: str, session_dir: Path) -> Iterator[Settings]:
    """The settings of the current backend, returned by `get_settings()` during the test."""
    value = make_settings(session_dir / engine, engine)
    set_settings(value)
    yield value
    set_settings(None)


# PostgreSQL's statement that empties every table and restarts its ids, made once.
_postgres_emptying: list[str] = []


async def _empty_all_tables(backend: str) -> None:
    """Every table empty, in one transaction on one connection (before every test).

    DELETE in reverse dependency order rather than TRUNCATE: PostgreSQL's TRUNCATE makes
    new files for every table and index (0.5 to 0.9 s for the 21 tables, mostly empty,
    on this machine), DELETE of a few rows takes milliseconds. The ids restart at 1 as
    with TRUNCATE ... RESTART IDENTITY.
    """
    names = [table._meta.tablename for table in reversed(all_tables())]
    deletes = "".join(f"DELETE FROM {name};" for name in names)
    if backend == "sqlite":
        path = all_tables()[0]._meta.db.path
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            conn.executescript(f"BEGIN IMMEDIATE;{deletes}COMMIT;")
        return
    pool = _engines["postgres"].pool
    conn = await (
        pool.acquire() if pool is not None else asyncpg.connect(postgres_dsn(), timeout=10)
    )
    try:
        if not _postgres_emptying:
            sequences = await conn.fetch(
                "SELECT pg_get_serial_sequence(quote_ident(table_name), column_name) AS name "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ANY($1::text[]) "
                "AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL",
                names,
            )
            restarts = "".join(f"ALTER SEQUENCE {row['name']} RESTART;" for row in sequences)
            _postgres_emptying.append(f"BEGIN;{deletes}{restarts}COMMIT;")
        await conn.execute(_postgres_emptying[0])
    finally:
        await (pool.release(conn) if pool is not None else conn.close())


@pytest.fixture
async def db(engine: str, settings: Settings) -> AsyncIterator[str]:
    """An empty, migrated database of the current backend ("sqlite" or "postgres")."""
    await _empty_all_tables(engine)
    yield engine


_apps: dict[Settings, Any] = {}


async def app_for_settings() -> Any:
    """The app for the settings in force, built once per process (about 0.7 s each).

    An app reads the settings when it is built (CSRF, session cookie, rate limit, body
    size), so it is kept per settings value: a test that changes them before asking for
    `client` gets an app of its own. What an app keeps between requests (the rate
    limiter's counts) is forgotten before each test, as with a new app.
    """
    from outreach.app import create_app

    settings = get_settings()
    app = _apps.pop(settings, None)
    if app is None:
        app = create_app(start_workers=False, use_pool=False)
    _apps[settings] = app  # the most recent last; settings made per test (tmp dirs) go
    while len(_apps) > 8:
        del _apps[next(iter(_apps))]
    for name in ("rate_limit", app.response_cache_config.store):
        await app.stores.get(name).delete_all()
    return app


@pytest.fixture
async def client(db: str) -> AsyncIterator[Any]:
    """The HTTP app on the current backend, without the in-process worker."""
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=await app_for_settings()) as test_client:
        yield test_client


# --quick: the developer loop, the unit-level tests: those that run inside the test
# process on SQLite. Left out: the PostgreSQL half, and what starts or needs something
# outside (Redis, a browser, servers and CLI commands as processes, services broken on
# purpose) or fuzzes for minutes. All of it still runs in ./scripts/test and on CI.
_NOT_QUICK_MARKS = ("slow", "redis", "postgres_only", "processes")
_NOT_QUICK_DIRS = {"e2e", "faults"}  # a browser, real servers broken on purpose


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        default=False,
        help="developer loop: the SQLite half of the in-process tests only (no PostgreSQL "
        "half; no Redis, browser, fault, process-starting or slow tests); ./scripts/test "
        "runs everything",
    )


def _top_dir(item: pytest.Item) -> str:
    return item.path.relative_to(Path(__file__).parent).parts[0]


def _in_quick_loop(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("engine") == "postgres":
        return False
    if any(item.get_closest_marker(mark) for mark in _NOT_QUICK_MARKS):
        return False
    return _top_dir(item) not in _NOT_QUICK_DIRS


def _runs_long(item: pytest.Item) -> int:
    """0 for the longest tests (marked slow: fuzzing, faults, racing servers), then the
    browser tests, then those that start processes, 3 for the rest."""
    if item.get_closest_marker("slow"):
        return 0
    if _top_dir(item) == "e2e":
        return 1
    return 2 if item.get_closest_marker("processes") else 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("quick"):
        kept = [item for item in items if _in_quick_loop(item)]
        left_out = [item for item in items if not _in_quick_loop(item)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
        items[:] = kept
    # The long tests first: xdist hands the tests out in this order, so they start while
    # the short ones fill the gaps, instead of one of them starting last and leaving the
    # other workers idle at the end. A stable sort: the rest keeps pytest's order.
    items.sort(key=_runs_long)


# The fault tests' count lines (tests/faults), gathered from the reports: with xdist the
# tests run in workers and only their reports reach this process.
_fault_counts: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _fault_counts.extend(str(value) for key, value in report.user_properties if key == "faults")


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if _fault_counts:
        terminalreporter.section("faults: counts")
        for line in _fault_counts:
            terminalreporter.write_line(line)
