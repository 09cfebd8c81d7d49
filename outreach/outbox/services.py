"""The transactional outbox: every notice is a row written with the change it tells of.

Life of a row: `pending` -> `sending` (claimed, with a lease) -> `sent`, or back to
`pending` with a later `due_at` after an error, or `failed` after `MAX_ATTEMPTS`
(shown to the admin by `list_failed`, put back by `requeue`).

Exactly once, as far as a mail can be:
- `enqueue` inserts with a unique `dedupe_key` (kind, booking, instant) and does
  nothing on conflict, so the same change is queued once;
- `claim` is one conditional UPDATE ... RETURNING, so of two workers racing on a row
  only one gets it; a worker killed after claiming loses its lease after `LEASE` and
  the row is claimed again (that mail can then go out twice; both copies carry the
  same Message-ID, so clients can drop the repeat);
- `finish` (sent, or not mailed with a reason) and `fail` are conditional on still
  holding the claim.

What to say and whether to say it is `outreach.notifications`' business: this module
reads no feature's tables and knows no mail.

Handing over: `enqueue` registers a callback on the caller's `write_transaction()`
(`db.on_commit`); once it commits, the new ids go to the dispatcher that the worker
set-up registered (`set_dispatcher`). If that fails, the rows stay pending and the
periodic sweep (`take_due`) hands them over later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from outreach import config
from outreach.audit.services import record
from outreach.db import in_transaction, is_postgres, on_commit, pg_fetch, write_transaction
from outreach.languages import language_of
from outreach.outbox.schemas import (
    DAY_KINDS,
    INTERNSHIP_KINDS,
    KINDS,
    PRESENTER_KINDS,
    ClaimedNotification,
)
from outreach.outbox.tables import Notification
from outreach.principal import Principal
from outreach.timeutil import as_utc, utcnow

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "CLAIM_SQL",
    "HANDOVER_HOLD",
    "LEASE",
    "MAX_ATTEMPTS",
    "SKIPPED_PREFIX",
    "Dispatcher",
    "backoff",
    "claim",
    "claim_params",
    "claimed_from",
    "count_failed",
    "dedupe_key",
    "due_ids",
    "enqueue",
    "enqueue_planned",
    "fail",
    "finish",
    "forget_address",
    "forget_old_notices",
    "forget_recipients",
    "hand_over",
    "list_failed",
    "outbox_counts",
    "planned",
    "planned_values",
    "postpone",
    "recipient_key",
    "requeue",
    "set_dispatcher",
    "skip_pending",
    "take_due",
]

log = logging.getLogger(__name__)

# Defaults of the settings NOTIFICATION_LEASE_SECONDS and NOTIFICATION_RETRY_SECONDS.
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# After the sweep hands a row to the broker, it waits this long before handing it again.
HANDOVER_HOLD = timedelta(seconds=60)
DISPATCH_TIMEOUT_SECONDS = 5.0
SKIPPED_PREFIX = "skipped: "
FORGET_BATCH = 500  # booking ids per statement: far below SQLite's variable limit

Dispatcher = Callable[[Sequence[int]], Awaitable[None]]

_dispatcher: Dispatcher | None = None
_HANDOVER = "outreach.outbox.handover"

N = Notification


# --------------------------------------------------------------------------- writing


def dedupe_key(kind: str, booking_id: int | None, instant: datetime | None) -> str:
    moment = as_utc(instant).isoformat() if instant is not None else ""
    return f"{kind}:{booking_id if booking_id is not None else ''}:{moment}"


async def enqueue(
    kind: str,
    *,
    booking_id: int | None,
    recipient: str,
    language: str = "de",
    payload: Mapping[str, Any] | None = None,
    instant: datetime | None = None,
    due_at: datetime | None = None,
    key: str | None = None,
) -> int | None:
    """Queue one notice inside the caller's transaction; the id, or None if already queued.

    Inserts a row, and hands it to the workers once the transaction commits (at once
    outside one). `instant` tells apart repeats of the same kind for one booking
    (e.g. each move of a slot); `due_at` defaults to now. `key` replaces the dedupe key
    for notices that concern no booking (several recipients of one change).
    """
    if kind not in (*KINDS, *PRESENTER_KINDS, *DAY_KINDS, *INTERNSHIP_KINDS):
        raise ValueError(f"unknown notification kind {kind!r}")
    recipient = recipient.strip()
    if not recipient:
        log.info("no address for %s of booking %s; nothing queued", kind, booking_id)
        return None
    row = planned(kind, booking_id, recipient, language, payload, instant, due_at)
    if key is not None:
        row.dedupe_key = key[:200]
    new_ids = await _insert_ignoring_duplicates([row])
    await hand_over(new_ids)
    return new_ids[0] if new_ids else None


def planned(
    kind: str,
    booking_id: int | None,
    recipient: str,
    language: str,
    payload: Mapping[str, Any] | None,
    instant: datetime | None,
    due_at: datetime | None,
) -> Notification:
    """A row not written yet, for `enqueue_planned` (many at once, e.g. reminders)."""
    return N(**planned_values(kind, booking_id, recipient, language, payload, instant, due_at))


def planned_values(
    kind: str,
    booking_id: int | None,
    recipient: str,
    language: str,
    payload: Mapping[str, Any] | None,
    instant: datetime | None,
    due_at: datetime | None,
) -> dict[str, Any]:
    """The columns of `planned`'s row, without building it (same arguments): for a caller
    that writes its rows with a statement of its own (`booking.writes_pg`, then
    `hand_over`)."""
    return {
        "dedupe_key": dedupe_key(kind, booking_id, instant),
        "kind": kind,
        "booking": booking_id,
        "recipient": recipient,
        "language": language_of(language),
        "payload": json.dumps(dict(payload or {}), sort_keys=True, default=str),
        "due_at": _now(due_at),
        "status": "pending",
        "attempts": 0,
        "lease_until": None,
        "last_error": "",
        "sent_at": None,
        "created_at": utcnow(),
    }


async def enqueue_planned(rows: Sequence[Notification]) -> list[int]:
    """Insert the rows whose dedupe key is new; the new ids. The sweep hands them over."""
    existing = await _existing_keys([row.dedupe_key for row in rows])
    return await _insert_ignoring_duplicates([r for r in rows if r.dedupe_key not in existing])


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Registered by the worker set-up (`workers.broker`); None disconnects."""
    global _dispatcher
    _dispatcher = dispatcher


