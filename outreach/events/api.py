"""HTTP API for events and slots: thin, every rule lives in events.services."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from outreach.booking.schemas import ReasonIn
from outreach.events import services
from outreach.events.schemas import (
    EventIn,
    EventKind,
    EventOut,
    EventPatch,
    SlotIn,
    SlotOut,
    SlotPatch,
)
from outreach.principal import Principal
from outreach.web import BEARER, INSTANT_QUERY, READ_ERRORS, WRITE_ERRORS, IdPath, instant

__all__ = ["EventController", "SlotController"]


class EventController(Controller):
    path = "/api/v1/events"
    tags = ["events"]

    @get("/", responses=READ_ERRORS)
    async def list_events(
        self,
        by: NamedDependency[Principal],
        kind: Annotated[EventKind | None, QueryParameter()] = None,
        host: Annotated[str | None, QueryParameter(max_length=64)] = None,
        grade: Annotated[int | None, QueryParameter(ge=1, le=13)] = None,
        starts_from: Annotated[str | None, QueryParameter(name="from", **INSTANT_QUERY)] = None,
        starts_to: Annotated[str | None, QueryParameter(name="to", **INSTANT_QUERY)] = None,
        available: Annotated[bool | None, QueryParameter()] = None,
    ) -> list[EventOut]:
        """Published events the caller may see, each with its slots and free places."""
        filters = services.EventFilter(
            kind=kind,
            host=host,
            grade=grade,
            starts_from=instant(starts_from, "from"),
            starts_to=instant(starts_to, "to"),
            available=available,
        )
        return await services.list_events(filters, by=by)

    @post("/", responses=WRITE_ERRORS, security=BEARER)
    async def create_event(
        self, data: JSONBody[EventIn], by: NamedDependency[Principal]
    ) -> EventOut:
        """Create an event of your own organisation (the network office: any `host`)."""
        return await services.create_event(data, by=by)

    @get("/{event_id:int}", responses=READ_ERRORS)
    async def get_event(self, event_id: IdPath, by: NamedDependency[Principal]) -> EventOut:
        return await services.get_event(event_id, by=by)

    @patch("/{event_id:int}", responses=WRITE_ERRORS, security=BEARER)
    async def update_event(
        self, event_id: IdPath, data: JSONBody[EventPatch], by: NamedDependency[Principal]
    ) -> EventOut:
        """Change an event; attendees are told of changes to its title or place."""
        return await services.update_event(event_id, data, by=by)

    @post("/{event_id:int}/cancel", status_code=200, responses=WRITE_ERRORS, security=BEARER)
    async def cancel_event(
        self, event_id: IdPath, data: JSONBody[ReasonIn], by: NamedDependency[Principal]
    ) -> EventOut:
        """Cancel the event: every booking is cancelled and told."""
        return await services.cancel_event(event_id, data.reason, by=by)

    @post("/{event_id:int}/slots", responses=WRITE_ERRORS, security=BEARER)
    async def add_slot(
        self, event_id: IdPath, data: JSONBody[SlotIn], by: NamedDependency[Principal]
    ) -> SlotOut:
        return await services.add_slot(event_id, data, by=by)


class SlotController(Controller):
    path = "/api/v1/slots"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["events"]

    @patch("/{slot_id:int}", responses=WRITE_ERRORS)
    async def update_slot(
        self, slot_id: IdPath, data: JSONBody[SlotPatch], by: NamedDependency[Principal]
    ) -> SlotOut:
        """Move a slot or change its capacity; moved bookings get a new invitation."""
        return await services.update_slot(slot_id, data, by=by)

    @post("/{slot_id:int}/cancel", status_code=200, responses=WRITE_ERRORS)
    async def cancel_slot(
        self, slot_id: IdPath, data: JSONBody[ReasonIn], by: NamedDependency[Principal]
    ) -> SlotOut:
        """Cancel one time: its bookings are cancelled and told, the waiting list closed."""
        return await services.cancel_slot(slot_id, data.reason, by=by)
