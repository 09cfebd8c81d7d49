"""The feeds' VEVENT writer (`vevent_bytes`) gives the very bytes icalendar gives for the
same spec: property order, TEXT escaping, UTC times and folding at 75 octets (never
inside a UTF-8 sequence, never between a backslash and what it escapes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from outreach.calendar.ical import VEventSpec, build_vevent, vevent_bytes
from outreach.timeutil import LOCAL_TZ

# Text as people type it, with what iCalendar must escape or fold: umlauts, emoji,
# commas, semicolons, backslashes, carets, line breaks and control characters.
_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abc XYZ,;:\\^\"'\n\r\t\x01\x7fäöüßŽč€😀")),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=300,
)
_MOMENT = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, LOCAL_TZ]),
)


@st.composite
def specs(draw: st.DrawFn) -> VEventSpec:
    start = draw(_MOMENT)
    return VEventSpec(
        uid=draw(_TEXT),
        sequence=draw(st.integers(min_value=0, max_value=10**6)),
        stamp=draw(_MOMENT),
        start=start,
        end=start + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))),
        summary=draw(_TEXT),
        description=draw(_TEXT),
        location=draw(_TEXT),
        geo=draw(
            st.none()
            | st.tuples(
                st.floats(min_value=-90, max_value=90), st.floats(min_value=-180, max_value=180)
            )
        ),
        url=draw(st.sampled_from(["", "https://outreach.test/events/1?a=b,c;d"]) | _TEXT),
        status=draw(st.sampled_from(["CONFIRMED", "TENTATIVE", "CANCELLED"])),
        categories=tuple(draw(st.lists(_TEXT, max_size=3))),
        classification=draw(st.sampled_from([None, "PUBLIC", "PRIVATE"])),
        last_modified=draw(st.none() | _MOMENT),
        alarm_before=draw(
            st.none() | st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2))
        ),
        alarm_text=draw(_TEXT),
    )


@settings(max_examples=200, deadline=None)
@given(specs())
def test_same_bytes_as_icalendar(spec: VEventSpec) -> None:
    assert vevent_bytes(spec) == build_vevent(spec).to_ical()


def test_long_lines_fold_at_75_octets_and_read_back() -> None:
    text = "Schülerinnen und Schüler; Begleitpersonen, " * 8 + "\\" * 5 + "😀" * 30
    spec = VEventSpec(
        uid="slot-1@outreach.test",
        sequence=0,
        stamp=datetime(2027, 1, 4, 8, tzinfo=UTC),
        start=datetime(2027, 1, 4, 8, tzinfo=UTC),
        end=datetime(2027, 1, 4, 9, tzinfo=UTC),
        summary=text,
        description=text + "\n" + text,
    )
    body = vevent_bytes(spec)
    assert body == build_vevent(spec).to_ical()
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    body.decode("utf-8")  # no line cut inside a character
    calendar = Calendar.from_ical(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + body + b"END:VCALENDAR\r\n"
    )
    event = calendar.walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == text.strip()
    assert str(event["DESCRIPTION"]) == text.strip() + "\n" + text.strip()
