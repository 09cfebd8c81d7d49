"""Structs of the booking engine: what a booker sends and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

__all__ = ["BookingOut", "BookingRequest", "PersonsIn", "ReasonIn"]

Count = Annotated[int, Meta(ge=0, le=1000)]


class BookingRequest(Struct, forbid_unknown_fields=True):
    """A class visit (class fields) or a public registration (name, email, persons)."""

    # Class visit: no pupil names, ever; counts, grade and a class label only.
    class_label: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    grade: Annotated[int, Meta(ge=1, le=13)] | None = None
    pupils: Count | None = None
    adults: Count | None = None
    contact_name: Annotated[str, Meta(max_length=200)] | None = None
    contact_email: Annotated[str, Meta(max_length=254)] | None = None
    notes: Annotated[str, Meta(max_length=2000)] = ""
    # Public registration.
    name: Annotated[str, Meta(max_length=200)] | None = None
    email: Annotated[str, Meta(max_length=254)] | None = None
    persons: Annotated[int, Meta(ge=1, le=1000)] | None = None
    language: Annotated[str, Meta(pattern="^(de|en|cs)$")] | None = None

    @property
    def is_class_visit(self) -> bool:
        return any(v is not None for v in (self.class_label, self.grade, self.pupils, self.adults))


class PersonsIn(Struct, forbid_unknown_fields=True):
    """A new party size: `persons` for a registration, `pupils`/`adults` for a class visit.

    For a class visit either count may be left out and stays as it is.
    """

    persons: Annotated[int, Meta(ge=1, le=1000)] | None = None
    pupils: Count | None = None
    adults: Count | None = None


class ReasonIn(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=2000)] = ""


class BookingOut(Struct):
    id: int
    slot_id: int
    event_id: int
    kind: str  # class_visit | registration
    status: str
    persons: int
    starts_at: datetime
    ends_at: datetime
    event_title: str
    host: str  # slug of the hosting organisation (the API's key; people read host_name)
    school: str | None  # slug, class visits only (people read school_name)
    class_label: str
    grade: int | None
    pupils: int
    adults: int
    contact_name: str
    contact_email: str
    notes: str
    reason: str
    waitlist_position: int | None
    created_at: datetime
    updated_at: datetime
    # The booker answered the reminder "we are coming"; hosts see who did not.
    reconfirmed_at: datetime | None = None
    # A public registration is held until then for the registrant to confirm the address.
    verify_by: datetime | None = None
    host_name: str = ""
    school_name: str | None = None
