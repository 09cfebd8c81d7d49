"""HTTP API of the class day planner: thin, every rule lives in the itineraries services."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody

from outreach.feeds.http import calendar_file
from outreach.itineraries import planning, views, writes
from outreach.itineraries.schemas import (
    ItineraryConflictOut,
    ItineraryIn,
    ItineraryOut,
    PlanOut,
    PlanRequest,
)
from outreach.principal import Principal
from outreach.web import (
    BEARER,
    IDEMPOTENCY_KEY,
    MAX_ID,
    READ_ERRORS,
    IdPath,
    IdQuery,
    error_responses,
)

__all__ = ["ItineraryCalendarController", "ItineraryController"]

_ICS_FILE = re.compile(r"^([1-9][0-9]{0,9})\.ics$")


class ItineraryController(Controller):
    path = "/api/v1/itineraries"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["itineraries"]

    @post("/plan", status_code=200, responses=error_responses(400, 401, 403, 404, 409, 422, 429))
    async def plan(self, data: JSONBody[PlanRequest], by: NamedDependency[Principal]) -> PlanOut:
        """Ranked proposals for a class's day at several firms (2-4 visits), or why none fits.

        Each proposal: visits at different firms with room for the whole class, in time
        order, with the walk or bus ride (plus a buffer) between them, inside the school
        day and with the lunch break asked for. When nothing fits, `suggestions` says
        what would: another date, a smaller group, fewer visits, no lunch break.
        """
        return await planning.plan_day(data, by=by)

    @post(
        "/",
        status_code=201,
        responses={
            **error_responses(400, 401, 403, 404, 422, 429),
            409: ResponseSpec(
                data_container=ItineraryConflictOut,
                description="A part could not be placed: nothing was booked; fresh proposals",
            ),
        },
    )
    async def book(
        self,
        data: JSONBody[ItineraryIn],
        by: NamedDependency[Principal],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", pattern=IDEMPOTENCY_KEY)
        ] = None,
    ) -> Response[ItineraryOut]:
        """Book the class into every slot in one transaction, or into none (409).

        A host in approval mode still confirms its own visit: the itinerary shows each
        visit's status. A retry with the same `Idempotency-Key` gets the first answer.
        """
        booked = await writes.book_itinerary(data, by=by, key=idempotency_key)
        headers = {"Idempotent-Replayed": "true"} if booked.replayed else {}
        return Response(booked.itinerary, status_code=201, headers=headers)

    @get("/", responses=READ_ERRORS)
    async def list_itineraries(self, by: NamedDependency[Principal]) -> list[ItineraryOut]:
        """A school's itineraries; the network office sees all."""
        return await views.list_itineraries(by=by)

    @get("/{itinerary_id:int}", responses=READ_ERRORS)
    async def get_itinerary(
        self, itinerary_id: IdPath, by: NamedDependency[Principal]
    ) -> ItineraryOut:
        """The itinerary with each visit's status (its school and the network office)."""
        return await views.get_itinerary(itinerary_id, by=by)

    @get("/{itinerary_id:int}/replacements", responses=READ_ERRORS)
    async def replacements(
        self,
        itinerary_id: IdPath,
        by: NamedDependency[Principal],
        # Optional here so that who may ask is decided before what was asked.
        booking: IdQuery = None,
    ) -> PlanOut:
        """Days that keep the other visits and replace the visit of `booking` (required)."""
        return await planning.replacement_options(itinerary_id, booking, by=by)


class ItineraryCalendarController(Controller):
    # `/itineraries/{id:int}.ics` does not route in Litestar: take the segment as a string.
    path = "/itineraries"
    tags = ["itineraries"]

    @route(
        "/{name:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        media_type="text/calendar",
        responses=READ_ERRORS,
    )
    async def calendar(
        self, request: Request[Any, Any, Any], name: FromPath[str], by: NamedDependency[Principal]
    ) -> Response[bytes]:
        """The itinerary as one iCalendar file, `/itineraries/{id}.ics`: visits and legs."""
        match = _ICS_FILE.match(name)
        if match is None or int(match.group(1)) > MAX_ID:
            raise NotFoundException()
        body = await views.itinerary_calendar(int(match.group(1)), by=by)
        return calendar_file(
            body,
            head=request.method == HttpMethod.HEAD,
            headers={
                "content-disposition": f'inline; filename="itinerary-{match.group(1)}.ics"',
                "cache-control": "private, no-cache",
            },
        )
