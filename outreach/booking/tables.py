from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.accounts.tables import User
from outreach.events.tables import Event, Slot
from outreach.organisations.tables import Organisation

BOOKING_STATUSES = ("pending", "confirmed", "waitlisted", "declined", "cancelled")
HOLDING_STATUSES = ("pending", "confirmed")
BOOKING_KINDS = ("class_visit", "registration")


class Booking(Table, tablename="booking"):
    slot = ForeignKey(Slot, on_delete=OnDelete.restrict, index=True)
    event = ForeignKey(Event, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=16)
    status = Varchar(length=16, index=True)
    persons = Integer()
    # Class visit: no pupil names, only counts, grade and a class label.
    school = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict, index=True)
    class_label = Varchar(length=32, default="")
    grade = Integer(null=True, default=None)
    pupils = Integer(default=0)
    adults = Integer(default=0)
    # The adult to contact: the teacher, or the public registrant.
    contact_name = Varchar(length=200, default="")
    contact_email = Varchar(length=254, default="")
    notes = Text(default="")
    language = Varchar(length=8, default="de")
    booked_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    reason = Text(default="")  # why declined or cancelled
    # The booker said "we are coming" from the reminder link; hosts see who did not.
    reconfirmed_at = Timestamptz(null=True, default=None)
    sequence = Integer(default=0)
    # Who came, in persons, as the host recorded after the event: null until recorded,
    # 0 for a no-show (booking.attendance).
    attended = Integer(null=True, default=None)
    attendance_recorded_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    anonymised_at = Timestamptz(null=True, default=None)
    # A public registration holds its places only until the registrant confirms the
    # e-mail address by this instant; None once confirmed, and for signed-in bookers.
    verify_by = Timestamptz(null=True, default=None, index=True)


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first answer to a request with an Idempotency-Key, replayed on retries."""

    # "<who sent it>:<key>": a key is private to its sender (a user, or an anonymous client).
    scoped_key = Varchar(length=300, unique=True)
    request_hash = Varchar(length=64)
    status_code = Integer()
    response = Text()
    created_at = Timestamptz(default=TimestamptzNow())
