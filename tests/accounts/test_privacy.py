"""A person exports and deletes their own data; bookings keep their counts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from outreach.accounts import privacy
from outreach.accounts.services import feed_token_for
from outreach.accounts.sessions import principal_for_session, start_session
from outreach.accounts.tables import ApiToken, User
from outreach.audit.tables import AuditEntry
from outreach.booking.cascades import anonymise_ended_bookings
from outreach.booking.schemas import BookingRequest
from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.config import get_settings
from outreach.errors import Conflict, Invalid
from outreach.events.tables import Slot
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.factories import make_event, make_slot, make_user, make_world
from tests.pages.conftest import PASSWORD, give_password, post_form, sign_in
from tests.support import bearer


@pytest.fixture
async def world(db):
    return await make_world()


async def _teacher_books(world) -> tuple[int, int]:
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=40)
    visit = BookingRequest(
        class_label="8a",
        grade=8,
        pupils=20,
        adults=2,
        contact_name="Frau Teacher",
        contact_email="teacher-contact@school-a.example",
        notes="bring helmets",
    )
    placed = await place_booking(slot, visit, by=world.school_a)
    # A colleague of the same school books too: not part of school A's first teacher's data.
    other = BookingRequest(
        class_label="9b", grade=9, pupils=10, adults=1, contact_name="Herr Colleague"
    )
    await place_booking(slot, other, by=world.teacher_a2)
    return placed.booking.id, slot


async def test_the_export_holds_my_data_and_no_one_elses_nor_secrets(client, world):
    mine, _ = await _teacher_books(world)
    await feed_token_for(by=world.school_a)
    response = await client.get("/api/v1/me/export", headers=bearer(world.tokens["school_a"]))
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["account"]["email"] == world.school_a.email
    assert data["organisation"]["slug"] == "school-a"
    assert [b["id"] for b in data["bookings"]] == [mine]
    assert data["bookings"][0]["contact_name"] == "Frau Teacher"
    assert "Herr Colleague" not in response.text
    assert data["api_tokens"] and data["private_feed"]["issued"] is True
    # Neither the bearer token, its hash, the feed URL's selector nor the password hash.
    user = await User.objects().where(User.id == world.school_a.user_id).first()
    token_row = await ApiToken.objects().where(ApiToken.user == user.id).first()
    secret = world.tokens["school_a"]
    for forbidden in (
        secret,
        # The verifier is everything after the selector (base64url, so it may hold "_").
        secret.split("_", 2)[2],
        token_row.verifier_hash,
        token_row.selector,
        user.feed_selector,
        "argon2",
    ):
        assert forbidden not in response.text
    assert (await client.get("/api/v1/me/export")).status_code == 401


async def test_deleting_my_account_revokes_everything_and_keeps_counts(client, world):
    mine, slot = await _teacher_books(world)
    held_before = (await Slot.select(Slot.held).where(Slot.id == slot).first())["held"]
    await give_password(world.school_a.email)
    session = await start_session(world.school_a.user_id)
    feed = await feed_token_for(by=world.school_a)
    headers = bearer(world.tokens["school_a"])

    wrong = await client.post("/api/v1/me/delete", json={"confirm": "x@y.example"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["field"] == "confirm"
    done = await client.post(
        "/api/v1/me/delete", json={"confirm": world.school_a.email.upper()}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"deleted": True, "bookings_anonymised": 1}

    assert (await client.get("/api/v1/me/feed", headers=headers)).status_code == 401
    assert await principal_for_session(session) is None
    assert (await client.get(f"/feeds/private/{feed}.ics")).status_code == 404
    user = await User.objects().where(User.id == world.school_a.user_id).first()
    assert world.school_a.email not in user.email and user.name == "" and not user.active
    assert user.password_hash is None
    row = await Booking.objects().where(Booking.id == mine).first()
    assert (row.contact_name, row.contact_email, row.notes, row.booked_by) == ("", "", "", None)
    assert (row.status, row.pupils, row.adults, row.grade) == ("confirmed", 20, 2, 8)
    assert row.school is not None, "the school's counts stay for the reports"
    held_after = (await Slot.select(Slot.held).where(Slot.id == slot).first())["held"]
    assert held_after == held_before
    colleague = await Booking.objects().where(Booking.class_label == "9b").first()
    assert colleague.contact_name == "Herr Colleague", "only the deleted person's bookings"
    # Nothing more goes to the deleted address, and the outbox keeps no copy of it.
    addressed = await Notification.select(Notification.status).where(
        Notification.recipient == "teacher-contact@school-a.example"
    )
    assert addressed == []
    forgotten = await Notification.select(Notification.status, Notification.last_error).where(
        (Notification.booking == mine) & (Notification.recipient == "")
    )
    assert forgotten, "the booker's notices stay (counted), without the address"
    assert all(n["status"] == "sent" for n in forgotten)
    entry = await AuditEntry.objects().where(AuditEntry.action == "account.delete").first()
    assert entry.object_id == str(world.school_a.user_id)
    assert world.school_a.email not in entry.detail and "Teacher" not in entry.detail


async def test_the_last_admin_cannot_delete_their_account(world):
    with pytest.raises(Conflict) as refused:
        await privacy.delete_account(by=world.admin, confirm_email=world.admin.email)
    assert refused.value.reason == "last_admin"
    assert await User.exists().where((User.id == world.admin.user_id) & (User.active == True))  # noqa: E712
    second, _ = await make_user("admin")
    await privacy.delete_account(by=world.admin, confirm_email=world.admin.email)
    with pytest.raises(Conflict):
        await privacy.delete_account(by=second, confirm_email=second.email)


async def test_the_page_asks_for_the_password_again(client, world):
    await give_password(world.firm_a.email)
    await sign_in(client, world.firm_a.email)
    shown = await client.get("/account")
    assert shown.status_code == 200 and 'href="/account/export"' in shown.text
    export = await client.get("/account/export")
    assert export.status_code == 200 and json.loads(export.text)["account"]["role"] == "firm"
    wrong = await post_form(
        client,
        "/account/delete",
        {"password": "wrong-password", "understood": "yes"},
        from_page="/account",
    )
    assert wrong.status_code == 422 and 'id="f-password-error"' in wrong.text
    unticked = await post_form(
        client, "/account/delete", {"password": PASSWORD}, from_page="/account"
    )
    assert unticked.status_code == 422
    assert await User.exists().where((User.id == world.firm_a.user_id) & (User.active == True))  # noqa: E712
    done = await post_form(
        client,
        "/account/delete",
        {"password": PASSWORD, "understood": "yes"},
        from_page="/account",
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    again = await client.get("/account", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")
    assert not (await User.objects().where(User.id == world.firm_a.user_id).first()).active


async def test_delete_needs_a_confirmation(world):
    with pytest.raises(Invalid):
        await privacy.delete_account(by=world.firm_b)


async def test_anonymisation_after_the_event_defaults_to_a_year_and_keeps_counts(world):
    assert get_settings().anonymise_after_days == 365
    mine, slot = await _teacher_books(world)
    row = await Slot.select(Slot.ends_at).where(Slot.id == slot).first()
    assert await anonymise_ended_bookings(now=row["ends_at"] + timedelta(days=364)) == 0
    assert await anonymise_ended_bookings(now=row["ends_at"] + timedelta(days=366)) == 2
    kept = await Booking.objects().where(Booking.id == mine).first()
    assert kept.contact_email == "" and kept.pupils == 20 and kept.status == "confirmed"
    assert kept.anonymised_at is not None and kept.anonymised_at <= utcnow() + timedelta(days=400)
