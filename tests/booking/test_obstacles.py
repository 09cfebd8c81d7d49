"""What the teacher is told before booking: holidays refuse, clashes refuse or inform."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.booking.rules import class_visit_obstacles
from outreach.booking.writes import place_booking
from outreach.calendar.holidays import closures_between
from tests.factories import at, class_visit, make_event, make_slot, make_world, school_day


@pytest.fixture
async def world(db):
    return await make_world()


async def test_holidays_and_clashes_are_explained(world):
    event_id = await make_event(world.firm_a)
    day = school_day(10)
    free = await make_slot(world.firm_a, event_id, starts_at=at(day, 9))
    busy = await make_slot(world.firm_a, event_id, starts_at=at(day, 13))
    other = await make_event(world.firm_b)
    overlapping = await make_slot(world.firm_b, other, starts_at=at(day, 13, 30))
    closure = closures_between(day, day + timedelta(days=300))[0]
    closed = await make_slot(world.firm_a, event_id, starts_at=at(closure.first_day, 9))
    await place_booking(busy, class_visit("8a"), by=world.school_a)

    found = await class_visit_obstacles(
        [free, closed, overlapping], by=world.school_a, class_label="8A"
    )
    assert free not in found
    assert found[closed].blocking and found[closed].reason == closure.reason
    assert found[overlapping].reason == "class_conflict" and found[overlapping].blocking
    other_class = await class_visit_obstacles([overlapping], by=world.school_a, class_label="9b")
    assert other_class[overlapping].reason == "school_busy"
    assert not other_class[overlapping].blocking
    # Another school sees nothing of school A's visits; a firm gets no hints at all.
    assert await class_visit_obstacles([overlapping], by=world.school_b) == {}
    assert await class_visit_obstacles([closed], by=world.firm_a) == {}
