"""One class, one place at a time, whatever letters its label has: labels are compared
with Python's `casefold()` on both databases (PostgreSQL's statement folds only ASCII
and hands the rest back to be judged, see booking.writes_pg)."""

from __future__ import annotations

import pytest

from outreach.booking.writes import place_booking
from outreach.errors import Conflict
from tests.factories import World, at, class_visit, make_event, make_slot, make_world, school_day


@pytest.fixture
async def world(db: str) -> World:
    return await make_world()


@pytest.mark.parametrize(
    ("first", "second"),
    [("Straße", "STRASSE"), ("8ä", "8Ä"), ("8a", "8A"), ("Klasse ß", "klasse SS")],
)
async def test_labels_the_same_when_casefolded_clash(world: World, first: str, second: str):
    day = school_day()
    event = await make_event(world.firm_a)
    s1 = await make_slot(world.firm_a, event, starts_at=at(day, 9))
    s2 = await make_slot(world.firm_a, event, starts_at=at(day, 10))  # overlaps 9:00-10:30
    await place_booking(s1, class_visit(first, pupils=4), by=world.school_a)
    with pytest.raises(Conflict) as clash:
        await place_booking(s2, class_visit(second, pupils=4), by=world.teacher_a2)
    assert clash.value.reason == "class_conflict"


async def test_other_classes_with_letters_beyond_ascii_do_not_clash(world: World):
    day = school_day()
    event = await make_event(world.firm_a)
    s1 = await make_slot(world.firm_a, event, starts_at=at(day, 9))
    s2 = await make_slot(world.firm_a, event, starts_at=at(day, 10))
    await place_booking(s1, class_visit("8ö", pupils=4), by=world.school_a)
    await place_booking(s1, class_visit("Straße", pupils=4), by=world.school_a)
    placed = await place_booking(s2, class_visit("9ö", pupils=4), by=world.teacher_a2)
    assert placed.booking.status == "confirmed" and placed.booking.class_label == "9ö"
