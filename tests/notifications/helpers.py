"""Test data and mail plumbing for the notification tests.

Rows are inserted directly with Piccolo, so these tests do not depend on the booking
services; an aiosmtpd server started by the test plays the mail server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from icalendar import Calendar

from outreach.booking.tables import Booking
from outreach.config import Settings, set_settings
from outreach.events.tables import Event, Slot, Venue
from outreach.organisations.tables import Organisation
from outreach.timeutil import utcnow

_counter = itertools.count(1)


@dataclass(frozen=True)
class Booked:
    booking_id: int
    slot_id: int
    event_id: int
    host_id: int
    starts_at: datetime
    ends_at: datetime
    contact_email: str


async def make_booking(
    *,
    status: str = "confirmed",
    starts_at: datetime | None = None,
    minutes: int = 90,
    language: str = "de",
    contact_email: str | None = None,
    contact_name: str = "Frau Lehmann",
    title: str = "Betriebsbesichtigung Uhrenfertigung",
    reminder_days: list[int] | None = None,
    created_at: datetime | None = None,
    host_email: str = "kontakt@uhrwerk.example",
) -> Booked:
    n = next(_counter)
    starts_at = starts_at or (utcnow() + timedelta(days=20)).replace(second=0)
    ends_at = starts_at + timedelta(minutes=minutes)
    host = Organisation(
        slug=f"uhrwerk-{n}",
        name=f"Uhrwerk {n} GmbH",
        kind="firm",
        contact_email=host_email,
        contact_name="Herr Kunze",
    )
    await host.save()
    school = Organisation(slug=f"oberschule-{n}", name=f"Oberschule {n}", kind="school")
    await school.save()
    venue = Venue(
        organisation=host.id,
        name="Werk 1",
        street="Altenberger Straße 1",
        postal_code="01768",
        city="Glashütte",
    )
    await venue.save()
    event = Event(
        host=host.id,
        venue=venue.id,
        kind="factory_tour",
        title=title,
        grades=[8, 9],
        audience=["pupils"],
        topics=[],
        status="published",
        booking_mode="approval",
        reminder_days=reminder_days or [],
    )
    await event.save()
    slot = Slot(event=event.id, starts_at=starts_at, ends_at=ends_at, capacity=30, held=25)
    await slot.save()
    email = contact_email or f"lehrerin{n}@schule.example"
    booking = Booking(
        slot=slot.id,
        event=event.id,
        kind="class_visit",
        status=status,
        persons=25,
        school=school.id,
        class_label="8a",
        grade=8,
        pupils=23,
        adults=2,
        contact_name=contact_name,
        contact_email=email,
        language=language,
        created_at=created_at or utcnow() - timedelta(days=30),
    )
    await booking.save()
    return Booked(booking.id, slot.id, event.id, host.id, starts_at, ends_at, email)


async def set_booking(booked: Booked, **values: Any) -> None:
    """Change the booking as a service would (status changes raise the sequence)."""
    update: dict[Any, Any] = {getattr(Booking, k): v for k, v in values.items()}
    if "status" in values:
        update[Booking.sequence] = Booking.sequence + 1
    await Booking.update(update).where(Booking.id == booked.booking_id)


async def move_slot(booked: Booked, starts_at: datetime) -> Booked:
    ends_at = starts_at + (booked.ends_at - booked.starts_at)
    await Slot.update(
        {Slot.starts_at: starts_at, Slot.ends_at: ends_at, Slot.sequence: Slot.sequence + 1}
    ).where(Slot.id == booked.slot_id)
    return dataclasses.replace(booked, starts_at=starts_at, ends_at=ends_at)


# --------------------------------------------------------------------------- mails


def read_eml_dir(directory: Path) -> list[EmailMessage]:
    if not directory.is_dir():
        return []
    files = sorted(p for p in directory.glob("*.eml") if not p.name.startswith("."))
    return [parse_mail(p.read_bytes()) for p in files]


def parse_mail(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def calendar_of(message: EmailMessage) -> tuple[str, Calendar] | None:
    """The iTIP part: (method parameter of its Content-Type, parsed calendar)."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return str(part.get_param("method")), Calendar.from_ical(part.get_content())
    return None


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def with_settings(settings: Settings, **changes: Any) -> Settings:
    value = dataclasses.replace(settings, **changes)
    set_settings(value)
    return value


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float = 20.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------- SMTP


@dataclass
class _Handler:
    received: list[bytes] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse_data: int = 0  # how many DATA commands to answer with 451 first
    refuse_code: str = "451 4.3.0 Try again later"
    reject_rcpt: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject_rcpt:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return self.refuse_code
        self.received.append(envelope.original_content or envelope.content)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server on a free local port, recording what it accepts."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return [parse_mail(raw) for raw in self.handler.received]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
