"""Shared test constants and helpers (importable, unlike conftest)."""

from __future__ import annotations

import os

import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"
ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
# pytest-xdist names its workers gw0, gw1, ...; None in a run without workers.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# One database per test process (each xdist worker is one), so that runs and workers side
# by side never drop each other's: outreach_test_<pid>, or TEST_PG_DATABASE_<worker>.
TEST_DB_NAME = os.environ.get("TEST_PG_DATABASE", f"outreach_test_{os.getpid()}")
if WORKER and "TEST_PG_DATABASE" in os.environ:
    TEST_DB_NAME = f"{TEST_DB_NAME}_{WORKER}"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def redis_namespace(name: str) -> str:
    """A Redis key prefix of this test process alone (the pid: one per xdist worker)."""
    return f"{name}-{os.getpid()}"


def postgres_dsn() -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{TEST_DB_NAME}"


def require_service(what: str, reason: str) -> None:
    """Skip when a service is missing on a developer's machine; fail on CI."""
    if ON_CI:
        pytest.fail(f"{what} is required on CI but unavailable: {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason}")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Clock:
    """A monotonic clock a test moves by hand (`clock.now += seconds`), for the caches."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
