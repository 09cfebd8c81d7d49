"""Plain structs for events and slots, shared by the API, pages, CLI and services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "EventIn",
    "EventOut",
    "EventPatch",
    "SlotIn",
    "SlotOut",
    "SlotPatch",
    "VenueIn",
    "VenueOut",
]

EventKind = Literal["open_day", "factory_tour", "parents_evening", "teacher_training", "other"]
Visibility = Literal["public", "network"]
BookingMode = Literal["none", "auto", "approval"]
EventStatus = Literal["draft", "published", "cancelled"]
Audience = Literal["pupils", "parents", "teachers", "public"]
Grade = Annotated[int, Meta(ge=1, le=13)]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=10_000)]
Short = Annotated[str, Meta(max_length=200)]
Persons = Annotated[int, Meta(ge=1, le=10_000)]
Topic = Annotated[str, Meta(min_length=1, max_length=64)]
ReminderDay = Annotated[int, Meta(ge=0, le=60)]


class VenueIn(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    street: Short = ""
    postal_code: Annotated[str, Meta(max_length=16)] = ""
    city: Annotated[str, Meta(max_length=100)] = ""
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, Meta(ge=-180, le=180)] | None = None


class VenueOut(Struct):
    name: str
    street: str
    postal_code: str
    city: str
    lat: float | None
    lon: float | None


class EventIn(Struct, forbid_unknown_fields=True):
    kind: EventKind
    title: Title
    description: Text = ""
    host: Annotated[str, Meta(max_length=64)] | None = None  # slug; the network office only
    venue: VenueIn | None = None  # default: the host's own address
    grades: list[Grade] = msgspec.field(default_factory=list)
    audience: list[Audience] = msgspec.field(default_factory=list)
    topics: Annotated[list[Topic], Meta(max_length=20)] = msgspec.field(default_factory=list)
    visibility: Visibility = "public"
    booking_mode: BookingMode = "auto"
    waitlist: bool = True
    status: Literal["draft", "published"] = "draft"
    reminder_days: Annotated[list[ReminderDay], Meta(max_length=5)] | None = None


class EventPatch(Struct, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    venue: VenueIn | UnsetType = UNSET
    grades: list[Grade] | UnsetType = UNSET
    audience: list[Audience] | UnsetType = UNSET
    topics: Annotated[list[Topic], Meta(max_length=20)] | UnsetType = UNSET
    visibility: Visibility | UnsetType = UNSET
    booking_mode: BookingMode | UnsetType = UNSET
    waitlist: bool | UnsetType = UNSET
    status: Literal["draft", "published"] | UnsetType = UNSET
    reminder_days: Annotated[list[ReminderDay], Meta(max_length=5)] | UnsetType = UNSET


class SlotIn(Struct, forbid_unknown_fields=True):
    starts_at: datetime
    ends_at: datetime
    capacity: Persons
    min_party: Persons = 1
    max_party: Annotated[int, Meta(ge=0, le=10_000)] = 0  # 0: up to the capacity
    booking_opens_at: datetime | None = None
    booking_closes_at: datetime | None = None  # default: 48 hours before the start


class SlotPatch(Struct, forbid_unknown_fields=True):
    starts_at: datetime | UnsetType = UNSET
    ends_at: datetime | UnsetType = UNSET
    capacity: Persons | UnsetType = UNSET


class SlotOut(Struct):
    id: int
    event_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    available: int
    min_party: int
    max_party: int
    booking_opens_at: datetime | None
    booking_closes_at: datetime | None
    cancelled: bool
    bookable: bool  # the window is open, places are free (or a waiting list) and it has not begun


class EventOut(Struct):
    id: int
    kind: str
    title: str
    description: str
    host: str  # slug
    host_name: str
    venue: VenueOut | None
    grades: list[int]
    audience: list[str]
    topics: list[str]
    visibility: str
    status: str
    booking_mode: str
    waitlist: bool
    reminder_days: list[int]
    slots: list[SlotOut]
    url: str
