"""Stored feed pieces (one VEVENT each), assembled feeds, and the queue of changes.

Written only by `feeds.services`. The routing columns of a piece (event, host, kind,
grades, visibility, status, booker) say which feeds it belongs to, so a feed is joined
from this one table and a changed piece finds its feeds without rendering anything.
"""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    Bytea,
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
from outreach.booking.tables import Booking
from outreach.events.tables import Event, Slot
from outreach.organisations.tables import Organisation

__all__ = ["PIECE_VIEWS", "SCOPES", "FeedChange", "FeedDocument", "FeedPiece", "FeedSegment"]

# public: a slot as anyone sees it; host: with booked and free places (no personal
# data); booker: one booking as its school or registrant sees it; leg: the way to a
# visit of a class's day, beside the booker view.
PIECE_VIEWS = ("public", "host", "booker", "leg")
SCOPES = ("public", "event", "private")


class FeedChange(Table, tablename="feed_change"):
    """Something a feed shows has changed; written in the changing transaction.

    Plain ids, no foreign keys: a queued change never blocks deleting what it names.
    """

    event_id = Integer(null=True, default=None)
    slot_id = Integer(null=True, default=None)
    booking_id = Integer(null=True, default=None)
    # An organisation whose internship offers or placements changed (its feeds, and the
    # public feeds for offers, are joined again).
    org_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class FeedPiece(Table, tablename="feed_piece"):
    """One rendered VEVENT: "slot:<id>", "host:<id>" or "booking:<id>"."""

    key = Varchar(length=40, unique=True)
    view = Varchar(length=8)
    slot = ForeignKey(Slot, on_delete=OnDelete.cascade, index=True)
    booking = ForeignKey(Booking, null=True, default=None, on_delete=OnDelete.cascade, index=True)
    # Routing: which feeds contain this piece.
    event_id = Integer(index=True)
    host_id = Integer(index=True)
    event_kind = Varchar(length=32)
    grades = Varchar(length=64, default="")  # ",8,9,10," or "" for every grade
    visibility = Varchar(length=16)
    event_status = Varchar(length=16)
    school_id = Integer(null=True, default=None)
    booked_by = Integer(null=True, default=None, index=True)
    booking_kind = Varchar(length=16, null=True, default=None)
    starts_at = Timestamptz(index=True)  # order within a feed, and its segment
    # Cancelled (or long past) entries stay this long, then leave every feed.
    drop_after = Timestamptz(null=True, default=None, index=True)
    expired = Boolean(default=False, index=True)
    # DTSTAMP written into the body: kept while the rest of the body stays the same.
    stamp = Timestamptz()
    body = Bytea()
    digest = Varchar(length=64)
    updated_at = Timestamptz(default=TimestamptzNow())


class FeedDocument(Table, tablename="feed_document"):
    """An assembled feed as served: strong ETag and a Last-Modified that only grows; its
    bytes are its segments' (`FeedSegment`), in the order of their buckets.

    `key` is canonical: "public", "public?grade=8&host=firm-a&kind=factory_tour",
    "event:<id>", "private:user:<id>".
    """

    key = Varchar(length=200, unique=True)
    scope = Varchar(length=8, index=True)
    kind_filter = Varchar(length=32, null=True, default=None)
    host = ForeignKey(Organisation, null=True, default=None, on_delete=OnDelete.cascade)
    grade_filter = Integer(null=True, default=None)
    event = ForeignKey(Event, null=True, default=None, on_delete=OnDelete.cascade)
    user = ForeignKey(User, null=True, default=None, on_delete=OnDelete.cascade)
    # The private feed's owner as it was when built: role and organisation.
    role = Varchar(length=16, null=True, default=None)
    org_id = Integer(null=True, default=None, index=True)
    # A private feed: whether it shows the visits its owner booked (their calendar
    # choice: not when those reach them as mailed invitations). None for other feeds.
    own_bookings = Boolean(null=True, default=None)
    etag = Varchar(length=80)
    size = Integer()  # bytes: the sum of its segments' sizes
    # Its segments as stored, "bucket:digest:size;..." in bucket order: the ETag of a
    # change is computed without reading the others.
    segments = Text(default="")
    last_modified = Timestamptz()
    last_requested_at = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow())


class FeedSegment(Table, tablename="feed_segment"):
    """A stretch of a stored feed's bytes: its head, the pieces starting in one week, or
    its tail (the internships' all-day entries and the calendar's end).

    A change rewrites the segments of the weeks its pieces left and joined, not the whole
    feed (5 MB for 10,000 slots). One row per (document, bucket): a unique index made by
    the migration.
    """

    document = ForeignKey(FeedDocument, on_delete=OnDelete.cascade, index=True)
    bucket = Integer()
    body = Bytea()
    digest = Varchar(length=64)
    size = Integer()
