"""Calendar feeds: stored pieces, stored feeds, and the publisher that keeps them current.

Publishing, in three layers:

1. `mark_changed(event_id=, slot_id=, booking_id=)` inserts one row into `feed_change`
   inside the caller's transaction: the events and booking services call it where they
   change a slot, an event or a booking. Nothing is rendered there.
2. `publish_pending()` (the scheduler tick, or the `publish_feeds` actor) takes the
   queued changes, re-renders only the pieces they touch (`FeedPiece`: one VEVENT per
   slot view or booking), and keeps a piece's bytes, DTSTAMP included, when its
   content did not change. Each piece that changed (or moved between feeds) finds the
   stored feeds it belongs to by its routing columns; those are joined again from the
   stored pieces, which is a concatenation, not a rendering. A stored feed is kept in
   segments (`FeedSegment`: its head, one per week of its pieces' starts, its tail), and
   only the weeks a piece left or joined are joined again: one change to a feed of
   10,000 slots rewrites two stretches of some 100 KB, not 5 MB.
3. A request reads the stored feed (`FeedDocument`): one small query for ETag and
   Last-Modified, the body from this process's memory when the ETag matches (and, on
   a pooled server, no query at all for a second after one; see `_Copies`). A feed
   asked for the first time is built on the spot, then kept; feeds not asked for in
   30 days are dropped, so the set of stored filtered feeds stays bounded.

One publisher at a time: a PostgreSQL advisory lock (SQLite: its write lock) around
each run, so a stale render can never overwrite a newer one. A change committed during
a run stays queued for the next. Last-Modified only grows: on new bytes it becomes
max(previous + 1 s, now).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from piccolo.columns.combination import Where

from outreach.access import load_event_row
from outreach.accounts.services import user_for_feed_token
from outreach.calendar.changes import mark_changed  # part of this service's interface
from outreach.calendar.ical import CALENDAR_END, calendar_head
from outreach.config import get_settings
from outreach.db import (
    current_engine,
    in_transaction,
    is_postgres,
    numbered,
    pg_fetch,
    select_list,
    serving_from_pool,
    write_transaction,
)
from outreach.errors import Invalid, NotFound
from outreach.events.tables import EVENT_KINDS, Event
from outreach.feeds.internships import offer_entries, placement_entries
from outreach.feeds.render import (
    Facets,
    PieceDraft,
    drafts_for_bookings,
    drafts_for_legs,
    drafts_for_slots,
    kind_label,
)
from outreach.feeds.tables import FeedChange, FeedDocument, FeedPiece, FeedSegment
from outreach.itineraries.feed import feed_legs
from outreach.observability import FEED_RENDERS
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.shared_loads import SharedLoads
from outreach.timeutil import utcnow

__all__ = [
    "REFRESH",
    "STALE_AFTER",
    "PublicFilter",
    "PublishResult",
    "StoredFeed",
    "SubscribeLinks",
    "event_feed",
    "event_feed_path",
    "mark_changed",
    "private_feed",
    "public_feed",
    "publish_pending",
    "subscribe_links",
]

log = logging.getLogger(__name__)

# What clients are asked to poll at (REFRESH-INTERVAL, X-PUBLISHED-TTL).
REFRESH = timedelta(hours=1)
# A stored feed nobody asked for this long is dropped (built again on the next request).
STALE_AFTER = timedelta(days=30)
# How often a request records that its feed is still in use (a write: keep it rare).
TOUCH_EVERY = timedelta(days=1)
CHANGE_BATCH = 1000
# Pieces rendered per run for rows that have none yet (after a migration, a bulk load):
# bounded so that SQLite's write lock is never held long; PostgreSQL's publisher holds
# only its advisory lock, and fewer, larger steps make a cold build faster there.
BACKFILL_BATCH = 500
BACKFILL_BATCH_POSTGRES = 10000
MAX_BACKFILL_STEPS = 1000
ANALYZE_AFTER = 5000  # pieces inserted in one run (PostgreSQL)
BODY_CACHE_BYTES = 64 * 1024 * 1024
FRESH_FOR = 1.0  # seconds a pooled server process answers a checked copy without asking
# pg_advisory_xact_lock key of the publisher: any fixed 64-bit number of our own.
_LOCK_KEY = 0x6F75_7466_6565_6473  # "outfeeds"
_SECOND = timedelta(seconds=1)
# A stored feed's segments, in the order of their buckets: the head, the pieces starting
# in each week (UTC weeks counted from the epoch: the feed's order by start), the tail.
SEGMENT_SECONDS = 7 * 24 * 3600
HEAD_BUCKET = -(2**31)
TAIL_BUCKET = 2**31 - 1


# --------------------------------------------------------------------------- feed identities


@dataclass(frozen=True, slots=True)
class PublicFilter:
    kind: str | None = None
    host: str | None = None  # organisation slug
    grade: int | None = None

    def validate(self) -> None:
        if self.kind is not None and self.kind not in EVENT_KINDS:
            raise Invalid.because("not_one_of", field="kind", choices=tuple(EVENT_KINDS))
        if self.grade is not None and not 1 <= self.grade <= 13:
            raise Invalid("grade must be between 1 and 13", field="grade")
        if self.host is not None and not (0 < len(self.host) <= 64):
            raise Invalid("host must be an organisation's slug", field="host")

    @property
    def query(self) -> str:
        """The canonical query string: sorted names, no empty values."""
        if self.kind is None and self.host is None and self.grade is None:
            return ""  # the common case, asked on every request of the whole feed
        pairs = [
            (name, str(value))
            for name, value in sorted(
                {"grade": self.grade, "host": self.host, "kind": self.kind}.items()
            )
            if value is not None
        ]
        return urlencode(pairs)

    @property
    def key(self) -> str:
        return f"public?{self.query}" if self.query else "public"

    @property
    def path(self) -> str:
        return f"/feeds/public.ics?{self.query}" if self.query else "/feeds/public.ics"


class _Spec(NamedTuple):
    """What a stored feed contains; equal specs give equal bytes.

    A NamedTuple: a private feed's request makes two (about 0.5 µs each, 3 µs as a frozen
    dataclass), against a bare answer of the same bytes of ~80 µs (issue 21).
    """

    key: str
    scope: str
    kind_filter: str | None = None
    host_id: int | None = None
    grade: int | None = None
    event_id: int | None = None
    user_id: int | None = None
    role: str | None = None
    org_id: int | None = None
    # A private feed: the owner's own bookings shown (their calendar choice is not
    # "invitations by mail", which bring those visits already).
    own_bookings: bool | None = None

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> _Spec:
        return cls(
            key=row["key"],
            scope=row["scope"],
            kind_filter=row["kind_filter"],
            host_id=row["host"],
            grade=row["grade_filter"],
            event_id=row["event"],
            user_id=row["user"],
            role=row["role"],
            org_id=row["org_id"],
            own_bookings=row["own_bookings"],
        )

    def matches(self, facets: Facets) -> bool:
        """Whether a piece with these facets belongs to this public feed."""
        return (
            self.scope == "public"
            and facets.listed
            and (self.kind_filter is None or facets.event_kind == self.kind_filter)
            and (self.host_id is None or facets.host_id == self.host_id)
            and (self.grade is None or facets.grades == "" or f",{self.grade}," in facets.grades)
        )


_SPEC_COLUMNS = (
    FeedDocument.id,
    FeedDocument.key,
    FeedDocument.scope,
    FeedDocument.kind_filter,
    FeedDocument.host,
    FeedDocument.grade_filter,
    FeedDocument.event,
    FeedDocument.user,
    FeedDocument.role,
    FeedDocument.org_id,
    FeedDocument.own_bookings,
)

# What the publisher reads of a stored feed: what it is, and what is stored of it.
_STORED_COLUMNS = (
    *_SPEC_COLUMNS,
    FeedDocument.etag,
    FeedDocument.last_modified,
    FeedDocument.segments,
)


# The same as `FeedDocument.select(*_STORED_COLUMNS)`, for raw statements.
_SELECT_STORED = f"SELECT {select_list(_STORED_COLUMNS)} FROM feed_document WHERE "  # noqa: S608


# --------------------------------------------------------------------------- serving


@dataclass(frozen=True, slots=True)
class StoredFeed:
    key: str
    body: bytes
    etag: str  # strong, quoted: '"<sha256 of its segments' digests>"'
    last_modified: datetime
    public: bool  # may a shared cache keep it
    path: str | None = None  # canonical path of a public feed (its stable URL)


@dataclass(slots=True)
class _Copy:
    row: dict[str, Any]  # the stored feed's row, without the body
    body: bytes
    checked: float  # time.monotonic() of the last look at the database
    spec: _Spec  # what the stored feed contains (read from its row once, not per request)
    feed: StoredFeed | None = None  # the answer last made of this copy (see _stored_feed)


class _Copies:
    """Feeds this process has served, by key, bounded by their total size.

    Every request still asks the database for the feed's ETag and Last-Modified (so
    replicas agree, and Last-Modified never goes backwards); a matching copy only saves
    moving the bytes. While a connection pool serves (the production server), a copy
    checked less than `FRESH_FOR` ago is answered without asking: a second of delay is
    far below the five minutes every proxy may keep a feed (`max-age=300`). Tests and
    the embedded SQLite mode run without a pool and always ask.
    """

    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[str, _Copy] = OrderedDict()
        self._size = 0
        self.max_bytes = max_bytes

    def get(self, key: str) -> _Copy | None:
        copy = self._items.get(key)
        if copy is not None:
            self._items.move_to_end(key)
        return copy

    def put(self, key: str, copy: _Copy) -> None:
        self.forget(key)
        if len(copy.body) > self.max_bytes:
            return
        self._items[key] = copy
        self._size += len(copy.body)
        while self._size > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped.body)

    def forget(self, key: str) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= len(old.body)

    def clear(self) -> None:
        self._items.clear()
        self._size = 0


_bodies = _Copies(BODY_CACHE_BYTES)

# What a request reads of a stored feed besides its bytes.
_SERVED_COLUMNS = (
    *_SPEC_COLUMNS,
    FeedDocument.etag,
    FeedDocument.last_modified,
    FeedDocument.last_requested_at,
)
# PostgreSQL: the one query of a request written once (Piccolo's building of it cost
# more than the round trip); SQLite takes the Piccolo select of the same columns.
_META_SQL = numbered(
    f"SELECT {select_list(_SERVED_COLUMNS)} FROM feed_document WHERE key = {{}}"  # noqa: S608
)
# ETag and bytes in one statement (one snapshot), so they always belong together.
_BODY_SQL = (
    "SELECT d.etag, d.last_modified, s.body FROM feed_document d "
    "JOIN feed_segment s ON s.document = d.id WHERE d.id = {} ORDER BY s.bucket"
)


def _answers_copies() -> bool:
    """Whether a checked copy may be answered for FRESH_FOR: only while a pool serves this
    process (and no transaction is open, which must read what it wrote)."""
    return serving_from_pool() and not in_transaction()


async def _meta(key: str) -> dict[str, Any] | None:
    if is_postgres():
        records = await pg_fetch(_META_SQL, key)
        return dict(records[0]) if records else None
    return await FeedDocument.select(*_SERVED_COLUMNS).where(FeedDocument.key == key).first()


async def _body(doc_id: int) -> dict[str, Any] | None:
    """A stored feed's ETag, Last-Modified and bytes (its segments joined)."""
    rows: Sequence[Any]
    if is_postgres():
        rows = await pg_fetch(numbered(_BODY_SQL), doc_id)
    else:
        rows = await FeedDocument.raw(_BODY_SQL, doc_id)
    if not rows:
        return None
    last_modified = rows[0]["last_modified"]
    if isinstance(last_modified, str):  # SQLite answers a raw join's timestamps as text
        last_modified = datetime.fromisoformat(last_modified)
    return {
        "etag": rows[0]["etag"],
        "last_modified": last_modified,
        "body": b"".join(bytes(r["body"]) for r in rows),
    }


