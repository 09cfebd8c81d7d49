from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.booking.tables import Booking

NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed")


class Notification(Table, tablename="notification"):
    """The transactional outbox: one row per message to one person, written with the change."""

    # Unique: booking, kind and instant, so that a message is queued at most once.
    dedupe_key = Varchar(length=200, unique=True)
    kind = Varchar(length=32)
    booking = ForeignKey(Booking, null=True, on_delete=OnDelete.set_null, index=True)
    recipient = Varchar(length=254)
    language = Varchar(length=8, default="de")
    payload = Text(default="{}")
    due_at = Timestamptz(index=True)
    status = Varchar(length=16, default="pending", index=True)
    attempts = Integer(default=0)
    lease_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
