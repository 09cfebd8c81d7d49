"""HTTP API of the audit log: read-only, for the network office."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from msgspec import Struct

from outreach.audit import services
from outreach.principal import Principal
from outreach.web import BEARER, INSTANT_QUERY, READ_ERRORS, instant

__all__ = ["AuditController"]


class AuditEntryOut(Struct):
    id: int
    at: datetime
    actor: int | None
    actor_role: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]


class AuditPageOut(Struct):
    entries: list[AuditEntryOut]
    total: int
    limit: int
    offset: int


class AuditController(Controller):
    path = "/api/v1/audit"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["audit"]

    @get("/", responses=READ_ERRORS)
    async def list_entries(
        self,
        by: NamedDependency[Principal],
        action: Annotated[str | None, QueryParameter(max_length=64)] = None,
        object_type: Annotated[str | None, QueryParameter(max_length=32)] = None,
        actor: Annotated[int | None, QueryParameter(ge=1)] = None,
        since: Annotated[str | None, QueryParameter(**INSTANT_QUERY)] = None,
        until: Annotated[str | None, QueryParameter(**INSTANT_QUERY)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = services.PAGE_SIZE,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> AuditPageOut:
        """Admin actions and views of attendee lists, newest first (network office only)."""
        found = await services.list_entries(
            services.AuditFilter(
                action=action,
                object_type=object_type,
                actor=actor,
                since=instant(since, "since"),
                until=instant(until, "until"),
            ),
            by=by,
            limit=limit,
            offset=offset,
        )
        return AuditPageOut(
            entries=[AuditEntryOut(**entry) for entry in found.entries],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )
