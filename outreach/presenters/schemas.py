"""Plain structs for presenter invitations, shared by the API, pages and services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

__all__ = ["AnswerIn", "EveningEdit", "InvitationOut", "InviteIn", "PresenterStatus"]

PresenterStatus = Literal["invited", "accepted", "declined", "withdrawn"]
Message = Annotated[str, Meta(max_length=2000)]
Slug = Annotated[str, Meta(min_length=1, max_length=64)]


class InviteIn(Struct, forbid_unknown_fields=True):
    """Firms (by slug) the hosting school invites to present at its parents' evening."""

    firms: Annotated[list[Slug], Meta(min_length=1, max_length=50)]
    message: Message = ""


class AnswerIn(Struct, forbid_unknown_fields=True):
    message: Message = ""


class InvitationOut(Struct):
    id: int
    event_id: int
    event_title: str
    school: str  # slug of the hosting school
    school_name: str
    firm: str  # slug
    firm_name: str
    status: PresenterStatus
    message: str
    answer: str
    starts_at: datetime | None  # the evening's first time, Europe/Berlin
    invited_at: datetime
    answered_at: datetime | None = None
    event_status: str = "published"


class EveningEdit(Struct, forbid_unknown_fields=True):
    """The hosting school's form for its evening: every field as it should be now.

    `venue_name` empty means the school's own address.
    """

    starts_at: datetime
    ends_at: datetime
    capacity: Annotated[int, Meta(ge=1, le=100_000)]
    title: Annotated[str, Meta(max_length=200)] = ""  # required: the service names it
    description: Annotated[str, Meta(max_length=10_000)] = ""
    venue_name: Annotated[str, Meta(max_length=200)] = ""
