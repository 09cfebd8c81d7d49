"""The iCalendar primitives: VTIMEZONE by rule, escaping, folding, and a recurring event
whose every occurrence over a year must agree between ical.js, vobject and Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
import vobject

from outreach.calendar.ical import (
    CALENDAR_END,
    VEventSpec,
    build_vevent,
    calendar_head,
    clean_text,
    one_line,
    vevent_bytes,
)
from outreach.timeutil import LOCAL_TZ
from tests.feeds.parsers import icaljs_time, with_icaljs, with_recurring

STAMP = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _spec(**changes: object) -> VEventSpec:
    values: dict[str, object] = {
        "uid": "slot-1@outreach.test",
        "sequence": 0,
        "stamp": STAMP,
        "start": datetime(2027, 3, 28, 10, 0, tzinfo=LOCAL_TZ),
        "end": datetime(2027, 3, 28, 11, 30, tzinfo=LOCAL_TZ),
        "summary": "Führung",
    }
    values.update(changes)
    return VEventSpec(**values)  # type: ignore[arg-type]


def _feed(*specs: VEventSpec, with_timezone: bool = False) -> bytes:
    head = calendar_head("Test", with_timezone=with_timezone)
    return b"".join((head, *(vevent_bytes(s) for s in specs), CALENDAR_END))


def test_one_off_times_are_utc_and_need_no_vtimezone() -> None:
    """In the night summer time ends, 02:30 happens twice: UTC names each once."""
    first = datetime(2027, 10, 31, 2, 30, tzinfo=LOCAL_TZ)  # fold=0: summer time, 00:30Z
    ends = datetime(2027, 10, 31, 2, 45, fold=1, tzinfo=LOCAL_TZ)  # winter time, 01:45Z
    body = _feed(_spec(start=first, end=ends))
    assert b"DTSTART:20271031T003000Z\r\n" in body
    assert b"DTEND:20271031T014500Z\r\n" in body
    assert b"TZID" not in body and b"VTIMEZONE" not in body
    # Readers that follow X-WR-TIMEZONE would move UTC times to Berlin's wall clock.
    assert b"X-WR-TIMEZONE" not in body


def test_a_recurring_start_the_clock_shows_twice_is_refused() -> None:
    ambiguous = datetime(2027, 10, 31, 2, 30, tzinfo=LOCAL_TZ)
    rule = {"freq": "weekly", "count": 3}
    with pytest.raises(ValueError, match="twice or not at all"):
        vevent_bytes(_spec(start=ambiguous, end=ambiguous + timedelta(hours=2), rrule=rule))


def test_vtimezone_is_written_by_rule_not_by_a_list_of_dates() -> None:
    body = _feed(_spec(), with_timezone=True)
    tz = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")
    assert [str(t["TZID"]) for t in tz] == ["Europe/Berlin"]
    assert b"RDATE" not in body  # ical.js reads only the first value of a multi-valued RDATE
    rules = {c.name: c["RRULE"].to_ical() for c in tz[0].subcomponents}
    assert rules == {
        "DAYLIGHT": b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "STANDARD": b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
    }
    # The VTIMEZONE alone (not Python's zone database) gives Berlin's offsets.
    zone = tz[0].to_tz()
    assert datetime(2027, 3, 28, 1, 0, tzinfo=zone).utcoffset() == timedelta(hours=1)
    assert datetime(2027, 3, 28, 3, 0, tzinfo=zone).utcoffset() == timedelta(hours=2)
    assert datetime(2027, 10, 31, 4, 0, tzinfo=zone).utcoffset() == timedelta(hours=1)


def test_calendar_properties() -> None:
    head = calendar_head(
        "Termine, Führungen; alles", source="https://x.example/feeds/public.ics"
    ).decode()
    for line in (
        "VERSION:2.0",
        "PRODID:-//Glashuette outreach//feeds//DE",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:Termine\\, Führungen\\; alles",
        "X-WR-CALNAME:Termine\\, Führungen\\; alles",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        "SOURCE;VALUE=URI:https://x.example/feeds/public.ics",
    ):
        assert line + "\r\n" in head, line


def test_text_is_cleaned_of_control_characters() -> None:
    assert one_line(" a\r\n b\tc\x00d\x1b\u2028e ") == "a b cd e"
    assert clean_text("a\r\nb\rc\x07") == "a\nb\nc"


def test_escaping_folding_and_unicode() -> None:
    title = "Uhren, Präzision; Technik \\ Čeština 🎉 " * 4
    body = _feed(_spec(summary=title, description="Zeile 1\nZeile 2, mit; Zeichen"))
    assert body.endswith(b"END:VCALENDAR\r\n")
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines:
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 75, line  # octets, continuation lines included
        line.decode("utf-8")  # folding never splits a multi-byte character
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == one_line(title)
    assert str(event["DESCRIPTION"]) == "Zeile 1\nZeile 2, mit; Zeichen"
    assert vobject.readOne(body.decode()).vevent.summary.value == one_line(title)


def test_a_title_cannot_inject_properties_or_components() -> None:
    evil = "Tour\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\nSUMMARY:pwned\rX-EVIL:1"
    body = _feed(_spec(summary=evil, location=evil, description=evil))
    calendar = icalendar.Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["UID"]) == "slot-1@outreach.test"
    # The words stay as escaped text inside one value; no line of the file starts with them.
    lines = body.split(b"\r\n")
    assert lines.count(b"BEGIN:VEVENT") == 1 and lines.count(b"END:VEVENT") == 1
    assert not [line for line in lines if line.startswith((b"X-EVIL", b"UID:evil"))]


def test_valarm_only_while_not_cancelled() -> None:
    alarm = {"alarm_before": timedelta(hours=1), "alarm_text": "Führung"}
    assert b"BEGIN:VALARM" in vevent_bytes(_spec(**alarm))
    assert b"TRIGGER:-PT1H" in vevent_bytes(_spec(**alarm))
    cancelled = vevent_bytes(_spec(status="CANCELLED", **alarm))
    assert b"BEGIN:VALARM" not in cancelled
    assert b"STATUS:CANCELLED" in cancelled and b"TRANSP:TRANSPARENT" in cancelled


def test_same_spec_same_bytes() -> None:
    assert vevent_bytes(_spec(geo=(50.85, 13.78))) == vevent_bytes(_spec(geo=(50.85, 13.78)))


def test_every_occurrence_of_a_weekly_event_agrees_across_parsers(icaljs: Path) -> None:
    """Weekly for a year, across both DST changes, through the feeds' own helpers."""
    first = datetime(2027, 1, 5, 9, 0, tzinfo=LOCAL_TZ)  # a Tuesday, winter time
    until = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)  # UTC, else written floating
    spec = _spec(
        uid="weekly@outreach.test",
        start=first,
        end=first + timedelta(minutes=90),
        rrule={"freq": "weekly", "until": until},
    )
    assert b"RRULE:FREQ=WEEKLY;UNTIL=20271231T230000Z" in vevent_bytes(spec)
    # A series follows the wall clock: it alone keeps the TZID and needs the VTIMEZONE.
    assert b"DTSTART;TZID=Europe/Berlin:20270105T090000" in vevent_bytes(spec)
    body = _feed(spec, with_timezone=True)

    python = sorted(
        (e.start, e.end)
        for e in with_recurring(
            body, datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
        )
    )
    vevent = vobject.readOne(body.decode()).vevent
    rule = vevent.getrruleset()  # expanded with vobject's zone built from our VTIMEZONE
    by_vobject = sorted(
        (start.astimezone(UTC), (start + timedelta(minutes=90)).astimezone(UTC)) for start in rule
    )
    (event,) = with_icaljs(body, until=datetime(2028, 1, 1, tzinfo=UTC))
    assert event["zoneFromFeed"] is True
    by_icaljs = sorted(
        (icaljs_time(o["start"]), icaljs_time(o["end"])) for o in event["occurrences"]
    )

    assert len(python) == 52
    assert python == by_icaljs == by_vobject
    # And all three are right: every visit at 09:00 in Glashütte, summer or winter.
    assert {s.astimezone(LOCAL_TZ).time().isoformat() for s, _ in python} == {"09:00:00"}
    offsets = {s.astimezone(LOCAL_TZ).utcoffset() for s, _ in python}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_build_vevent_is_shared_with_the_mail_invitations() -> None:
    from outreach.notifications import itip

    assert itip.build_vevent is build_vevent
    event = build_vevent(_spec(status="CANCELLED"))
    assert str(event["STATUS"]) == "CANCELLED" and str(event["TRANSP"]) == "TRANSPARENT"
