"""The outbox's vocabulary: the kinds of notice, and a row as a worker holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "BOOKER_KINDS",
    "DAY_KINDS",
    "HOST_KINDS",
    "INTERNSHIP_KINDS",
    "KINDS",
    "PRESENTER_KINDS",
    "ClaimedNotification",
    "DeliveryOutcome",
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
# One mail for a class's day at several firms (an itinerary), to its teacher: it tells
# the confirmations of every visit of the day at once (outreach.notifications.class_day).
DAY_KINDS = ("itinerary.confirmed",)
# About a firm presenting at a school's parents' evening (outreach.presenters): no booking.
PRESENTER_KINDS = (
    "presenter.invited",
    "presenter.withdrawn",
    "presenter.accepted",
    "presenter.declined",
    "presenter.evening_cancelled",
    "presenter.evening_changed",
)
# About internship placements (outreach.internships): no booking either.
INTERNSHIP_KINDS = (
    "internship.class_results",  # to a class's teacher: the confirmed round's results
    "internship.firm_placements",  # to a firm: its placements of a confirmed round
    "internship.cancelled",  # to the school and the firm: a placement was cancelled
    "internship.next_in_line",  # to the school and the firm: a freed place went on
)

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
