from __future__ import annotations

from piccolo.columns import (
    Array,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.accounts.tables import User
from outreach.events.tables import Venue
from outreach.organisations.tables import Organisation

OFFER_STATUSES = ("draft", "published")
ROUND_STATUSES = ("preview", "confirmed", "discarded")
# An outcome of a round: `unplaced` (no place, with its reason), `placed`, confirmed by
# the firm, or `cancelled` (by the school, the firm or the office; the place went on).
PLACEMENT_STATUSES = ("unplaced", "placed", "confirmed_by_firm", "cancelled")
HOLDING = ("placed", "confirmed_by_firm")


class InternshipOffer(Table, tablename="internship_offer"):
    """A firm's internship places for an occupation, in one or more periods."""

    host = ForeignKey(Organisation, on_delete=OnDelete.restrict, index=True)
    venue = ForeignKey(Venue, null=True, on_delete=OnDelete.set_null)
    occupation = Varchar(length=200)
    description = Text(default="")
    grades = Array(base_column=Integer())
    status = Varchar(length=16, default="draft", index=True)
    contact_name = Varchar(length=200, default="")
    contact_email = Varchar(length=254, default="")
    created_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class OfferPeriod(Table, tablename="internship_offer_period"):
    """The dates an offer takes pupils, and how many (days inclusive, local dates)."""

    offer = ForeignKey(InternshipOffer, on_delete=OnDelete.cascade, index=True)
    starts_on = Date()
    ends_on = Date()
    places = Integer()


class ClassPeriod(Table, tablename="internship_class"):
    """A school class's internship period, set by its school."""

    school = ForeignKey(Organisation, on_delete=OnDelete.restrict, index=True)
    class_label = Varchar(length=32)
    grade = Integer()
    starts_on = Date()
    ends_on = Date()
    # The last day (Europe/Berlin) on which the pupils' wishes may change.
    wishes_until = Date(index=True)
    created_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Pupil(Table, tablename="internship_pupil"):
    """A pupil as the school knows it: its own code and a first name, nothing else.

    The first name goes with the bookings' retention rule (`ANONYMISE_AFTER_DAYS` after
    the class period ends); the code and the outcomes stay for the reports.
    """

    class_period = ForeignKey(ClassPeriod, on_delete=OnDelete.cascade, index=True)
    code = Varchar(length=32)
    # "<class id>:<code>", unique: a code once per class on both databases.
    class_code = Varchar(length=48, unique=True)
    first_name = Varchar(length=100, default="")
    position = Integer(default=0)
    anonymised_at = Timestamptz(null=True, default=None)


class Wish(Table, tablename="internship_wish"):
    pupil = ForeignKey(Pupil, on_delete=OnDelete.cascade, index=True)
    offer_period = ForeignKey(OfferPeriod, on_delete=OnDelete.restrict, index=True)
    rank = Integer()  # 1..3
    # "<pupil>:<rank>" and "<pupil>:<offer period>", unique on both databases.
    pupil_rank = Varchar(length=40, unique=True)
    pupil_period = Varchar(length=40, unique=True)


class Round(Table, tablename="internship_round"):
    """One allocation of some classes' pupils, reproducible from its seed."""

    seed = BigInt()
    status = Varchar(length=16, default="preview", index=True)
    classes = Array(base_column=Integer())
    lottery = Text(default="[]")  # the pupils' ids in lottery order (JSON)
    created_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    confirmed_at = Timestamptz(null=True, default=None)


class Placement(Table, tablename="internship_placement"):
    """A pupil's outcome in a round: a place (with its wish's rank) or none, and why."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    pupil = ForeignKey(Pupil, on_delete=OnDelete.cascade, index=True)
    round_pupil = Varchar(length=40, unique=True)  # "<round>:<pupil>"
    offer_period = ForeignKey(OfferPeriod, null=True, on_delete=OnDelete.restrict, index=True)
    rank = Integer(null=True, default=None)
    reason = Varchar(length=32)
    params = Text(default="{}")  # JSON
    status = Varchar(length=24, index=True)
    confirmed_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    days_attended = Integer(null=True, default=None)
    apprenticeship_offered = Boolean(null=True, default=None)
    attendance_recorded_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())
