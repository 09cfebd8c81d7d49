"""The audit log: who did what as the network office, and who looked at attendee lists.

`record` inserts one row inside the caller's transaction, so an action and its entry
commit together or not at all. The detail names objects by id and states what changed;
it never holds contact data (names, addresses, notes): a guard refuses such keys, so
the log itself needs no anonymising.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.audit.tables import AuditEntry
from outreach.errors import Forbidden, Invalid
from outreach.principal import Principal
from outreach.timeutil import local, utcnow

__all__ = ["PAGE_SIZE", "AuditFilter", "AuditPage", "list_entries", "record"]

# Keys that would carry personal contact data; `record` refuses them.
_CONTACT_KEYS = frozenset(
    {"email", "name", "contact_name", "contact_email", "notes", "phone", "password", "token"}
)
PAGE_SIZE = 50


async def record(
    action: str,
    *,
    by: Principal | None,
    object_type: str,
    object_id: int | str | None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """One entry in the caller's transaction; `by=None` is the operator's command line."""
    detail = detail or {}
    refused = _CONTACT_KEYS & {key.lower() for key in detail}
    if refused:
        # A programming error, not user input: the log must never hold contact data.
        raise ValueError(f"audit detail must not carry contact data: {sorted(refused)}")
    await AuditEntry(
        at=now or utcnow(),
        actor=by.user_id if by is not None else None,
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        detail=json.dumps(detail, sort_keys=True, default=str),
    ).save()


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    object_type: str | None = None
    actor: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


async def list_entries(
    filters: AuditFilter, *, by: Principal, limit: int = PAGE_SIZE, offset: int = 0
) -> AuditPage:
    """The newest entries first, for the network office only."""
    if not by.is_admin:
        raise Forbidden("only the network office reads the audit log")
    if not 1 <= limit <= 500:
        raise Invalid("limit must lie between 1 and 500", field="limit")
    if offset < 0:
        raise Invalid("offset must not be negative", field="offset")
    where = []
    if filters.action:
        where.append(AuditEntry.action == filters.action)
    if filters.object_type:
        where.append(AuditEntry.object_type == filters.object_type)
    if filters.actor is not None:
        where.append(AuditEntry.actor == filters.actor)
    if filters.since is not None:
        where.append(AuditEntry.at >= filters.since)
    if filters.until is not None:
        where.append(AuditEntry.at < filters.until)
    query = AuditEntry.select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.actor.role.as_alias("actor_role"),
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_id,
        AuditEntry.detail,
    )
    count = AuditEntry.count()
    for condition in where:
        query = query.where(condition)
        count = count.where(condition)
    rows = await query.order_by(AuditEntry.id, ascending=False).limit(limit).offset(offset)
    entries = [
        {
            "id": row["id"],
            "at": local(row["at"]),
            "actor": row["actor"],
            "actor_role": row["actor_role"] or "",
            "action": row["action"],
            "object_type": row["object_type"],
            "object_id": row["object_id"],
            "detail": json.loads(row["detail"] or "{}"),
        }
        for row in rows
    ]
    return AuditPage(entries=entries, total=await count, limit=limit, offset=offset)