# The checks of stored copies in flight: the requests that find a feed's copy due for a
# check while one runs wait for that one (50 clients of one feed all found it due in the
# same millisecond every second, and each read the database).
_checks: SharedLoads[_Copy | None] = SharedLoads()


async def _serve(key: str, now: datetime | None) -> _Copy | None:
    """The stored feed (its row without body, its bytes, its spec); None if not stored."""
    copy = _bodies.get(key)
    clock = time.monotonic()
    if not _answers_copies():
        return await _check(key, now or utcnow(), copy, clock)
    if copy is not None and clock - copy.checked < FRESH_FOR:
        return copy
    return await _checks.run(key, lambda: _check(key, now or utcnow(), copy, clock))


async def _check(key: str, now: datetime, copy: _Copy | None, clock: float) -> _Copy | None:
    """Read the stored feed's row, and its bytes when they differ from the copy's."""
    row = await _meta(key)
    if row is None:
        _bodies.forget(key)
        return None
    if copy is not None and copy.row["etag"] == row["etag"]:
        body = copy.body
    else:
        # ETag and body in one read, so they always belong together.
        fresh = await _body(row["id"])
        if fresh is None:
            return None
        body = fresh["body"]
        row["etag"], row["last_modified"] = fresh["etag"], fresh["last_modified"]
    if row["last_requested_at"] < now - TOUCH_EVERY:
        await FeedDocument.update({FeedDocument.last_requested_at: now}).where(
            FeedDocument.id == row["id"]
        )
        row["last_requested_at"] = now
    checked = _Copy(row=row, body=body, checked=clock, spec=_Spec.of_row(row))
    _bodies.put(key, checked)
    return checked


