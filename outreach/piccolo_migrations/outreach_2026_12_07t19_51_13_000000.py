"""One segment per (document, bucket), and its bytes compressed with lz4 on PostgreSQL
(as feed_document.body was; a server built without lz4 keeps pglz). A step of its own:
Piccolo runs a migration's raw steps before its tables are made."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-07T19:51:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "feed_segment: unique (document, bucket); body compressed with lz4"

_LZ4 = """
DO $$
BEGIN
    ALTER TABLE feed_segment ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;  -- built without lz4: pglz stays
END $$;
"""


class FeedSegment(Table, tablename="feed_segment", schema=None):
    pass


async def _unique_and_lz4() -> None:
    # The engine of this run (bound now, not when the module was first imported).
    engine = engine_finder()
    FeedSegment._meta.db = engine
    await FeedSegment.raw(
        "CREATE UNIQUE INDEX feed_segment_document_bucket ON feed_segment (document, bucket)"
    )
    if isinstance(engine, PostgresEngine):
        await FeedSegment.raw(_LZ4)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)
    manager.add_raw(_unique_and_lz4)
    return manager
