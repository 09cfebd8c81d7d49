"""The booking engine's checks: which fields a kind of event takes, who may act on a
booking, what overlaps a class visit, and whether a change comes too late.

The one rule of "can this party take this slot" lives in `booking.eligibility`; this
module holds what the engine checks around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.access import can_manage
from outreach.addresses import normalise_email
from outreach.booking.eligibility import (
    Busy,
    Party,
    SlotFacts,
    load_slots,
    refusal,
)
from outreach.booking.schemas import BookingRequest
from outreach.booking.tables import Booking
from outreach.db import for_update
from outreach.errors import Conflict, Forbidden, Invalid, Unauthorised
from outreach.events.tables import Event, Slot
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.reasons import english
from outreach.timeutil import utcnow

__all__ = [
    "ClassVisitSpan",
    "Obstacle",
    "class_visit_obstacles",
    "class_visits_overlapping",
]


CLASS_VISIT_KINDS = frozenset({"factory_tour", "open_day", "other"})

REGISTRATION_KINDS = frozenset({"open_day", "parents_evening", "teacher_training", "other"})

# Seminars are for teachers: a registration needs a signed-in member of a school.
TEACHER_ONLY_KINDS = frozenset({"teacher_training"})

OPEN_STATUSES = ("pending", "confirmed", "waitlisted")


async def _free_places(slot_id: int) -> int:
    row = await Slot.select(Slot.capacity, Slot.held).where(Slot.id == slot_id).first()
    return max(0, row["capacity"] - row["held"]) if row else 0


def _refuse(facts: SlotFacts, party: Party, now: datetime) -> None:
    found = refusal(facts, party, now)
    if found is not None:
        raise found.error()


def _reject_foreign_fields(req: BookingRequest, names: tuple[str, ...], reason: str) -> None:
    for name in names:
        if getattr(req, name) is not None:
            raise Invalid.because(reason, field=name)


async def _class_visit_fields(req: BookingRequest, by: Principal, event: Event) -> dict[str, Any]:
    if by.role != "school" or by.org_id is None:
        if not by.is_member:
            raise Unauthorised("sign in as a teacher to book a class visit")
        raise Forbidden("class visits are booked by teachers for their own school")
    if event.kind not in CLASS_VISIT_KINDS:
        raise Invalid(
            "this event takes registrations, not class visits: send name, email and persons",
            field="class_label",
        )
    _reject_foreign_fields(req, ("name", "email", "persons"), "not_for_class_visit")
    for name in ("class_label", "grade", "pupils", "adults"):
        if getattr(req, name) is None:
            raise Invalid.because("required_for_class_visit", field=name)
    label = " ".join(req.class_label.split())  # type: ignore[union-attr]
    if not label:
        raise Invalid("class_label must not be blank", field="class_label")
    if req.pupils == 0:
        raise Invalid("pupils must be at least 1", field="pupils")
    return {
        "kind": "class_visit",
        "school": by.org_id,
        "class_label": label,
        "grade": req.grade,
        "pupils": req.pupils,
        "adults": req.adults,
        "persons": req.pupils + req.adults,  # type: ignore[operator]
        "contact_name": (req.contact_name or "").strip(),
        "contact_email": normalise_email(
            req.contact_email or by.email or "", field="contact_email"
        ),
        "notes": req.notes,
    }


def _registration_fields(req: BookingRequest, by: Principal, event: Event) -> dict[str, Any]:
    if event.kind not in REGISTRATION_KINDS:
        raise Invalid(
            "this event takes class visits: send class_label, grade, pupils and adults",
            field="class_label",
        )
    if event.kind in TEACHER_ONLY_KINDS and by.role not in ("school", "admin"):
        if not by.is_member:
            raise Unauthorised("sign in as a teacher to register for a seminar")
        raise Forbidden("seminars are for teachers of the network's schools")
    _reject_foreign_fields(req, ("contact_name", "contact_email"), "not_for_registration")
    name = " ".join((req.name or "").split())
    if not name:
        raise Invalid("name is required", field="name")
    if req.persons is None:
        raise Invalid("persons is required", field="persons")
    email = req.email or by.email
    if not email:
        raise Invalid("email is required", field="email")
    return {
        "kind": "registration",
        "persons": req.persons,
        "contact_name": name,
        "contact_email": normalise_email(email, field="email"),
        "notes": req.notes,
        "school": by.org_id if by.role == "school" else None,
    }


@dataclass(frozen=True, slots=True)
class ClassVisitSpan:
    """An open class visit of a school: which class, when."""

    booking_id: int
    class_label: str
    starts_at: datetime
    ends_at: datetime


async def class_visits_overlapping(
    school_id: int | None, start: datetime, end: datetime
) -> list[ClassVisitSpan]:
    """The school's open class visits overlapping [start, end): one query.

    The one place that says which visits keep a class busy; the engine's clash check,
    the teacher's search and the day planner all ask here.
    """
    if school_id is None:
        return []
    rows = await Booking.select(
        Booking.id, Booking.class_label, Booking.slot.starts_at, Booking.slot.ends_at
    ).where(
        (Booking.school == school_id)
        & (Booking.kind == "class_visit")
        & Booking.status.is_in(list(OPEN_STATUSES))
        & (Booking.slot.starts_at < end)
        & (Booking.slot.ends_at > start)
    )
    return [
        ClassVisitSpan(r["id"], r["class_label"], r["slot.starts_at"], r["slot.ends_at"])
        for r in rows
    ]


async def _class_visits_of(school_id: int | None, label: str, slot: Slot) -> list[Busy]:
    """The class's open visits overlapping `slot`: one class, one place at a time."""
    # Serialise bookings of one school, so two overlapping requests cannot both pass.
    await for_update(Organisation.select(Organisation.id).where(Organisation.id == school_id))
    return [
        Busy(visit.starts_at, visit.ends_at)
        for visit in await class_visits_overlapping(school_id, slot.starts_at, slot.ends_at)
        if visit.class_label.casefold() == label.casefold()
    ]


