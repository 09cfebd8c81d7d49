"""Fixtures of the feed tests: the cast of `make_world`, ical.js, a clean body cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from outreach.feeds import services
from tests.factories import World, make_world
from tests.feeds.parsers import icaljs_ready


@pytest.fixture
async def world(db: str) -> World:
    return await make_world()


@pytest.fixture(scope="session")
def icaljs() -> Path:
    """Mozilla's ical.js, installed from npm once per session (fails on CI without Node)."""
    return icaljs_ready()


@pytest.fixture(autouse=True)
def _fresh_body_cache() -> Iterator[None]:
    # Each test has a fresh database: bodies cached by an earlier test must not be served.
    services._bodies.clear()
    yield
    services._bodies.clear()
