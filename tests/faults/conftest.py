"""Fault tests: real processes and services broken on purpose; see harness.py.

Each test prints a line of counts (sent, stored, lost, duplicated); the lines of the
run are repeated at the end of pytest's report (by tests/conftest.py) and kept in
tests/artifacts/faults.jsonl.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from outreach.principal import Principal
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.faults.harness import RECORDED, MailSink, RedisServer


@dataclass(frozen=True)
class Scene:
    school: Principal
    token: str
    slot_ids: list[int]


@pytest.fixture
async def scene(db: str) -> Scene:
    """A school with a token and 8 factory-tour slots with room for 240 parties of 3."""
    world = await make_world()
    event = await make_event(world.firm_a, waitlist=True)
    day = school_day()
    slots = [
        await make_slot(world.firm_a, event, capacity=90, starts_at=at(day, 7 + i))
        for i in range(8)
    ]
    return Scene(world.school_a, world.tokens["school_a"], slots)


@pytest.fixture
async def redis_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = RedisServer(tmp_path / "redis")
    await server.start()
    yield server
    await server.kill()


@pytest.fixture
def mail_sink():  # type: ignore[no-untyped-def]
    sink = MailSink()
    yield sink
    sink.stop()


@pytest.fixture(autouse=True)
def counts_in_report(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Hand the test's count lines to the report: with xdist they are printed by the
    controller (tests/conftest.py), which never sees a worker's RECORDED."""
    before = len(RECORDED)
    yield
    for counts in RECORDED[before:]:
        request.node.user_properties.append(("faults", counts.line()))
