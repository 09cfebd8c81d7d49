"""The planner's explanations as data, and their one rendering into words.

The planner says why nothing fits (or what it found) as a list of `Note`s: a message key
and its parameters. `render` turns them into sentences with a `Speaker` (a gettext and
an ngettext callable plus a date format): the API uses `ENGLISH` (the identity, dates
as dd.mm.yyyy, so its `explanation` text stays as it was), a page uses the request's
catalog and Babel dates. Every English sentence lives here, once; the msgids are in the
catalogs under outreach/locale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENGLISH", "REASON_LABELS", "Note", "Speaker", "render", "render_one"]

# Why a slot cannot take the class (`booking.eligibility.Reason` and the planner's own
# `outside_day`, `no_location`), as a short label for counts, in English.
REASON_LABELS = {
    "cancelled": "cancelled",
    "not_published": "not published yet",
    "no_booking": "for information only",
    "past": "already begun",
    "window_closed": "booking closed",
    "window_not_open": "booking not open yet",
    "public_holiday": "schools closed",
    "school_holiday": "schools closed",
    "wrong_grade": "not for this grade",
    "party_too_small": "group size not accepted",
    "party_too_large": "group size not accepted",
    "full": "not enough free places",
    "class_conflict": "the class has another visit then",
    "outside_day": "outside the school day",
    "no_location": "venue without coordinates",
}


@dataclass(frozen=True, slots=True)
class Note:
    """One sentence of an explanation: what to say (`key`) and the values in it."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Speaker:
    """How to put notes into words: a language's gettext, ngettext and dates."""

    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str]
    date: Callable[[dt.date], str]
    # The day a closure falls on (the API keeps the ISO date of holidays.Closure.message).
    closure_day: Callable[[dt.date], str]
    # A holiday's name from its German and English names (the API keeps the German one).
    holiday: Callable[[str, str], str] = lambda name, _name_en: name


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _ddmmyyyy(day: dt.date) -> str:
    return f"{day:%d.%m.%Y}"


ENGLISH = Speaker(
    gettext=lambda message: message,
    ngettext=_english_plural,
    date=_ddmmyyyy,
    closure_day=lambda day: day.isoformat(),
)


def render(notes: Iterable[Note], speaker: Speaker = ENGLISH) -> str:
    """The notes as one paragraph."""
    return " ".join(render_one(note, speaker) for note in notes)


def _dates(days: Sequence[dt.date], speaker: Speaker) -> str:
    return ", ".join(speaker.date(d) for d in days)


def _reasons(counts: Sequence[tuple[str, int]], speaker: Speaker) -> str:
    """ "2 not enough free places, 1 booking closed" (most frequent first)."""
    _ = speaker.gettext
    return ", ".join(
        _("%(n)s %(reason)s") % {"n": n, "reason": _(REASON_LABELS.get(r, r))} for r, n in counts
    )


