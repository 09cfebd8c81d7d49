"""iTIP (RFC 5546) invitations carried by the booking mails.

One UID per booking for its whole life, so that a calendar adds the visit on
REQUEST, moves it on a later REQUEST with a higher SEQUENCE and removes it on CANCEL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress

from outreach.notifications.schemas import ItipMethod
from outreach.timeutil import LOCAL_TZ, as_utc, local

__all__ = ["PRODID", "Invitation", "booking_uid", "render_itip"]

PRODID = "-//Glashuette outreach//notifications//DE"


@dataclass(frozen=True, slots=True)
class Invitation:
    method: ItipMethod
    uid: str
    sequence: int
    stamp: datetime
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str
    url: str
    organizer_email: str
    organizer_name: str
    attendee_email: str
    attendee_name: str
    # The booking is confirmed; a pending one is never invited (see services).
    status: str = "CONFIRMED"


def booking_uid(booking_id: int, host: str) -> str:
    return f"booking-{booking_id}@{host}"


def render_itip(invitation: Invitation) -> str:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", invitation.method)
    calendar.add_component(_berlin_vtimezone())
    calendar.add_component(_vevent(invitation))
    return calendar.to_ical().decode("utf-8")


def _vevent(inv: Invitation) -> Event:
    cancel = inv.method == "CANCEL"
    event = Event()
    event.add("uid", inv.uid)
    event.add("sequence", inv.sequence)
    event.add("dtstamp", as_utc(inv.stamp))
    # Local wall time with TZID: clients show the visit at the time the firm set it.
    event.add("dtstart", local(inv.start))
    event.add("dtend", local(inv.end))
    event.add("summary", _one_line(inv.summary))
    if inv.location:
        event.add("location", _one_line(inv.location))
    if inv.description:
        event.add("description", inv.description)
    if inv.url:
        event.add("url", inv.url)
    event.add("status", "CANCELLED" if cancel else inv.status)
    event.add("transp", "TRANSPARENT" if cancel else "OPAQUE")
    event.add("organizer", _address(inv.organizer_email, inv.organizer_name))
    attendee = _address(inv.attendee_email, inv.attendee_name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    # The booker asked for the visit: nothing to answer, so no RSVP buttons are asked for.
    attendee.params["PARTSTAT"] = "ACCEPTED"
    attendee.params["RSVP"] = "FALSE"
    event.add("attendee", attendee)
    return event


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{_one_line(email)}")
    if name.strip():
        address.params["CN"] = _one_line(name)
    return address


def _berlin_vtimezone() -> Timezone:
    """Europe/Berlin by its rule (EU summer time since 1996) rather than a list of dates.

    icalendar's generated VTIMEZONE lists transitions as one multi-valued RDATE, which
    some clients (ical.js) read only the first value of; the RRULE form is what
    Outlook and Thunderbird write themselves.
    """
    tz = Timezone()
    tz.add("tzid", str(LOCAL_TZ))
    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    daylight.add("tzoffsetfrom", _offset(1))
    daylight.add("tzoffsetto", _offset(2))
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1SU"})
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    standard.add("tzoffsetfrom", _offset(2))
    standard.add("tzoffsetto", _offset(1))
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1SU"})
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def _offset(hours: int) -> timedelta:
    return timedelta(hours=hours)


def _one_line(value: str) -> str:
    return " ".join(value.split())
