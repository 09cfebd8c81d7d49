"""The services' refusals as a page says them, in the reader's language.

A refusal with a reason code (`errors.DomainError.reason`) is said from the catalogue
(`outreach.reasons.TEXTS`): its sentence translated by the catalogs, its parameters
(figures, dates, names) formatted by Babel for the language, so "at most 30 persons,
not 502" reaches a German or Czech page in German or Czech. Fixed messages without a
code are listed in `SERVICE_MESSAGES`, so they reach the catalogs too; a page shows
`_(message)` for those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from outreach.catalogs import reason_text
from outreach.pages.i18n import N_, context_locale

__all__ = ["SERVICE_MESSAGES", "install", "reason_text"]


@pass_context
def _refusal(context: Context, reason: str, params: Mapping[str, Any] | None = None) -> str:
    return reason_text(reason, params or {}, context_locale(context))


def install(environment: Any) -> None:
    """`refusal(reason, params)` for the templates: a reason's sentence in the page's language."""
    environment.globals["refusal"] = _refusal


SERVICE_MESSAGES = (
    # The error pages' titles (common._TITLES).
    N_("The request could not be read"),
    N_("You may not do this"),
    N_("Page not found"),
    N_("This does not work that way"),
    N_("This cannot be done now"),
    N_("Please check your input"),
    N_("Something went wrong"),
    N_("Error"),
    N_("name is required"),
    N_("email is required"),
    N_("persons is required"),
    N_("choose a time"),
    N_("choose keep or cancel"),
    N_("class_label must not be blank"),
    N_("class_label is required for a class visit"),
    N_("grade is required for a class visit"),
    N_("pupils is required for a class visit"),
    N_("pupils must be at least 1"),
    N_("give the day and the start time"),
    N_("give the end time"),
    N_("give the first day"),
    N_("give the last day"),
    N_("ends_at must be after starts_at"),
    N_("starts_at must be in the future"),
    N_("a slot cannot move into the past"),
    N_("min_party must not exceed the capacity"),
    N_("max_party must be at least min_party"),
    N_("max_party must not exceed the capacity"),
    N_("choose at least one weekday"),
    N_("give at least one start time"),
    N_("times must look like 09:00, 13:00"),
    N_("the last day must not be before the first day"),
    N_("the series has no day to create a slot on"),
    N_("a series spans at most one year"),
    N_("grades must be numbers between 1 and 13, e.g. 8, 9, 10"),
    N_("host is required: the slug of the hosting organisation"),
    N_("schools host parents' evenings only"),
    N_("a user with this e-mail address exists"),
    N_("name must not be empty"),
    N_("this link is not valid (any more)"),
    N_("a cancelled event cannot be changed"),
    N_("the event is already cancelled"),
    N_("a cancelled slot cannot be changed"),
    N_("reason must be at most 2000 characters"),
    N_("sign in as a teacher to book a class visit"),
    N_("class visits are booked by teachers for their own school"),
    N_("this event takes registrations, not class visits: send name, email and persons"),
    N_("this event takes class visits: send class_label, grade, pupils and adults"),
    N_("seminars are for teachers of the network's schools"),
    N_("sign in as a teacher to register for a seminar"),
    # Slots, dates, the planner, accounts and parents' evenings.
    N_("a slot lasts at most 14 days"),
    N_("booking_closes_at must not be after starts_at"),
    N_("booking_opens_at must be before booking_closes_at"),
    N_("a slot lasts between 5 minutes and 14 days"),
    N_("capacity must be between 1 and 10000"),
    N_("capacity must be at least min_party"),
    N_("date (or dates) is required"),
    N_("dates must be before the year 9999"),
    N_("leave_by must be after arrive_at"),
    N_("min_visits must not exceed max_visits"),
    N_("grade must be between 1 and 13"),
    N_("year must be a school year like 2026/27"),
    N_("the password is wrong"),
    N_("confirm must be your account's e-mail address"),
    N_("confirm the deletion"),
    N_("you cannot deactivate yourself"),
    N_("a deleted account cannot be reactivated"),
    N_("name must be at most 200 characters"),
    N_("you cannot take the network office role from yourself"),
    N_("the user is deactivated; reactivate them first"),
    N_("this person has set a password; they can reset it themselves"),
    N_("choose at least one firm"),
    N_("message must be at most 2000 characters"),
    N_("title is required"),
    N_("attended must be 0 (nobody came) or more"),
)
