"""Plain data passed between the outbox service, the mail renderer and the workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "BOOKER_KINDS",
    "CANCEL_KINDS",
    "HOST_KINDS",
    "KINDS",
    "PRESENTER_KINDS",
    "REQUEST_KINDS",
    "ClaimedNotification",
    "DeliveryOutcome",
    "ItipMethod",
    "MailContext",
    "SweepResult",
]

# What the booker is told, one kind per change (PRODUCT.md rule 5).
BOOKER_KINDS = (
    "booking.received",
    "booking.confirmed",
    "booking.declined",
    "booking.waitlisted",
    "booking.promoted",
    "booking.cancelled",
    "slot.moved",
    "event.updated",
    "event.cancelled",
    "booking.reminder",
    "booking.changed",
)
# What the host firm is told.
HOST_KINDS = (
    "host.booking_received",
    "host.booking_cancelled",
    "host.attendance_missing",
    "host.booking_changed",
)
KINDS = BOOKER_KINDS + HOST_KINDS
# About a firm presenting at a school's parents' evening (outreach.presenters): no booking.
PRESENTER_KINDS = (
    "presenter.invited",
    "presenter.withdrawn",
    "presenter.accepted",
    "presenter.declined",
    "presenter.evening_cancelled",
    "presenter.evening_changed",
)

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
# not_claimed: not due, already sent, or another worker holds it; the caller does nothing.
DeliveryOutcome = Literal["sent", "skipped", "retry", "failed", "not_claimed"]


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    """An outbox row this worker holds until `lease_until`."""

    id: int
    dedupe_key: str
    kind: str
    booking_id: int | None
    recipient: str
    language: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    lease_until: datetime


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
    # an `outreach.itineraries.services.ItineraryNotice`, else None.
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
