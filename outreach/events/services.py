"""Events and their slots: who may see, publish, change and cancel them.

Places (`Slot.held`) belong to the booking engine: this module never writes them and
asks the engine (`booking.cascades`, `booking.writes`) to release, promote and notify
when a change touches bookings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from outreach.access import can_manage, can_see, load_event_row
from outreach.audit.services import record
from outreach.booking.cascades import cancel_all_for_event, notify_event_changed, notify_slot_moved
from outreach.booking.eligibility import Party, SlotFacts, refusal
from outreach.booking.queries import has_active_bookings
from outreach.booking.writes import promote_waiting
from outreach.calendar import changes as feeds
from outreach.calendar.holidays import closure_on
from outreach.config import get_settings
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound
from outreach.events.evening_notices import tell_evening_cancelled, tell_evening_changed
from outreach.events.schemas import (
    EventIn,
    EventOut,
    EventPatch,
    SlotIn,
    SlotOut,
    SlotPatch,
    VenueIn,
    VenueOut,
)
from outreach.events.tables import Event, Slot, Venue
from outreach.organisations.services import get_by_slug
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, as_utc, local, utcnow

if TYPE_CHECKING:
    from outreach.calendar.holidays import Closure

__all__ = [
    "EventFilter",
    "SeriesIn",
    "SeriesPlan",
    "SeriesResult",
    "add_slot",
    "add_slot_series",
    "cancel_event",
    "cancel_slot",
    "create_event",
    "get_event",
    "list_events",
    "plan_slot_series",
    "slot_bookable",
    "update_event",
    "update_slot",
    "venue_out",
]

# Which kinds each host role may create: schools host parents' evenings.
_SCHOOL_KINDS = {"parents_evening"}
MAX_SLOT_HOURS = 24 * 14


@dataclass(frozen=True)
class EventFilter:
    kind: str | None = None
    host: str | None = None  # slug
    host_id: int | None = None  # the host's id, when the caller has it: no slug lookup
    grade: int | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None
    available: bool | None = None
    status: str | None = None


def venue_out(row: dict[str, Any] | None) -> VenueOut | None:
    """A venue row as answered to clients (None when the event has no venue)."""
    if row is None:
        return None
    return VenueOut(
        name=row["name"],
        street=row["street"],
        postal_code=row["postal_code"],
        city=row["city"],
        lat=row["lat"],
        lon=row["lon"],
    )


def slot_bookable(
    slot: dict[str, Any] | Slot, event: Event | dict[str, Any], now: datetime
) -> bool:
    """Whether a booking could be sent now (the booking rule, asked without a party).

    A full slot whose event keeps a waiting list is bookable: the booking waits.
    """
    return refusal(SlotFacts.of(slot, event), Party(), now) is None


def _slot_out(row: dict[str, Any], event: dict[str, Any], now: datetime) -> SlotOut:
    return SlotOut(
        id=row["id"],
        event_id=row["event"],
        starts_at=local(row["starts_at"]),
        ends_at=local(row["ends_at"]),
        capacity=row["capacity"],
        available=max(0, row["capacity"] - row["held"]),
        min_party=row["min_party"],
        max_party=row["max_party"] or row["capacity"],
        booking_opens_at=local(row["booking_opens_at"]) if row["booking_opens_at"] else None,
        booking_closes_at=local(row["booking_closes_at"]) if row["booking_closes_at"] else None,
        cancelled=row["cancelled"],
        bookable=slot_bookable(row, event, now),
    )


async def _assemble(events: list[dict[str, Any]], now: datetime) -> list[EventOut]:
    """Events with their host, venue and slots, in three queries whatever their number."""
    if not events:
        return []
    ids = [e["id"] for e in events]
    slots = await Slot.select().where(Slot.event.is_in(ids)).order_by(Slot.starts_at)
    host_ids = list({e["host"] for e in events})
    hosts = {
        o["id"]: o
        for o in await Organisation.select(
            Organisation.id, Organisation.slug, Organisation.name
        ).where(Organisation.id.is_in(host_ids))
    }
    venue_ids = list({e["venue"] for e in events if e["venue"] is not None})
    venues = (
        {v["id"]: v for v in await Venue.select().where(Venue.id.is_in(venue_ids))}
        if venue_ids
        else {}
    )
    by_event: dict[int, list[SlotOut]] = {i: [] for i in ids}
    events_by_id = {e["id"]: e for e in events}
    for s in slots:
        by_event[s["event"]].append(_slot_out(s, events_by_id[s["event"]], now))
    base = get_settings().base_url
    out = []
    for e in events:
        v = venues.get(e["venue"])
        out.append(
            EventOut(
                id=e["id"],
                kind=e["kind"],
                title=e["title"],
                description=e["description"],
                host=hosts[e["host"]]["slug"],
                host_name=hosts[e["host"]]["name"],
                venue=venue_out(v),
                grades=sorted(e["grades"] or []),
                audience=list(e["audience"] or []),
                topics=list(e["topics"] or []),
                visibility=e["visibility"],
                status=e["status"],
                booking_mode=e["booking_mode"],
                waitlist=e["waitlist"],
                reminder_days=list(e["reminder_days"] or get_settings().reminder_days),
                slots=by_event[e["id"]],
                url=f"{base}/events/{e['id']}",
            )
        )
    return out


async def list_events(
    filters: EventFilter, *, by: Principal, now: datetime | None = None
) -> list[EventOut]:
    now = now or utcnow()
    query = Event.select().order_by(Event.id)
    if filters.kind:
        query = query.where(Event.kind == filters.kind)
    if filters.host:
        host = (
            await Organisation.select(Organisation.id)
            .where(Organisation.slug == filters.host)
            .first()
        )
        if host is None:
            return []
        query = query.where(Event.host == host["id"])
    if filters.host_id is not None:
        query = query.where(Event.host == filters.host_id)
    if filters.status:
        query = query.where(Event.status == filters.status)
    if not by.is_admin:
        # Published events the caller may see, plus drafts of the caller's own organisation.
        visible = (Event.status != "draft") & (
            Event.visibility.is_in(["public", "network"] if by.is_member else ["public"])
        )
        if by.org_id is not None:
            visible = visible | (Event.host == by.org_id)
        query = query.where(visible)
    if filters.starts_from or filters.starts_to:
        slot_query = Slot.select(Slot.event)
        if filters.starts_from:
            slot_query = slot_query.where(Slot.ends_at >= as_utc(filters.starts_from, field="from"))
        if filters.starts_to:
            slot_query = slot_query.where(Slot.starts_at < as_utc(filters.starts_to, field="to"))
        event_ids = {row["event"] for row in await slot_query}
        if not event_ids:
            return []
        query = query.where(Event.id.is_in(list(event_ids)))
    rows = await query
    if filters.grade is not None:
        # Grades live in an array column; filter here so both databases agree exactly.
        rows = [r for r in rows if not r["grades"] or filters.grade in r["grades"]]
    events = await _assemble(rows, now)
    if filters.available:
        events = [e for e in events if any(s.bookable and s.available > 0 for s in e.slots)]
    return events


async def get_event(event_id: int, *, by: Principal, now: datetime | None = None) -> EventOut:
    event = await load_event_row(event_id, by)
    return (await _assemble([event.to_dict()], now or utcnow()))[0]


async def _venue_for(data: VenueIn | None, host: Organisation) -> int:
    if data is None:
        venue = Venue(
            organisation=host.id,
            name=host.name,
            street=host.street,
            postal_code=host.postal_code,
            city=host.city,
            lat=host.lat,
            lon=host.lon,
        )
    else:
        venue = Venue(organisation=host.id, **msgspec.structs.asdict(data))
    await venue.save()
    return venue.id


async def _host_for(data: EventIn, by: Principal) -> Organisation:
    if by.is_admin:
        if not data.host:
            raise Invalid("host is required: the slug of the hosting organisation", field="host")
        return await get_by_slug(data.host, field="host")
    if by.role not in ("firm", "school") or by.org_id is None:
        raise Forbidden("only firms, schools and the network office create events")
    host = await Organisation.objects().where(Organisation.id == by.org_id).first()
    if host is None:
        raise Forbidden("your organisation no longer exists")
    if data.host and data.host != host.slug:
        raise Forbidden("you can only create events of your own organisation", field="host")
    if by.role == "school" and data.kind not in _SCHOOL_KINDS:
        raise Forbidden("schools host parents' evenings only", field="kind")
    return host


async def create_event(data: EventIn, *, by: Principal, now: datetime | None = None) -> EventOut:
    host = await _host_for(data, by)
    async with write_transaction():
        venue_id = await _venue_for(data.venue, host)
        event = Event(
            host=host.id,
            venue=venue_id,
            kind=data.kind,
            title=data.title.strip(),
            description=data.description,
            grades=sorted(set(data.grades)),
            audience=list(dict.fromkeys(data.audience)),
            topics=list(dict.fromkeys(t.strip().lower() for t in data.topics)),
            visibility=data.visibility,
            status=data.status,
            booking_mode=data.booking_mode,
            waitlist=data.waitlist,
            reminder_days=sorted(set(data.reminder_days or []), reverse=True),
        )
        await event.save()
        await _audit_on_behalf("event.create", event, by, {"title_set": True})
    return await get_event(event.id, by=by, now=now)


async def _audit_on_behalf(
    action: str, event: Event, by: Principal, detail: dict[str, Any], *, slot_id: int | None = None
) -> None:
    """The network office acting for a host leaves a trace; hosts' own work does not."""
    if not by.is_admin or by.belongs_to(event.host):
        return
    on = {"event": event.id, "host": event.host, **detail}
    await record(
        action,
        by=by,
        object_type="slot" if slot_id is not None else "event",
        object_id=slot_id if slot_id is not None else event.id,
        detail=on,
    )