async def _stored_or_built(spec: _Spec, now: datetime | None, *, exact: bool = False) -> _Copy:
    """The stored feed `spec`, built first when there is none (or, `exact`, when the stored
    one was made for another spec: a private feed whose owner changed role or choice)."""
    served = await _serve(spec.key, now)
    if served is not None and (not exact or served.spec == spec):
        return served
    await _build(spec, now or utcnow())
    served = await _serve(spec.key, now)
    if served is None:  # dropped between build and read: only by a racing clean-up
        raise NotFound("no such feed")
    return served


def _stored_feed(copy: _Copy, *, public: bool, path: str | None = None) -> StoredFeed:
    """The answer for a copy; made once per copy (a feed's requests all ask the same)."""
    feed = copy.feed
    if feed is None or feed.public != public or feed.path != path:
        row = copy.row
        feed = copy.feed = StoredFeed(
            key=row["key"],
            body=copy.body,
            etag=row["etag"],
            last_modified=row["last_modified"],
            public=public,
            path=path,
        )
    return feed


async def public_feed(filters: PublicFilter, *, now: datetime | None = None) -> StoredFeed:
    """All published public events, optionally of one kind, host and grade."""
    filters.validate()
    served = await _serve(filters.key, now)
    if served is None:
        host_id = None
        if filters.host is not None:
            host = (
                await Organisation.select(Organisation.id)
                .where(Organisation.slug == filters.host)
                .first()
            )
            if host is None:
                raise NotFound(f"no organisation {filters.host!r}", field="host")
            host_id = host["id"]
        spec = _Spec(
            key=filters.key,
            scope="public",
            kind_filter=filters.kind,
            host_id=host_id,
            grade=filters.grade,
        )
        served = await _stored_or_built(spec, now)
    return _stored_feed(served, public=True, path=filters.path)


async def private_feed(token: str, *, now: datetime | None = None) -> StoredFeed:
    """A person's own feed; NotFound alike for a wrong, a rotated and no token.

    A firm's and a school's users see their organisation's events with booked and free
    places; a teacher also their school's class visits, anyone their own registrations;
    the network office every event with its places. The visits one booked oneself are
    left out while one's calendar choice is "invitations by mail": they are in one's
    calendar already, and a subscription would show each of them a second time.
    """
    user = await user_for_feed_token(token)
    spec = _Spec(
        key=f"private:user:{user.id}",
        scope="private",
        user_id=user.id,
        role=user.role,
        org_id=user.organisation,
        own_bookings=user.calendar_delivery != "invitation",
    )
    # Built again when the user's role, organisation or calendar choice changed since.
    return _stored_feed(await _stored_or_built(spec, now, exact=True), public=False)


async def event_feed(event_id: int, *, by: Principal, now: datetime | None = None) -> StoredFeed:
    """One event's slots, for whoever may see the event."""
    event = await load_event_row(event_id, by)
    spec = _Spec(key=f"event:{event.id}", scope="event", event_id=event.id)
    return _stored_feed(
        await _stored_or_built(spec, now),
        public=event.visibility == "public" and event.status != "draft",
        path=event_feed_path(event.id),
    )


def event_feed_path(event_id: int) -> str:
    """The event's feed URL that always routes (`/events/{id}.ics` needs the event page's
    route to hand it over; see feeds.api)."""
    return f"/events/{event_id}/calendar.ics"


@dataclass(frozen=True, slots=True)
class SubscribeLinks:
    https: str
    webcal: str
    google: str


def subscribe_links(path: str) -> SubscribeLinks:
    """Links for a page: the feed, `webcal://` (opens the calendar app) and Google's
    "add by URL", for a feed path such as `PublicFilter(...).path`."""
    url = f"{get_settings().base_url}{path}"
    webcal = "webcal://" + url.split("://", 1)[1]
    google = "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe="")
    return SubscribeLinks(https=url, webcal=webcal, google=google)


# --------------------------------------------------------------------------- building


@contextlib.asynccontextmanager
async def _exclusive(*, wait: bool) -> AsyncIterator[bool]:
    """One publisher at a time, inside one transaction; yields False if busy (no wait)."""
    async with write_transaction():
        acquired = True
        if is_postgres():
            if wait:
                await FeedDocument.raw("SELECT pg_advisory_xact_lock({})", _LOCK_KEY)
            else:
                rows = await FeedDocument.raw(
                    "SELECT pg_try_advisory_xact_lock({}) AS ok", _LOCK_KEY
                )
                acquired = bool(rows[0]["ok"])
        # SQLite: write_transaction() began IMMEDIATE and holds the database's write lock.
        yield acquired


