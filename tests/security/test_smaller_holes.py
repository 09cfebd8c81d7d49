"""Issue 16, finding 5: no-store on contact data, audit of office changes and mail
reads, and the teacher's page bookings throttled like the API."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from litestar.stores.memory import MemoryStore
from litestar.testing import AsyncTestClient

from outreach.accounts.services import send_account_mail
from outreach.app import create_app
from outreach.audit.tables import AuditEntry
from outreach.booking.writes import place_booking
from outreach.config import set_settings
from outreach.hardening import SignInBackoff
from outreach.notifications.transports import list_stored_mails
from outreach.principal import ANONYMOUS
from tests.factories import make_event, make_slot, make_world, registration
from tests.pages.conftest import PASSWORD, give_password, post_form, sign_in


@pytest.fixture
async def world(db):
    made = await make_world()
    for who in (made.admin, made.firm_a, made.school_a):
        await give_password(who.email)
    return made


async def entries(action: str) -> list[dict]:
    return await AuditEntry.select().where(AuditEntry.action == action)


async def test_pages_with_contact_data_are_never_stored_by_browsers(client, world):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=10)
    placed = await place_booking(slot, registration(), by=ANONYMOUS)
    await sign_in(client, world.firm_a.email)
    for path in (f"/firm/events/{event}/attendees", f"/bookings/{placed.booking.id}"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert "no-store" in answer.headers["cache-control"], path
    # A page without contact data may be kept as before.
    assert "no-store" not in (await client.get("/firm")).headers.get("cache-control", "")


async def test_office_changes_of_role_or_organisation_are_audited(client, world):
    await sign_in(client, world.admin.email)
    path = f"/office/users/{world.school_b.user_id}"
    same = {"name": "B", "role": "school", "org": "school-b", "language": "de"}
    assert (await post_form(client, path, same)).status_code == 303
    assert await entries("user.change") == []  # a new name alone is no change of rights
    moved = {**same, "org": "school-a"}
    assert (await post_form(client, path, moved)).status_code == 303
    (entry,) = await entries("user.change")
    assert entry["actor"] == world.admin.user_id
    assert entry["object_id"] == str(world.school_b.user_id)
    assert '"organisation"' in entry["detail"] and '"role"' not in entry["detail"]


async def test_office_reads_of_stored_mails_are_audited(client, world, settings, tmp_path: Path):
    set_settings(dataclasses.replace(settings, data_dir=tmp_path))
    try:
        await send_account_mail("someone@test.example", "Hello", "A text")
        (name,) = list_stored_mails(dataclasses.replace(settings, data_dir=tmp_path))
        await sign_in(client, world.admin.email)
        assert (await client.get("/office/mails")).status_code == 200
        assert await entries("mail.read") == []  # the list shows no mail's content
        answer = await client.get(f"/office/mails/{name}")
        assert answer.status_code == 200 and "no-store" in answer.headers["cache-control"]
        (entry,) = await entries("mail.read")
        assert json.loads(entry["detail"]) == {"file": name}
        assert entry["actor"] == world.admin.user_id
        assert "someone@test.example" not in entry["detail"]
    finally:
        set_settings(settings)


async def test_a_teachers_page_bookings_are_throttled_like_the_api(world, settings):
    event = await make_event(world.firm_a, kind="tour")
    slot = await make_slot(world.firm_a, event, capacity=100)
    set_settings(dataclasses.replace(settings, rate_limit_per_minute=3))
    try:
        app = create_app(start_workers=False, use_pool=False)
        async with AsyncTestClient(app=app) as client:
            await sign_in(client, world.school_a.email)
            form = {"class_label": "8a", "grade": "8", "pupils": "x"}  # refused: not booked
            statuses = [
                (await post_form(client, f"/school/book/{slot}", form)).status_code
                for _ in range(4)
            ]
            assert statuses[-1] == 429 and 429 not in statuses[:2]
            planned = await post_form(client, "/school/plan/book", {}, from_page="/school/plan")
            assert planned.status_code == 429
    finally:
        set_settings(settings)


async def test_sign_in_backs_off_per_account_whatever_the_client(world, settings):
    """Finding 5: many clients guessing one password meet a back-off of that account,
    not only the per-client limit; an unknown address is treated alike (no enumeration)."""
    set_settings(dataclasses.replace(settings, rate_limit_per_minute=0))  # no per-client limit
    try:
        app = create_app(start_workers=False, use_pool=False)
        async with AsyncTestClient(app=app) as client:

            async def attempt(email: str, password: str) -> Any:
                return await post_form(
                    client, "/signin", {"email": email, "password": password}, from_page="/signin"
                )

            for address in (world.firm_a.email, "nobody@test.example"):
                for _ in range(SignInBackoff.FREE):
                    assert (await attempt(address, "wrong")).status_code == 400
                # The next attempt fails too, and from then on the address waits.
                assert (await attempt(address, "wrong")).status_code == 400
                refused = await attempt(address, PASSWORD)
                assert refused.status_code == 429, address
                assert int(refused.headers["retry-after"]) == SignInBackoff.FIRST
                assert "Zu viele fehlgeschlagene Anmeldungen" in refused.text
            # Another account signs in as ever.
            assert (await attempt(world.school_a.email, PASSWORD)).status_code == 303
    finally:
        set_settings(settings)


async def test_the_backoff_doubles_up_to_a_cap_and_a_success_clears_it():
    backoff = SignInBackoff(MemoryStore())
    for _ in range(SignInBackoff.FREE):
        await backoff.failed("Someone@Test.example", now=0)
    assert await backoff.wait("someone@test.example", now=0) == 0
    waits = []
    for _ in range(8):
        await backoff.failed("someone@test.example", now=0)
        waits.append(await backoff.wait("someone@test.example", now=0))
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]
    assert await backoff.wait("someone@test.example", now=900) == 0  # the pause has passed
    await backoff.succeeded("someone@test.example")
    await backoff.failed("someone@test.example", now=0)
    assert await backoff.wait("someone@test.example", now=0) == 0