async def _managed_event(event_id: int, by: Principal, *, lock: bool = False) -> Event:
    query = Event.objects().where(Event.id == event_id)
    event = await (for_update(query) if lock else query).first()
    if event is None or not can_see(event, by):
        raise NotFound(f"no event {event_id}", field="event")
    if not can_manage(event, by):
        raise Forbidden("only the host and the network office change this event")
    return event


async def update_event(
    event_id: int, patch: EventPatch, *, by: Principal, now: datetime | None = None
) -> EventOut:
    now = now or utcnow()
    changes = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    async with write_transaction():
        event = await _managed_event(event_id, by, lock=True)
        if event.status == "cancelled":
            raise Conflict("a cancelled event cannot be changed", reason="event_cancelled")
        if (
            changes.get("status") == "draft"
            and event.status == "published"
            and await has_active_bookings(event_id=event.id)
        ):
            raise Conflict(
                "an event with bookings cannot go back to draft; cancel it instead",
                field="status",
                reason="has_bookings",
            )
        venue_changed = "venue" in changes
        if venue_changed:
            host = await Organisation.objects().where(Organisation.id == event.host).first()
            changes["venue"] = await _venue_for(patch.venue, host)  # type: ignore[arg-type]
        if "grades" in changes:
            changes["grades"] = sorted(set(changes["grades"]))
        if "topics" in changes:
            changes["topics"] = list(dict.fromkeys(t.strip().lower() for t in changes["topics"]))
        if "reminder_days" in changes:
            changes["reminder_days"] = sorted(set(changes["reminder_days"]), reverse=True)
        if "title" in changes:
            changes["title"] = changes["title"].strip()
        for key, value in changes.items():
            setattr(event, key, value)
        event.updated_at = now
        await event.save()
        await _audit_on_behalf("event.update", event, by, {"fields": sorted(changes)})
        await feeds.mark_changed(event_id=event.id)
        if venue_changed or "title" in changes:
            # Attendees' calendars carry the place and title: raise SEQUENCE, tell them.
            await Slot.update({Slot.sequence: Slot.sequence + 1, Slot.updated_at: now}).where(
                Slot.event == event.id
            )
            await notify_event_changed(event.id, now=now)
            if event.kind == "parents_evening":
                await tell_evening_changed(event.id, now=now)
    return await get_event(event_id, by=by, now=now)