async def _build(spec: _Spec, now: datetime) -> None:
    """Store the feed `spec` (first request): bring the pieces up to date, join, store."""
    # Render missing pieces in bounded steps, so SQLite's write lock is never held long.
    for _ in range(MAX_BACKFILL_STEPS):
        if await _missing_ids(1) == ([], []):
            break
        async with _exclusive(wait=True):
            await _publish_locked(now, PublishResult(), housekeeping=True)
    async with _exclusive(wait=True):
        # The queued changes, so the feed is built from current pieces (the loop above
        # has just looked for rows without pieces).
        await _publish_locked(now, PublishResult(), housekeeping=False)
        row = (
            await FeedDocument.select(*_STORED_COLUMNS).where(FeedDocument.key == spec.key).first()
        )
        if row is not None and _Spec.of_row(row) == spec:
            return  # built by someone else meanwhile, and kept current by the publisher
        await _store(spec, await _segments(spec, now, None), now, row, whole=True)


def _etag(digests: Iterable[tuple[int, str]]) -> str:
    """A strong ETag from the segments' digests: it changes whenever a byte does."""
    combined = hashlib.sha256()
    for bucket, digest in sorted(digests):
        combined.update(f"{bucket}:{digest}\n".encode())
    return '"' + combined.hexdigest() + '"'


def _next_last_modified(previous: datetime | None, now: datetime) -> datetime:
    now = now.replace(microsecond=0)
    if previous is None:
        return now
    return max(previous.replace(microsecond=0) + _SECOND, now)


async def _store(
    spec: _Spec,
    segments: dict[int, bytes],
    now: datetime,
    row: dict[str, Any] | None,
    *,
    whole: bool,
) -> bool:
    """Save a feed's segments; True if its bytes changed.

    `whole`: `segments` are all of the feed (`_segments(spec, now, None)`); else those of
    the weeks a change touched, and the others stay as stored. An empty segment is none.
    """
    FEED_RENDERS.labels(spec.scope).inc()
    values = {
        FeedDocument.scope: spec.scope,
        FeedDocument.kind_filter: spec.kind_filter,
        FeedDocument.host: spec.host_id,
        FeedDocument.grade_filter: spec.grade,
        FeedDocument.event: spec.event_id,
        FeedDocument.user: spec.user_id,
        FeedDocument.role: spec.role,
        FeedDocument.org_id: spec.org_id,
        FeedDocument.own_bookings: spec.own_bookings,
    }
    stored = _segment_list(row["segments"]) if row is not None else {}
    kept = {} if whole else dict(stored)
    written: dict[int, tuple[bytes, str]] = {}
    for bucket, body in segments.items():
        if not body:
            kept.pop(bucket, None)
            continue
        digest = _digest(body)
        if stored.get(bucket, ("", 0))[0] != digest:
            written[bucket] = (body, digest)
        kept[bucket] = (digest, len(body))
    etag = _etag((bucket, digest) for bucket, (digest, _) in kept.items())
    size = sum(length for _, length in kept.values())
    listed = _segment_text(kept)
    if row is None:
        inserted = await FeedDocument.insert(
            FeedDocument(
                key=spec.key,
                etag=etag,
                size=size,
                segments=listed,
                last_modified=_next_last_modified(None, now),
                last_requested_at=now,
                created_at=now,
                **{column._meta.name: value for column, value in values.items()},
            )
        ).returning(FeedDocument.id)
        await _write_segments(inserted[0]["id"], written, ())
        _bodies.forget(spec.key)
        return True
    same_spec = _Spec.of_row(row) == spec
    if row["etag"] == etag and same_spec:
        return False
    changed = row["etag"] != etag
    if changed:
        await _write_segments(row["id"], written, [b for b in stored if b not in kept])
        last_modified = _next_last_modified(row["last_modified"], now)
        if same_spec:  # the usual republish: only what the new bytes change, in raw SQL
            await FeedDocument.raw(_UPDATE_STORED, etag, size, listed, last_modified, row["id"])
            _bodies.forget(spec.key)
            return True
        values[FeedDocument.etag] = etag
        values[FeedDocument.size] = size
        values[FeedDocument.segments] = listed
        values[FeedDocument.last_modified] = last_modified
    await FeedDocument.update(values).where(FeedDocument.id == row["id"])
    _bodies.forget(spec.key)  # this process answers the new bytes at once
    return changed


_UPDATE_STORED = (
    "UPDATE feed_document SET etag = {}, size = {}, segments = {}, last_modified = {} WHERE id = {}"
)


def _segment_list(text: str) -> dict[int, tuple[str, int]]:
    """A stored feed's `segments` column: bucket -> (digest, size)."""
    found: dict[int, tuple[str, int]] = {}
    for item in filter(None, text.split(";")):
        bucket, digest, size = item.split(":")
        found[int(bucket)] = (digest, int(size))
    return found


def _segment_text(segments: dict[int, tuple[str, int]]) -> str:
    return ";".join(f"{b}:{d}:{n}" for b, (d, n) in sorted(segments.items()))


# Raw SQL, the same on both databases (ON CONFLICT: SQLite 3.24+): Piccolo's on_conflict
# asks SQLite's version with a blocking call.
_UPSERT_SEGMENT = "({}, {}, {}, {}, {})"
_UPSERT_SEGMENTS = (
    "INSERT INTO feed_segment (document, bucket, body, digest, size) VALUES {} "
    "ON CONFLICT (document, bucket) DO UPDATE SET body = excluded.body, "
    "digest = excluded.digest, size = excluded.size"
)


async def _write_segments(
    document_id: int, written: dict[int, tuple[bytes, str]], dropped: Sequence[int]
) -> None:
    """Write these segments (new or replacing the stored ones) and drop those."""
    if dropped:
        await FeedSegment.delete().where(
            (FeedSegment.document == document_id) & FeedSegment.bucket.is_in(list(dropped))
        )
    if written:
        rows = ", ".join([_UPSERT_SEGMENT] * len(written))
        values = [
            value
            for bucket, (body, digest) in written.items()
            for value in (document_id, bucket, body, digest, len(body))
        ]
        await FeedSegment.raw(_UPSERT_SEGMENTS.replace("{}", rows, 1), *values)


def _live(now: datetime) -> Where:
    return (FeedPiece.expired == False) & (  # noqa: E712
        FeedPiece.drop_after.is_null() | (FeedPiece.drop_after > now)
    )


