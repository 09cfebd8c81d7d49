"""iCalendar primitives shared by the feeds and the mail invitations (`notifications.itip`).

One VEVENT builder for the whole project, so that a feed entry and an invitation for
the same visit look alike to a calendar client. `icalendar` does the escaping, CRLF
line ends and folding at 75 octets; this module only cleans what it is given (no
control characters) and fixes the order of properties, so that the same input always
gives the same bytes.

Instants are written in UTC (`DTSTART:20271031T003000Z`, RFC 5545 3.3.5 form #2), not
as Berlin wall time with a TZID: in the night summer time ends, 02:30 happens twice,
and `TZID=Europe/Berlin:20271031T023000` names only the first of them (RFC 5545 says
so; ical.js, and so Thunderbird, reads the second). A UTC time names one instant for
every reader; the clients show it in their own zone, which for our readers is Berlin.
Only a recurring event (`VEventSpec.rrule`, used by no feed today) needs wall time,
since "every Tuesday at 09:00" must follow the clock across the changes: it keeps the
TZID and the VTIMEZONE, and refuses a start the wall clock cannot name once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vDuration,
    vText,
)

from outreach.timeutil import LOCAL_TZ, as_utc, local

__all__ = [
    "CALENDAR_END",
    "PRODID",
    "VEventSpec",
    "berlin_vtimezone",
    "build_vevent",
    "calendar_head",
    "clean_text",
    "one_line",
    "vevent_bytes",
]

PRODID = "-//Glashuette outreach//feeds//DE"
CALENDAR_END = b"END:VCALENDAR\r\n"
# C0 controls and DEL are not allowed in iCalendar TEXT (RFC 5545, 3.3.11); \n and \t
# are handled separately (escaped, or folded into spaces).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def one_line(value: str) -> str:
    """A single line: any run of whitespace (CR, LF, tabs, U+2028...) becomes one space."""
    return " ".join(_CONTROL.sub("", value).split())


def clean_text(value: str) -> str:
    """Multi-line text with LF line ends only; icalendar escapes them as \\n."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def berlin_vtimezone() -> Timezone:
    """Europe/Berlin by its rule (EU summer time since 1996) rather than a list of dates.

    icalendar's generated VTIMEZONE lists transitions as one multi-valued RDATE, which
    some clients (ical.js) read only the first value of; the RRULE form is what
    Outlook and Thunderbird write themselves.
    """
    tz = Timezone()
    tz.add("tzid", str(LOCAL_TZ))
    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1SU"})
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1SU"})
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


@dataclass(frozen=True, slots=True)
class VEventSpec:
    """Everything one VEVENT says; times are aware instants, written in UTC."""

    uid: str
    sequence: int
    stamp: datetime
    start: datetime | date  # a date: an all-day entry, `end` the day after the last
    end: datetime | date
    summary: str
    description: str = ""
    location: str = ""
    geo: tuple[float, float] | None = None
    url: str = ""
    status: str = "CONFIRMED"  # CONFIRMED, TENTATIVE or CANCELLED
    categories: tuple[str, ...] = ()
    classification: str | None = None  # PUBLIC or PRIVATE
    last_modified: datetime | None = None
    # A display reminder this long before the start (none for cancelled entries).
    alarm_before: timedelta | None = None
    alarm_text: str = ""
    # Recurrence, e.g. {"freq": "weekly", "until": <UTC datetime>}: `until` must be UTC,
    # else icalendar writes it floating.
    rrule: Mapping[str, Any] | None = None


