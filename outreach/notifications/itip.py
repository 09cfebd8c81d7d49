"""iTIP (RFC 5546) invitations carried by the booking mails.

One UID per booking for its whole life, so that a calendar adds the visit on
REQUEST, moves it on a later REQUEST with a higher SEQUENCE and removes it on CANCEL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from icalendar import Calendar, Event, vCalAddress

# One VEVENT builder for mails and feeds: the same visit looks alike in both (UTC times).
from outreach.calendar.ical import VEventSpec, build_vevent, one_line
from outreach.notifications.schemas import ItipMethod

__all__ = ["PRODID", "Invitation", "booking_uid", "render_itip", "render_itip_many"]

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
    return render_itip_many([invitation])


def render_itip_many(invitations: Sequence[Invitation]) -> str:
    """One iTIP object for several visits: one VEVENT each, with their own UIDs.

    RFC 6047 section 4.4 allows several components of one METHOD in one object;
    Apple Calendar and Thunderbird take them all, Outlook and Gmail only the first
    (the class day's mail therefore attaches each visit on its own as well).
    """
    methods = {inv.method for inv in invitations}
    if len(methods) != 1:
        raise ValueError("one iTIP object carries one METHOD")
    events = b"".join(_vevent(invitation).to_ical() for invitation in invitations)
    return (_calendar_head(methods.pop()) + events + _CALENDAR_TAIL).decode("utf-8")


_CALENDAR_TAIL = b"END:VCALENDAR\r\n"


@lru_cache(maxsize=2)
def _calendar_head(method: ItipMethod) -> bytes:
    """The VCALENDAR's lines before its events, the same for every mail: made once.

    Byte for byte what icalendar writes for the calendar (its properties, then the
    components it holds, then END:VCALENDAR).
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    whole = calendar.to_ical()
    if not whole.endswith(_CALENDAR_TAIL):
        raise RuntimeError("icalendar wrote the calendar differently")
    return whole[: -len(_CALENDAR_TAIL)]


def _vevent(inv: Invitation) -> Event:
    cancel = inv.method == "CANCEL"
    event = build_vevent(
        VEventSpec(
            uid=inv.uid,
            sequence=inv.sequence,
            stamp=inv.stamp,
            start=inv.start,
            end=inv.end,
            summary=inv.summary,
            location=inv.location,
            description=inv.description,
            url=inv.url,
            status="CANCELLED" if cancel else inv.status,
        )
    )
    event.add("organizer", _address(inv.organizer_email, inv.organizer_name))
    attendee = _address(inv.attendee_email, inv.attendee_name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    # The booker asked for the visit: nothing to answer, so no RSVP buttons are asked for.
    attendee.params["PARTSTAT"] = "ACCEPTED"
    attendee.params["RSVP"] = "FALSE"
    event.add("attendee", attendee)
    return event


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{one_line(email)}")
    if name.strip():
        address.params["CN"] = one_line(name)
    return address