def render_one(note: Note, speaker: Speaker = ENGLISH) -> str:
    """One note as a sentence in the speaker's language."""
    _, ngettext, p = speaker.gettext, speaker.ngettext, note.params
    match note.key:
        case "found":
            return ngettext(
                "%(n)s proposal on %(dates)s, best first: wanted firms, then your topics,"
                " then more visits, then the least waiting and travel.",
                "%(n)s proposals on %(dates)s, best first: wanted firms, then your topics,"
                " then more visits, then the least waiting and travel.",
                p["n"],
            ) % {"n": p["n"], "dates": _dates(p["dates"], speaker)}
        case "firm_no_slots":
            return _("%(name)s has no class-visit slots on the date(s) asked for.") % {
                "name": p["name"]
            }
        case "firm_refused":
            return _("%(name)s cannot take the class: %(reasons)s.") % {
                "name": p["name"],
                "reasons": _reasons(p["reasons"], speaker),
            }
        case "firm_no_fit":
            return _(
                "%(name)s's free slots do not fit together with the best proposal's other visits."
            ) % {"name": p["name"]}
        case "public_holiday":
            return _("%(day)s is a public holiday in %(region)s (%(name)s).") % {
                "day": speaker.closure_day(p["day"]),
                "region": _(p["region"]),
                "name": speaker.holiday(p["name"], p.get("name_en", p["name"])),
            }
        case "school_holiday":
            return _("%(day)s is in the school holidays in %(region)s (%(name)s, %(span)s).") % {
                "day": speaker.closure_day(p["day"]),
                "region": _(p["region"]),
                "name": speaker.holiday(p["name"], p.get("name_en", p["name"])),
                "span": p["span"],
            }
        case "school_holidays":
            return _("%(dates)s are in the school holidays in %(region)s (%(name)s, %(span)s).") % {
                "dates": _dates(p["days"], speaker),
                "region": _(p["region"]),
                "name": speaker.holiday(p["name"], p.get("name_en", p["name"])),
                "span": p["span"],
            }
        case "no_replacement":
            return _("No replacement fits.")
        case "no_day":
            return _("No day with %(n)s or more visits fits.") % {"n": p["visits"]}
        case "no_slots":
            return _("No class-visit slots on %(dates)s.") % {"dates": _dates(p["days"], speaker)}
        case "few_firms":
            values = {"day": speaker.date(p["day"]), "n": p["firms"], "persons": p["persons"]}
            if p["reasons"]:
                values["reasons"] = _reasons(p["reasons"], speaker)
                return (
                    ngettext(
                        "%(day)s: only %(n)s firm can take %(persons)s persons then"
                        " (other slots: %(reasons)s).",
                        "%(day)s: only %(n)s firms can take %(persons)s persons then"
                        " (other slots: %(reasons)s).",
                        p["firms"],
                    )
                    % values
                )
            return (
                ngettext(
                    "%(day)s: only %(n)s firm can take %(persons)s persons then.",
                    "%(day)s: only %(n)s firms can take %(persons)s persons then.",
                    p["firms"],
                )
                % values
            )
        case "no_fit":
            values = {
                "day": speaker.date(p["day"]),
                "firms": p["firms"],
                "visits": p["visits"],
                "arrive": p["arrive"],
                "leave": p["leave"],
                "lunch": p["lunch"],
            }
            if p["mode"] == "foot":
                if p["lunch"]:
                    text = _(
                        "%(day)s: %(firms)s firms have slots for the class, but no %(visits)s"
                        " of them fit between %(arrive)s and %(leave)s with the time walking"
                        " between the venues and a %(lunch)s-minute lunch break between"
                        " 11:00 and 14:00."
                    )
                else:
                    text = _(
                        "%(day)s: %(firms)s firms have slots for the class, but no %(visits)s"
                        " of them fit between %(arrive)s and %(leave)s with the time walking"
                        " between the venues."
                    )
            elif p["lunch"]:
                text = _(
                    "%(day)s: %(firms)s firms have slots for the class, but no %(visits)s"
                    " of them fit between %(arrive)s and %(leave)s with the time by bus"
                    " between the venues and a %(lunch)s-minute lunch break between"
                    " 11:00 and 14:00."
                )
            else:
                text = _(
                    "%(day)s: %(firms)s firms have slots for the class, but no %(visits)s"
                    " of them fit between %(arrive)s and %(leave)s with the time by bus"
                    " between the venues."
                )
            return text % values
        case "without_lunch":
            return _("Without the lunch break it would fit: %(hosts)s on %(day)s.") % {
                "hosts": p["hosts"],
                "day": speaker.date(p["day"]),
            }
        case "fewer_visits":
            return ngettext(
                "With %(n)s visit it fits: %(hosts)s on %(day)s.",
                "With %(n)s visits it fits: %(hosts)s on %(day)s.",
                p["visits"],
            ) % {"n": p["visits"], "hosts": p["hosts"], "day": speaker.date(p["day"])}
        case "smaller_group":
            return _(
                "A group of up to %(size)s persons (the class is %(persons)s) would fit on"
                " %(day)s: %(hosts)s. Split the class, or ask the firms for more places."
            ) % {
                "size": p["size"],
                "persons": p["persons"],
                "day": speaker.date(p["day"]),
                "hosts": p["hosts"],
            }
        case "other_date":
            return _("On %(day)s it would fit: %(hosts)s.") % {
                "day": speaker.date(p["day"]),
                "hosts": p["hosts"],
            }
    raise ValueError(f"unknown explanation key {note.key!r}")
