from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.accounts.tables import User


class AuditEntry(Table, tablename="audit_entry"):
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=64)
    object_type = Varchar(length=32)
    object_id = Varchar(length=64)
    detail = Text(default="{}")