async def cancel_event(
    event_id: int, reason: str, *, by: Principal, now: datetime | None = None
) -> EventOut:
    now = now or utcnow()
    if len(reason) > 2000:
        raise Invalid("reason must be at most 2000 characters", field="reason")
    async with write_transaction():
        event = await _managed_event(event_id, by, lock=True)
        if event.status == "cancelled":
            raise Conflict("the event is already cancelled", reason="event_cancelled")
        event.status = "cancelled"
        event.cancel_reason = reason
        event.updated_at = now
        await event.save()
        await _audit_on_behalf("event.cancel", event, by, {})
        await feeds.mark_changed(event_id=event.id)
        await Slot.update(
            {Slot.cancelled: True, Slot.sequence: Slot.sequence + 1, Slot.updated_at: now}
        ).where((Slot.event == event_id) & (Slot.cancelled == False))  # noqa: E712
        await cancel_all_for_event(event_id, reason, now=now)
        if event.kind == "parents_evening":
            await tell_evening_cancelled(event_id, now=now)
    return await get_event(event_id, by=by, now=now)


async def _locked_open_slot(slot_id: int, by: Principal, refusal: str) -> tuple[Slot, Event]:
    """A slot of an event `by` manages, locked for the change; a cancelled one is refused."""
    slot = await for_update(Slot.objects().where(Slot.id == slot_id)).first()
    if slot is None:
        raise NotFound(f"no slot {slot_id}", field="slot")
    event = await _managed_event(slot.event, by)
    if slot.cancelled or event.status == "cancelled":
        raise Conflict(refusal, reason="slot_cancelled")
    return slot, event


