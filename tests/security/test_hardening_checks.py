"""Hardening: no user enumeration, cookie flags, injection into mails and pages harmless.

Timing is not measured here (tests assert behaviour, bench/ measures); instead the tests
check that both paths do the same work: the same argon2 verification, the same answer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from outreach import security
from outreach.app import create_app
from outreach.booking.schemas import BookingRequest
from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.config import Settings, set_settings
from outreach.notifications import services as delivery
from outreach.outbox import services as outbox
from outreach.principal import ANONYMOUS
from tests.factories import make_event, make_slot, make_world
from tests.notifications.helpers import read_eml_dir
from tests.pages.conftest import PASSWORD, csrf_of, give_password, post_form, sign_in

_CSRF_VALUE = re.compile(r'(name="_csrf_token" value=")[^"]+')


@pytest.fixture
async def world(db):
    outbox.set_dispatcher(None)
    world = await make_world()
    for principal in (world.firm_a, world.school_a, world.admin):
        await give_password(principal.email)
    return world


def _without_tokens(html: str) -> str:
    return _CSRF_VALUE.sub(r"\1", html)


async def test_sign_in_answers_and_works_the_same_for_unknown_and_wrong(client, world, monkeypatch):
    calls: list[str | None] = []
    real = security._hasher

    class CountingHasher:
        """The real argon2 hasher, counting its verifications (a spy, not a mock)."""

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real.verify(stored, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(security, "_hasher", CountingHasher())
    email = "same@test.example"
    await world_user_with(email)
    calls_unknown_before = len(calls)
    unknown = await post_form(
        client, "/signin", {"email": "nobody-here@test.example", "password": "nope-nope-1"}
    )
    assert len(calls) == calls_unknown_before + 1, "the unknown address runs argon2 too"
    assert calls[-1] == security._dummy_hash()
    wrong = await post_form(client, "/signin", {"email": email, "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 400
    assert _without_tokens(wrong.text).replace(email, "X") == _without_tokens(unknown.text).replace(
        "nobody-here@test.example", "X"
    )
    assert "set-cookie" not in wrong.headers or "outreach_session" not in str(
        wrong.headers.get_list("set-cookie")
    )


async def world_user_with(email: str) -> None:
    from outreach.accounts.services import NewUser, create_user

    await create_user(NewUser(email=email, role="admin", password=PASSWORD))


@pytest.fixture
def mail_dir(settings: Settings, tmp_path: Path) -> Any:
    value = dataclasses.replace(settings, data_dir=tmp_path)
    set_settings(value)
    yield value.mail_dir
    set_settings(settings)


async def test_password_reset_answers_the_same_and_mails_only_an_account(client, world, mail_dir):
    answers = []
    for address in (world.firm_a.email, "nobody-here@test.example"):
        sent = await post_form(client, "/password/forgot", {"email": address})
        landing = await client.get(sent.headers["location"])
        answers.append((sent.status_code, sent.headers["location"], _without_tokens(landing.text)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 303
    mails = read_eml_dir(mail_dir)
    assert [m["To"] for m in mails] == [world.firm_a.email]
    assert "/password/set?token=" in mails[0].get_body(("plain",)).get_content()


def _cookies(response: Any) -> dict[str, str]:
    found = {}
    for value in response.headers.get_list("set-cookie"):
        found[value.split("=", 1)[0]] = value
    return found


@pytest.fixture
async def https_client(settings: Settings) -> AsyncIterator[Any]:
    set_settings(dataclasses.replace(settings, base_url="https://outreach.test"))
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app, base_url="https://outreach.test") as test_client:
        yield test_client
    set_settings(settings)


async def _cookie_flags(test_client: Any, email: str) -> dict[str, str]:
    form = await test_client.get("/signin")
    signed = await test_client.post(
        "/signin",
        data={"email": email, "password": PASSWORD, "_csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    language = await test_client.get("/language/en?next=/", follow_redirects=False)
    return {**_cookies(form), **_cookies(signed), **_cookies(language)}


async def test_cookies_are_secure_behind_https_and_always_http_only_and_lax(world, https_client):
    cookies = await _cookie_flags(https_client, world.firm_a.email)
    assert {"outreach_session", "outreach_csrf"} <= set(cookies) and len(cookies) >= 3
    for name, header in cookies.items():
        flags = header.lower()
        assert "; secure" in flags, name
        assert "; httponly" in flags, name
        assert "samesite=lax" in flags, name


async def test_cookies_are_not_secure_on_plain_http_unless_configured(client, world, settings):
    cookies = await _cookie_flags(client, world.firm_a.email)
    assert cookies and all("; secure" not in v.lower() for v in cookies.values())
    assert Settings.from_env(
        {"SECRET_KEY": "k" * 40, "COOKIE_SECURE": "true", "OUTREACH_DATA_DIR": "/tmp/x"}
    ).secure_cookies
    assert not Settings.from_env(
        {
            "SECRET_KEY": "k" * 40,
            "BASE_URL": "https://a.example",
            "COOKIE_SECURE": "false",
            "OUTREACH_DATA_DIR": "/tmp/x",
        }
    ).secure_cookies


async def test_line_breaks_in_a_registrants_name_cannot_add_mail_headers(world, mail_dir):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event)
    evil = BookingRequest(
        name="Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes",
        email="eve@test.example",
        persons=1,
    )
    placed = (await place_booking(slot, evil, by=ANONYMOUS)).booking
    row = await Booking.objects().where(Booking.id == placed.id).first()
    assert "\r" not in row.contact_name and "\n" not in row.contact_name
    for note_id in await outbox.due_ids():
        assert await delivery.deliver(note_id) == "sent"
    (message,) = read_eml_dir(mail_dir)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message["To"].addresses[0].username == "eve"


async def test_html_in_a_registrants_name_is_escaped_on_the_attendee_list(client, world):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event)
    await place_booking(
        slot,
        BookingRequest(name="<img src=x onerror=alert(1)>", email="x@test.example", persons=1),
        by=world.school_a,
    )
    await sign_in(client, world.firm_a.email)
    html = (await client.get(f"/firm/events/{event}/attendees")).text
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "path",
    [
        "/bookings/{booking}/verify?token=%C3%A4",
        "/bookings/{booking}/respond?token=%C3%A4",
        "/password/set?token=reset.1.9999999999.%C3%A4",
        "/feeds/private/%C3%A4.%C3%A4.ics",
    ],
)
async def test_tokens_with_any_characters_are_refused_not_an_error(client, world, path):
    # hmac.compare_digest raises on str with non-ASCII characters: tokens are compared
    # as bytes, so a mangled link is a plain refusal.
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event)
    placed = await place_booking(
        slot, BookingRequest(name="Familie", email="f@x.example", persons=2), by=ANONYMOUS
    )
    response = await client.get(path.format(booking=placed.booking.id))
    assert response.status_code in (400, 404), response.text
