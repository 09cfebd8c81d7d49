"""HTTP API for bookings: thin, every rule lives in the booking services."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from outreach.booking import attendance, manage, queries, writes
from outreach.booking.schemas import BookingOut, BookingRequest, PersonsIn, ReasonIn
from outreach.principal import Principal
from outreach.web import (
    BEARER,
    IDEMPOTENCY_KEY,
    READ_ERRORS,
    WRITE_ERRORS,
    IdPath,
    IdQuery,
    error_responses,
    idempotency_key,
)
from outreach.workplan.schemas import AttendanceIn

__all__ = ["BookingController", "SlotBookingController"]

BookingStatus = Annotated[
    str | None, QueryParameter(pattern="^(pending|confirmed|waitlisted|declined|cancelled)$")
]


class SlotBookingController(Controller):
    path = "/api/v1/slots"
    tags = ["bookings"]

    @post(
        "/{slot_id:int}/bookings",
        status_code=201,
        responses=error_responses(400, 401, 403, 404, 409, 422, 429),
    )
    async def book(
        self,
        slot_id: IdPath,
        data: JSONBody[BookingRequest],
        by: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", pattern=IDEMPOTENCY_KEY)
        ] = None,
    ) -> Response[BookingOut]:
        """Book a class visit (teachers) or register (anyone, where the event takes it).

        Answers 201 with status `confirmed`, `pending` or `waitlisted`; 409 with the reason
        when the booking cannot be placed. A retry with the same `Idempotency-Key` gets the
        first answer again and books nothing more.
        """
        key = idempotency_key(request, by, key)
        placement = await writes.place_booking(slot_id, data, by=by, key=key)
        headers = {"Idempotent-Replayed": "true"} if placement.replayed else {}
        return Response(placement.booking, status_code=201, headers=headers)


class BookingController(Controller):
    path = "/api/v1/bookings"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["bookings"]

    @get("/", responses=READ_ERRORS)
    async def list_bookings(
        self,
        by: NamedDependency[Principal],
        event: IdQuery = None,
        status: BookingStatus = None,
    ) -> list[BookingOut]:
        """A school sees its bookings, a firm those of its events, the network office all."""
        return await queries.list_bookings(by=by, event_id=event, status=status, audit_view="api")

    @get("/{booking_id:int}", responses=READ_ERRORS)
    async def get_booking(self, booking_id: IdPath, by: NamedDependency[Principal]) -> BookingOut:
        return await queries.get_booking(booking_id, by=by, audit_view="api")

    @patch("/{booking_id:int}", status_code=200, responses=WRITE_ERRORS)
    async def change_persons(
        self, booking_id: IdPath, data: JSONBody[PersonsIn], by: NamedDependency[Principal]
    ) -> BookingOut:
        """Change the party size (booker, admin): `persons`, or `pupils`/`adults`.

        More places only if the slot has them free: else 409 `not_enough_places` with
        `params.free`. Fewer persons free places, which go to the waiting list at once.
        """
        return await manage.change_persons(booking_id, data, by=by)

    @post("/{booking_id:int}/confirm", status_code=200, responses=WRITE_ERRORS)
    async def confirm(self, booking_id: IdPath, by: NamedDependency[Principal]) -> BookingOut:
        return await writes.confirm_booking(booking_id, by=by)

    @post("/{booking_id:int}/decline", status_code=200, responses=WRITE_ERRORS)
    async def decline(
        self, booking_id: IdPath, data: JSONBody[ReasonIn], by: NamedDependency[Principal]
    ) -> BookingOut:
        return await writes.decline_booking(booking_id, data.reason, by=by)

    @post("/{booking_id:int}/cancel", status_code=200, responses=WRITE_ERRORS)
    async def cancel(
        self, booking_id: IdPath, data: JSONBody[ReasonIn], by: NamedDependency[Principal]
    ) -> BookingOut:
        """Cancel (booker, host or network office); a waiting booking that fits moves up."""
        return await writes.cancel_booking(booking_id, data.reason, by=by)

    @post("/{booking_id:int}/attendance", status_code=200, responses=WRITE_ERRORS)
    async def record_attendance(
        self,
        booking_id: IdPath,
        data: JSONBody[AttendanceIn],
        by: NamedDependency[Principal],
    ) -> dict[str, object]:
        """Who came (host or network office): `attended` persons, 0 for a no-show.

        Only for a confirmed booking whose slot has begun; at most 5 more than booked.
        Recording again corrects the count.
        """
        done = await attendance.record_attendance(booking_id, data.attended, by=by)
        return {
            "booking_id": done.booking_id,
            "persons": done.persons,
            "attended": done.attended,
            "recorded_at": done.recorded_at.isoformat(),
        }