async def cancel_slot(
    slot_id: int, reason: str, *, by: Principal, now: datetime | None = None
) -> SlotOut:
    """Cancel one time of an event: its bookings, the waiting ones too, are cancelled and
    their bookers told as of any booking the host cancels; feeds show it cancelled."""
    now = now or utcnow()
    if len(reason) > 2000:
        raise Invalid("reason must be at most 2000 characters", field="reason")
    async with write_transaction():
        _slot, event = await _locked_open_slot(slot_id, by, "this time is already cancelled")
        await Slot.update(
            {Slot.cancelled: True, Slot.sequence: Slot.sequence + 1, Slot.updated_at: now}
        ).where(Slot.id == slot_id)
        await _audit_on_behalf("slot.cancel", event, by, {"reason": reason}, slot_id=slot_id)
        await feeds.mark_changed(event_id=event.id, slot_id=slot_id)
        await cancel_all_for_event(event.id, reason, now=now, slot_id=slot_id)
    return await get_slot(slot_id, by=by, now=now)


def _check_slot_times(
    starts_at: datetime, ends_at: datetime, now: datetime, *, moving: bool
) -> None:
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", field="ends_at")
    if ends_at - starts_at > timedelta(hours=MAX_SLOT_HOURS):
        raise Invalid("a slot lasts at most 14 days", field="ends_at")
    if starts_at <= now:
        raise Invalid(
            "starts_at must be in the future" if not moving else "a slot cannot move into the past",
            field="starts_at",
        )


