"""PostgreSQL's statements for placing a class visit: pre-built SQL, parameters bound.

Owned by `booking.writes` and called from there only (`writes.place_booking` chooses
the dialect): the rules stay in `writes`, `rules` and `eligibility`; this module holds
the two statements that do on PostgreSQL what the generic path does with a dozen
Piccolo queries, and writes exactly the same rows:

1. `read`, first in the transaction: the slot, its event, the host's and the school's
   rows, and whether the Idempotency-Key is known (one statement instead of four); and
   it locks the school's row, so two bookings of one school are judged one after the
   other (as `rules._class_visits_of` does).
2. `place`, one statement: the class's clashing visits, the claim of the places (the
   conditional UPDATE of `writes._claim_places`, re-checked against the row as it is
   now), the booking (or the waiting one, with its position), the feed change, the
   outbox notices and the idempotency record.

Why: a booking cost 9 ms of Python per request, half of it building Piccolo queries,
and its 18 round trips held the slot's row lock across the event loop's other work
(issue 21). Now a booking is BEGIN, these two, COMMIT. The texts are constant, so
asyncpg prepares each once per connection.

The clash check in SQL is a superset: it folds ASCII letters only, and hands back every
overlapping visit of the school whose label (or the new one) is not ASCII, so the
caller decides with Python's `casefold()` as the generic path does, and asks again
without the check when none of them is a clash (see `writes._place_class_visit_pg`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import pg_fetch

__all__ = ["Notice", "Placed", "RowView", "Seen", "place", "read"]


class RowView:
    """A row's columns as attributes: what the rules and `_out` read of an Event or a
    Booking, without building a Piccolo object for it (a quarter of the CPU of a booking
    went to building four of them). Read-only; `to_dict()` as a Piccolo row has it."""

    __slots__ = ("_row",)

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict[str, Any]:
        return dict(self._row)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the read before the transaction found; `slot` None when there is no slot."""

    slot: dict[str, Any] | None
    event: RowView | None  # the event's columns the rules read
    orgs: dict[int, dict[str, Any]]
    keyed: bool  # an idempotency record with this key exists


@dataclass(frozen=True, slots=True)
class Notice:
    """An outbox notice to write with the booking; `kind` None: the booker's, named
    after the status the booking gets ("booking.received" for pending)."""

    kind: str | None
    recipient: str
    language: str
    payload: str


@dataclass(frozen=True, slots=True)
class Placed:
    """What `place` did: the booking written (None if none), or the clashing visits."""

    booking: RowView | None  # every column of the booking table
    waitlist_position: int | None
    notice_ids: list[int]
    clashes: list[tuple[str, datetime, datetime]]  # label, starts_at, ends_at


_READ = """
SELECT s.id AS slot_id, s.event AS slot_event, s.starts_at, s.ends_at, s.capacity,
       s.held, s.min_party, s.max_party, s.booking_opens_at, s.booking_closes_at,
       s.cancelled, s.sequence AS slot_sequence,
       e.id AS event_id, e.host, e.kind, e.title, e.grades, e.visibility,
       e.status AS event_status, e.booking_mode, e.waitlist,
       h.id AS host_id, h.slug AS host_slug, h.name AS host_name,
       h.contact_email AS host_email,
       o.id AS school_id, o.slug AS school_slug, o.name AS school_name,
       o.contact_email AS school_email,
       r.id IS NOT NULL AS keyed,
       (SELECT id FROM organisation WHERE id = $2::integer FOR UPDATE) AS locked
FROM (SELECT 1) AS one
LEFT JOIN slot AS s ON s.id = $1::integer
LEFT JOIN event AS e ON e.id = s.event
LEFT JOIN organisation AS h ON h.id = e.host
LEFT JOIN organisation AS o ON o.id = $2::integer
LEFT JOIN idempotency_record AS r ON r.scoped_key = $3::text
"""

