"""The booking page behind every booking mail: `/bookings/{id}`.

Its readers are the booker (signed in, or by the signed link of their mails), the host
and the office; for anyone else it does not exist. GET changes nothing; the actions
are POST forms with the CSRF token (and the link's token for a link visitor).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from outreach.booking import manage
from outreach.booking.schemas import BookingRequest
from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.config import Settings, set_settings
from outreach.events.tables import Slot
from outreach.links import view_token
from outreach.notifications import services as delivery
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.principal import ANONYMOUS
from outreach.timeutil import utcnow
from tests.factories import make_event, make_slot, make_world, registration
from tests.notifications.helpers import calendar_of, read_eml_dir, text_of, with_settings
from tests.pages.conftest import csrf_of, give_password, post_form, sign_in

NOTE = "One pupil uses a wheelchair."


@pytest.fixture(autouse=True)
def whole_slot_for_unconfirmed(settings):
    """The share unconfirmed registrations may hold is tested in
    tests/booking/test_places_bound.py; here they may hold the whole slot."""
    set_settings(dataclasses.replace(settings, unconfirmed_share_percent=100))
    yield
    set_settings(settings)


@pytest.fixture
async def world(db):
    outbox.set_dispatcher(None)
    world = await make_world()
    for who in (world.school_a, world.school_b, world.firm_a, world.firm_b, world.admin):
        await give_password(who.email)
    return world


@pytest.fixture
def mail_settings(db: str, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    yield with_settings(settings, data_dir=tmp_path)
    set_settings(settings)


async def a_visit(world, *, mode: str = "approval", capacity: int = 30):
    event = await make_event(world.firm_a, booking_mode=mode)
    slot = await make_slot(world.firm_a, event, capacity=capacity)
    req = BookingRequest(class_label="8a", grade=8, pupils=20, adults=2, notes=NOTE)
    return slot, (await place_booking(slot, req, by=world.school_a)).booking


async def a_registration(world, persons: int = 4, capacity: int = 10):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=capacity)
    return slot, (await place_booking(slot, registration(persons), by=ANONYMOUS)).booking


async def outbox_size() -> int:
    return await Notification.count()


async def row(booking_id: int) -> dict:
    return (
        await Booking.select(Booking.status, Booking.persons)
        .where(Booking.id == booking_id)
        .first()
    )


async def test_the_booker_sees_the_booking_with_the_actions_a_booker_has(client, world):
    _, visit = await a_visit(world)
    await sign_in(client, world.school_a.email)
    page = await client.get(f"/bookings/{visit.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.text
    assert "Your booking" in text and visit.event_title in text
    assert NOTE in text
    assert "awaiting confirmation" in text
    assert f'action="/bookings/{visit.id}/cancel"' in text
    assert f'action="/bookings/{visit.id}/persons"' in text
    assert f'action="/bookings/{visit.id}/confirm"' not in text


async def test_the_host_reads_the_note_and_confirms_from_the_page(client, world):
    _, visit = await a_visit(world)
    await sign_in(client, world.firm_a.email)
    path = f"/bookings/{visit.id}"
    page = await client.get(path, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert NOTE in page.text
    assert f'action="/bookings/{visit.id}/persons"' not in page.text
    assert f'action="/bookings/{visit.id}/cancel"' not in page.text
    done = await post_form(client, f"{path}/confirm", {}, from_page=path)
    assert done.status_code == 303 and done.headers["location"] == path
    assert (await row(visit.id))["status"] == "confirmed"


async def test_the_host_cancels_a_confirmed_visit_with_a_reason_and_the_booker_is_told(
    client, world
):
    _, visit = await a_visit(world, mode="auto")
    await sign_in(client, world.firm_a.email)
    path = f"/bookings/{visit.id}"
    page = await client.get(path, headers={"Accept-Language": "de"})
    assert f'action="/bookings/{visit.id}/cancel"' in page.text
    assert "Grund (die buchende Person liest ihn)" in page.text
    done = await post_form(client, f"{path}/cancel", {"reason": "Maschinenausfall"}, from_page=path)
    assert done.status_code == 303 and done.headers["location"] == path
    assert (await row(visit.id))["status"] == "cancelled"
    again = await client.get(path, headers={"Accept-Language": "de"})
    assert "Die buchende Person ist informiert." in again.text
    assert f'action="/bookings/{visit.id}/cancel"' not in again.text
    told = await Notification.select(Notification.kind, Notification.payload).where(
        (Notification.booking == visit.id) & (Notification.kind == "booking.cancelled")
    )
    assert len(told) == 1 and '"by": "host"' in told[0]["payload"]
    assert "Maschinenausfall" in told[0]["payload"]


async def test_the_office_list_links_each_booking_to_its_page(client, world):
    _, visit = await a_visit(world)
    await sign_in(client, world.admin.email)
    listing = await client.get("/office/bookings")
    assert f'href="/bookings/{visit.id}"' in listing.text
    assert (await client.get(f"/bookings/{visit.id}")).status_code == 200


async def test_everyone_else_gets_404_and_a_signed_out_visitor_is_asked_to_sign_in(client, world):
    _, visit = await a_visit(world)
    path = f"/bookings/{visit.id}"
    signed_out = await client.get(path, follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/signin?next=")
    for stranger in (world.firm_b, world.school_b):
        await sign_in(client, stranger.email)
        page = await client.get(path)
        assert page.status_code == 404
        assert NOTE not in page.text
    missing = await client.get("/bookings/999999")
    assert missing.status_code == 404


async def test_get_changes_nothing(client, world):
    _, placed = await a_registration(world)
    before = (await row(placed.id), await outbox_size())
    token = view_token(_settings(), placed.id)
    for _ in range(2):
        assert (await client.get(f"/bookings/{placed.id}?token={token}")).status_code == 200
    assert (await row(placed.id), await outbox_size()) == before


def _settings() -> Settings:
    from outreach.config import get_settings

    return get_settings()


async def test_a_family_changes_persons_and_cancels_by_the_signed_link(client, world):
    slot, placed = await a_registration(world, persons=4)
    token = view_token(_settings(), placed.id)
    path = f"/bookings/{placed.id}?token={token}"
    page = await client.get(path, headers={"Accept-Language": "de"})
    assert page.status_code == 200
    assert "Ihre Buchung" in page.text
    assert f'name="token" value="{token}"' in page.text

    fewer = await post_form(
        client, f"/bookings/{placed.id}/persons", {"persons": "2", "token": token}, from_page=path
    )
    assert fewer.status_code == 303 and fewer.headers["location"] == path
    assert (await row(placed.id))["persons"] == 2

    gone = await post_form(
        client, f"/bookings/{placed.id}/cancel", {"reason": "krank", "token": token}, from_page=path
    )
    assert gone.status_code == 303
    assert (await row(placed.id))["status"] == "cancelled"
    assert (await Slot.select(Slot.held).where(Slot.id == slot).first())["held"] == 0
    after = await client.get(path, headers={"Accept-Language": "de"})
    assert "abgesagt" in after.text
    assert f'action="/bookings/{placed.id}/cancel"' not in after.text


async def test_more_persons_than_free_says_how_many_are_free(client, world):
    slot, placed = await a_registration(world, persons=4, capacity=10)
    await place_booking(slot, registration(3, world.school_b.email), by=world.school_b)
    token = view_token(_settings(), placed.id)
    path = f"/bookings/{placed.id}?token={token}"
    before = (await row(placed.id), await outbox_size())
    for lang, expected in (
        ("en", "Only 3 more places are free in this time."),
        ("de", "Nur noch 3 Plätze sind in dieser Zeit frei."),
        ("cs", "V tomto termínu jsou volná už jen 3 místa."),
    ):
        page = await client.get(path, headers={"Accept-Language": lang})
        response = await client.post(
            f"/bookings/{placed.id}/persons",
            data={"persons": "8", "token": token, "_csrf_token": csrf_of(page.text)},
            headers={"Accept-Language": lang},
        )
        assert response.status_code == 409
        error = re.search(r'<p class="error" id="f-persons-error">([^<]+)</p>', response.text)
        assert error and error.group(1) == expected
        assert 'value="8"' in response.text  # the form keeps what was typed
    assert (await row(placed.id), await outbox_size()) == before


@pytest.mark.parametrize("lang", ["de", "en", "cs"])
async def test_a_tampered_or_expired_link_says_the_link_is_not_valid(client, world, lang):
    _, placed = await a_registration(world)
    token = view_token(_settings(), placed.id)
    texts = {
        "de": "Dieser Link ist nicht gültig",
        "en": "This link is not valid",
        "cs": "Tento odkaz není platný",
    }
    headers = {"Accept-Language": lang}
    tampered = await client.get(f"/bookings/{placed.id}?token={token[:-2]}xx", headers=headers)
    unknown = await client.get(f"/bookings/{placed.id + 1000}?token={token}", headers=headers)
    empty = await client.get(f"/bookings/{placed.id}?token=", headers=headers)
    for response in (tampered, unknown, empty):
        assert response.status_code == 404
        assert texts[lang] in response.text
        assert placed.event_title not in response.text
    # Same words whether the booking exists or not: no hint.
    assert _main(tampered.text) == _main(unknown.text)
    # A post with a tampered token changes nothing.
    page = await client.get(f"/bookings/{placed.id}?token={token}")
    before = (await row(placed.id), await outbox_size())
    refused = await client.post(
        f"/bookings/{placed.id}/cancel",
        data={"token": token[:-1] + "0", "_csrf_token": csrf_of(page.text)},
        headers=headers,
    )
    assert refused.status_code == 404 and texts[lang] in refused.text
    assert (await row(placed.id), await outbox_size()) == before


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


async def test_an_expired_link_opens_nothing(client, world):
    slot, placed = await a_registration(world)
    token = view_token(_settings(), placed.id)
    # The visit ended longer ago than the link lives (as if the clock had moved on).
    ended = utcnow() - manage.LINK_VALID_AFTER_END - timedelta(minutes=1)
    await Slot.update({Slot.starts_at: ended - timedelta(hours=2), Slot.ends_at: ended}).where(
        Slot.id == slot
    )
    response = await client.get(
        f"/bookings/{placed.id}?token={token}", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 404 and "This link is not valid" in response.text


async def test_the_registrants_mails_carry_the_signed_link_and_the_hosts_the_plain_one(
    client, world, mail_settings
):
    _, placed = await a_registration(world)
    token = view_token(mail_settings, placed.id)
    ids = [r["id"] for r in await Notification.select(Notification.id).order_by(Notification.id)]
    for note_id in ids:
        await delivery.deliver(note_id)
    mails = read_eml_dir(mail_settings.mail_dir)
    assert mails
    signed = f"{mail_settings.base_url}/bookings/{placed.id}?token={token}"
    for mail in mails:
        assert signed in text_of(mail)
        found = calendar_of(mail)
        if found:
            assert f"URL:{signed}" in found[1].to_ical().decode().replace("\r\n ", "")
    # The link from the mail opens the page without an account.
    response = await client.get(urlsplit(signed).path + "?" + urlsplit(signed).query)
    assert response.status_code == 200 and placed.event_title in response.text
