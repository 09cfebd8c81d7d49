"""Plain data passed between the delivery, the mail renderer and the workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "CANCEL_KINDS",
    "REQUEST_KINDS",
    "ItipMethod",
    "MailContext",
    "SweepResult",
]

# Kinds that put the visit into the booker's calendar, and kinds that take it out.
REQUEST_KINDS = (
    "booking.confirmed",
    "booking.promoted",
    "slot.moved",
    "event.updated",
    "booking.reminder",
)
CANCEL_KINDS = ("booking.cancelled", "booking.declined", "event.cancelled")

ItipMethod = Literal["REQUEST", "CANCEL"]


@dataclass(frozen=True, slots=True)
class MailContext:
    """The booking as it is now, with its slot, event, host, venue and school."""

    booking_id: int
    booking_status: str
    booking_sequence: int
    persons: int
    class_label: str
    grade: int | None
    pupils: int
    adults: int
    contact_name: str
    contact_email: str
    booking_reason: str
    booking_created_at: datetime
    anonymised: bool
    school_name: str
    slot_starts_at: datetime
    slot_ends_at: datetime
    slot_sequence: int
    slot_cancelled: bool
    event_id: int
    event_title: str
    event_kind: str
    event_status: str
    event_cancel_reason: str
    host_name: str
    host_email: str
    host_contact_name: str
    venue_name: str = ""
    venue_street: str = ""
    venue_postal_code: str = ""
    venue_city: str = ""
    # What the booker wrote to the host; shown only in the mails to the host.
    notes: str = ""
    # For a visit that is part of a class's day at several firms (cancelled, declined):
    # an `outreach.itineraries.views.ItineraryNotice`, else None.
    itinerary: Any = None

    @property
    def sequence(self) -> int:
        """iCalendar SEQUENCE: both counters only grow, so their sum grows on every change."""
        return self.booking_sequence + self.slot_sequence

    @property
    def location(self) -> str:
        town = " ".join(part for part in (self.venue_postal_code, self.venue_city) if part)
        return ", ".join(part for part in (self.venue_name, self.venue_street, town) if part)


@dataclass(slots=True)
class SweepResult:
    reminders: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