class _Handover:
    """The ids one transaction queued, handed to the workers after its commit."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    async def __call__(self) -> None:
        await _dispatch(self.ids)


async def hand_over(ids: Sequence[int]) -> None:
    """Give new rows to the workers once the caller's transaction commits (at once
    outside one). `enqueue` calls it; so does a caller that inserts its rows with a
    statement of its own (`booking.writes_pg`)."""
    if not ids:
        return
    if in_transaction():
        on_commit(_Handover(), key=_HANDOVER).ids.extend(ids)
    else:  # written on its own: committed already
        await _dispatch(ids)


async def _dispatch(ids: Sequence[int]) -> None:
    """Ask the workers to deliver `ids`; never raises (the sweep is the fallback)."""
    dispatcher = _dispatcher
    if not ids or dispatcher is None:
        return
    try:
        await asyncio.wait_for(dispatcher(list(ids)), timeout=DISPATCH_TIMEOUT_SECONDS)
    except Exception:
        log.warning(
            "could not hand %d notification(s) to the workers; the sweep sends them later",
            len(ids),
            exc_info=True,
        )


# --------------------------------------------------------------------------- claiming


# The claim as PostgreSQL runs it: the rule of `_claimable` written out once, with
# `claim_params` for $1-$3. `outreach.notifications` reads a mail's context in the same
# statement (a CTE over it); `claim` runs it alone. SQLite takes the Piccolo statement.
CLAIM_SQL = (
    "UPDATE notification SET status = 'sending', lease_until = $3, attempts = attempts + 1"
    " WHERE id = $1 AND ((status = 'pending' AND due_at <= $2)"
    " OR (status = 'sending' AND lease_until < $2))"
    " RETURNING id, dedupe_key, kind, booking, recipient, language, payload, attempts,"
    " created_at, lease_until"
)


def claim_params(
    notification_id: int, now: datetime | None = None, *, lease: timedelta | None = None
) -> tuple[int, datetime, datetime]:
    """The parameters of `CLAIM_SQL`: the row, now, and the end of the lease."""
    now = _now(now)
    lease = lease or timedelta(seconds=config.get_settings().notification_lease_seconds)
    return notification_id, now, now + lease


async def claim(
    notification_id: int, now: datetime | None = None, *, lease: timedelta | None = None
) -> ClaimedNotification | None:
    """Take the row if it is due (or its holder's lease ran out); None if someone else has it.

    `lease` defaults to the setting NOTIFICATION_LEASE_SECONDS (`LEASE`, five minutes).
    """
    params = claim_params(notification_id, now, lease=lease)
    if is_postgres():
        found = await pg_fetch(CLAIM_SQL, *params)
        return claimed_from(found[0]) if found else None
    _, now, lease_until = params
    rows = await (
        N.update({N.status: "sending", N.lease_until: lease_until, N.attempts: N.attempts + 1})
        .where((N.id == notification_id) & _claimable(now))
        .returning(
            N.id,
            N.dedupe_key,
            N.kind,
            N.booking,
            N.recipient,
            N.language,
            N.payload,
            N.attempts,
            N.created_at,
            N.lease_until,
        )
    )
    return claimed_from(rows[0]) if rows else None


async def due_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids that a claim would take now, oldest first (equal due times: as queued; the
    times are whole seconds, and PostgreSQL orders ties differently from run to run)."""
    rows = await (
        N.select(N.id).where(_claimable(_now(now))).order_by(N.due_at).order_by(N.id).limit(limit)
    )
    return [row["id"] for row in rows]


async def take_due(
    now: datetime | None = None, limit: int = 500, *, hold: timedelta | None = None
) -> list[int]:
    """Due ids to hand to the broker, each held back from the next sweeps for `hold`.

    Without the hold every sweep would queue a backlog again while workers are still
    on it. A stale claim is turned back into a pending row here. When several sweeps
    race, the conditional update gives each id to one of them. The hold is
    `HANDOVER_HOLD`, or the claim's lease if that is shorter: a message lost with a
    killed worker (taken from the queue, never claimed) is handed again no later than
    a claim it made would be.
    """
    now = _now(now)
    if hold is None:
        lease = timedelta(seconds=config.get_settings().notification_lease_seconds)
        hold = min(HANDOVER_HOLD, lease)
    not_held = N.lease_until.is_null() | (N.lease_until < now)
    handover = ((N.status == "pending") & (N.due_at <= now) & not_held) | _stale(now)
    candidates = await N.select(N.id).where(handover).order_by(N.due_at).order_by(N.id).limit(limit)
    if not candidates:
        return []
    ids = [row["id"] for row in candidates]
    rows = await (
        N.update({N.status: "pending", N.lease_until: now + hold})
        .where(N.id.is_in(ids) & handover)
        .returning(N.id)
    )
    return sorted(row["id"] for row in rows)


# --------------------------------------------------------------------------- finishing


# `finish` as PostgreSQL runs it (a mail's last statement): conditional on `_holding`.
_FINISH_SQL = (
    "UPDATE notification SET status = 'sent', sent_at = $3, lease_until = NULL,"
    " last_error = $4, payload = COALESCE($5, payload)"
    " WHERE id = $1 AND status = 'sending' AND attempts = $2 RETURNING id"
)


async def finish(
    note: ClaimedNotification,
    now: datetime,
    *,
    note_text: str = "",
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Mark a claimed row done: sent, or not mailed when `note_text` says why.

    `payload` adds keys to the row's payload (what was sent, for later notices).
    """
    new_payload = json.dumps({**note.payload, **payload}, sort_keys=True) if payload else None
    if is_postgres():
        rows: Sequence[Any] = await pg_fetch(
            _FINISH_SQL, note.id, note.attempts, now, note_text, new_payload
        )
    else:
        values: dict[Any, Any] = {
            N.status: "sent",
            N.sent_at: now,
            N.lease_until: None,
            N.last_error: note_text,
        }
        if new_payload is not None:
            values[N.payload] = new_payload
        rows = await N.update(values).where(_holding(note)).returning(N.id)
    if not rows:
        log.warning("notification %s: lease lost before it was marked sent", note.id)


async def fail(
    note: ClaimedNotification, now: datetime, error: str, *, permanent: bool = False
) -> bool:
    """Record a failed attempt: retried after `backoff`, or given up on (True) when
    `permanent` or after `MAX_ATTEMPTS`."""
    error = error[:2000]
    give_up = permanent or note.attempts >= MAX_ATTEMPTS
    if give_up:
        values: dict[Any, Any] = {N.status: "failed", N.lease_until: None, N.last_error: error}
        log.error("notification %s (%s) failed for good: %s", note.id, note.kind, error)
    else:
        retry_at = now + backoff(note.attempts)
        values = {N.status: "pending", N.due_at: retry_at, N.lease_until: None, N.last_error: error}
        log.warning(
            "notification %s (%s) attempt %d failed, retry at %s: %s",
            note.id,
            note.kind,
            note.attempts,
            retry_at.isoformat(),
            error,
        )
    await N.update(values).where(_holding(note))
    return give_up


async def postpone(note: ClaimedNotification, until: datetime, why: str) -> None:
    """Put a claimed row back to be tried at `until`, not counted as a failed attempt.

    For a notice that waits on another one being sent right now (a visit's confirmation
    and the mail of its class's day): nothing went wrong, it is only too early to decide.
    """
    values: dict[Any, Any] = {
        N.status: "pending",
        N.due_at: until,
        N.lease_until: None,
        N.attempts: N.attempts - 1,
        N.last_error: why[:2000],
    }
    await N.update(values).where(_holding(note))


def backoff(attempts: int) -> timedelta:
    """NOTIFICATION_RETRY_SECONDS (`BACKOFF_BASE`, 30 s) after the first failed attempt,
    doubling, at most an hour."""
    base = timedelta(seconds=config.get_settings().notification_retry_seconds)
    return min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


# --------------------------------------------------------------------------- looking after


async def outbox_counts(now: datetime | None = None) -> tuple[dict[str, int], int]:
    """Notices by status, and how many are due now (the queue depth), for the metrics."""
    now = _now(now)
    rows = await N.select(N.status, Count(N.id, alias="n")).group_by(N.status)
    due = await N.count().where(_claimable(now))
    return {row["status"]: row["n"] for row in rows}, due


async def forget_recipients(booking_ids: Sequence[int], addresses: Iterable[str]) -> int:
    """Drop the addresses of notices to a booker whose contact data was just dropped.

    The outbox would otherwise keep the address the booking no longer has. Notices not
    sent yet to such an address are recorded as not mailed: the person's data is gone.
    The sent notices of those bookings lose their payload too (a reason someone wrote).
    Rows a worker holds right now keep theirs (the next anonymisation run finds them).
    Runs in the caller's transaction.
    """
    emails = sorted({address for address in addresses if address})
    ids = sorted(set(booking_ids))
    forgotten = 0
    for start in range(0, len(ids), FORGET_BATCH):
        of_them = N.booking.is_in(ids[start : start + FORGET_BATCH])
        await N.update({N.payload: "{}"}).where(of_them & (N.status == "sent"))
        forgotten += await _forget(of_them & N.recipient.is_in(emails))
    return forgotten


async def forget_address(address: str) -> int:
    """Forget every notice to `address`, whatever it was about (its account is deleted):
    recipient, payload and a dedupe key that named it. Runs in the caller's transaction."""
    return await _forget(N.recipient == address.strip().lower()) if address.strip() else 0


async def forget_old_notices(before: datetime) -> int:
    """Notices about no booking (presenter invitations) created before `before` keep no
    address: the retention of contact data, as for bookings (`ANONYMISE_AFTER_DAYS`)."""
    return await _forget(N.booking.is_null() & (N.created_at < before) & (N.recipient != ""))


async def _forget(to_them: Any) -> int:
    await N.update({N.status: "sent", N.last_error: SKIPPED_PREFIX + "contact data deleted"}).where(
        to_them & N.status.is_in(["pending", "failed"])
    )
    rows = await (
        N.update({N.recipient: "", N.payload: "{}"})
        .where(to_them & (N.status == "sent"))
        .returning(N.id, N.kind)
    )
    # A dedupe key may hold the address (presenter notices queued before keys were
    # hashed): each forgotten row gets one made of its kind and id.
    for row in rows:
        await N.update({N.dedupe_key: f"{row['kind']}:forgotten:{row['id']}"}).where(
            N.id == row["id"]
        )
    return len(rows)


def recipient_key(address: str) -> str:
    """A recipient's part of a dedupe key: a keyed hash, never the address itself."""
    secret = config.get_settings().secret_key.encode()
    return hmac.new(secret, address.strip().lower().encode(), hashlib.sha256).hexdigest()[:20]


async def skip_pending(*, reason: str) -> int:
    """Record every pending notice as not mailed (e.g. the demo network's invented past)."""
    rows = (
        await N.update({N.status: "sent", N.last_error: f"skipped: {reason}"})
        .where(N.status == "pending")
        .returning(N.id)
    )
    if in_transaction():  # nothing of this transaction is left to hand over
        on_commit(_Handover(), key=_HANDOVER).ids.clear()
    return len(rows)


async def list_failed(limit: int = 100) -> list[dict[str, Any]]:
    """Notices given up on, newest first, for the admin."""
    return await (
        N.select(
            N.id,
            N.kind,
            N.booking,
            N.recipient,
            N.language,
            N.attempts,
            N.last_error,
            N.due_at,
            N.created_at,
        )
        .where(N.status == "failed")
        .order_by(N.id, ascending=False)
        .limit(limit)
    )


async def count_failed() -> int:
    """How many notices were given up on (the office overview's figure)."""
    return await N.count().where(N.status == "failed")


async def requeue(
    notification_id: int, now: datetime | None = None, *, by: Principal | None = None
) -> bool:
    """Give a failed notice a fresh set of attempts (the admin's "try again")."""
    async with write_transaction():
        rows = await (
            N.update({N.status: "pending", N.attempts: 0, N.due_at: _now(now), N.lease_until: None})
            .where((N.id == notification_id) & (N.status == "failed"))
            .returning(N.id)
        )
        if rows and by is not None:
            await record(
                "notification.requeue",
                by=by,
                object_type="notification",
                object_id=notification_id,
                now=_now(now),
            )
        await hand_over([row["id"] for row in rows])
    return bool(rows)


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return utcnow() if now is None else as_utc(now)


async def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = await N.select(N.dedupe_key).where(N.dedupe_key.is_in(chunk))
        found.update(row["dedupe_key"] for row in rows)
    return found


async def _insert_ignoring_duplicates(rows: list[Notification]) -> list[int]:
    ids: list[int] = []
    # In chunks: one INSERT of all rows would pass asyncpg's 32,767 arguments at ~2,700.
    for start in range(0, len(rows), 500):
        result = await (
            N.insert(*rows[start : start + 500])
            .on_conflict(target=N.dedupe_key, action="DO NOTHING")
            .returning(N.id)
        )
        ids.extend(row["id"] for row in result)
    return ids


def _claimable(now: datetime):  # -> piccolo Combinable
    return ((N.status == "pending") & (N.due_at <= now)) | _stale(now)


def _stale(now: datetime):  # -> piccolo Combinable
    return (N.status == "sending") & (N.lease_until < now)


def _holding(note: ClaimedNotification):  # -> piccolo Combinable
    """Still ours: nobody re-claimed the row after our lease ran out."""
    return (N.id == note.id) & (N.status == "sending") & (N.attempts == note.attempts)


def claimed_from(row: Mapping[str, Any]) -> ClaimedNotification:
    """The claimed row from the columns `CLAIM_SQL` returns (or the Piccolo claim)."""
    return ClaimedNotification(
        id=row["id"],
        dedupe_key=row["dedupe_key"],
        kind=row["kind"],
        booking_id=row["booking"],
        recipient=row["recipient"],
        language=language_of(row["language"]),
        payload=json.loads(row["payload"] or "{}"),
        attempts=row["attempts"],
        created_at=as_utc(row["created_at"]),
        lease_until=as_utc(row["lease_until"]),
    )