def _members(spec: _Spec, now: datetime) -> Any:
    """The pieces of a feed, as a condition on the routing columns."""
    if spec.scope == "event":
        return (FeedPiece.view == "public") & (FeedPiece.event_id == spec.event_id) & _live(now)
    if spec.scope == "public":
        where = (
            (FeedPiece.view == "public")
            & (FeedPiece.visibility == "public")
            & FeedPiece.event_status.is_in(["published", "cancelled"])
            & _live(now)
        )
        if spec.kind_filter is not None:
            where &= FeedPiece.event_kind == spec.kind_filter
        if spec.host_id is not None:
            where &= FeedPiece.host_id == spec.host_id
        if spec.grade is not None:
            where &= (FeedPiece.grades == "") | FeedPiece.grades.like(f"%,{spec.grade},%")
        return where
    # private: the host view of one's organisation's events (all events: the network
    # office), and the booker's view of one's bookings (a teacher: the school's visits).
    hosted = (FeedPiece.view == "host") & (FeedPiece.event_status != "draft")
    if spec.role != "admin":
        hosted &= FeedPiece.host_id == (spec.org_id if spec.org_id is not None else -1)
    booked = FeedPiece.booked_by == spec.user_id
    others = None
    if spec.role == "school" and spec.org_id is not None:
        others = (FeedPiece.school_id == spec.org_id) & (FeedPiece.booking_kind == "class_visit")
        booked |= others
    if spec.own_bookings is False:
        # Invitations by mail bring one's own visits: the feed shows only colleagues'.
        shown = (FeedPiece.view == "booker") & (
            others & (FeedPiece.booked_by.is_null() | (FeedPiece.booked_by != spec.user_id))
            if others is not None
            else FeedPiece.id < 0  # nothing
        )
    else:
        shown = (FeedPiece.view == "booker") & booked
    # A class's day adds its travel legs beside the visits ("leg" pieces): no invitation
    # carries those, so they stay whatever the choice.
    return (hosted | shown | ((FeedPiece.view == "leg") & booked)) & _live(now)


async def _head(spec: _Spec) -> bytes:
    base = get_settings().base_url
    if spec.scope == "event":
        event = await Event.select(Event.title).where(Event.id == spec.event_id).first()
        title = event["title"] if event else f"Veranstaltung {spec.event_id}"
        return calendar_head(
            f"outreach: {title}", refresh=REFRESH, source=f"{base}{event_feed_path(spec.event_id)}"
        )
    if spec.scope == "public":
        parts = ["outreach: öffentliche Termine"]
        if spec.kind_filter:
            parts.append(kind_label(spec.kind_filter))
        if spec.host_id is not None:
            parts.append(await _org_name(spec.host_id))
        if spec.grade is not None:
            parts.append(f"Klassenstufe {spec.grade}")
        # The key holds the canonical query string: the feed's stable URL.
        query = spec.key.partition("?")[2]
        source = f"{base}/feeds/public.ics" + (f"?{query}" if query else "")
        return calendar_head(" · ".join(parts), refresh=REFRESH, source=source)
    if spec.role == "admin":
        name = "outreach: alle Termine des Netzwerks"
    elif spec.org_id is not None:
        name = f"outreach: {await _org_name(spec.org_id)}"
    else:
        name = "outreach: meine Termine"
    # No SOURCE: it would write the secret URL into every copy of the file.
    return calendar_head(name, refresh=REFRESH)


async def _org_name(org_id: int) -> str:
    row = await Organisation.select(Organisation.name).where(Organisation.id == org_id).first()
    return row["name"] if row else ""


def _bucket(starts_at: datetime) -> int:
    """The segment of a piece: the week (UTC, counted from the epoch) it starts in."""
    if starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=UTC)
    return math.floor(starts_at.timestamp() / SEGMENT_SECONDS)


def _week(bucket: int) -> Where:
    start = datetime.fromtimestamp(bucket * SEGMENT_SECONDS, UTC)
    return (FeedPiece.starts_at >= start) & (
        FeedPiece.starts_at < start + timedelta(seconds=SEGMENT_SECONDS)
    )


async def _segments(spec: _Spec, now: datetime, buckets: Sequence[int] | None) -> dict[int, bytes]:
    """A feed's head and tail, and its pieces joined per week: of every week (None), or of
    the weeks `buckets` only (a week without pieces gives an empty segment)."""
    where = _members(spec, now)
    if buckets is not None and buckets:
        weeks = _week(buckets[0])
        for bucket in buckets[1:]:
            weeks |= _week(bucket)
        where &= weeks
    grouped: dict[int, list[bytes]] = {bucket: [] for bucket in buckets or ()}
    if buckets is None or buckets:
        query = (
            FeedPiece.select(FeedPiece.starts_at, FeedPiece.body)
            .where(where)
            .order_by(FeedPiece.starts_at)
            .order_by(FeedPiece.key)
        )
        connection = _publisher_connection()
        if connection is not None:
            # Piccolo's SQL, asyncpg's records: turning 10,000 records into dicts took
            # longer than reading them.
            sql, args = query.querystrings[0].compile_string(engine_type="postgres")
            rows: Iterable[tuple[datetime, bytes]] = (
                (r[0], r[1]) for r in await pg_fetch(sql, *args)
            )
        else:
            rows = ((r["starts_at"], bytes(r["body"])) for r in await query)
        for starts_at, body in rows:
            grouped.setdefault(_bucket(starts_at), []).append(body)
    # Internships: all-day entries rendered here (few per feed), after the visits.
    entries: list[bytes] = []
    if spec.scope == "public" and spec.kind_filter is None:
        entries = await offer_entries(host_id=spec.host_id, grade=spec.grade, now=now)
    elif spec.scope == "private":
        entries = await placement_entries(role=spec.role, org_id=spec.org_id, now=now)
    return {
        HEAD_BUCKET: await _head(spec),
        **{bucket: b"".join(bodies) for bucket, bodies in grouped.items()},
        TAIL_BUCKET: b"".join((*entries, CALENDAR_END)),
    }


# --------------------------------------------------------------------------- publishing


@dataclass
class PublishResult:
    changes: int = 0  # queued changes taken
    rendered: int = 0  # pieces rendered
    pieces: int = 0  # pieces whose bytes or feeds changed
    expired: int = 0  # pieces that left their feeds (cancelled 30 days ago, or long past)
    feeds: int = 0  # stored feeds whose bytes changed
    dropped: int = 0  # stored feeds dropped, unused for 30 days
    busy: bool = False  # another publisher was running

    @property
    def idle(self) -> bool:
        return not (self.changes or self.rendered or self.expired or self.dropped)