def _is_booker(booking: Booking, by: Principal) -> bool:
    if by.user_id is not None and booking.booked_by == by.user_id:
        return True
    return by.role == "school" and booking.kind == "class_visit" and by.belongs_to(booking.school)


def _require_host(event: Event, by: Principal) -> None:
    if not can_manage(event, by):
        raise Forbidden("only the host and the network office confirm or decline bookings")


async def _refuse_if_started(booking: Booking, now: datetime | None = None) -> None:
    slot = await Slot.select(Slot.starts_at).where(Slot.id == booking.slot).first()
    if slot["starts_at"] <= (now or utcnow()):
        raise Conflict(
            "the visit has begun and can no longer be changed",
            field="booking",
            reason="started",
        )


# ---------------------------------------------------------------------------
# Before booking: what would stand in a class visit's way (shown, not enforced here;
# `place_booking` enforces the same rules when the form is sent).


@dataclass(frozen=True)
class Obstacle:
    """Why a slot does not suit a class: a `blocking` one is the refusal the booking engine
    would give (`eligibility.Reason`, its figures in `params`); `school_busy` only informs
    that other classes of the school have a visit then."""

    reason: str
    message: str
    blocking: bool
    closure: Any = None  # calendar.holidays.Closure for the holiday reasons
    other_classes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)


async def class_visit_obstacles(
    slot_ids: list[int],
    *,
    by: Principal,
    class_label: str | None = None,
    grade: int | None = None,
    now: datetime | None = None,
) -> dict[int, Obstacle]:
    """For a teacher: which of these slots a class visit would be refused for, and why."""
    if by.role != "school" or by.org_id is None or not slot_ids:
        return {}
    now = now or utcnow()
    facts = await load_slots(slot_ids)
    if not facts:
        return {}
    visits = await class_visits_overlapping(
        by.org_id,
        min(f.starts_at for f in facts.values()),
        max(f.ends_at for f in facts.values()),
    )
    label = " ".join((class_label or "").split())
    found: dict[int, Obstacle] = {}
    for slot_id, slot in facts.items():
        overlapping = [
            v for v in visits if v.starts_at < slot.ends_at and v.ends_at > slot.starts_at
        ]
        party = Party(
            class_visit=True,
            grade=grade,
            label=label or None,
            busy=[
                Busy(v.starts_at, v.ends_at)
                for v in overlapping
                if label and v.class_label.casefold() == label.casefold()
            ],
        )
        labels = tuple(sorted({v.class_label for v in overlapping}))
        no = refusal(slot, party, now)
        if no is not None:
            found[slot_id] = Obstacle(
                no.reason.value,
                english(no.reason, no.params),
                True,
                no.closure,
                labels,
                no.params,
            )
        elif labels:
            found[slot_id] = Obstacle(
                "school_busy",
                f"other classes of your school have a visit then: {', '.join(labels)}",
                False,
                other_classes=labels,
            )
    return found
