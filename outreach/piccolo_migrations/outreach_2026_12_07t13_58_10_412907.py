from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine.finder import engine_finder
from piccolo.table import Table


class RawTable(Table):
    pass


ID = "2026-12-07T13:58:10:412907"
VERSION = "1.38.0"
DESCRIPTION = (
    "app_user.calendar_delivery (invitations, subscription or both); "
    "feed_document.own_bookings; feeds rendered anew (UTC times, own UIDs per view)"
)


async def _render_feeds_anew():
    # Every stored VEVENT was written in Berlin wall time, and the host view shared the
    # public view's UID: drop them all. The publisher renders the pieces again in
    # bounded steps (its back-fill of slots and bookings without one), and each feed is
    # built again on its next request. On the engine of this run: bound when first used, a
    # table class kept the first engine of a process that migrates several databases.
    RawTable._meta.db = engine_finder()
    await RawTable.raw("DELETE FROM feed_document")
    await RawTable.raw("DELETE FROM feed_piece")


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="outreach", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="User",
        tablename="app_user",
        column_name="calendar_delivery",
        db_column_name="calendar_delivery",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": "invitation",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="FeedDocument",
        tablename="feed_document",
        column_name="own_bookings",
        db_column_name="own_bookings",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_raw(_render_feeds_anew)

    return manager