def build_vevent(spec: VEventSpec) -> Event:
    """The VEVENT of `spec`; callers may add properties (ORGANIZER, ATTENDEE) after it."""
    cancelled = spec.status == "CANCELLED"
    event = Event()
    event.add("uid", one_line(spec.uid))
    event.add("sequence", spec.sequence)
    event.add("dtstamp", as_utc(spec.stamp))
    if not isinstance(spec.start, datetime):
        # An all-day entry (an internship): DTSTART;VALUE=DATE, DTEND the day after.
        event.add("dtstart", spec.start)
        event.add("dtend", spec.end)
    elif spec.rrule:
        # A series follows the wall clock: local time with the TZID (see the docstring).
        event.add("dtstart", _wall_time(spec.start))
        event.add("dtend", local(spec.end))
        event.add("rrule", dict(spec.rrule))
    else:
        # UTC: one instant for every reader, in the repeated autumn hour too.
        event.add("dtstart", as_utc(spec.start))
        event.add("dtend", as_utc(spec.end))
    event.add("summary", one_line(spec.summary))
    if spec.location:
        event.add("location", one_line(spec.location))
    if spec.geo is not None:
        event.add("geo", spec.geo)
    if spec.description:
        event.add("description", clean_text(spec.description))
    if spec.url:
        event.add("url", one_line(spec.url))
    event.add("status", spec.status)
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if spec.categories:
        event.add("categories", [one_line(c) for c in spec.categories])
    if spec.classification:
        event.add("class", spec.classification)
    if spec.last_modified is not None:
        event.add("last-modified", as_utc(spec.last_modified))
    if spec.alarm_before is not None and not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -spec.alarm_before)
        alarm.add("description", one_line(spec.alarm_text or spec.summary))
        event.add_component(alarm)
    return event


def _wall_time(moment: datetime) -> datetime:
    """Berlin wall time that names `moment` and nothing else, for a recurring start."""
    wall = local(moment)
    naive = wall.replace(tzinfo=None)
    if any(
        naive.replace(tzinfo=LOCAL_TZ, fold=fold).astimezone(UTC) != wall.astimezone(UTC)
        for fold in (0, 1)
    ):
        raise ValueError(f"{wall.isoformat()} is a wall time that occurs twice or not at all")
    return wall


def vevent_bytes(spec: VEventSpec) -> bytes:
    """One VEVENT as folded, CRLF-terminated bytes: a piece a feed is joined from.

    Written directly, not through `icalendar`'s objects (about 2.5 ms a piece, most
    of a 10,000-slot feed's cold build): the same bytes as `build_vevent(spec).to_ical()`
    (same property order, escaping and folding; `tests/calendar/test_fast_vevent.py`
    compares the two on generated specs). A series (`rrule`) still goes through
    `icalendar`, which writes its VTIMEZONE-bound wall times, and so does an all-day
    entry (an internship: a few per feed).
    """
    if spec.rrule or not isinstance(spec.start, datetime):
        return build_vevent(spec).to_ical()  # a series, or an all-day entry
    cancelled = spec.status == "CANCELLED"
    # icalendar's order: SUMMARY DTSTART DTEND DTSTAMP UID SEQUENCE, then by name.
    lines = [
        "BEGIN:VEVENT",
        "SUMMARY:" + _text(one_line(spec.summary)),
        "DTSTART:" + _utc_text(spec.start),
        "DTEND:" + _utc_text(spec.end),
        "DTSTAMP:" + _utc_text(spec.stamp),
        "UID:" + _text(one_line(spec.uid)),
        f"SEQUENCE:{int(spec.sequence)}",
    ]
    if spec.categories:
        lines.append("CATEGORIES:" + ",".join(_text(one_line(c)) for c in spec.categories))
    if spec.classification:
        lines.append("CLASS:" + _text(spec.classification))
    if spec.description:
        lines.append("DESCRIPTION:" + _text(clean_text(spec.description)))
    if spec.geo is not None:
        lines.append(f"GEO:{float(spec.geo[0])};{float(spec.geo[1])}")
    if spec.last_modified is not None:
        lines.append("LAST-MODIFIED:" + _utc_text(spec.last_modified))
    if spec.location:
        lines.append("LOCATION:" + _text(one_line(spec.location)))
    lines.append("STATUS:" + _text(spec.status))
    lines.append("TRANSP:" + ("TRANSPARENT" if cancelled else "OPAQUE"))
    if spec.url:
        lines.append("URL:" + one_line(spec.url))  # a URI: not escaped as TEXT
    if spec.alarm_before is not None and not cancelled:
        lines.append("BEGIN:VALARM")
        lines.append("ACTION:DISPLAY")
        lines.append("DESCRIPTION:" + _text(one_line(spec.alarm_text or spec.summary)))
        lines.append("TRIGGER:" + _duration_text(-spec.alarm_before))
        lines.append("END:VALARM")
    lines.append("END:VEVENT")
    return b"".join(_folded(line.encode()) for line in lines)


