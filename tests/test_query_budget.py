"""A query budget per hot route: the statements (and pool checkouts) each one may cost.

Each figure is today's count after the obvious waste was removed (issue 21). A change
that adds a statement to one of these routes fails here: either it is worth it (raise
the budget in the same change, and say why) or it is waste. A change that saves one
should lower the budget, so the saving stays.

Counted on the second request of its kind (the first may store a feed or warm a
cache that every later request shares), on both databases; `checkouts` counts the
connections taken from the pool (see tests/querycount.py). Where PostgreSQL takes a
faster path than SQLite for the same rule, the route has a budget per database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from outreach.accounts.services import feed_token_for
from outreach.booking.writes import place_booking
from outreach.config import Settings, set_settings
from outreach.events.schemas import SlotPatch
from outreach.events.services import update_slot
from outreach.events.tables import Slot
from outreach.feeds import services as feeds
from outreach.notifications import services as delivery
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from tests.conftest import app_for_settings
from tests.factories import (
    World,
    at,
    class_visit,
    make_event,
    make_slot,
    make_world,
    school_day,
)
from tests.notifications.helpers import with_settings
from tests.pages.conftest import csrf_of, give_password, sign_in
from tests.querycount import Counts, counting


@dataclass(frozen=True)
class Budget:
    statements: int
    checkouts: int
    # SQLite's, where it differs (PostgreSQL has a faster path for the same rule).
    sqlite: Budget | None = None


# route -> the most it may cost (both databases alike where `sqlite` is not given).
BUDGETS: dict[str, Budget] = {
    "calendar page": Budget(statements=6, checkouts=6),
    "event page": Budget(statements=7, checkouts=7),
    "school dashboard": Budget(statements=10, checkouts=10),
    "firm dashboard": Budget(statements=10, checkouts=10),
    "office dashboard": Budget(statements=5, checkouts=5),  # with the overview figures
    # The token and its user in one statement (none while cached). PostgreSQL: then, in
    # one transaction, one read that locks the school and one statement that claims and
    # writes everything (booking.writes_pg). SQLite: the generic path.
    "booking through the API": Budget(
        statements=3, checkouts=2, sqlite=Budget(statements=15, checkouts=3)
    ),
    # 14: the places bound (one registration per address and slot, the unconfirmed share).
    "registration through the page": Budget(statements=14, checkouts=2),
    "public feed": Budget(statements=1, checkouts=1),
    "private feed": Budget(statements=2, checkouts=2),
    # The publisher after one slot moved, with the public feed and a firm's private feed
    # stored: what to do, the lock, the changes taken, the slot's bookings, its rows
    # (bookings, slot, event, venue, host), its stored pieces, the feeds it is in; then per
    # feed its weeks, its tail (internship offers; the firm's placements), the firm's
    # name for its head, the segments written and its row. The two changed pieces:
    # PostgreSQL writes them with one executemany of the driver, which is not counted here;
    # SQLite with one UPDATE each.
    "republish after a slot moved": Budget(
        statements=20, checkouts=2, sqlite=Budget(statements=21, checkouts=2)
    ),
    # A confirmation. PostgreSQL: the claim with the booking and the recipient's calendar
    # choice (outreach.notifications.context), the class day's lookup, the finish; a
    # reminder costs 2. SQLite: the claim, the booking and the calendar choice apart.
    "one mail delivered": Budget(
        statements=3, checkouts=3, sqlite=Budget(statements=5, checkouts=5)
    ),
    # The claim with everything the mail says, and the finish (SQLite: 4).
    "one reminder delivered": Budget(
        statements=2, checkouts=2, sqlite=Budget(statements=4, checkouts=4)
    ),
}


def within_budget(route: str, counts: Counts, db: str = "postgres") -> None:
    budget = BUDGETS[route]
    if db == "sqlite" and budget.sqlite is not None:
        budget = budget.sqlite
    print(f"{route}: {counts}")  # shown with -rP: the figures to lower a budget to
    assert counts.statements <= budget.statements and counts.checkouts <= budget.checkouts, (
        f"{route} costs {counts}, its budget is {budget}"
    )


@pytest.fixture
async def world(db: str) -> World:
    return await make_world()


@pytest.fixture
async def fresh_client(db: str) -> AsyncIterator[Any]:
    async with AsyncTestClient(app=await app_for_settings()) as client:
        yield client


async def _second_get(client: Any, path: str) -> Counts:
    first = await client.get(path)
    assert first.status_code == 200, first.text
    with counting() as counts:
        again = await client.get(path)
    assert again.status_code == 200, again.text
    return counts


async def test_calendar_and_event_page(fresh_client: Any, world: World) -> None:
    event = await make_event(world.firm_a)
    await make_slot(world.firm_a, event)
    within_budget("calendar page", await _second_get(fresh_client, "/"))
    within_budget("event page", await _second_get(fresh_client, f"/events/{event}"))


@pytest.mark.parametrize(
    ("route", "who", "path"),
    [
        ("school dashboard", "school_a", "/school"),
        ("firm dashboard", "firm_a", "/firm"),
        ("office dashboard", "admin", "/office"),
    ],
)
async def test_dashboards(fresh_client: Any, world: World, route: str, who: str, path: str) -> None:
    member = getattr(world, who)
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    await place_booking(slot, class_visit("7b", pupils=5), by=world.school_a, key="dash")
    await give_password(member.email)
    await sign_in(fresh_client, member.email)
    within_budget(route, await _second_get(fresh_client, path))


async def test_booking_through_the_api(db: str, fresh_client: Any, world: World) -> None:
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    headers = {"Authorization": f"Bearer {world.tokens['school_a']}"}

    async def book(label: str) -> Any:
        body = {"class_label": label, "grade": 8, "pupils": 3, "adults": 1}
        return await fresh_client.post(
            f"/api/v1/slots/{slot}/bookings",
            json=body,
            headers={**headers, "Idempotency-Key": f"budget-{label}"},
        )

    assert (await book("8a")).status_code == 201
    with counting() as counts:
        answer = await book("8b")
    assert answer.status_code == 201, answer.text
    within_budget("booking through the API", counts, db)


async def test_registration_through_the_page(fresh_client: Any, world: World) -> None:
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event)

    async def register(email: str) -> Any:
        page = await fresh_client.get(f"/events/{event}")
        form = {
            "slot": str(slot),
            "name": "Familie Muster",
            "email": email,
            "persons": "2",
            "key": email,
            "_csrf_token": csrf_of(page.text),
        }
        with counting() as counts:
            answer = await fresh_client.post(
                f"/events/{event}/register", data=form, follow_redirects=False
            )
        assert answer.status_code == 303, answer.text
        return counts

    await register("first@test.example")
    within_budget("registration through the page", await register("second@test.example"))


async def test_feeds(fresh_client: Any, world: World) -> None:
    await make_slot(world.firm_a, await make_event(world.firm_a))
    within_budget("public feed", await _second_get(fresh_client, "/feeds/public.ics"))
    token = await feed_token_for(by=world.firm_a)
    within_budget("private feed", await _second_get(fresh_client, f"/feeds/private/{token}.ics"))


async def test_republish_after_a_slot_moved(db: str, world: World) -> None:
    event = await make_event(world.firm_a)
    day = school_day()
    slots = [await make_slot(world.firm_a, event, starts_at=at(day, 8 + i)) for i in (0, 2)]
    await feeds.public_feed(feeds.PublicFilter())
    await feeds.private_feed(await feed_token_for(by=world.firm_a))
    moved = at(day + timedelta(days=8), 10)
    await update_slot(
        slots[0], SlotPatch(starts_at=moved, ends_at=moved + timedelta(hours=1)), by=world.firm_a
    )
    with counting() as counts:
        result = await feeds.publish_pending()
    assert (result.changes, result.feeds) == (1, 2), result
    within_budget("republish after a slot moved", counts, db)


async def test_one_mail_delivery(db: str, world: World, settings: Settings, tmp_path: Path) -> None:
    with_settings(settings, data_dir=tmp_path)  # mails as .eml files in this test's folder
    try:
        slot = await make_slot(world.firm_a, await make_event(world.firm_a))
        for label in ("9a", "9b"):
            await place_booking(slot, class_visit(label, pupils=4), by=world.school_a, key=label)
        ids = [
            row["id"]
            for row in await Notification.select(Notification.id)
            .where(Notification.status == "pending")
            .order_by(Notification.id)
        ]
        assert len(ids) >= 2
        assert await delivery.deliver(ids[0]) == "sent"
        kinds = {
            row["id"]: row["kind"]
            for row in await Notification.select(Notification.id, Notification.kind)
        }
        # A second mail of the same kind: the first may have warmed what every mail shares.
        second = next(i for i in ids[1:] if kinds[i] == kinds[ids[0]])
        with counting() as counts:
            assert await delivery.deliver(second) == "sent"
        within_budget("one mail delivered", counts, db)
    finally:
        set_settings(settings)


async def test_one_reminder_delivery(
    db: str, world: World, settings: Settings, tmp_path: Path
) -> None:
    with_settings(settings, data_dir=tmp_path)
    try:
        slot = await make_slot(world.firm_a, await make_event(world.firm_a))
        placed = await place_booking(slot, class_visit("9c", pupils=4), by=world.school_a, key="9c")
        booked = placed.booking
        row = await Slot.select(Slot.starts_at).where(Slot.id == slot).first()
        starts_at = row["starts_at"]
        ids = [
            await outbox.enqueue(
                "booking.reminder",
                booking_id=booked.id,
                recipient=booked.contact_email,
                payload={"days": 7, "starts_at": starts_at.isoformat()},
                instant=starts_at - timedelta(days=n),
            )
            for n in (7, 3)
        ]
        assert await delivery.deliver(ids[0]) == "sent"
        with counting() as counts:
            assert await delivery.deliver(ids[1]) == "sent"
        within_budget("one reminder delivered", counts, db)
    finally:
        set_settings(settings)
