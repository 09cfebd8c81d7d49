"""The audit log: office actions and looks at attendee lists, readable by the office only."""

from __future__ import annotations

import json

import pytest

from outreach.accounts.services import NewUser, invite_user
from outreach.audit import services as audit
from outreach.audit.tables import AuditEntry
from outreach.booking.schemas import BookingRequest
from outreach.booking.writes import place_booking
from outreach.events.schemas import EventPatch
from outreach.events.services import update_event
from outreach.organisations.services import OrganisationIn, create_organisation
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.factories import make_event, make_slot, make_world
from tests.pages.conftest import give_password, sign_in
from tests.support import bearer

CONTACT = "private-contact@school-a.example"


@pytest.fixture
async def world(db):
    world = await make_world()
    # Building the world logs the operator's (command line) creations; start after them.
    await AuditEntry.delete(force=True)
    return world


async def actions() -> list[str]:
    return [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]


async def test_the_command_line_operator_is_logged_without_an_actor(db):
    await make_world()
    entries = await AuditEntry.objects().where(AuditEntry.action == "user.create")
    assert len(entries) == 6 and all(e.actor is None for e in entries)
    assert all("@" not in e.detail for e in entries)


async def test_record_refuses_contact_data(world):
    with pytest.raises(ValueError):
        await audit.record(
            "x", by=world.admin, object_type="user", object_id=1, detail={"email": "a@b.c"}
        )
    assert await AuditEntry.count() == 0


async def test_office_actions_are_logged_with_the_actor_and_no_contact_data(world):
    await create_organisation(
        OrganisationIn(kind="firm", slug="neu", name="Neu GmbH", contact_email=CONTACT),
        by=world.admin,
    )
    await invite_user(
        NewUser(email="invited@test.example", role="firm", org_slug="neu"), by=world.admin
    )
    event = await make_event(world.firm_a)
    # The host's own change is its business; the office acting for it is logged.
    await update_event(event, EventPatch(title="Eigene Änderung"), by=world.firm_a)
    assert "event.update" not in await actions()
    await update_event(event, EventPatch(title="Vom Büro"), by=world.admin)
    await make_slot(world.admin, event)
    found = await AuditEntry.objects().order_by(AuditEntry.id)
    assert [e.action for e in found if e.actor == world.admin.user_id] == [
        "organisation.create",
        "user.invite",
        "event.update",
        "slot.create",
    ]
    update = next(e for e in found if e.action == "event.update")
    assert json.loads(update.detail)["fields"] == ["title"]
    for entry in found:
        assert CONTACT not in entry.detail and "invited@test.example" not in entry.detail


async def test_a_requeue_is_logged(world):
    row = Notification(
        dedupe_key="failed-1",
        kind="booking.confirmed",
        recipient="x@test.example",
        due_at=utcnow(),
        status="failed",
        attempts=8,
    )
    await row.save()
    assert await outbox.requeue(row.id, by=world.admin)
    assert await actions() == ["notification.requeue"]
    assert not await outbox.requeue(row.id, by=world.admin), "no longer failed"
    assert await actions() == ["notification.requeue"]


async def _booked_event(world) -> int:
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    visit = BookingRequest(
        class_label="8a", grade=8, pupils=10, adults=1, contact_email=CONTACT, contact_name="Lehrer"
    )
    await place_booking(slot, visit, by=world.school_a)
    return event


async def test_every_look_at_an_attendee_list_is_logged(client, world):
    event = await _booked_event(world)
    await give_password(world.firm_a.email)
    await sign_in(client, world.firm_a.email)
    for _ in range(2):
        page = await client.get(f"/firm/events/{event}/attendees")
        assert page.status_code == 200 and CONTACT in page.text
    entries = await AuditEntry.objects().where(AuditEntry.action == "bookings.view")
    assert len(entries) == 2
    assert {e.actor for e in entries} == {world.firm_a.user_id}
    assert entries[0].object_id == str(event)
    assert json.loads(entries[0].detail) == {
        "bookings": 1,
        "status": None,
        "view": "attendee_list",
    }
    # The API list with contact data for the host is logged too; a school's own is not.
    await client.get("/api/v1/bookings", headers=bearer(world.tokens["firm_a"]))
    await client.get("/api/v1/bookings", headers=bearer(world.tokens["school_a"]))
    assert len(await AuditEntry.objects().where(AuditEntry.action == "bookings.view")) == 3