async def publish_pending(*, now: datetime | None = None) -> PublishResult:
    """Render what the queued changes touch and re-join the stored feeds containing it.

    Safe to call from several processes at once: one runs, the others return `busy`.
    """
    now = now or utcnow()
    result = PublishResult()
    work = await _work(now)
    due = work["due"] is not None
    if not (work["changes"] or due or work["stale"]) and await _missing_ids(1) == ([], []):
        return result
    async with _exclusive(wait=False) as mine:
        if not mine:
            result.busy = True
            return result
        # A piece that falls due between the look above and here waits for the next run.
        await _publish_locked(now, result, expire=due)
    if not result.idle:
        log.info(
            "feeds: %d change(s), %d piece(s) rendered, %d changed, %d expired, "
            "%d feed(s) republished, %d dropped",
            result.changes,
            result.rendered,
            result.pieces,
            result.expired,
            result.feeds,
            result.dropped,
        )
    return result


# What a publisher run has to do, in one statement: queued changes, a piece whose time is
# up (its id, else NULL), feeds unused 30 days. The piece as a scalar subquery with ORDER
# BY drop_after LIMIT 1: the planner walks the index on drop_after from the oldest and
# stops. PostgreSQL drops ORDER BY and LIMIT inside EXISTS, and the generic plan of the
# prepared statement then scanned every piece whenever none was due (4 ms at 20,000).
_WORK = (
    "SELECT EXISTS (SELECT 1 FROM feed_change) AS changes, "
    "(SELECT id FROM feed_piece WHERE expired = {} AND drop_after <= {} "
    "ORDER BY drop_after LIMIT 1) AS due, "
    "EXISTS (SELECT 1 FROM feed_document WHERE last_requested_at < {}) AS stale"
)


async def _work(now: datetime) -> dict[str, Any]:
    rows = await FeedChange.raw(_WORK, False, now, now - STALE_AFTER)
    return rows[0]


async def _missing_ids(limit: int) -> tuple[list[int], list[int]]:
    """Slots and bookings that have no piece yet (rows written before the feeds existed,
    or by a path that did not call `mark_changed`)."""
    # Usually none: then the counts agree (each slot has one public and one host piece,
    # each booking one booker piece, by their unique keys; deleting a row deletes its
    # pieces), and one pass over the pieces says so without the anti-joins below, which
    # hash every piece on every publish (30-50 ms for 10,000 slots).
    counts = await FeedPiece.raw(
        "SELECT (SELECT COUNT(*) FROM slot) AS slots, (SELECT COUNT(*) FROM booking) AS bookings, "
        "SUM(CASE WHEN view = 'public' THEN 1 ELSE 0 END) AS public, "
        "SUM(CASE WHEN view = 'host' THEN 1 ELSE 0 END) AS host, "
        "SUM(CASE WHEN view = 'booker' THEN 1 ELSE 0 END) AS booker FROM feed_piece"
    )
    c = counts[0]
    if c["slots"] == (c["public"] or 0) == (c["host"] or 0) and c["bookings"] == (c["booker"] or 0):
        return [], []
    slots = await FeedPiece.raw(
        "SELECT s.id FROM slot s WHERE NOT EXISTS (SELECT 1 FROM feed_piece p "
        "WHERE p.slot = s.id AND p.view = 'public') OR NOT EXISTS (SELECT 1 FROM feed_piece p "
        "WHERE p.slot = s.id AND p.view = 'host') ORDER BY s.id LIMIT {}",
        limit,
    )
    bookings = await FeedPiece.raw(
        "SELECT b.id FROM booking b WHERE NOT EXISTS (SELECT 1 FROM feed_piece p "
        "WHERE p.booking = b.id) ORDER BY b.id LIMIT {}",
        limit,
    )
    return [r["id"] for r in slots], [r["id"] for r in bookings]


_Move = tuple[Facets | None, Facets | None]  # a piece's feeds before and after


_TAKE_CHANGES = (
    "DELETE FROM feed_change WHERE id IN (SELECT id FROM feed_change ORDER BY id LIMIT {}) "
    "RETURNING id, event_id, slot_id, booking_id, org_id"
)


async def _publish_locked(
    now: datetime, result: PublishResult, *, housekeeping: bool | None = None, expire: bool = True
) -> None:
    """One run of the publisher. `housekeeping` (by default: when no change is queued)
    adds the two passes over whole tables: pieces for rows that have none, and stored
    feeds nobody asked for in 30 days. A run for a change costs only what it touches.
    `expire=False`: no piece is due (the caller has just looked), so none is looked for."""
    # Taken off the queue in the run's transaction: a failed run puts them back.
    changes = await FeedChange.raw(_TAKE_CHANGES, CHANGE_BATCH)
    if housekeeping is None:
        housekeeping = not changes
    result.changes += len(changes)
    event_ids = {c["event_id"] for c in changes if c["event_id"] is not None}
    slot_ids = {c["slot_id"] for c in changes if c["slot_id"] is not None}
    booking_ids = {c["booking_id"] for c in changes if c["booking_id"] is not None}
    if event_ids:
        slot_ids |= await _ids("SELECT id FROM slot WHERE", "event", event_ids)
    # A slot's or event's change shows in its bookings' pieces (times, title, status).
    if slot_ids:
        booking_ids |= await _ids("SELECT id FROM booking WHERE", "slot", slot_ids)
    # A booking's change shows in its slot's host view (places, list of bookings).
    direct = {c["booking_id"] for c in changes if c["booking_id"] is not None}
    if direct:
        slot_ids |= await _ids("SELECT slot AS id FROM booking WHERE", "id", direct)
    if housekeeping:
        missing_slots, missing_bookings = await _missing_ids(
            BACKFILL_BATCH_POSTGRES if is_postgres() else BACKFILL_BATCH
        )
        slot_ids |= set(missing_slots)
        booking_ids |= set(missing_bookings)

    moves = await _refresh(sorted(slot_ids), sorted(booking_ids), now, result)
    if expire or housekeeping:
        moves += await _expire(now, result)
    org_ids = sorted({c["org_id"] for c in changes if c.get("org_id") is not None})
    # The weeks the moved pieces left and joined: only those are joined again.
    weeks = sorted({_bucket(facets.starts_at) for move in moves for facets in move if facets})
    for doc in await _affected(moves, event_ids, org_ids):
        spec = _Spec.of_row(doc)
        if await _store(spec, await _segments(spec, now, weeks), now, doc, whole=False):
            result.feeds += 1
    if not housekeeping:
        return
    stale = (
        await FeedDocument.delete()
        .where(FeedDocument.last_requested_at < now - STALE_AFTER)
        .returning(FeedDocument.key)
    )
    for row in stale:
        _bodies.forget(row["key"])
    result.dropped += len(stale)


