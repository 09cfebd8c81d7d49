"""Slots and bookings as VEVENT pieces, in a fixed number of queries per batch.

Three views of the same visit, each a piece of its own:

- `public` ("slot:<id>"): the slot as anyone sees it: title, place, times, status.
  It shows no places or bookings, so a booking never changes the public feeds.
- `host` ("host:<id>"): for the host's and the network office's private feeds: booked
  and free places and, per booking, school, class label, grade and counts. Never a
  contact, a note or a name: the URL of a feed is a password that gets shared.
- `booker` ("booking:<id>"): one booking for its school's teachers or its registrant:
  class label, persons, status.
- `leg` ("leg:<id>"): on a class's day at several firms, the walk or bus ride to the
  visit of booking <id> from the visit before it; in the same feeds as the booker view.

Each view has UIDs of its own (`slot-<id>@`, `host-slot-<id>@`, `feed-booking-<id>@`,
`feed-itinerary-<it>-leg-<id>@`): a UID names one content wherever it appears, and a
view's piece is the same bytes in every feed that shows it.

A piece is rendered with a given DTSTAMP (`PieceDraft.render`) so that the publisher
can keep the stamp, and thus the bytes, when nothing else in the piece changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from piccolo.columns import Column
from piccolo.table import Table

from outreach.booking.tables import Booking
from outreach.calendar.ical import VEventSpec, vevent_bytes
from outreach.config import get_settings
from outreach.db import is_postgres, pg_fetch, select_list
from outreach.events.tables import Event, Slot, Venue
from outreach.itineraries.feed import FeedLeg
from outreach.languages import babel_locale
from outreach.links import booking_url
from outreach.organisations.tables import Organisation

__all__ = [
    "ALARM_BEFORE",
    "CANCELLED_KEPT",
    "PAST_KEPT",
    "Facets",
    "PieceDraft",
    "drafts_for_bookings",
    "drafts_for_legs",
    "drafts_for_slots",
    "feed_host",
    "kind_label",
]

# A cancelled entry stays (as STATUS:CANCELLED) this long after the change, so that
# subscribed clients see the cancellation, then leaves the feed.
CANCELLED_KEPT = timedelta(days=30)
# Past visits stay this long after their end, so a feed does not grow for ever.
PAST_KEPT = timedelta(days=365)
ALARM_BEFORE = timedelta(hours=1)
CHUNK = 500  # ids per IN (...) list: well below SQLite's limit on bound parameters

KIND_LABELS = {
    "open_day": "Tag der offenen Tür",
    "factory_tour": "Betriebsbesichtigung",
    "parents_evening": "Elternabend",
    "teacher_training": "Lehrerfortbildung",
    "other": "Veranstaltung",
}
STATUS_LABELS = {
    "pending": "angefragt",
    "confirmed": "bestätigt",
    "waitlisted": "auf der Warteliste",
    "declined": "abgelehnt",
    "cancelled": "storniert",
}
OPEN_STATUSES = ("pending", "confirmed", "waitlisted")
_DASH = "\u2013"  # the typographic dash of German text, spelled out for the linter
# Columns of a booking a feed may show: no contact, no notes, no language.
_BOOKING_COLUMNS = (
    Booking.id,
    Booking.slot,
    Booking.event,
    Booking.kind,
    Booking.status,
    Booking.persons,
    Booking.school,
    Booking.class_label,
    Booking.grade,
    Booking.pupils,
    Booking.adults,
    Booking.booked_by,
    Booking.reason,
    Booking.sequence,
    Booking.updated_at,
)


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def feed_host() -> str:
    """The domain in UIDs: the host of BASE_URL, as in the mail invitations."""
    return urlsplit(get_settings().base_url).hostname or "outreach.invalid"


@dataclass(frozen=True, slots=True)
class Facets:
    """Where a piece belongs; two equal facets mean the same feeds."""

    view: str
    event_id: int
    host_id: int
    event_kind: str
    grades: str
    visibility: str
    event_status: str
    school_id: int | None
    booked_by: int | None
    booking_kind: str | None
    starts_at: datetime
    drop_after: datetime | None

    @property
    def listed(self) -> bool:
        """On the public feeds (as opposed to only its event's own feed)."""
        return (
            self.view == "public"
            and self.visibility == "public"
            and self.event_status in ("published", "cancelled")
        )


@dataclass(frozen=True, slots=True)
class PieceDraft:
    key: str
    slot_id: int
    booking_id: int | None
    facets: Facets
    # The newest change among the rows the piece shows: DTSTAMP when its content changed.
    data_stamp: datetime
    spec: VEventSpec

    def render(self, stamp: datetime) -> bytes:
        return vevent_bytes(dataclasses.replace(self.spec, stamp=stamp, last_modified=stamp))


@dataclass
class _Rows:
    slots: dict[int, dict[str, Any]]
    events: dict[int, dict[str, Any]]
    venues: dict[int, dict[str, Any]]
    orgs: dict[int, dict[str, Any]]


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


def _pg_select(table: type[Table], columns: Sequence[Column], where: str, order: str = "") -> str:
    """PostgreSQL: Piccolo's `select(*columns)` of `table` (the same keys and values),
    written once. A publish after one change reads a handful of rows by id; building
    these queries with Piccolo each time cost more than running them (issue 21)."""
    sql = f"SELECT {select_list(columns)} FROM {table._meta.tablename} WHERE {where}"  # noqa: S608
    return f"{sql} {order}".strip()


# `where` binds $1: the chunk of ids, as an array.
_PG_SLOTS = _pg_select(Slot, Slot._meta.columns, "id = ANY($1::integer[])")
_PG_EVENTS = _pg_select(Event, Event._meta.columns, "id = ANY($1::integer[])")
_PG_VENUES = _pg_select(Venue, Venue._meta.columns, "id = ANY($1::integer[])")
_PG_ORGS = _pg_select(
    Organisation,
    (Organisation.id, Organisation.slug, Organisation.name),
    "id = ANY($1::integer[])",
)
_PG_OPEN_BOOKINGS = _pg_select(
    Booking,
    _BOOKING_COLUMNS,
    "slot = ANY($1::integer[]) AND status = ANY($2::text[])",
    "ORDER BY id",
)
_PG_BOOKINGS = _pg_select(Booking, _BOOKING_COLUMNS, "id = ANY($1::integer[])")


async def _select_in(
    query_for: Any, ids: Sequence[int], pg_sql: str, *pg_args: Any
) -> list[dict[str, Any]]:
    """The rows of `query_for(chunk)` for every chunk of the ids; on PostgreSQL the same
    rows by `pg_sql` (its $1 the chunk, then `pg_args`)."""
    rows: list[dict[str, Any]] = []
    postgres = is_postgres()
    for chunk in _chunks(ids):
        if postgres:
            rows.extend(dict(r) for r in await pg_fetch(pg_sql, chunk, *pg_args))
        else:
            rows.extend(await query_for(chunk))
    return rows


async def _rows_for_slots(slot_ids: Sequence[int], extra_org_ids: Iterable[int] = ()) -> _Rows:
    slots = {
        r["id"]: r
        for r in await _select_in(
            lambda c: Slot.select().where(Slot.id.is_in(c)), slot_ids, _PG_SLOTS
        )
    }
    events = {
        r["id"]: r
        for r in await _select_in(
            lambda c: Event.select().where(Event.id.is_in(c)),
            [s["event"] for s in slots.values()],
            _PG_EVENTS,
        )
    }
    venue_ids = [e["venue"] for e in events.values() if e["venue"] is not None]
    venues = {
        r["id"]: r
        for r in await _select_in(
            lambda c: Venue.select().where(Venue.id.is_in(c)), venue_ids, _PG_VENUES
        )
    }
    org_ids = [e["host"] for e in events.values()] + [o for o in extra_org_ids if o is not None]
    orgs = {
        r["id"]: r
        for r in await _select_in(
            lambda c: Organisation.select(
                Organisation.id, Organisation.slug, Organisation.name
            ).where(Organisation.id.is_in(c)),
            org_ids,
            _PG_ORGS,
        )
    }
    return _Rows(slots=slots, events=events, venues=venues, orgs=orgs)


async def drafts_for_slots(slot_ids: Sequence[int]) -> list[PieceDraft]:
    """The public and the host piece of each slot that exists."""
    if not slot_ids:
        return []
    bookings = await _select_in(
        lambda c: (
            Booking.select(*_BOOKING_COLUMNS)
            .where(Booking.slot.is_in(c) & Booking.status.is_in(list(OPEN_STATUSES)))
            .order_by(Booking.id)
        ),
        slot_ids,
        _PG_OPEN_BOOKINGS,
        list(OPEN_STATUSES),
    )
    rows = await _rows_for_slots(slot_ids, [b["school"] for b in bookings])
    by_slot: dict[int, list[dict[str, Any]]] = {}
    for b in sorted(bookings, key=lambda b: b["id"]):
        by_slot.setdefault(b["slot"], []).append(b)
    drafts: list[PieceDraft] = []
    for slot in sorted(rows.slots.values(), key=lambda s: s["id"]):
        event = rows.events[slot["event"]]
        drafts.append(_public_piece(slot, event, rows))
        drafts.append(_host_piece(slot, event, rows, by_slot.get(slot["id"], [])))
    return drafts


async def drafts_for_bookings(booking_ids: Sequence[int]) -> list[PieceDraft]:
    """The booker's piece of each booking that exists."""
    if not booking_ids:
        return []
    bookings = await _select_in(
        lambda c: Booking.select(*_BOOKING_COLUMNS).where(Booking.id.is_in(c)),
        booking_ids,
        _PG_BOOKINGS,
    )
    rows = await _rows_for_slots([b["slot"] for b in bookings], [b["school"] for b in bookings])
    drafts = []
    for booking in sorted(bookings, key=lambda b: b["id"]):
        slot = rows.slots[booking["slot"]]
        drafts.append(_booker_piece(booking, slot, rows.events[slot["event"]], rows))
    return drafts


# --------------------------------------------------------------------------- the views


def _event_url(event_id: int) -> str:
    return f"{get_settings().base_url}/events/{event_id}"


def _location(venue: dict[str, Any] | None) -> tuple[str, tuple[float, float] | None]:
    if venue is None:
        return "", None
    town = " ".join(p for p in (venue["postal_code"], venue["city"]) if p)
    text = ", ".join(p for p in (venue["name"], venue["street"], town) if p)
    lat, lon = venue["lat"], venue["lon"]
    geo = (lat, lon) if lat is not None and lon is not None else None
    return text, geo


def _grades_text(grades: list[int] | None) -> str:
    return ",".join(["", *(str(g) for g in sorted(set(grades or []))), ""]) if grades else ""


def _cancelled_at(slot: dict[str, Any], event: dict[str, Any]) -> datetime | None:
    if slot["cancelled"]:
        return slot["updated_at"]
    if event["status"] == "cancelled":
        return event["updated_at"]
    return None


def _drop_after(
    slot: dict[str, Any], cancelled_at: datetime | None, *, past_kept: timedelta = PAST_KEPT
) -> datetime:
    candidates = [slot["ends_at"] + past_kept]
    if cancelled_at is not None:
        candidates.append(cancelled_at + CANCELLED_KEPT)
    return min(candidates)


def _booker_drop_after(slot: dict[str, Any], cancelled_at: datetime | None) -> datetime:
    # A booking leaves the feeds no later than its contact data is anonymised.
    anonymised = timedelta(days=get_settings().anonymise_after_days)
    return _drop_after(slot, cancelled_at, past_kept=min(PAST_KEPT, anonymised))


def _facets(
    view: str,
    slot: dict[str, Any],
    event: dict[str, Any],
    drop_after: datetime,
    booking: dict[str, Any] | None = None,
) -> Facets:
    return Facets(
        view=view,
        event_id=event["id"],
        host_id=event["host"],
        event_kind=event["kind"],
        grades=_grades_text(event["grades"]),
        visibility=event["visibility"],
        event_status=event["status"],
        school_id=booking["school"] if booking else None,
        booked_by=booking["booked_by"] if booking else None,
        booking_kind=booking["kind"] if booking else None,
        starts_at=slot["starts_at"],
        drop_after=drop_after,
    )


def _event_status(slot: dict[str, Any], event: dict[str, Any]) -> str:
    if _cancelled_at(slot, event) is not None:
        return "CANCELLED"
    return "CONFIRMED" if event["status"] == "published" else "TENTATIVE"


def _public_piece(slot: dict[str, Any], event: dict[str, Any], rows: _Rows) -> PieceDraft:
    cancelled_at = _cancelled_at(slot, event)
    host = rows.orgs[event["host"]]
    location, geo = _location(rows.venues.get(event["venue"]))
    url = _event_url(event["id"])
    lines = [f"{kind_label(event['kind'])} · {host['name']}"]
    if event["grades"]:
        lines.append("Für die Klassenstufen " + ", ".join(str(g) for g in sorted(event["grades"])))
    if event["description"].strip():
        lines.append(event["description"].strip())
    if cancelled_at is not None:
        reason = event["cancel_reason"].strip() if event["status"] == "cancelled" else ""
        lines.append("Abgesagt" + (f": {reason}" if reason else "."))
    lines.append(f"Mehr dazu: {url}")
    stamp = max(slot["updated_at"], event["updated_at"])
    spec = VEventSpec(
        uid=f"slot-{slot['id']}@{feed_host()}",
        sequence=slot["sequence"],
        stamp=stamp,
        start=slot["starts_at"],
        end=slot["ends_at"],
        summary=("Abgesagt: " if cancelled_at else "") + event["title"],
        description="\n".join(lines),
        location=location,
        geo=geo,
        url=url,
        status=_event_status(slot, event),
        categories=(kind_label(event["kind"]),),
        classification="PUBLIC",
    )
    return PieceDraft(
        key=f"slot:{slot['id']}",
        slot_id=slot["id"],
        booking_id=None,
        facets=_facets("public", slot, event, _drop_after(slot, cancelled_at)),
        data_stamp=stamp,
        spec=spec,
    )


def _persons(count: int) -> str:
    return f"{count} {'Person' if count == 1 else 'Personen'}"


def _class_text(b: dict[str, Any], orgs: dict[int, dict[str, Any]]) -> str:
    school = orgs[b["school"]]["name"] if b["school"] in orgs else ""
    if b["kind"] == "class_visit":
        who = f"Klasse {b['class_label']}" + (f" (Stufe {b['grade']})" if b["grade"] else "")
        counts = f"{b['pupils']} Schülerinnen und Schüler, {b['adults']} Begleitpersonen"
        return f"{school}, {who}: {counts}" if school else f"{who}: {counts}"
    persons = _persons(b["persons"])
    return f"Anmeldung ({school}): {persons}" if school else f"Anmeldung: {persons}"


def _host_piece(
    slot: dict[str, Any], event: dict[str, Any], rows: _Rows, bookings: list[dict[str, Any]]
) -> PieceDraft:
    cancelled_at = _cancelled_at(slot, event)
    location, geo = _location(rows.venues.get(event["venue"]))
    url = _event_url(event["id"])
    held, capacity = slot["held"], slot["capacity"]
    lines = [f"Belegt: {held} von {capacity} Plätzen · frei: {max(0, capacity - held)}"]
    waiting = [b for b in bookings if b["status"] == "waitlisted"]
    if waiting:
        persons = sum(b["persons"] for b in waiting)
        lines.append(f"Warteliste: {len(waiting)} Buchung(en), {persons} Personen")
    if bookings:
        lines.append("Buchungen:")
        lines.extend(
            f"• {_class_text(b, rows.orgs)} {_DASH} {STATUS_LABELS[b['status']]}" for b in bookings
        )
    if cancelled_at is not None:
        lines.append("Abgesagt.")
    lines.append(url)
    stamp = max([slot["updated_at"], event["updated_at"], *(b["updated_at"] for b in bookings)])
    summary = (
        f"Abgesagt: {event['title']}"
        if cancelled_at
        else f"{event['title']} {_DASH} {held}/{capacity} belegt"
    )
    spec = VEventSpec(
        # Not the public view's UID: this entry says other things (places, bookings),
        # and one UID names one content wherever it appears.
        uid=f"host-slot-{slot['id']}@{feed_host()}",
        sequence=slot["sequence"],
        stamp=stamp,
        start=slot["starts_at"],
        end=slot["ends_at"],
        summary=summary,
        description="\n".join(lines),
        location=location,
        geo=geo,
        url=url,
        status=_event_status(slot, event),
        categories=(kind_label(event["kind"]),),
        classification="PRIVATE",
        alarm_before=ALARM_BEFORE,
        alarm_text=event["title"],
    )
    return PieceDraft(
        key=f"host:{slot['id']}",
        slot_id=slot["id"],
        booking_id=None,
        facets=_facets("host", slot, event, _drop_after(slot, cancelled_at)),
        data_stamp=stamp,
        spec=spec,
    )


def _booker_piece(
    booking: dict[str, Any], slot: dict[str, Any], event: dict[str, Any], rows: _Rows
) -> PieceDraft:
    cancelled_at = _cancelled_at(slot, event)
    status = booking["status"]
    if status in ("cancelled", "declined"):
        ended = booking["updated_at"]
        cancelled_at = min(cancelled_at, ended) if cancelled_at else ended
    host = rows.orgs[event["host"]]
    location, geo = _location(rows.venues.get(event["venue"]))
    # The booking page: the feed's reader is its booker, signed in.
    url = booking_url(get_settings(), booking["id"])
    if booking["kind"] == "class_visit":
        what = f"Klasse {booking['class_label']}"
    else:
        what = f"Anmeldung, {_persons(booking['persons'])}"
    if cancelled_at is not None:
        prefix = "Abgelehnt: " if status == "declined" else "Abgesagt: "
        summary = f"{prefix}{event['title']} {_DASH} {what}"
    else:
        note = {"pending": " (angefragt)", "waitlisted": " (Warteliste)"}.get(status, "")
        summary = f"{event['title']} {_DASH} {what}{note}"
    lines = [
        f"{kind_label(event['kind'])} bei {host['name']}",
        _class_text(booking, rows.orgs),
        f"Status: {STATUS_LABELS.get(status, status)}",
    ]
    if booking["reason"].strip() and status in ("cancelled", "declined"):
        lines.append(f"Grund: {booking['reason'].strip()}")
    if event["status"] == "cancelled" and event["cancel_reason"].strip():
        lines.append(f"Die Veranstaltung ist abgesagt: {event['cancel_reason'].strip()}")
    lines.append(url)
    if cancelled_at is not None:
        ical_status = "CANCELLED"
    else:
        ical_status = "CONFIRMED" if status == "confirmed" else "TENTATIVE"
    stamp = max(slot["updated_at"], event["updated_at"], booking["updated_at"])
    spec = VEventSpec(
        # Not the invitation's UID (`booking-<id>@`): the two say different things (this
        # one German, with class and status, for every teacher of the school; the mail
        # in its reader's language, for its recipient). Who gets which is the person's
        # calendar choice (My data), so that nobody gets both unless they asked to.
        uid=f"feed-booking-{booking['id']}@{feed_host()}",
        # As in the invitations: both numbers only grow, so their sum grows on any change.
        sequence=slot["sequence"] + booking["sequence"],
        stamp=stamp,
        start=slot["starts_at"],
        end=slot["ends_at"],
        summary=summary,
        description="\n".join(lines),
        location=location,
        geo=geo,
        url=url,
        status=ical_status,
        categories=(kind_label(event["kind"]),),
        classification="PRIVATE",
        alarm_before=ALARM_BEFORE,
        alarm_text=event["title"],
    )
    return PieceDraft(
        key=f"booking:{booking['id']}",
        slot_id=slot["id"],
        booking_id=booking["id"],
        facets=_facets("booker", slot, event, _booker_drop_after(slot, cancelled_at), booking),
        data_stamp=stamp,
        spec=spec,
    )


def drafts_for_legs(legs: Sequence[FeedLeg]) -> list[PieceDraft]:
    """The travel legs of class days: each a VEVENT in the teacher's private feed."""
    return [_leg_piece(leg) for leg in legs]


def _leg_piece(leg: FeedLeg) -> PieceDraft:
    way = "Fußweg" if leg.mode == "foot" else "Busfahrt"
    summary = f"{way} zu {leg.destination} {_DASH} Klasse {leg.class_label}"
    if not leg.active:
        summary = f"Entfällt: {summary}"
    km = format_decimal(leg.km, "0.#", locale=babel_locale("de"))  # German, as the rest of the feed
    url = f"{get_settings().base_url}/school/itineraries/{leg.itinerary_id}"
    lines = [
        f"Von {leg.origin} zu {leg.destination}: etwa {leg.minutes} Minuten mit Puffer"
        f" ({km} km Luftlinie).",
        f"Teil des Firmentags der Klasse {leg.class_label}.",
        url,
    ]
    drop_after = leg.arrives_at + min(
        PAST_KEPT, timedelta(days=get_settings().anonymise_after_days)
    )
    if not leg.active:
        drop_after = min(drop_after, leg.stamp + CANCELLED_KEPT)
    spec = VEventSpec(
        uid=f"feed-itinerary-{leg.itinerary_id}-leg-{leg.booking_id}@{feed_host()}",
        sequence=leg.sequence,
        stamp=leg.stamp,
        start=leg.departs_at,
        end=leg.arrives_at,
        summary=summary,
        description="\n".join(lines),
        location=leg.destination_address,
        url=url,
        status="CONFIRMED" if leg.active else "CANCELLED",
        categories=("Weg",),
        classification="PRIVATE",
    )
    facets = Facets(
        view="leg",
        event_id=leg.event_id,
        host_id=leg.host_id,
        event_kind="factory_tour",
        grades="",
        visibility="network",
        event_status=leg.event_status,
        school_id=leg.school_id,
        booked_by=leg.booked_by,
        booking_kind="class_visit",
        starts_at=leg.departs_at,
        drop_after=drop_after,
    )
    return PieceDraft(
        key=f"leg:{leg.booking_id}",
        slot_id=leg.slot_id,
        booking_id=leg.booking_id,
        facets=facets,
        data_stamp=leg.stamp,
        spec=spec,
    )
