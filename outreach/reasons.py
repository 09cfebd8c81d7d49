"""The catalogue of refusals: one sentence per stable reason code, with its figures.

Every `reason` a service raises (`errors.DomainError.reason`) has its sentence here,
written in English with named parameters (`%(max)s`); the sentence is the msgid the
catalogs under `outreach/locale` translate into German and Czech. The API answers the
code, the field, the parameters and the sentence in English; a page says the sentence
in the reader's language with the same parameters (`pages/messages.py`), so figures,
dates and names reach every language.

Parameters are plain values: numbers, strings, dates, instants (UTC, shown in
Europe/Berlin), and tuples of those. A string parameter `x` may come with `x_en`, its
English form (a holiday's German name and its English one); pages in other languages
than German show that form.

This module sits below everything (it imports nothing of outreach), so `errors` can
build a message from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["TEXTS", "english", "json_params"]

_BERLIN = ZoneInfo("Europe/Berlin")


def N_(message: str) -> str:  # mark for the catalogs only
    return message


TEXTS: dict[str, str] = {
    # Can this party take this slot (booking.eligibility.Reason), in the order checked.
    "cancelled": N_("This time has been cancelled."),
    "not_published": N_("This event is not published yet."),
    "no_booking": N_("This event is for information only and takes no bookings."),
    "past": N_("This time began on %(starts_at)s and can no longer be booked."),
    "window_closed": N_("Booking for this time closed on %(closes_at)s."),
    "window_not_open": N_("Booking for this time opens on %(opens_at)s."),
    "public_holiday": N_("%(day)s is a public holiday (%(holiday)s): schools are closed."),
    "school_holiday": N_(
        "%(day)s is in the school holidays (%(holiday)s, %(first_day)s to %(last_day)s):"
        " schools are closed."
    ),
    "wrong_grade": N_("This event is for grades %(grades)s, not for grade %(grade)s."),
    "party_too_small": N_(
        "A booking in this time needs at least %(min)s persons, not %(persons)s."
    ),
    "party_too_large": N_("A booking in this time takes at most %(max)s persons, not %(persons)s."),
    "full": N_("This time has %(free)s free places, not enough for %(persons)s."),
    "class_conflict": N_(
        "Class %(label)s already has a visit at %(starts_at)s that overlaps this time."
    ),
    # Changing bookings.
    "not_enough_places": N_("Only %(free)s more places are free in this time."),
    "link_invalid": N_("This link is not valid (any more)."),
    "not_an_instant": N_(
        "A date and time with its offset is needed here (RFC 3339), e.g. 2027-03-01T08:00:00+01:00."
    ),
    "already_registered": N_("This e-mail address is already registered for this time."),
    "wrong_status": N_("This booking cannot be changed in its current state."),
    "started": N_("The visit has begun and can no longer be changed."),
    "unverified": N_("The registrant has not confirmed the e-mail address yet."),
    "expired": N_("The time to confirm has passed; the places are free again."),
    "key_reused": N_("This form was already sent. Please reload the page."),
    "not_started": N_("Attendance can be recorded once the event has begun."),
    "above_booked": N_(
        "At most %(max)s persons can have come: %(booked)s booked and %(slack)s more."
    ),
    # Events and slots.
    "event_cancelled": N_("This event is cancelled."),
    "slot_cancelled": N_("This time has been cancelled."),
    "below_booked": N_("The capacity cannot be lower than the %(booked)s persons already booked."),
    "has_bookings": N_("An event with bookings cannot go back to draft; cancel it instead."),
    "series_too_long": N_(
        "A series creates at most %(max)s times; this one would create %(count)s."
    ),
    # Class days.
    "unavailable": N_("This time no longer fits the day: pick one of the replacements shown."),
    # Parents' evenings and their presenters.
    "not_evening": N_("Only parents' evenings have presenters."),
    "evening_over": N_("This parents' evening is over."),
    "withdrawn": N_("The school has withdrawn this invitation."),
    "declined": N_("This invitation was declined."),
    # Organisations, accounts and passwords.
    "slug_format": N_(
        "The short name (slug) must be 1 to %(max)s lower-case letters, digits or hyphens,"
        " not starting or ending with a hyphen."
    ),
    "slug_taken": N_("An organisation with the short name %(slug)s exists."),
    "out_of_range": N_("This value must be between %(min)s and %(max)s."),
    "password_too_short": N_("The password must have at least %(min)s characters."),
    "password_too_long": N_("The password must have at most %(max)s characters."),
    "passwords_differ": N_("The two passwords differ."),
    # `role` and `kind` are codes (school, firm): the API's words, not the sentence's.
    "needs_organisation": N_("This role needs the organisation the person belongs to."),
    "organisation_kind": N_(
        "%(slug)s is not an organisation of the kind this role belongs to (a firm for firm"
        " coordinators, a school for teachers)."
    ),
    "last_admin": N_("The last network office account cannot be deleted."),
    "last_admin_active": N_("The last network office account cannot be deactivated."),
    # Dates and the work plan.
    "too_many_dates": N_("At most %(max)s dates at a time."),
    "outside_school_year": N_("The date must lie in the school year %(school_year)s."),
    "exists": N_("There is a work plan for %(school_year)s already."),
    # A request body refused before it is read (hardening.BoundedRequest).
    "too_deep": N_("The JSON body is nested too deeply (at most %(max)s levels)."),
    # Form input a page could not read.
    "format": N_("Please check this value."),
    "required": N_("Please fill in this field."),
    # Values a service does not know or that do not go together. The field names which
    # value (kind, role, language, pupils): the sentence does not repeat the API's code.
    "not_one_of": N_("Please choose one of: %(choices)s."),
    "unknown_firm": N_("There is no member firm %(slug)s."),
    "unknown_organisation": N_("There is no firm or school %(slug)s."),
    "not_for_registration": N_("This value does not belong to a registration."),
    "not_for_class_visit": N_("This value does not belong to a class visit."),
    "required_for_class_visit": N_("This value is required for a class visit."),
    "invalid_email": N_("This is not a valid e-mail address."),
    "needs_offset": N_("The time must include a time zone offset, e.g. +01:00."),
    "local_time_format": N_("The time must look like 09:30."),
    # The class day planner: the way between two visits.
    "walk_too_long": N_(
        "On foot, the way from %(origin)s to %(destination)s takes %(minutes)s minutes"
        " (buffer included), but there are only %(gap)s minutes between the visits."
    ),
    "bus_too_long": N_(
        "By bus, the way from %(origin)s to %(destination)s takes %(minutes)s minutes"
        " (buffer included), but there are only %(gap)s minutes between the visits."
    ),
    # Internship placements (outreach.internships): refusals.
    "in_the_past": N_("This date lies in the past; the earliest is %(today)s."),
    "ends_before_starts": N_("The last day cannot be before the first day, %(starts_on)s."),
    "too_many_wishes": N_("At most %(max)s wishes per pupil."),
    "unknown_offer_period": N_("There is no published internship offer with period %(id)s."),
    "wish_does_not_fit": N_(
        "Internship period %(id)s does not fit this class (grade %(grade)s, %(starts_on)s to"
        " %(ends_on)s)."
    ),
    "duplicate_code": N_("The code %(code)s is given twice in this class."),
    "duplicate_wish": N_("Internship period %(id)s is wished twice."),
    "wishes_closed": N_("Wishes could be changed until %(wishes_until)s."),
    "class_in_round": N_("This class was placed in a confirmed round already."),
    "round_status": N_("This round is %(status)s; only a preview can be confirmed or discarded."),
    "over_capacity": N_(
        "Internship period %(id)s has %(free)s free places left, fewer than the %(placed)s"
        " pupils placed there."
    ),
    "placement_status": N_("This placement is %(status)s and cannot be changed like this."),
    "internship_not_over": N_("Attendance can be recorded from the last day, %(ends_on)s."),
    "above_working_days": N_("The internship has %(max)s working days."),
    # Internship placements: why a pupil was placed where, or not (allocation outcomes).
    "first_wish": N_("First wish."),
    "second_wish": N_("Second wish: the first had %(places)s places for %(wishes)s wishes."),
    "third_wish": N_(
        "Third wish: the first had %(places)s places for %(wishes)s wishes, the second was"
        " full too."
    ),
    "no_fitting_offer": N_(
        "Not placed: no offer for grade %(grade)s from %(starts_on)s to %(ends_on)s."
    ),
    "no_wishes": N_("Not placed: no wishes were given."),
    "wishes_full": N_("Not placed: every wished place was taken. Periods still free: %(free)s."),
    "next_in_line": N_("A place became free and went to the next wish in line."),
}


def _english(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value.astimezone(_BERLIN):%d.%m.%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, (tuple, list, frozenset, set)):
        return ", ".join(_english(v) for v in value)
    return str(value)


def english(reason: str, params: Mapping[str, Any]) -> str:
    """The reason's sentence in English, its parameters filled in (the API's message)."""
    return TEXTS[reason] % {key: _english(value) for key, value in params.items()}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(_BERLIN).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list, frozenset, set)):
        return [_json(v) for v in value]
    return value


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as the API answers them: instants in Europe/Berlin, RFC 3339."""
    return {key: _json(value) for key, value in params.items()}
