"""HTTP API for internship placements: thin, every rule lives in the internship services."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from msgspec import Meta

from outreach.internships import classes, offers, placements, rounds, wishes
from outreach.internships.schemas import (
    MAX_PUPILS,
    CancelIn,
    ClassPeriodIn,
    ClassPeriodOut,
    OfferIn,
    OfferOut,
    PlacementAttendanceIn,
    PlacementOut,
    PupilIn,
    PupilOut,
    RoundIn,
    RoundOut,
)
from outreach.principal import Principal
from outreach.web import BEARER, MAX_ID, READ_ERRORS, WRITE_ERRORS, IdPath

__all__ = [
    "InternshipClassController",
    "InternshipOfferController",
    "InternshipPlacementController",
    "InternshipRoundController",
]

PupilList = Annotated[list[PupilIn], Meta(max_length=MAX_PUPILS)]


class InternshipOfferController(Controller):
    path = "/api/v1/internships/offers"
    tags = ["internships"]

    @get("/", responses=READ_ERRORS)
    async def list_offers(
        self,
        by: NamedDependency[Principal],
        grade: Annotated[int | None, QueryParameter(ge=1, le=13)] = None,
        occupation: Annotated[str | None, QueryParameter(max_length=200)] = None,
        host: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> list[OfferOut]:
        """Published offers with their periods and free places (anyone)."""
        return await offers.list_offers(by=by, grade=grade, occupation=occupation, host=host)

    @post("/", status_code=201, responses=WRITE_ERRORS, security=BEARER)
    async def create_offer(
        self, data: JSONBody[OfferIn], by: NamedDependency[Principal]
    ) -> OfferOut:
        """A firm's offer (the office names the `host` firm), with its periods."""
        return await offers.create_offer(data, by=by)


class InternshipClassController(Controller):
    path = "/api/v1/internships/classes"
    security = BEARER
    tags = ["internships"]

    @post("/", status_code=201, responses=WRITE_ERRORS)
    async def create_class(
        self, data: JSONBody[ClassPeriodIn], by: NamedDependency[Principal]
    ) -> ClassPeriodOut:
        """A school's class period (the office names the `school`)."""
        return await classes.create_class_period(data, by=by)

    @get("/{class_id:int}/pupils", responses=READ_ERRORS)
    async def list_pupils(self, class_id: IdPath, by: NamedDependency[Principal]) -> list[PupilOut]:
        """The class's pupils with their ranked wishes (its school, the office)."""
        return await wishes.pupils_of_class(class_id, by=by)

    @put("/{class_id:int}/pupils", responses=WRITE_ERRORS)
    async def put_pupils(
        self, class_id: IdPath, data: JSONBody[PupilList], by: NamedDependency[Principal]
    ) -> list[PupilOut]:
        """Replace the class's pupils and wishes; a refusal names the pupil and field
        (`pupils[2].wishes`) and stores nothing."""
        return await wishes.put_pupils(class_id, data, by=by)


class InternshipRoundController(Controller):
    path = "/api/v1/internships/rounds"
    security = BEARER
    tags = ["internships"]

    @post("/", status_code=201, responses=WRITE_ERRORS)
    async def preview(self, data: JSONBody[RoundIn], by: NamedDependency[Principal]) -> RoundOut:
        """Allocate the classes' pupils as a preview (the office)."""
        return await rounds.preview_round(data, by=by)

    @get("/{round_id:int}", responses=READ_ERRORS)
    async def get_round(self, round_id: IdPath, by: NamedDependency[Principal]) -> RoundOut:
        return await rounds.get_round(round_id, by=by)

    @post("/{round_id:int}/confirm", status_code=200, responses=WRITE_ERRORS)
    async def confirm(self, round_id: IdPath, by: NamedDependency[Principal]) -> RoundOut:
        """Make the preview binding; firms and teachers are told."""
        return await rounds.confirm_round(round_id, by=by)

    @post("/{round_id:int}/discard", status_code=200, responses=WRITE_ERRORS)
    async def discard(self, round_id: IdPath, by: NamedDependency[Principal]) -> RoundOut:
        return await rounds.discard_round(round_id, by=by)


class InternshipPlacementController(Controller):
    path = "/api/v1/internships/placements"
    security = BEARER
    tags = ["internships"]

    @get("/", responses=READ_ERRORS)
    async def list_placements(
        self,
        by: NamedDependency[Principal],
        round_id: Annotated[int | None, QueryParameter(name="round", ge=1, le=MAX_ID)] = None,
    ) -> list[PlacementOut]:
        """A school its pupils', a firm its offers' (without ranks), the office all."""
        return await placements.list_placements(by=by, round_id=round_id)

    @post("/{placement_id:int}/confirm", status_code=200, responses=WRITE_ERRORS)
    async def confirm(self, placement_id: IdPath, by: NamedDependency[Principal]) -> PlacementOut:
        """The firm takes the pupil."""
        return await placements.confirm_placement(placement_id, by=by)

    @post("/{placement_id:int}/cancel", status_code=200, responses=WRITE_ERRORS)
    async def cancel(
        self, placement_id: IdPath, data: JSONBody[CancelIn], by: NamedDependency[Principal]
    ) -> PlacementOut:
        """The school, the firm or the office cancels; the place goes to the next in line."""
        return await placements.cancel_placement(placement_id, by=by, reason=data.reason)

    @post("/{placement_id:int}/attendance", status_code=200, responses=WRITE_ERRORS)
    async def attendance(
        self,
        placement_id: IdPath,
        data: JSONBody[PlacementAttendanceIn],
        by: NamedDependency[Principal],
    ) -> PlacementOut:
        """The firm records, from the last day on, the days attended and whether it
        offered an apprenticeship."""
        return await placements.record_attendance(placement_id, data, by=by)