async def add_slot(
    event_id: int, data: SlotIn, *, by: Principal, now: datetime | None = None
) -> SlotOut:
    now = now or utcnow()
    starts_at = as_utc(data.starts_at, field="starts_at").replace(microsecond=0)
    ends_at = as_utc(data.ends_at, field="ends_at").replace(microsecond=0)
    _check_slot_times(starts_at, ends_at, now, moving=False)
    if data.min_party > data.capacity:
        raise Invalid("min_party must not exceed the capacity", field="min_party")
    if data.max_party and data.max_party < data.min_party:
        raise Invalid("max_party must be at least min_party", field="max_party")
    if data.max_party > data.capacity:
        raise Invalid("max_party must not exceed the capacity", field="max_party")
    closes = (
        as_utc(data.booking_closes_at, field="booking_closes_at")
        if data.booking_closes_at
        else starts_at - timedelta(hours=get_settings().booking_closes_hours)
    )
    opens = (
        as_utc(data.booking_opens_at, field="booking_opens_at") if data.booking_opens_at else None
    )
    if closes > starts_at:
        raise Invalid("booking_closes_at must not be after starts_at", field="booking_closes_at")
    if opens is not None and opens >= closes:
        raise Invalid("booking_opens_at must be before booking_closes_at", field="booking_opens_at")
    async with write_transaction():
        event = await _managed_event(event_id, by)
        if event.status == "cancelled":
            raise Conflict("a cancelled event takes no new slots", reason="event_cancelled")
        slot = Slot(
            event=event.id,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=data.capacity,
            held=0,
            min_party=data.min_party,
            max_party=data.max_party,
            booking_opens_at=opens,
            booking_closes_at=closes,
        )
        await slot.save()
        await feeds.mark_changed(slot_id=slot.id)
        await _audit_on_behalf(
            "slot.create", event, by, {"capacity": data.capacity}, slot_id=slot.id
        )
    return await get_slot(slot.id, by=by, now=now)


async def get_slot(slot_id: int, *, by: Principal, now: datetime | None = None) -> SlotOut:
    row = await Slot.select().where(Slot.id == slot_id).first()
    if row is None:
        raise NotFound(f"no slot {slot_id}", field="slot")
    event = await load_event_row(row["event"], by)
    return _slot_out(row, event.to_dict(), now or utcnow())


async def update_slot(
    slot_id: int, patch: SlotPatch, *, by: Principal, now: datetime | None = None
) -> SlotOut:
    now = now or utcnow()
    async with write_transaction():
        slot, event = await _locked_open_slot(slot_id, by, "a cancelled slot cannot be changed")
        old_start, old_end = slot.starts_at, slot.ends_at
        starts_at = (
            old_start
            if patch.starts_at is msgspec.UNSET
            else as_utc(patch.starts_at, field="starts_at").replace(microsecond=0)
        )
        ends_at = (
            old_end
            if patch.ends_at is msgspec.UNSET
            else as_utc(patch.ends_at, field="ends_at").replace(microsecond=0)
        )
        moved = (starts_at, ends_at) != (old_start, old_end)
        if moved:
            _check_slot_times(starts_at, ends_at, now, moving=True)
            # The booking window follows the slot, as it was set relative to the start.
            if slot.booking_closes_at is not None:
                slot.booking_closes_at = slot.booking_closes_at + (starts_at - old_start)
            slot.starts_at, slot.ends_at = starts_at, ends_at
            slot.sequence += 1
        if patch.capacity is not msgspec.UNSET:
            if patch.capacity < slot.held:
                raise Conflict.because("below_booked", field="capacity", booked=slot.held)
            if patch.capacity < slot.min_party:
                raise Invalid("capacity must be at least min_party", field="capacity")
            raised = patch.capacity > slot.capacity
            slot.capacity = patch.capacity
            if slot.max_party > slot.capacity:
                slot.max_party = slot.capacity
        else:
            raised = False
        slot.updated_at = now
        # Only these columns: `held` belongs to the booking engine and is never rewritten here.
        await slot.save(
            [
                Slot.starts_at,
                Slot.ends_at,
                Slot.capacity,
                Slot.max_party,
                Slot.booking_closes_at,
                Slot.sequence,
                Slot.updated_at,
            ]
        )
        await feeds.mark_changed(slot_id=slot.id)
        await _audit_on_behalf(
            "slot.update",
            event,
            by,
            {"moved": bool(moved), "capacity": slot.capacity},
            slot_id=slot.id,
        )
        if moved:
            await notify_slot_moved(slot_id, old_start, old_end, now=now)
            if event.kind == "parents_evening":
                await tell_evening_changed(
                    event.id,
                    now=now,
                    slot_id=slot_id,
                    old_starts_at=old_start,
                    old_ends_at=old_end,
                )
        if raised:
            await promote_waiting(slot_id, now=now)
    return await get_slot(slot_id, by=by, now=now)


