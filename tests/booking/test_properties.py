"""Random sequences of book, cancel, decline, confirm and capacity changes keep the rules.

After every step, on both databases:
* a slot's held places equal the persons of its pending and confirmed bookings, and never
  exceed its capacity (rule 1);
* no waiting booking would fit into a slot's free places (rule 2: it would have been
  promoted);
* no class (school + label) holds two open bookings in overlapping slots (rule 3).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, confirm_booking, decline_booking, place_booking
from outreach.errors import DomainError
from outreach.events import services as events
from outreach.events.schemas import SlotPatch
from outreach.events.tables import Slot
from tests.factories import at, class_visit, make_event, make_slot, make_world, school_day

book = st.tuples(
    st.just("book"),
    st.integers(0, 3),  # slot
    st.integers(0, 1),  # school
    st.sampled_from(["8a", "8b", "9a"]),
    st.integers(1, 14),  # pupils
    st.integers(0, 2),  # adults
)
act = st.tuples(st.sampled_from(["cancel", "decline", "confirm"]), st.integers(0, 40))
resize = st.tuples(st.just("capacity"), st.integers(0, 3), st.integers(1, 30))
steps = st.lists(st.one_of(book, book, act, resize), min_size=5, max_size=25)


@pytest.fixture
async def cast(db):
    return await make_world()


async def check_invariants(slot_ids: list[int]) -> None:
    slots = {s["id"]: s for s in await Slot.select().where(Slot.id.is_in(slot_ids))}
    rows = await Booking.select(
        Booking.id,
        Booking.slot,
        Booking.status,
        Booking.persons,
        Booking.school,
        Booking.class_label,
    ).where(Booking.slot.is_in(slot_ids))
    for slot_id, slot in slots.items():
        mine = [r for r in rows if r["slot"] == slot_id]
        holding = sum(r["persons"] for r in mine if r["status"] in ("pending", "confirmed"))
        assert slot["held"] == holding <= slot["capacity"], (slot, mine)
        free = slot["capacity"] - slot["held"]
        waiting = [r for r in mine if r["status"] == "waitlisted"]
        assert all(r["persons"] > free for r in waiting), (slot, waiting)
    open_rows = [r for r in rows if r["status"] in ("pending", "confirmed", "waitlisted")]
    for i, a in enumerate(open_rows):
        for b in open_rows[i + 1 :]:
            if (a["school"], a["class_label"].casefold()) != (
                b["school"],
                b["class_label"].casefold(),
            ):
                continue
            sa, sb = slots[a["slot"]], slots[b["slot"]]
            assert not (sa["starts_at"] < sb["ends_at"] and sb["starts_at"] < sa["ends_at"]), (a, b)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps, approval=st.booleans())
async def test_random_sequences_keep_the_invariants(cast, sequence, approval):
    world = cast
    hosts = [world.firm_a, world.firm_b]
    schools = [world.school_a, world.school_b]
    event = await make_event(world.firm_a, booking_mode="approval" if approval else "auto")
    day = school_day()
    # Slots 0 and 1 overlap; 2 follows 1 directly; 3 is on another day.
    starts = [at(day, 9), at(day, 10), at(day, 11, 30), at(day + timedelta(days=1), 9)]
    slot_ids = [await make_slot(hosts[0], event, capacity=20, starts_at=s) for s in starts]
    placed: list[int] = []
    for step in sequence:
        try:
            if step[0] == "book":
                _, slot, school, label, pupils, adults = step
                result = await place_booking(
                    slot_ids[slot], class_visit(label, pupils, adults), by=schools[school]
                )
                placed.append(result.booking.id)
            elif step[0] == "capacity":
                _, slot, capacity = step
                await events.update_slot(slot_ids[slot], SlotPatch(capacity=capacity), by=hosts[0])
            elif placed:
                booking_id = placed[step[1] % len(placed)]
                if step[0] == "cancel":
                    await cancel_booking(booking_id, "", by=world.admin)
                elif step[0] == "decline":
                    await decline_booking(booking_id, "", by=world.firm_a)
                else:
                    await confirm_booking(booking_id, by=world.firm_a)
        except DomainError:
            pass  # a refusal is a fine answer; it must leave the invariants intact
        await check_invariants(slot_ids)
