"""An itinerary: one class's day of visits at several firms, booked all or nothing.

The visits themselves are ordinary bookings (the booking engine's rows and rules);
`ItineraryVisit` links them here, so the booking table needs no column of ours. The
class's contact data stays in the bookings only, where anonymisation finds it.
"""

from __future__ import annotations

from piccolo.columns import (
    Array,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.accounts.tables import User
from outreach.booking.tables import Booking
from outreach.organisations.tables import Organisation

__all__ = ["TRAVEL_MODES", "Itinerary", "ItineraryVisit"]

TRAVEL_MODES = ("foot", "bus")


class Itinerary(Table, tablename="itinerary"):
    school = ForeignKey(Organisation, on_delete=OnDelete.restrict, index=True)
    created_by = ForeignKey(User, null=True, default=None, on_delete=OnDelete.set_null)
    day = Date()  # local date of the visits
    class_label = Varchar(length=32)
    grade = Integer()
    pupils = Integer()
    adults = Integer()
    # What the teacher asked for: kept to check legs, re-plan and offer replacements.
    travel_mode = Varchar(length=8, default="foot")
    arrive_at = Varchar(length=5)  # local "HH:MM"
    leave_by = Varchar(length=5)
    lunch_minutes = Integer(default=0)
    firms = Array(base_column=Varchar(length=64))  # wanted host slugs
    topics = Array(base_column=Varchar(length=64))
    created_at = Timestamptz(default=TimestamptzNow())


class ItineraryVisit(Table, tablename="itinerary_visit"):
    """One booking of an itinerary; a booking belongs to at most one itinerary."""

    itinerary = ForeignKey(Itinerary, on_delete=OnDelete.cascade, index=True)
    booking = ForeignKey(Booking, on_delete=OnDelete.cascade, unique=True)
    position = Integer()  # order of the day, from 1