# ---------------------------------------------------------------------------
# A series of slots: weekdays x times between two dates, in one transaction.

MAX_SERIES_SLOTS = 300


@dataclass(frozen=True)
class SeriesIn:
    """Slots on `weekdays` (0 = Monday) at `times` (local, Europe/Berlin), `first`..`last`."""

    first_day: date
    last_day: date
    weekdays: tuple[int, ...]
    times: tuple[time, ...]
    minutes: int
    capacity: int
    min_party: int = 1
    max_party: int = 0
    skip_closures: bool = True  # school holidays and public holidays: schools do not come


@dataclass(frozen=True)
class SeriesResult:
    created: list[SlotOut]
    skipped: list[tuple[date, str]]  # the day and the closure's message


@dataclass(frozen=True)
class SeriesPlan:
    """What a series would create: the start of every slot, and every chosen day skipped
    with its closure (`Closure.day` set), in day order. Nothing is written."""

    starts: list[datetime]
    skipped: list[Closure]


def plan_slot_series(data: SeriesIn) -> SeriesPlan:
    """Check a series and work out its slots and skipped days, for the preview and for
    `add_slot_series` alike."""
    if data.last_day < data.first_day:
        raise Invalid("the last day must not be before the first day", field="last_day")
    if not data.weekdays or any(not 0 <= d <= 6 for d in data.weekdays):
        raise Invalid("choose at least one weekday", field="weekdays")
    if not data.times:
        raise Invalid("give at least one start time", field="times")
    if not 5 <= data.minutes <= MAX_SLOT_HOURS * 60:
        raise Invalid("a slot lasts between 5 minutes and 14 days", field="minutes")
    if not 1 <= data.capacity <= 10_000:
        raise Invalid("capacity must be between 1 and 10000", field="capacity")
    if (data.last_day - data.first_day).days > 366:
        raise Invalid("a series spans at most one year", field="last_day")
    starts: list[datetime] = []
    skipped: list[Closure] = []
    day = data.first_day
    while day <= data.last_day:
        if day.weekday() in data.weekdays:
            closure = closure_on(day) if data.skip_closures else None
            if closure is not None:
                skipped.append(closure)
            else:
                starts.extend(
                    datetime.combine(day, t, tzinfo=LOCAL_TZ) for t in sorted(set(data.times))
                )
        day += timedelta(days=1)
    if not starts:
        raise Invalid("the series has no day to create a slot on", field="weekdays")
    if len(starts) > MAX_SERIES_SLOTS:
        raise Invalid.because(
            "series_too_long", field="last_day", max=MAX_SERIES_SLOTS, count=len(starts)
        )
    return SeriesPlan(starts=starts, skipped=skipped)


async def add_slot_series(
    event_id: int, data: SeriesIn, *, by: Principal, now: datetime | None = None
) -> SeriesResult:
    """Create every slot of a series, or none: one bad slot rolls the whole series back."""
    now = now or utcnow()
    plan = plan_slot_series(data)
    created: list[SlotOut] = []
    async with write_transaction():
        for start in plan.starts:
            slot_in = SlotIn(
                starts_at=start,
                ends_at=start + timedelta(minutes=data.minutes),
                capacity=data.capacity,
                min_party=data.min_party,
                max_party=data.max_party,
            )
            created.append(await add_slot(event_id, slot_in, by=by, now=now))
    skipped = [(closure.day or closure.first_day, closure.message) for closure in plan.skipped]
    return SeriesResult(created=created, skipped=skipped)
