"""Can this party of this class take this slot now, and if not, why: the one answer.

`refusal` is a pure function over facts already loaded (the slot with its event, the
party, the class's other visits, the clock) and answers None or the first `Refusal`,
with one `Reason` and the figures of the refusal. The booking engine raises it, the
planner drops the slot with its reason, the teacher's search and the booking page say
it before anything is sent, and `events.services.slot_bookable` asks it without a
party. `load_slots` is the loader (two queries for any number of slots).

Checked in this order, so every caller names the same reason when several apply:
the slot's state (cancelled, not published, for information only), then time (begun,
window closed, window not open yet: a final "no" before a temporary one), then the day
(a holiday closes schools to class visits), then the party (grade, size), then places
(full, unless the booking may wait), then the class (another visit overlapping).

The texts of the reasons are in the catalogue (`outreach.reasons`); this module imports
no service, so the planner, events and pages import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from outreach.calendar.holidays import Closure, closure_on
from outreach.errors import Conflict, DomainError, Invalid
from outreach.events.tables import Event, Slot
from outreach.timeutil import local

__all__ = [
    "Busy",
    "Party",
    "Reason",
    "Refusal",
    "SlotFacts",
    "load_slots",
    "party_size_refusal",
    "refusal",
    "slot_refusals",
    "slot_state_refusal",
]


class Reason(StrEnum):
    """Why a slot cannot take a party: the stable codes of the API (`reason`)."""

    CANCELLED = "cancelled"
    NOT_PUBLISHED = "not_published"
    NO_BOOKING = "no_booking"
    PAST = "past"
    WINDOW_CLOSED = "window_closed"
    WINDOW_NOT_OPEN = "window_not_open"
    PUBLIC_HOLIDAY = "public_holiday"
    SCHOOL_HOLIDAY = "school_holiday"
    WRONG_GRADE = "wrong_grade"
    PARTY_TOO_SMALL = "party_too_small"
    PARTY_TOO_LARGE = "party_too_large"
    FULL = "full"
    CLASS_CONFLICT = "class_conflict"


# Reasons about what was sent (422) rather than about the state of the world (409).
_INPUT_REASONS = frozenset({Reason.WRONG_GRADE, Reason.PARTY_TOO_SMALL, Reason.PARTY_TOO_LARGE})


@dataclass(frozen=True, slots=True)
class SlotFacts:
    """A slot and the parts of its event the rule reads."""

    slot_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    held: int
    min_party: int
    max_party: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    cancelled: bool
    event_status: str
    booking_mode: str
    waitlist: bool
    grades: tuple[int, ...] = ()

    @classmethod
    def of(cls, slot: Slot | dict[str, Any], event: Event | dict[str, Any]) -> SlotFacts:
        """From a slot and its event, as rows or as dicts of their columns."""
        s = slot if isinstance(slot, dict) else slot.to_dict()
        e = event if isinstance(event, dict) else event.to_dict()
        return cls(
            slot_id=s["id"],
            starts_at=s["starts_at"],
            ends_at=s["ends_at"],
            capacity=s["capacity"],
            held=s["held"],
            min_party=s["min_party"],
            max_party=s["max_party"],
            opens_at=s["booking_opens_at"],
            closes_at=s["booking_closes_at"],
            cancelled=bool(s["cancelled"]),
            event_status=e["status"],
            booking_mode=e["booking_mode"],
            waitlist=bool(e.get("waitlist")),
            grades=tuple(e.get("grades") or ()),
        )

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.held)

    @property
    def largest_party(self) -> int:
        """The most persons one booking may bring: the slot's limit, never its capacity."""
        return min(self.max_party or self.capacity, self.capacity)

    @property
    def day(self) -> date:
        return local(self.starts_at).date()


