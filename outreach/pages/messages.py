"""Fixed messages of the services that pages show, marked here so they reach the catalogs.

Services speak English (`errors.DomainError.message`); a page shows `_(message)`, so a
fixed message translates when it is listed here. Messages with values in them (dates,
numbers, names) have no catalog entry and stay in English.
"""

from __future__ import annotations

__all__ = ["SERVICE_MESSAGES"]


def N_(message: str) -> str:  # the conventional name for "mark only"
    return message


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
    N_("the two passwords differ"),
    N_("password must have at least 10 characters"),
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
)