async def _ids(select: str, column: str, values: set[int]) -> set[int]:
    """The ids `select` ("SELECT <x> AS id FROM <table> WHERE") finds for `column IN values`:
    raw SQL, as this runs for every change (see `_affected`)."""
    args: list[Any] = []
    rows = await FeedChange.raw(f"{select} {_among(column, sorted(values), args)}", *args)
    return {r["id"] for r in rows}


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _facets_of(row: dict[str, Any]) -> Facets:
    return Facets(
        view=row["view"],
        event_id=row["event_id"],
        host_id=row["host_id"],
        event_kind=row["event_kind"],
        grades=row["grades"],
        visibility=row["visibility"],
        event_status=row["event_status"],
        school_id=row["school_id"],
        booked_by=row["booked_by"],
        booking_kind=row["booking_kind"],
        starts_at=row["starts_at"],
        drop_after=row["drop_after"],
    )


def _routing_values(draft: PieceDraft) -> dict[str, Any]:
    f = draft.facets
    return {
        "view": f.view,
        "event_id": f.event_id,
        "host_id": f.host_id,
        "event_kind": f.event_kind,
        "grades": f.grades,
        "visibility": f.visibility,
        "event_status": f.event_status,
        "school_id": f.school_id,
        "booked_by": f.booked_by,
        "booking_kind": f.booking_kind,
        "starts_at": f.starts_at,
        "drop_after": f.drop_after,
    }


_PIECE_META = tuple(c for c in FeedPiece._meta.columns if c._meta.name != "body")


def _publisher_connection() -> Any:
    """The asyncpg connection of the open transaction on PostgreSQL, else None."""
    transaction = current_engine().current_transaction.get()
    return transaction.connection if transaction is not None and is_postgres() else None


