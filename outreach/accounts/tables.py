from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.organisations.tables import Organisation

ROLES = ("admin", "firm", "school")
# How a person's own visits reach their calendar (the My data page): by the invitations
# in the booking mails, by the private feed they subscribed to, or both (two entries).
CALENDAR_DELIVERIES = ("invitation", "subscription", "both")


class User(Table, tablename="app_user"):
    email = Varchar(length=254, unique=True, index=True)  # stored lower-case
    name = Varchar(length=200, default="")
    role = Varchar(length=16)
    organisation = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict)
    password_hash = Varchar(length=255, null=True, default=None)  # argon2id
    language = Varchar(length=8, default="de")
    # Private calendar feed: 128 random bits; the URL's verifier is derived with SECRET_KEY.
    feed_selector = Varchar(length=32, null=True, default=None, unique=True)
    calendar_delivery = Varchar(length=16, default="invitation")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class ApiToken(Table, tablename="api_token"):
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    selector = Varchar(length=32, unique=True, index=True)
    verifier_hash = Varchar(length=64)
    label = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class UserSession(Table, tablename="user_session"):
    """A signed-in page session. The cookie carries a random id; only its hash is stored.

    Ending a session deletes its row, so a copy of the cookie replayed afterwards opens
    nothing; `expires_at` is absolute, set at sign-in and never moved.
    """

    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    key_hash = Varchar(length=64, unique=True, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    last_seen_at = Timestamptz(default=TimestamptzNow())
