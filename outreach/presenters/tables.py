from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.accounts.tables import User
from outreach.events.tables import Event
from outreach.organisations.tables import Organisation

PRESENTER_STATUSES = ("invited", "accepted", "declined", "withdrawn")


class PresenterInvitation(Table, tablename="presenter_invitation"):
    """A school invites a firm to present at its parents' evening; the firm answers."""

    event = ForeignKey(Event, on_delete=OnDelete.cascade, index=True)
    firm = ForeignKey(Organisation, on_delete=OnDelete.cascade, index=True)
    # "<event id>:<firm id>", unique: one invitation per firm and evening on both databases
    # (Piccolo columns have no composite unique constraint).
    pair = Varchar(length=40, unique=True)
    status = Varchar(length=16, default="invited", index=True)
    message = Text(default="")  # the school's words to the firm
    answer = Text(default="")  # the firm's words back
    invited_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    answered_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    invited_at = Timestamptz(default=TimestamptzNow())
    answered_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())
