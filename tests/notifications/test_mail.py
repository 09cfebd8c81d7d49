"""The mails: language, headers, links and the iTIP invitation through a booking's life."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import pytest
from icalendar import Calendar

from outreach.config import Settings
from outreach.notifications import services
from outreach.notifications.mail import TEMPLATE_DIR
from outreach.notifications.texts import CATALOGUE
from outreach.outbox import services as outbox
from outreach.outbox.schemas import KINDS
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.notifications.helpers import (
    Booked,
    SmtpSink,
    calendar_of,
    make_booking,
    move_slot,
    set_booking,
    text_of,
)

N = Notification


async def _send(booked: Booked, kind: str, payload: dict | None = None, **extra: object) -> str:
    notification_id = await outbox.enqueue(
        kind,
        booking_id=booked.booking_id,
        recipient=str(extra.pop("recipient", booked.contact_email)),
        language=str(extra.pop("language", "de")),
        payload=payload or {},
        instant=utcnow() + timedelta(microseconds=next(_instants)),
    )
    assert notification_id is not None
    return await services.deliver(notification_id)


_instants = iter(range(1, 10**6))


def _event(calendar: Calendar):
    (event,) = calendar.walk("VEVENT")
    return event


async def test_confirm_move_cancel_keep_one_uid_with_rising_sequence(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(status="confirmed")
    assert await _send(booked, "booking.confirmed") == "sent"
    old_start, old_end = booked.starts_at, booked.ends_at
    booked = await move_slot(booked, booked.starts_at + timedelta(days=2, hours=1))
    moved = {"old_starts_at": old_start.isoformat(), "old_ends_at": old_end.isoformat()}
    assert await _send(booked, "slot.moved", moved) == "sent"
    await set_booking(booked, status="cancelled")
    assert await _send(booked, "booking.cancelled", {"by": "host", "reason": "Kurzarbeit"}) == (
        "sent"
    )

    parts = [calendar_of(m) for m in smtp_sink.messages]
    assert all(parts)
    methods = [p[0] for p in parts if p]
    calendars = [p[1] for p in parts if p]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert [str(c["METHOD"]) for c in calendars] == methods
    events = [_event(c) for c in calendars]
    assert {str(e["UID"]) for e in events} == {f"booking-{booked.booking_id}@outreach.test"}
    sequences = [int(e["SEQUENCE"]) for e in events]
    assert sequences == sorted(set(sequences)), sequences  # strictly rising
    assert str(events[2]["STATUS"]) == "CANCELLED"
    assert events[1].decoded("DTSTART") == booked.starts_at
    assert events[0].decoded("DTSTART") == old_start
    for message, calendar, event in zip(smtp_sink.messages, calendars, events, strict=True):
        # UTC instants: no TZID, no VTIMEZONE (see outreach.calendar.ical).
        assert "TZID" not in event["DTSTART"].params and not calendar.walk("VTIMEZONE")
        # ORGANIZER is the mail's sender, ATTENDEE its recipient (README, "Calendars").
        assert str(event["ORGANIZER"]) == f"mailto:{parseaddr(message['From'])[1]}"
        assert "Sender" not in message  # From is the sender: no "on behalf of"
        assert str(event["ATTENDEE"]) == f"mailto:{parseaddr(message['To'])[1]}"
        assert str(event["ATTENDEE"]) == f"mailto:{booked.contact_email}"
        assert parseaddr(str(message["Reply-To"]))[1] == "kontakt@uhrwerk.example"
        assert event.decoded("DTSTAMP").tzinfo is not None
    moved_text = text_of(smtp_sink.messages[1])
    assert "Bisher:" in moved_text and "Neu:" in moved_text


async def test_pending_and_waiting_bookings_get_no_invitation(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    pending = await make_booking(status="pending")
    waiting = await make_booking(status="waitlisted")
    await _send(pending, "booking.received")
    await _send(waiting, "booking.waitlisted")
    await _send(pending, "host.booking_received", recipient="kontakt@uhrwerk.example")
    # Declined before ever being confirmed: nothing to take out of a calendar.
    await set_booking(pending, status="declined", reason="Termin belegt")
    await _send(pending, "booking.declined", {"reason": "Termin belegt"})
    assert len(smtp_sink.messages) == 4
    assert [calendar_of(m) for m in smtp_sink.messages] == [None] * 4
    assert "Begründung: Termin belegt" in text_of(smtp_sink.messages[3])


async def test_an_event_cancellation_takes_the_invited_visit_out(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(status="confirmed")
    await _send(booked, "booking.confirmed")
    await set_booking(booked, status="cancelled")
    await _send(booked, "event.cancelled", {"reason": "Hochwasser"})
    part = calendar_of(smtp_sink.messages[1])
    assert part is not None and part[0] == "CANCEL"
    assert "Hochwasser" in text_of(smtp_sink.messages[1])


async def test_an_invitation_overtaken_by_a_cancellation_is_skipped(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(status="confirmed")
    confirmed = await outbox.enqueue(
        "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
    )
    assert confirmed is not None
    await set_booking(booked, status="cancelled")
    assert await services.deliver(confirmed) == "skipped"
    row = await N.select().where(N.id == confirmed).first()
    assert row["status"] == "sent" and row["last_error"].startswith(outbox.SKIPPED_PREFIX)
    assert smtp_sink.messages == []
    # No invitation went out, so the cancellation carries no CANCEL either.
    await _send(booked, "booking.cancelled", {"by": "booker"})
    assert calendar_of(smtp_sink.messages[0]) is None
    assert "wie gewünscht storniert" in text_of(smtp_sink.messages[0])


@pytest.mark.parametrize(
    ("language", "subject_start"),
    [
        ("de", "Buchung bestätigt: "),
        ("en", "Booking confirmed: "),
        ("cs", "Rezervace potvrzena: "),
        ("en-GB", "Booking confirmed: "),
        ("fr", "Buchung bestätigt: "),
    ],
)
async def test_subject_and_text_in_the_recipients_language(
    smtp_settings: Settings, smtp_sink: SmtpSink, language: str, subject_start: str
) -> None:
    booked = await make_booking(language=language)
    await _send(booked, "booking.confirmed", language=language)
    (message,) = smtp_sink.messages
    # .strip(): Python folds a long ASCII subject right after "Subject:" and keeps the space.
    assert str(message["Subject"]).strip().startswith(subject_start)
    assert "Betriebsbesichtigung Uhrenfertigung" in str(message["Subject"])
    expected_language = {"en-GB": "en", "fr": "de"}.get(language, language)
    assert message["Content-Language"] == expected_language
    html = message.get_body(preferencelist=("html",))
    assert html is not None and f'lang="{expected_language}"' in html.get_content()


async def test_dates_are_shown_in_berlin_time_in_the_readers_language(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    from datetime import UTC, datetime

    starts = datetime(2031, 3, 11, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (winter time)
    await _send(await make_booking(starts_at=starts, language="de"), "booking.confirmed")
    czech_booking = await make_booking(starts_at=starts, language="cs")
    await _send(czech_booking, "booking.confirmed", language="cs")
    german, czech = (text_of(m) for m in smtp_sink.messages)
    assert "Dienstag, 11. März 2031, 09:00\u201310:30" in german
    assert "úterý 11. března 2031, 9:00\u201310:30" in czech


async def test_headers_are_safe_from_injected_line_breaks(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(
        title="Führung\r\nBcc: victim@evil.example",
        contact_name="Eve\r\nX-Injected: yes",
    )
    await _send(booked, "booking.confirmed")
    raw = smtp_sink.handler.received[0]
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Injected):", header_block, re.MULTILINE | re.IGNORECASE)
    assert smtp_sink.handler.recipients == [[booked.contact_email]]
    (message,) = smtp_sink.messages
    assert "\n" not in str(message["Subject"]) and "Bcc" in str(message["Subject"])
    part = calendar_of(message)
    assert part is not None
    assert "\n" not in str(_event(part[1])["SUMMARY"])


async def test_message_id_links_and_threading(
    mail_settings: Settings,
) -> None:
    from tests.notifications.helpers import read_eml_dir

    booked = await make_booking(status="confirmed")
    notification_id = await outbox.enqueue(
        "booking.reminder",
        booking_id=booked.booking_id,
        recipient=booked.contact_email,
        payload={"days": 7, "starts_at": booked.starts_at.isoformat()},
    )
    assert await services.deliver(notification_id) == "sent"
    (message,) = read_eml_dir(mail_settings.mail_dir)
    message_id = str(message["Message-ID"])
    assert re.fullmatch(
        rf"<notification-{notification_id}\.[0-9a-f]{{16}}@outreach\.test>", message_id
    )
    assert message["References"] == f"<booking-{booked.booking_id}@outreach.test>"
    assert message["Reply-To"].addresses[0].addr_spec == "kontakt@uhrwerk.example"
    assert message["From"].addresses[0].addr_spec == "noreply@outreach.invalid"
    assert message["Auto-Submitted"] == "auto-generated"
    text = text_of(message)
    assert f"http://outreach.test/bookings/{booked.booking_id}" in text
    assert f"http://outreach.test/bookings/{booked.booking_id}/respond?token=" in text
    # The file is named by the Message-ID: a retry overwrites, never doubles.
    assert [p.name for p in mail_settings.mail_dir.glob("*.eml")] == [
        f"notification-{notification_id}.{message_id.split('.')[1].split('@')[0]}_outreach.test.eml"
    ]


def test_every_kind_has_its_three_templates() -> None:
    directory = Path(TEMPLATE_DIR) / "notifications"
    for kind in KINDS:
        for suffix in ("subject.txt", "txt", "html"):
            assert (directory / f"{kind}.{suffix}").is_file(), f"{kind}.{suffix}"


def test_every_template_text_is_translated() -> None:
    pattern = re.compile(r'_\("((?:[^"\\]|\\.)*)"')
    texts = {
        match
        for path in Path(TEMPLATE_DIR).rglob("*")
        # The web pages have their own Babel catalogs (tests/pages/test_i18n.py).
        # So do the itinerary's printable page and its parts (pages through the planner).
        if path.is_file()
        and not {"pages", "itineraries"} & set(path.relative_to(TEMPLATE_DIR).parts)
        for match in pattern.findall(path.read_text())
    }
    assert texts
    for language in ("en", "cs"):
        missing = sorted(t for t in texts if t not in CATALOGUE[language])
        assert not missing, (language, missing)


async def test_every_kind_renders_in_every_language(
    mail_settings: Settings,
) -> None:
    from tests.notifications.helpers import read_eml_dir

    booked = await make_booking(status="confirmed")
    for language in ("de", "en", "cs"):
        for kind in KINDS:
            if kind == "booking.reminder":
                continue  # has its own rules; rendered in the reminder tests
            outcome = await _send(booked, kind, {"by": "host", "reason": "x"}, language=language)
            assert outcome == "sent", (kind, language)
    mails: list[EmailMessage] = read_eml_dir(mail_settings.mail_dir)
    assert len(mails) == 3 * (len(KINDS) - 1)
    for message in mails:
        assert "{{" not in text_of(message) and "%(" not in text_of(message)


NOTE = "Ein Schüler nutzt einen Rollstuhl.\n<b>Bitte</b> den Aufzug freihalten."


@pytest.mark.parametrize(
    ("language", "label"),
    [("de", "Hinweis der buchenden Person"), ("en", "Note from the booker"), ("cs", "Poznámka")],
)
async def test_the_host_reads_the_bookers_note_and_nobody_else_gets_it_back(
    smtp_settings: Settings, smtp_sink: SmtpSink, language: str, label: str
) -> None:
    booked = await make_booking(status="pending")
    await set_booking(booked, notes=NOTE)
    await _send(
        booked, "host.booking_received", recipient="kontakt@uhrwerk.example", language=language
    )
    await _send(booked, "booking.received", language=language)
    to_host, to_booker = smtp_sink.messages
    text = text_of(to_host)
    assert label in text and "Ein Schüler nutzt einen Rollstuhl." in text
    assert "<b>Bitte</b> den Aufzug freihalten." in text  # plain text stays as written
    html = to_host.get_body(preferencelist=("html",)).get_content()
    assert "Rollstuhl.<br>" in html and "&lt;b&gt;Bitte&lt;/b&gt;" in html and "<b>" not in html
    # The booker's own mail does not carry the note (it is for the host).
    assert "Rollstuhl" not in text_of(to_booker)
    assert "Rollstuhl" not in to_booker.get_body(preferencelist=("html",)).get_content()