# $1 check the clash, $2 school, $3 slot's end, $4 slot's start, $5 the label is not
# ASCII, $6 the label with ASCII letters folded, $7 persons, $8 slot, $9 the status when
# placed, $10 may wait, $11 event, $12 label, $13 grade, $14 pupils, $15 adults,
# $16 contact name, $17 contact e-mail, $18 notes, $19 language, $20 booked by,
# $21 the booking's time, $22 the time of the rows beside it, $23-$26 the notices
# (kind, recipient, language, payload), $27 the dedupe key's instant part,
# $28 scoped key, $29 request hash, $30 the idempotency record's time.
_PLACE = """
WITH
-- Three branches, so that each finds its rows by an index (booking_class_visit_label,
-- booking_class_visit_non_ascii) rather than among all the school's visits; the third
-- runs only for a label that is not ASCII ($5). A visit found twice is harmless.
clash AS (
    SELECT v.class_label, s.starts_at, s.ends_at
    FROM (
        SELECT b.class_label, b.slot FROM booking AS b
        WHERE $1::boolean AND b.school = $2::integer AND b.kind = 'class_visit'
          AND b.status IN ('pending', 'confirmed', 'waitlisted')
          AND translate(b.class_label, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                        'abcdefghijklmnopqrstuvwxyz') = $6::text
        UNION ALL
        SELECT b.class_label, b.slot FROM booking AS b
        WHERE $1::boolean AND b.school = $2::integer AND b.kind = 'class_visit'
          AND b.status IN ('pending', 'confirmed', 'waitlisted')
          AND octet_length(b.class_label) <> char_length(b.class_label)
        UNION ALL
        SELECT b.class_label, b.slot FROM booking AS b
        WHERE $1::boolean AND $5::boolean AND b.school = $2::integer
          AND b.kind = 'class_visit' AND b.status IN ('pending', 'confirmed', 'waitlisted')
    ) AS v
    JOIN slot AS s ON s.id = v.slot
    WHERE s.starts_at < $3::timestamptz AND s.ends_at > $4::timestamptz
),
claim AS (
    UPDATE slot SET held = held + $7::integer
    WHERE id = $8::integer
      AND held + $7::integer <= capacity
      AND cancelled = false
      AND NOT EXISTS (SELECT 1 FROM clash)
    RETURNING id
),
placed AS (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM claim) THEN $9::text
                WHEN $10::boolean THEN 'waitlisted' END AS status
    WHERE NOT EXISTS (SELECT 1 FROM clash)
),
ins AS (
    INSERT INTO booking (
        slot, event, kind, status, persons, school, class_label, grade, pupils, adults,
        contact_name, contact_email, notes, language, booked_by, reason, reconfirmed_at,
        sequence, attended, attendance_recorded_at, created_at, updated_at,
        anonymised_at, verify_by)
    SELECT $8::integer, $11::integer, 'class_visit', placed.status, $7::integer,
           $2::integer, $12::text, $13::integer, $14::integer, $15::integer, $16::text,
           $17::text, $18::text, $19::text, $20::integer, '', NULL, 0, NULL, NULL,
           $21::timestamptz, $21::timestamptz, NULL, NULL
    FROM placed WHERE placed.status IS NOT NULL
    RETURNING *
),
feed AS (
    INSERT INTO feed_change (event_id, slot_id, booking_id, created_at)
    SELECT NULL, NULL, ins.id, $22::timestamptz FROM ins
),
notes AS (
    INSERT INTO notification (
        dedupe_key, kind, booking, recipient, language, payload, due_at, status,
        attempts, lease_until, last_error, sent_at, created_at)
    SELECT n.kind || ':' || ins.id || $27::text, n.kind, ins.id, n.recipient,
           n.language, n.payload, $22::timestamptz, 'pending', 0, NULL, '', NULL,
           $22::timestamptz
    FROM ins CROSS JOIN LATERAL (
        SELECT coalesce(u.kind, CASE ins.status WHEN 'pending' THEN 'booking.received'
                                ELSE 'booking.' || ins.status END) AS kind,
               u.recipient, u.language, u.payload, u.n
        FROM unnest($23::text[], $24::text[], $25::text[], $26::text[])
             WITH ORDINALITY AS u(kind, recipient, language, payload, n)
    ) AS n
    ORDER BY n.n
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
),
kept AS (
    INSERT INTO idempotency_record (scoped_key, request_hash, status_code, response,
                                    created_at)
    SELECT $28::text, $29::text, 201, '{"bookings":[' || ins.id || ']}',
           $30::timestamptz
    FROM ins WHERE $28::text IS NOT NULL
)
SELECT ins.*,
       CASE WHEN ins.status = 'waitlisted' THEN 1 + (
           SELECT count(*) FROM booking AS w
           WHERE w.slot = ins.slot AND w.status = 'waitlisted' AND w.id < ins.id)
       END AS waitlist_position,
       (SELECT array_agg(id ORDER BY id) FROM notes) AS notice_ids,
       c.labels AS clash_labels, c.starts AS clash_starts, c.ends AS clash_ends
FROM (SELECT array_agg(class_label) AS labels, array_agg(starts_at) AS starts,
             array_agg(ends_at) AS ends
      FROM clash) AS c
LEFT JOIN ins ON true
"""


