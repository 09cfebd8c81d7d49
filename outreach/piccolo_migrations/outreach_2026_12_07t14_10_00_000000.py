"""Idempotency records keep the booking ids of the first answer, no longer the answer
with its contact data; anonymised bookings lose the reason that deletions left behind."""

import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.columns.column_types import Text, Timestamptz
from piccolo.table import Table

ID = "2026-12-07T14:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency_record keeps booking ids only; anonymised bookings keep no reason"


class IdempotencyRecord(Table, tablename="idempotency_record", schema=None):
    response = Text()


class Booking(Table, tablename="booking", schema=None):
    reason = Text()
    anonymised_at = Timestamptz(null=True)


async def _keep_ids_only() -> None:
    # The engine of this run (bound now, not when the module was first imported).
    for table in (IdempotencyRecord, Booking):
        table._meta.db = engine_finder()
    R = IdempotencyRecord
    for row in await R.select(R.id, R.response):
        try:
            stored = json.loads(row["response"] or "[]")
        except ValueError:
            stored = []
        if isinstance(stored, dict):
            continue  # already the new form
        ids = [b["id"] for b in stored if isinstance(b, dict) and isinstance(b.get("id"), int)]
        kept = json.dumps({"bookings": ids}, separators=(",", ":"))
        await R.update({R.response: kept}).where(R.id == row["id"])
    await Booking.update({Booking.reason: ""}).where(
        Booking.anonymised_at.is_not_null() & (Booking.reason != "")
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)
    manager.add_raw(_keep_ids_only)
    return manager
