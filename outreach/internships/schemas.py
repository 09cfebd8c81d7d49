"""Structs of the internship placements, shared by the API, the pages and the services."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

__all__ = [
    "CancelIn",
    "ClassPeriodIn",
    "ClassPeriodOut",
    "DayOut",
    "OfferIn",
    "OfferOut",
    "OfferPeriodIn",
    "OfferPeriodOut",
    "OfferStatus",
    "OutcomeOut",
    "PlacementAttendanceIn",
    "PlacementOut",
    "PupilIn",
    "PupilOut",
    "RoundIn",
    "RoundOut",
    "UnplacedOut",
]

OfferStatus = Literal["draft", "published"]
RoundStatus = Literal["preview", "confirmed", "discarded"]
PlacementStatus = Literal["unplaced", "placed", "confirmed_by_firm", "cancelled"]
Grade = Annotated[int, Meta(ge=1, le=13)]
# At most one school year ahead and back: dates far off are typos.
Places = Annotated[int, Meta(ge=1, le=500)]
Id = Annotated[int, Meta(ge=1, le=2**31 - 1)]
MAX_WISHES = 3
MAX_PUPILS = 60


class OfferPeriodIn(Struct, forbid_unknown_fields=True):
    starts_on: date
    ends_on: date
    places: Places


class OfferIn(Struct, forbid_unknown_fields=True):
    """A firm's offer; the office names the `host` firm (slug)."""

    occupation: Annotated[str, Meta(min_length=1, max_length=200)]
    grades: Annotated[list[Grade], Meta(min_length=1, max_length=13)]
    periods: Annotated[list[OfferPeriodIn], Meta(min_length=1, max_length=20)]
    description: Annotated[str, Meta(max_length=10_000)] = ""
    status: OfferStatus = "draft"
    host: Annotated[str, Meta(max_length=64)] | None = None
    contact_name: Annotated[str, Meta(max_length=200)] = ""
    contact_email: Annotated[str, Meta(max_length=254)] = ""


class OfferPeriodOut(Struct):
    id: int
    starts_on: date
    ends_on: date
    places: int
    free: int


class OfferOut(Struct):
    id: int
    host: str  # slug
    host_name: str
    occupation: str
    description: str
    grades: list[int]
    status: OfferStatus
    periods: list[OfferPeriodOut]
    contact_name: str = ""
    contact_email: str = ""


class ClassPeriodIn(Struct, forbid_unknown_fields=True):
    class_label: Annotated[str, Meta(min_length=1, max_length=32)]
    grade: Annotated[int, Meta(ge=5, le=13)]  # the services' GRADES, named for pages too
    starts_on: date
    ends_on: date
    wishes_until: date | None = None  # default: 14 days before the first day
    school: Annotated[str, Meta(max_length=64)] | None = None  # the office names the school


class DayOut(Struct):
    day: date
    kind: Literal["working_day", "weekend", "public_holiday", "school_holiday"]
    holiday: str = ""
    holiday_en: str = ""


class ClassPeriodOut(Struct):
    id: int
    school: str  # slug
    school_name: str
    class_label: str
    grade: int
    starts_on: date
    ends_on: date
    wishes_until: date
    working_days: int
    pupils: int = 0


class PupilIn(Struct, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=32)]
    first_name: Annotated[str, Meta(max_length=100)] = ""
    wishes: Annotated[list[Id], Meta(max_length=10)] = []  # checked: at most 3, named


class PupilOut(Struct):
    id: int
    code: str
    first_name: str
    wishes: list[int]  # offer period ids, ranked


class RoundIn(Struct, forbid_unknown_fields=True):
    classes: Annotated[list[Id], Meta(min_length=1, max_length=100)]
    seed: Annotated[int, Meta(ge=0, le=2**62)] | None = None


class OutcomeOut(Struct):
    pupil: int
    offer_period: int
    rank: int
    reason: str
    message: str
    params: dict[str, Any]
    placement: int  # the placement's id (cancel, confirm, attendance)
    status: PlacementStatus


class UnplacedOut(Struct):
    pupil: int
    reason: str
    message: str
    params: dict[str, Any]
    free: list[int]  # offer periods that fit the pupil and still have places


class RoundOut(Struct):
    id: int
    seed: int
    status: RoundStatus
    classes: list[int]
    created_at: datetime
    placements: list[OutcomeOut]
    unplaced: list[UnplacedOut]
    confirmed_at: datetime | None = None


class PlacementOut(Struct):
    """What a reader may know of one placement: a firm never sees the rank or reason."""

    id: int
    round: int
    round_status: RoundStatus
    status: PlacementStatus
    pupil: int
    first_name: str
    class_label: str
    school: str
    school_name: str
    offer: int
    occupation: str
    host: str
    host_name: str
    offer_period: int
    starts_on: date
    ends_on: date
    code: str | None = None  # the school and the office only
    rank: int | None = None  # the school and the office only
    reason: str | None = None  # the school and the office only
    days_attended: int | None = None
    apprenticeship_offered: bool | None = None


class CancelIn(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=2000)] = ""


class PlacementAttendanceIn(Struct, forbid_unknown_fields=True):
    days_attended: Annotated[int, Meta(ge=0, le=366)]
    apprenticeship_offered: bool = False