async def read(slot_id: int, school_id: int | None, scoped_key: str | None) -> Seen:
    """The facts, and the school's row locked until the transaction ends: the clash
    check in `place` then reads with a snapshot taken once the lock is held (a later
    statement). The facts themselves are read as the statement began, as the generic
    path reads them: unlocked."""
    row = (await pg_fetch(_READ, slot_id, school_id, scoped_key))[0]
    keyed = bool(row["keyed"])
    if row["slot_id"] is None:
        return Seen(None, None, {}, keyed)
    slot = {
        "id": row["slot_id"],
        "event": row["slot_event"],
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "capacity": row["capacity"],
        "held": row["held"],
        "min_party": row["min_party"],
        "max_party": row["max_party"],
        "booking_opens_at": row["booking_opens_at"],
        "booking_closes_at": row["booking_closes_at"],
        "cancelled": row["cancelled"],
        "sequence": row["slot_sequence"],
    }
    event = RowView(
        {
            "id": row["event_id"],
            "host": row["host"],
            "kind": row["kind"],
            "title": row["title"],
            "grades": list(row["grades"] or []),
            "visibility": row["visibility"],
            "status": row["event_status"],
            "booking_mode": row["booking_mode"],
            "waitlist": row["waitlist"],
        }
    )
    orgs = {
        row[f"{who}_id"]: {
            "id": row[f"{who}_id"],
            "slug": row[f"{who}_slug"],
            "name": row[f"{who}_name"],
            "contact_email": row[f"{who}_email"],
        }
        for who in ("host", "school")
        if row[f"{who}_id"] is not None
    }
    return Seen(slot, event, orgs, keyed)


async def place(
    *,
    check_clash: bool,
    slot: dict[str, Any],
    event_id: int,
    fields: dict[str, Any],
    status_if_placed: str,
    may_wait: bool,
    language: str,
    booked_by: int | None,
    now: datetime,
    written_at: datetime,
    notices: Sequence[Notice],
    dedupe_suffix: str,
    scoped_key: str | None,
    request_hash: str,
    key_stored_at: datetime,
) -> Placed:
    label: str = fields["class_label"]
    rows = await pg_fetch(
        _PLACE,
        check_clash,
        fields["school"],
        slot["ends_at"],
        slot["starts_at"],
        not label.isascii(),
        _fold_ascii(label),
        fields["persons"],
        slot["id"],
        status_if_placed,
        may_wait,
        event_id,
        label,
        fields["grade"],
        fields["pupils"],
        fields["adults"],
        fields["contact_name"],
        fields["contact_email"],
        fields["notes"],
        language,
        booked_by,
        now,
        written_at,
        [n.kind for n in notices],
        [n.recipient for n in notices],
        [n.language for n in notices],
        [n.payload for n in notices],
        dedupe_suffix,
        scoped_key,
        request_hash,
        key_stored_at,
    )
    row = rows[0]
    clashes = list(
        zip(
            row["clash_labels"] or [],
            row["clash_starts"] or [],
            row["clash_ends"] or [],
            strict=True,
        )
    )
    if row["id"] is None:
        return Placed(None, None, [], clashes)
    return Placed(RowView(row), row["waitlist_position"], list(row["notice_ids"] or []), clashes)


def _fold_ascii(text: str) -> str:
    """ASCII letters to lower case, nothing else (what the SQL's translate() does)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
