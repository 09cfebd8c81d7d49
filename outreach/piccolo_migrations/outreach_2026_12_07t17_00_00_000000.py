"""A stored feed's bytes compressed with lz4 on PostgreSQL (was pglz): a republish
rewrites the whole document (4.6 MB for 10,000 slots), and pglz took more than half of
that write. SQLite keeps its bytes as they are. A server built without lz4 keeps pglz."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-07T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "feed_document.body compressed with lz4 on PostgreSQL"

_LZ4 = """
DO $$
BEGIN
    ALTER TABLE feed_document ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;  -- built without lz4: pglz stays
END $$;
"""


class FeedDocument(Table, tablename="feed_document", schema=None):
    pass


async def _lz4() -> None:
    # The engine of this run (bound now, not when the module was first imported), and
    # the migration's own transaction.
    engine = engine_finder()
    if isinstance(engine, PostgresEngine):
        FeedDocument._meta.db = engine
        await FeedDocument.raw(_LZ4)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)
    manager.add_raw(_lz4)
    return manager