@dataclass(frozen=True, slots=True)
class Busy:
    """Another open visit of the same class: it keeps the class busy from start to end."""

    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Party:
    """Who wants to come. Unknown parts (None) are not judged: a page asks before the
    teacher has typed, the public calendar without any party at all."""

    class_visit: bool = False
    grade: int | None = None
    persons: int | None = None
    label: str | None = None
    # The input that holds the number of persons: "pupils" for a class, else "persons".
    persons_field: str = "persons"
    # The class's other visits overlapping the slot (only the class's own, see `Busy`).
    busy: Sequence[Busy] = ()
    # False where a booking must take its places now (several slots at once).
    may_wait: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer "no": the reason, the input it is about, and its figures."""

    reason: Reason
    field: str
    params: dict[str, Any] = field(default_factory=dict)
    closure: Closure | None = None

    def error(self) -> DomainError:
        """The refusal as the services raise it (422 for input, 409 for the world)."""
        kind = Invalid if self.reason in _INPUT_REASONS else Conflict
        return kind.because(self.reason.value, field=self.field, **self.params)


def _closure_refusal(closure: Closure, day: date) -> Refusal:
    reason = Reason(closure.reason)
    params: dict[str, Any] = {"day": day, "holiday": closure.name, "holiday_en": closure.name_en}
    if reason is Reason.SCHOOL_HOLIDAY:
        params |= {"first_day": closure.first_day, "last_day": closure.last_day}
    return Refusal(reason, "slot", params, closure)


def refusal(slot: SlotFacts, party: Party, now: datetime) -> Refusal | None:
    """Why `party` cannot take `slot` at `now`, or None when it can (see the module)."""
    found = slot_state_refusal(slot, now)
    if found is not None:
        return found
    return _party_refusal(slot, party)


def slot_state_refusal(slot: SlotFacts, now: datetime) -> Refusal | None:
    """The first part of `refusal`: the slot's state and time, whoever asks.

    The engine asks it before it reads the request, so a cancelled or closed slot says
    so whatever was sent.
    """
    if slot.event_status == "cancelled" or slot.cancelled:
        return Refusal(Reason.CANCELLED, "slot")
    if slot.event_status != "published":
        return Refusal(Reason.NOT_PUBLISHED, "slot")
    if slot.booking_mode == "none":
        return Refusal(Reason.NO_BOOKING, "slot")
    if now >= slot.starts_at:
        return Refusal(Reason.PAST, "slot", {"starts_at": slot.starts_at})
    if slot.closes_at is not None and now >= slot.closes_at:
        return Refusal(Reason.WINDOW_CLOSED, "slot", {"closes_at": slot.closes_at})
    if slot.opens_at is not None and now < slot.opens_at:
        return Refusal(Reason.WINDOW_NOT_OPEN, "slot", {"opens_at": slot.opens_at})
    return None


def _party_refusal(slot: SlotFacts, party: Party) -> Refusal | None:
    if party.class_visit:
        closure = closure_on(slot.day)
        if closure is not None:
            return _closure_refusal(closure, slot.day)
        if party.grade is not None and slot.grades and party.grade not in slot.grades:
            return Refusal(
                Reason.WRONG_GRADE, "grade", {"grades": slot.grades, "grade": party.grade}
            )
    may_wait = party.may_wait and slot.waitlist
    if party.persons is None:
        # No party yet: refuse only when not even the smallest booking would fit.
        if slot.free < slot.min_party and not may_wait:
            return Refusal(Reason.FULL, "slot", {"free": slot.free, "persons": slot.min_party})
    elif (size := party_size_refusal(slot, party.persons, party.persons_field)) is not None:
        return size
    elif slot.free < party.persons and not may_wait:
        return Refusal(Reason.FULL, "slot", {"free": slot.free, "persons": party.persons})
    for visit in party.busy:
        if visit.starts_at < slot.ends_at and slot.starts_at < visit.ends_at:
            return Refusal(
                Reason.CLASS_CONFLICT,
                "class_label",
                {"label": party.label or "", "starts_at": visit.starts_at},
            )
    return None


def party_size_refusal(slot: SlotFacts, persons: int, field: str) -> Refusal | None:
    """The slot's limits for one booking (`min_party`, `largest_party`), whatever is free:
    also asked when a booker changes the number of persons of a booking it holds."""
    if persons < slot.min_party:
        return Refusal(Reason.PARTY_TOO_SMALL, field, {"min": slot.min_party, "persons": persons})
    if persons > slot.largest_party:
        return Refusal(
            Reason.PARTY_TOO_LARGE, field, {"max": slot.largest_party, "persons": persons}
        )
    return None


async def load_slots(slot_ids: Iterable[int]) -> dict[int, SlotFacts]:
    """The facts of these slots (missing ids left out), in two queries."""
    ids = list(set(slot_ids))
    if not ids:
        return {}
    slots = await Slot.select().where(Slot.id.is_in(ids))
    event_ids = list({s["event"] for s in slots})
    events = (
        {e["id"]: e for e in await Event.select().where(Event.id.is_in(event_ids))}
        if event_ids
        else {}
    )
    return {s["id"]: SlotFacts.of(s, events[s["event"]]) for s in slots if s["event"] in events}


async def slot_refusals(slot_ids: Iterable[int], *, now: datetime) -> dict[int, Refusal]:
    """Why each of these slots takes no booking from anyone now (the bookable ones left out)."""
    found = {
        slot_id: refusal(facts, Party(), now)
        for slot_id, facts in (await load_slots(slot_ids)).items()
    }
    return {slot_id: no for slot_id, no in found.items() if no is not None}
