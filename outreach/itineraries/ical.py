"""One iCalendar file for a class's day: every visit, every leg between them, lunch.

Built with `icalendar`; times are UTC instants, as in the feeds and the invitations
(`outreach.calendar.ical` says why: Berlin wall time cannot name the repeated autumn
hour), so this file needs no VTIMEZONE and every reader finds the same instants.

UIDs are this file's own (`itinerary-<id>-...`), not the invitations' or the private
feed's: a client that finds one UID in two calendars may merge or drop one of them.

The texts are German, as the private feed's bookings and legs are (`feeds.render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from babel.numbers import format_decimal
from icalendar import Calendar, Event, vText

from outreach.calendar.ical import clean_text, one_line
from outreach.itineraries.schemas import ItineraryOut, VisitStatusOut
from outreach.languages import babel_locale
from outreach.timeutil import as_utc

__all__ = ["PRODID", "itinerary_calendar"]

PRODID = "-//Glashuette outreach//itineraries//DE"
_ICAL_STATUS = {
    "confirmed": "CONFIRMED",
    "pending": "TENTATIVE",
    "waitlisted": "TENTATIVE",
    "declined": "CANCELLED",
    "cancelled": "CANCELLED",
}
_STATUS_DE = {
    "confirmed": "bestätigt",
    "pending": "wartet auf Bestätigung der Firma",
    "waitlisted": "auf der Warteliste",
    "declined": "abgelehnt",
    "cancelled": "abgesagt",
}


def _address(visit: VisitStatusOut) -> str:
    v = visit.venue
    if v is None:
        return visit.host_name
    place = " ".join(p for p in (v.postal_code, v.city) if p)
    return ", ".join(p for p in (v.name, v.street, place) if p)


def _base(uid: str, sequence: int, stamp: datetime, start: datetime, end: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", as_utc(stamp))
    # UTC, as in the feeds and invitations: one instant for every reader.
    event.add("dtstart", as_utc(start))
    event.add("dtend", as_utc(end))
    return event


def itinerary_calendar(
    it: ItineraryOut,
    *,
    host: str,
    stamp: datetime,
    sequences: Mapping[int, int] | None = None,
    url: str = "",
) -> bytes:
    """The VCALENDAR of `it`. `sequences`: booking id -> SEQUENCE of its visit."""
    sequences = sequences or {}
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    name = f"Klasse {it.class_label}: Firmenbesuche am {it.date:%d.%m.%Y}"
    cal.add("name", vText(one_line(name)))
    cal.add("x-wr-calname", vText(one_line(name)))
    # No X-WR-TIMEZONE: with UTC times it only misleads (see calendar_head).
    by_host: dict[str, VisitStatusOut] = {}
    for visit in it.visits:
        cal.add_component(_visit_event(it, visit, host, stamp, sequences, url))
        if visit.status in ("pending", "confirmed", "waitlisted"):
            by_host[visit.host] = visit
    way = "Fußweg" if it.travel_mode == "foot" else "Busfahrt"
    for leg in it.legs:
        origin, destination = by_host.get(leg.from_), by_host.get(leg.to)
        if origin is None or destination is None or leg.departs_at is None:
            continue
        assert leg.arrives_at is not None
        event = _base(
            f"itinerary-{it.id}-leg-{origin.booking_id}-{destination.booking_id}@{host}",
            sequences.get(origin.booking_id, 0) + sequences.get(destination.booking_id, 0),
            stamp,
            leg.departs_at,
            leg.arrives_at,
        )
        event.add("summary", one_line(f"{way} zu {destination.host_name} (~{leg.minutes} min)"))
        event.add("location", one_line(_address(destination)))
        event.add(
            "description",
            clean_text(
                f"Von {origin.host_name} nach {destination.host_name}:"
                f" {format_decimal(leg.km, '0.#', locale=babel_locale('de'))} km Luftlinie,"
                f" {leg.minutes} Minuten mit Puffer.\nAnkunft spätestens"
                f" {destination.starts_at:%H:%M} Uhr."
            ),
        )
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        event.add("class", "PRIVATE")
        cal.add_component(event)
    if it.lunch is not None:
        event = _base(
            f"itinerary-{it.id}-lunch@{host}", 0, stamp, it.lunch.starts_at, it.lunch.ends_at
        )
        event.add("summary", one_line(f"Mittagspause Klasse {it.class_label}"))
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        event.add("class", "PRIVATE")
        cal.add_component(event)
    return cal.to_ical()


def _visit_event(
    it: ItineraryOut,
    visit: VisitStatusOut,
    host: str,
    stamp: datetime,
    sequences: Mapping[int, int],
    url: str,
) -> Event:
    event = _base(
        f"itinerary-{it.id}-visit-{visit.booking_id}@{host}",
        sequences.get(visit.booking_id, 0),
        stamp,
        visit.starts_at,
        visit.ends_at,
    )
    status = _ICAL_STATUS.get(visit.status, "TENTATIVE")
    event.add("summary", one_line(f"{visit.host_name}: {visit.event_title}"))
    event.add("location", one_line(_address(visit)))
    if visit.venue is not None and visit.venue.lat is not None and visit.venue.lon is not None:
        event.add("geo", (visit.venue.lat, visit.venue.lon))
    lines = [
        f"Klasse {it.class_label} ({it.pupils} Schülerinnen und Schüler, {it.adults}"
        f" Begleitpersonen) bei {visit.host_name}.",
        f"Status: {_STATUS_DE.get(visit.status, visit.status)}",
    ]
    if visit.reason.strip() and status == "CANCELLED":
        lines.append(f"Grund: {visit.reason.strip()}")
    contact = ", ".join(
        p for p in (visit.contact_name, visit.contact_phone, visit.contact_email) if p
    )
    if contact:
        lines.append(f"Ansprechpartner: {contact}")
    if url:
        lines.append(url)
    event.add("description", clean_text("\n".join(lines)))
    if url:
        event.add("url", one_line(url))
    event.add("status", status)
    event.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
    event.add("class", "PRIVATE")
    return event
