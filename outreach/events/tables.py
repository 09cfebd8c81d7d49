from __future__ import annotations

from piccolo.columns import (
    Array,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.organisations.tables import Organisation

EVENT_KINDS = ("open_day", "factory_tour", "parents_evening", "teacher_training", "other")
VISIBILITIES = ("public", "network")
EVENT_STATUSES = ("draft", "published", "cancelled")
BOOKING_MODES = ("none", "auto", "approval")
AUDIENCES = ("pupils", "parents", "teachers", "public")


class Venue(Table, tablename="venue"):
    organisation = ForeignKey(Organisation, null=True, on_delete=OnDelete.set_null)
    name = Varchar(length=200)
    street = Varchar(length=200, default="")
    postal_code = Varchar(length=16, default="")
    city = Varchar(length=100, default="")
    lat = Float(null=True, default=None)
    lon = Float(null=True, default=None)


class Event(Table, tablename="event"):
    host = ForeignKey(Organisation, on_delete=OnDelete.restrict, index=True)
    venue = ForeignKey(Venue, null=True, on_delete=OnDelete.set_null)
    kind = Varchar(length=32, index=True)
    title = Varchar(length=200)
    description = Text(default="")
    grades = Array(base_column=Integer())
    audience = Array(base_column=Varchar(length=16))
    topics = Array(base_column=Varchar(length=64))
    visibility = Varchar(length=16, default="public")
    status = Varchar(length=16, default="draft", index=True)
    booking_mode = Varchar(length=16, default="auto")
    waitlist = Boolean(default=True)
    cancel_reason = Text(default="")
    # Days before a slot on which bookers are reminded; empty means the network default.
    reminder_days = Array(base_column=Integer())
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Slot(Table, tablename="slot"):
    event = ForeignKey(Event, on_delete=OnDelete.cascade, index=True)
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    capacity = Integer()
    # Persons in pending and confirmed bookings; changed only by booking.writes.
    held = Integer(default=0)
    min_party = Integer(default=1)
    max_party = Integer(default=0)  # 0: up to the capacity
    booking_opens_at = Timestamptz(null=True, default=None)
    booking_closes_at = Timestamptz(null=True, default=None)
    cancelled = Boolean(default=False)
    sequence = Integer(default=0)  # iCalendar SEQUENCE, raised on every change that matters
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