async def test_the_office_reads_the_log_by_api_and_page_filtered_and_paged(client, world):
    for n in range(audit.PAGE_SIZE + 5):
        await audit.record("test.thing", by=world.admin, object_type="event", object_id=n)
    await audit.record("other.thing", by=world.admin, object_type="user", object_id=1)
    admin = bearer(world.tokens["admin"])
    first = (await client.get("/api/v1/audit?action=test.thing&limit=10", headers=admin)).json()
    assert first["total"] == audit.PAGE_SIZE + 5 and len(first["entries"]) == 10
    assert first["entries"][0]["object_id"] == str(audit.PAGE_SIZE + 4), "newest first"
    second = (
        await client.get("/api/v1/audit?action=test.thing&limit=10&offset=10", headers=admin)
    ).json()
    assert second["entries"][0]["id"] < first["entries"][-1]["id"]
    only_users = (await client.get("/api/v1/audit?object_type=user", headers=admin)).json()
    assert [e["action"] for e in only_users["entries"]] == ["other.thing"]
    bad = await client.get("/api/v1/audit?limit=0", headers=admin)
    assert bad.status_code == 400 or bad.status_code == 422
    for role in ("firm_a", "school_a"):
        refused = await client.get("/api/v1/audit", headers=bearer(world.tokens[role]))
        assert refused.status_code == 403

    await give_password(world.admin.email)
    await sign_in(client, world.admin.email)
    page_one = await client.get("/office/audit?action=test.thing")
    assert page_one.status_code == 200
    assert page_one.text.count("<tr>") == audit.PAGE_SIZE + 1  # rows and the header
    assert 'rel="next"' in page_one.text
    page_two = await client.get("/office/audit?action=test.thing&page=2")
    assert page_two.text.count("<tr>") == 5 + 1 and 'rel="prev"' in page_two.text


async def test_the_office_deactivates_a_user_and_it_is_logged(client, world):
    from outreach.accounts.services import set_user_active
    from outreach.accounts.sessions import principal_for_session, start_session
    from outreach.errors import Conflict, Forbidden

    session = await start_session(world.firm_b.user_id)
    with pytest.raises(Forbidden):
        await set_user_active(world.firm_b.user_id, False, by=world.firm_a)
    await give_password(world.admin.email)
    await sign_in(client, world.admin.email)
    user_page = await client.get(f"/office/users/{world.firm_b.user_id}")
    assert f'action="/office/users/{world.firm_b.user_id}/active"' in user_page.text
    from tests.pages.conftest import post_form

    done = await post_form(
        client,
        f"/office/users/{world.firm_b.user_id}/active",
        {"active": "0"},
        from_page=f"/office/users/{world.firm_b.user_id}",
    )
    assert done.status_code == 303
    assert await principal_for_session(session) is None
    api = await client.get("/api/v1/me/feed", headers=bearer(world.tokens["firm_b"]))
    assert api.status_code == 401
    assert await actions() == ["user.deactivate"]
    await set_user_active(world.firm_b.user_id, True, by=world.admin)
    assert await actions() == ["user.deactivate", "user.activate"]
    with pytest.raises(Conflict):
        await set_user_active(world.admin.user_id, False, by=world.admin)


async def test_a_school_sees_and_is_logged_at_the_attendees_of_its_own_evening(client, world):
    from outreach.principal import ANONYMOUS

    evening = await make_event(world.school_a, kind="parents_evening")
    slot = await make_slot(world.school_a, evening, capacity=80)
    family = await place_booking(
        slot, BookingRequest(name="Familie Rot", email="rot@x.example", persons=2), by=ANONYMOUS
    )
    before = await actions()
    host = await client.get(
        f"/api/v1/bookings?event={evening}", headers=bearer(world.tokens["school_a"])
    )
    assert host.status_code == 200
    assert [b["id"] for b in host.json()] == [family.booking.id]
    assert await actions() == [*before, "bookings.view"]
    # Another school sees nothing of it, and its empty look is not a view of contact data.
    other = await client.get(
        f"/api/v1/bookings?event={evening}", headers=bearer(world.tokens["school_b"])
    )
    assert other.status_code == 200 and other.json() == []
    one = await client.get(
        f"/api/v1/bookings/{family.booking.id}", headers=bearer(world.tokens["school_a"])
    )
    assert one.status_code == 200
    assert await actions() == [*before, "bookings.view", "bookings.view"]