async def _existing_pieces(keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ordered = list(keys)
    connection = _publisher_connection()
    if connection is not None and ordered:
        # One statement, joined against the keys: `key IN (500 values)` on a table the
        # planner has no statistics for yet (a cold build) scans it once per chunk and
        # compares every row with every value (12 s of a 10,000-slot cold build).
        names = ", ".join(f'p."{c._meta.db_column_name}"' for c in _PIECE_META)
        records = await pg_fetch(
            # Column names of FeedPiece; the keys are bound.
            f"SELECT {names} FROM feed_piece p JOIN unnest($1::text[]) AS k(key) "  # noqa: S608
            "ON p.key = k.key",
            ordered,
        )
        return {r["key"]: dict(r) for r in records}
    for i in range(0, len(ordered), 500):
        rows = await FeedPiece.select(*_PIECE_META).where(FeedPiece.key.is_in(ordered[i : i + 500]))
        found.update({r["key"]: r for r in rows})
    return found


async def _refresh(
    slot_ids: Sequence[int], booking_ids: Sequence[int], now: datetime, result: PublishResult
) -> list[_Move]:
    """Render the pieces of these slots and bookings; store those whose bytes or feeds
    changed, and say which feeds each one left and joined."""
    # A change to one visit of a class's day changes the legs around it: all its legs.
    legs, day_bookings = await feed_legs(booking_ids)
    drafts = [
        *await drafts_for_slots(slot_ids),
        *await drafts_for_bookings(booking_ids),
        *drafts_for_legs(legs),
    ]
    existing = await _existing_pieces([d.key for d in drafts])
    moves: list[_Move] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for draft in drafts:
        old = existing.get(draft.key)
        expired = draft.facets.drop_after is not None and draft.facets.drop_after <= now
        new_facets = None if expired else draft.facets
        result.rendered += 1
        if old is None:
            # An expired piece keeps no bytes: nothing stays stored that no feed shows.
            body = b"" if expired else draft.render(draft.data_stamp)
            inserts.append(
                {
                    "key": draft.key,
                    "slot": draft.slot_id,
                    "booking": draft.booking_id,
                    "expired": expired,
                    "stamp": draft.data_stamp,
                    "body": body,
                    "digest": _digest(body),
                    "updated_at": now,
                    **_routing_values(draft),
                }
            )
            moves.append((None, new_facets))
            continue
        old_facets = None if old["expired"] else _facets_of(old)
        # Same content with the old DTSTAMP: keep the bytes, so the feeds keep theirs.
        stamp = old["stamp"]
        body = b"" if expired else draft.render(stamp)
        if _digest(body) != old["digest"]:
            if not expired:
                stamp = max(draft.data_stamp, old["stamp"] + _SECOND)
                body = draft.render(stamp)
        elif old_facets == new_facets and old["expired"] == expired:
            continue
        updates.append(
            {
                "id": old["id"],
                "expired": expired,
                "stamp": stamp,
                "body": body,
                "digest": _digest(body),
                "updated_at": now,
                **_routing_values(draft),
            }
        )
        moves.append((old_facets, new_facets))
    await _update_pieces(updates)
    await _insert_pieces(inserts)
    result.pieces += len(moves)
    # Pieces of rows that are gone (a deleted booking or slot): leave their feeds.
    asked = {f"slot:{i}" for i in slot_ids} | {f"host:{i}" for i in slot_ids}
    asked |= {f"booking:{i}" for i in booking_ids}
    asked |= {f"leg:{i}" for i in {*booking_ids, *day_bookings}}
    gone = sorted(asked - {d.key for d in drafts})
    if gone:
        for row in (await _existing_pieces(gone)).values():
            if not row["expired"]:
                moves.append((_facets_of(row), None))
        await FeedPiece.delete().where(FeedPiece.key.is_in(gone))
    return moves


_PIECE_COLUMNS = tuple(c._meta.db_column_name for c in FeedPiece._meta.non_default_columns)


_UPDATED_COLUMNS = (
    "expired",
    "stamp",
    "body",
    "digest",
    "updated_at",
    "view",
    "event_id",
    "host_id",
    "event_kind",
    "grades",
    "visibility",
    "event_status",
    "school_id",
    "booked_by",
    "booking_kind",
    "starts_at",
    "drop_after",
)
_UPDATE_PIECE_SQL = (
    "UPDATE feed_piece SET "  # noqa: S608 (column names of FeedPiece; values bound)
    + ", ".join(f'"{c}" = ${i}' for i, c in enumerate(_UPDATED_COLUMNS, start=1))
    + f" WHERE id = ${len(_UPDATED_COLUMNS) + 1}"
)


async def _update_pieces(rows: Sequence[dict[str, Any]]) -> None:
    """Changed pieces, inside the publisher's transaction: PostgreSQL, one prepared
    statement sent for all rows at once (executemany); SQLite, through Piccolo."""
    if not rows:
        return
    connection = _publisher_connection()
    if connection is not None:
        await connection.executemany(
            _UPDATE_PIECE_SQL,
            [(*(row[c] for c in _UPDATED_COLUMNS), row["id"]) for row in rows],
        )
        return
    for row in rows:
        await FeedPiece.update({getattr(FeedPiece, c): row[c] for c in _UPDATED_COLUMNS}).where(
            FeedPiece.id == row["id"]
        )


async def _insert_pieces(rows: Sequence[dict[str, Any]]) -> None:
    """New pieces, inside the publisher's transaction.

    PostgreSQL: one COPY of all rows on the transaction's connection
    (Piccolo built a `FeedPiece` object and compiled its values for each row: most of a
    cold build's time after the rendering). SQLite: through Piccolo, 200 rows a time.
    """
    if not rows:
        return
    connection = _publisher_connection()
    if connection is not None:
        await connection.copy_records_to_table(
            "feed_piece",
            columns=_PIECE_COLUMNS,
            records=[tuple(row[c] for c in _PIECE_COLUMNS) for row in rows],
        )
        if len(rows) >= ANALYZE_AFTER:
            # A bulk load (a cold build): statistics now, not when autovacuum comes by,
            # so the next runs' week and expiry lookups use their indexes.
            await connection.execute("ANALYZE feed_piece")
        return
    for i in range(0, len(rows), 200):
        await FeedPiece.insert(*(FeedPiece(**row) for row in rows[i : i + 200]))


async def _expire(now: datetime, result: PublishResult) -> list[_Move]:
    """Pieces whose time is up (30 days after a cancellation, a year after the end)."""
    rows = (
        await FeedPiece.select(*(c for c in FeedPiece._meta.columns if c._meta.name != "body"))
        .where(
            (FeedPiece.expired == False) & (FeedPiece.drop_after <= now)  # noqa: E712
        )
        # In the order of the index on drop_after: the planner walks it from the oldest
        # and stops, where a guess without statistics would read the whole table.
        .order_by(FeedPiece.drop_after)
        .limit(CHANGE_BATCH)
    )
    if not rows:
        return []
    await FeedPiece.update(
        {FeedPiece.expired: True, FeedPiece.body: b"", FeedPiece.digest: _digest(b"")}
    ).where(FeedPiece.id.is_in([r["id"] for r in rows]))
    result.expired += len(rows)
    return [(_facets_of(r), None) for r in rows]


async def _affected(
    moves: Iterable[_Move], event_ids: Iterable[int], org_ids: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """The stored feeds that contained or now contain any of the moved pieces, and those
    showing the internships of the organisations named (public feeds: their offers).

    One query: the candidates by their columns; public feeds are then matched against
    the moved pieces' facets here (a filter is a combination of columns).
    """
    events = set(event_ids)
    listed: list[Facets] = []
    hosts: set[int] = set()
    users: set[int] = set()
    schools: set[int] = set()
    admins = False
    for move in moves:
        for facets in move:
            if facets is None:
                continue
            if facets.view == "public":
                events.add(facets.event_id)
                if facets.listed:
                    listed.append(facets)
            elif facets.view == "host":
                hosts.add(facets.host_id)
                admins = True
            else:
                if facets.booked_by is not None:
                    users.add(facets.booked_by)
                if facets.booking_kind == "class_visit" and facets.school_id is not None:
                    schools.add(facets.school_id)
    # Raw SQL, the same on both databases: this runs for every change, and building the
    # condition with Piccolo cost more than running it.
    args: list[Any] = []
    wanted: list[str] = []
    if listed or org_ids:
        wanted.append("scope = 'public'")
    if events:
        wanted.append(f"(scope = 'event' AND {_among('event', sorted(events), args)})")
    private: list[str] = []
    if hosts or org_ids:
        orgs = _among("org_id", sorted({*hosts, *org_ids}), args)
        private.append(f"(role IN ('firm', 'school') AND {orgs})")
    if admins:
        private.append("role = 'admin'")
    if users:
        private.append(_among('"user"', sorted(users), args))
    if schools:
        private.append(f"(role = 'school' AND {_among('org_id', sorted(schools), args)})")
    if private:
        wanted.append(f"(scope = 'private' AND ({' OR '.join(private)}))")
    if not wanted:
        return []
    docs: list[dict[str, Any]] = []
    for doc in await FeedDocument.raw(_SELECT_STORED + " OR ".join(wanted), *args):
        if doc["scope"] == "public":
            spec = _Spec.of_row(doc)
            shows_offers = spec.kind_filter is None and (
                spec.host_id is None or spec.host_id in org_ids
            )
            if not (any(spec.matches(f) for f in listed) or (org_ids and shows_offers)):
                continue
        docs.append(doc)
    return sorted(docs, key=lambda d: d["key"])


def _among(column: str, values: Sequence[Any], args: list[Any]) -> str:
    """`column IN (...)` with the values bound (appended to `args`, in order)."""
    args.extend(values)
    return f"{column} IN ({', '.join(['{}'] * len(values))})"
