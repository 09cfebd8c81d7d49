"""Indexes for the clash check of a class visit on PostgreSQL (`booking.writes_pg`).

The check looked at every class visit the school ever booked (an index scan on
booking.school, then a filter): its cost grew with the school's history, 0.6 ms for
500 visits. It now finds the same class's visits by its label with ASCII letters
folded (the first index), and the visits whose labels are not ASCII, which it hands
to Python's casefold(), by the second. SQLite's generic path compares in Python and
needs neither (nor has translate()).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-08T02:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "booking: indexes of a school's class visits by folded label, and non-ASCII labels"

_CREATE = [
    "CREATE INDEX booking_class_visit_label ON booking "
    "(school, translate(class_label, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) "
    "WHERE kind = 'class_visit'",
    "CREATE INDEX booking_class_visit_non_ascii ON booking (school) "
    "WHERE kind = 'class_visit' AND octet_length(class_label) <> char_length(class_label)",
]


class Booking(Table, tablename="booking", schema=None):
    pass


async def _create() -> None:
    # The engine of this run (bound now, not when the module was first imported).
    engine = engine_finder()
    if not isinstance(engine, PostgresEngine):
        return
    Booking._meta.db = engine
    for statement in _CREATE:
        await Booking.raw(statement)


async def _drop() -> None:
    engine = engine_finder()
    if not isinstance(engine, PostgresEngine):
        return
    Booking._meta.db = engine
    await Booking.raw("DROP INDEX IF EXISTS booking_class_visit_label")
    await Booking.raw("DROP INDEX IF EXISTS booking_class_visit_non_ascii")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)
    manager.add_raw(_create)
    manager.add_raw_backwards(_drop)
    return manager
