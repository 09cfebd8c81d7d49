"""Structs of the work plan and the reports, shared by the API, the pages and the exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "AttendanceIn",
    "EventLinkIn",
    "MilestoneIn",
    "MilestoneOut",
    "MilestonePatch",
    "PriorityIn",
    "PriorityOut",
    "PriorityPatch",
    "ReportOut",
    "WorkPlanIn",
    "WorkPlanOut",
]

Metric = Literal[
    "class_visits",
    "pupils",
    "schools",
    "seminar_participants",
    "open_day_visitors",
    "parents_evening_attendance",
]
SchoolYear = Annotated[str, Meta(pattern=r"^\d{4}/\d{2}$")]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
Cell = str | int | float | None


class WorkPlanIn(Struct, forbid_unknown_fields=True):
    school_year: SchoolYear
    title: Title
    notes: Annotated[str, Meta(max_length=5000)] = ""


class PriorityIn(Struct, forbid_unknown_fields=True):
    title: Title
    description: Annotated[str, Meta(max_length=5000)] = ""
    position: Annotated[int, Meta(ge=0, le=1000)] = 0


class MilestoneIn(Struct, forbid_unknown_fields=True):
    title: Title
    due_on: date
    metric: Metric
    target: Annotated[int, Meta(ge=1, le=1_000_000)]
    owner: Annotated[str, Meta(max_length=64)] | None = None  # organisation slug; none: network
    priority_id: int | None = None
    event_ids: list[int] = []
    position: Annotated[int, Meta(ge=0, le=1000)] = 0


class PriorityPatch(Struct, forbid_unknown_fields=True):
    """Only the fields given change."""

    title: Title | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=5000)] | UnsetType = UNSET


class MilestonePatch(Struct, forbid_unknown_fields=True):
    """Only the fields given change; `owner` or `priority_id` null clears them."""

    title: Title | UnsetType = UNSET
    due_on: date | UnsetType = UNSET
    metric: Metric | UnsetType = UNSET
    target: Annotated[int, Meta(ge=1, le=1_000_000)] | UnsetType = UNSET
    owner: Annotated[str, Meta(max_length=64)] | UnsetType | None = UNSET
    priority_id: int | UnsetType | None = UNSET


class EventLinkIn(Struct, forbid_unknown_fields=True):
    event_id: int


class AttendanceIn(Struct, forbid_unknown_fields=True):
    attended: Annotated[int, Meta(ge=0, le=100_000)]


class MilestoneOut(Struct):
    id: int
    title: str
    priority_id: int | None
    owner: str | None  # slug; None: the network
    owner_name: str
    due_on: date
    metric: str
    target: int
    event_ids: list[int]
    # Figures; None where the viewer may not see them (another member's events).
    actual: int | None
    expected: int | None  # past, confirmed, attendance not yet recorded
    percent: float | None
    status: str  # achieved | open | missed | hidden


class PriorityOut(Struct):
    id: int
    title: str
    description: str
    position: int


class WorkPlanOut(Struct):
    id: int
    school_year: str
    title: str
    notes: str
    priorities: list[PriorityOut]
    milestones: list[MilestoneOut]


class ReportOut(Struct):
    """One table: the viewer's rows and, for members, one row of network totals."""

    name: str
    school_year: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    total: list[Cell] | None = None