def _text(value: str) -> str:
    """TEXT escaping (RFC 5545 3.3.11) exactly as icalendar writes it."""
    return (
        value.replace(r"\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", r"\;")
        .replace(",", r"\,")
        .replace("\r\n", r"\n")
        .replace("\n", r"\n")
        .replace("\r", r"\n")
    )


def _utc_text(moment: datetime) -> str:
    m = as_utc(moment)
    return f"{m.year:04}{m.month:02}{m.day:02}T{m.hour:02}{m.minute:02}{m.second:02}Z"


@functools.lru_cache(maxsize=64)
def _duration_text(value: timedelta) -> str:
    return vDuration(value).to_ical().decode()


_FOLD_OCTETS = 74  # a content line's octets before a fold (RFC 5545 3.1: at most 75)


def _folded(line: bytes) -> bytes:
    """One content line, folded as icalendar folds it, CRLF-terminated.

    At most 74 octets a line, never inside a UTF-8 sequence, and a backslash or caret
    that would end a line moves to the next one with what it escapes.
    """
    size = len(line)
    if size <= _FOLD_OCTETS:
        return line + b"\r\n"
    parts = []
    start = 0
    while size - start > _FOLD_OCTETS:
        end = start + _FOLD_OCTETS
        while line[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its char
            end -= 1
        if end - start > 1 and line[end - 1] in b"\\^":
            end -= 1
        parts.append(line[start:end])
        start = end
    parts.append(line[start:])
    return b"\r\n ".join(parts) + b"\r\n"


@functools.lru_cache(maxsize=4096)
def calendar_head(
    name: str,
    *,
    refresh: timedelta = timedelta(hours=1),
    source: str | None = None,
    description: str = "",
    with_timezone: bool = False,
) -> bytes:
    """Everything of a feed before its first VEVENT: properties (and a VTIMEZONE only
    `with_timezone`, for recurring events: every other time is written in UTC).

    RFC 7986 NAME and REFRESH-INTERVAL, and the X-WR-* / X-PUBLISHED-TTL names that
    Apple, Google and Outlook still read instead. No X-WR-TIMEZONE: readers that follow
    Google's reading of it (recurring-ical-events, through x-wr-timezone) move every
    UTC time to that zone's wall clock, which puts the second pass of the repeated
    autumn hour on its first; clients show UTC times in their own zone anyway.

    Kept per arguments (the same few heads are asked for on every publish: icalendar
    took ~1 ms to write one): bytes, so a caller cannot change a kept one.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # vText and vDuration by hand: icalendar does not know these names' types and would
    # write NAME's commas unescaped and X-PUBLISHED-TTL as "1:00:00".
    calendar.add("name", vText(one_line(name)))
    calendar.add("x-wr-calname", vText(one_line(name)))
    if description:
        calendar.add("description", vText(clean_text(description)))
        calendar.add("x-wr-caldesc", vText(clean_text(description)))
    calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    if source:
        calendar.add("source", source, parameters={"VALUE": "URI"})
    if with_timezone:
        calendar.add_component(berlin_vtimezone())
    text = calendar.to_ical()
    assert text.endswith(CALENDAR_END)
    return text[: -len(CALENDAR_END)]
