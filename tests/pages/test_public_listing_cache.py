"""The anonymous calendar's data kept a second per process: a change shows within the
bound, and a signed-in visitor's calendar is never read from or written to the cache.

The cache works only while a pool serves (production); here it is switched on, with a
clock the test moves, so the bound is shown without waiting.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from outreach.config import get_settings
from outreach.events import public_listing
from outreach.events.services import cancel_slot
from outreach.events.tables import Event
from outreach.pages import public as public_pages
from outreach.pages.common import render_fragment
from tests.factories import World, make_event, make_slot, make_world
from tests.pages.conftest import give_password, sign_in
from tests.querycount import counting
from tests.support import Clock


@pytest.fixture
def clock() -> Iterator[Clock]:
    clock = Clock()
    cache = public_listing.listings
    cache.clear()
    cache.always, cache.clock = True, clock
    yield clock
    cache.clear()
    cache.always, cache.clock = False, public_listing.time.monotonic


@pytest.fixture
async def world(db: str) -> World:
    return await make_world()


async def _title(event_id: int) -> str:
    """A title no other event's title contains ("Event 1" is in "Event 12")."""
    title = f"Besuch-{event_id}-{'xyz'[event_id % 3]}-Ende"
    await Event.update({Event.title: title}).where(Event.id == event_id)
    return title


async def test_a_new_event_and_a_cancelled_slot_show_within_the_bound(
    client: Any, world: World, clock: Clock
) -> None:
    bound = get_settings().page_cache_seconds
    assert bound == 1.0
    first = await make_event(world.firm_a)
    first_title = await _title(first)
    first_slot = await make_slot(world.firm_a, first)
    assert first_title in (await client.get("/")).text

    later = await make_event(world.firm_b)
    later_title = await _title(later)
    await make_slot(world.firm_b, later)
    clock.now += bound / 2
    # Within the bound the page may still list what it listed (the cache is on) ...
    assert later_title not in (await client.get("/")).text
    clock.now += bound / 2
    # ... and at the bound it lists the new event.
    assert later_title in (await client.get("/")).text

    await cancel_slot(first_slot, "Maschine defekt", by=world.firm_a)
    clock.now += bound
    page = (await client.get("/")).text
    assert first_title not in page  # its only date is cancelled
    assert later_title in page


async def test_every_filter_has_its_own_entry(client: Any, world: World, clock: Clock) -> None:
    tour = await make_event(world.firm_a, grades=[8])
    title = await _title(tour)
    await make_slot(world.firm_a, tour)
    assert title in (await client.get("/")).text
    assert title not in (await client.get("/?grade=5")).text
    assert title not in (await client.get("/?kind=open_day")).text
    assert title in (await client.get("/?grade=8&kind=factory_tour")).text


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The parts of pages rendered alone (`render_fragment`), by template, in order."""
    names: list[str] = []

    def counted(request: Any, name: str, **context: Any) -> Any:
        names.append(name)
        return render_fragment(request, name, **context)

    monkeypatch.setattr(public_pages, "render_fragment", counted)
    return names


async def test_the_anonymous_calendar_is_kept_rendered_per_language(
    client: Any, world: World, clock: Clock, rendered: list[str]
) -> None:
    event = await make_event(world.firm_a)
    title = await _title(event)
    await make_slot(world.firm_a, event)
    english = (await client.get("/", headers={"accept-language": "en"})).text
    czech = (await client.get("/", headers={"accept-language": "cs"})).text
    assert title in english and title in czech
    assert "Events for pupils, parents and teachers" in english
    assert "Events for pupils, parents and teachers" not in czech  # not the English copy
    with counting() as counts:
        again = (await client.get("/", headers={"accept-language": "en"})).text
    assert counts.statements == 0  # rendered content and page around it, nothing read
    assert len(rendered) == 2  # English and Czech once each: the content was kept
    assert _content(again) == _content(english)
    assert "Dates" in again  # the content is there, not an empty placeholder


def _content(page: str) -> str:
    """The page's main element: the part kept rendered for anonymous visitors."""
    return page[page.index("<main") : page.index("</main>")]


async def test_a_signed_in_visitors_calendar_is_never_cached(
    client: Any, world: World, clock: Clock
) -> None:
    # A network event: members see it, anonymous visitors never.
    internal = await make_event(world.firm_a, visibility="network")
    title = await _title(internal)
    await make_slot(world.firm_a, internal)
    assert title not in (await client.get("/")).text
    entries = len(public_listing.listings)
    assert entries > 0  # the anonymous calendar's data is kept

    await give_password(world.school_a.email)
    await sign_in(client, world.school_a.email)
    # Same filters, same instant: the member's calendar is read afresh, not the kept one.
    assert title in (await client.get("/")).text
    assert len(public_listing.listings) == entries  # and nothing of it was kept

    client.cookies.clear()  # anonymous again: the kept data never held the member's
    assert title not in (await client.get("/")).text


async def test_without_a_pool_every_request_reads(client: Any, world: World) -> None:
    public_listing.listings.clear()
    event = await make_event(world.firm_a)
    title = await _title(event)
    await make_slot(world.firm_a, event)
    assert title in (await client.get("/")).text
    assert len(public_listing.listings) == 0


# Each time of an event page has its "Add to Google Calendar" link.
_A_TIME = "action=TEMPLATE"


async def test_an_event_page_shows_a_new_time_within_the_bound(
    client: Any, world: World, clock: Clock
) -> None:
    bound = get_settings().page_cache_seconds
    event = await make_event(world.firm_a, kind="open_day")
    await make_slot(world.firm_a, event, capacity=3)
    first = (await client.get(f"/events/{event}")).text
    assert first.count(_A_TIME) == 1

    await make_slot(world.firm_a, event, capacity=3)
    clock.now += bound / 2
    # Within the bound the page may still show what it showed (the cache is on) ...
    assert (await client.get(f"/events/{event}")).text.count(_A_TIME) == 1
    clock.now += bound / 2
    # ... and at the bound it shows the new time.
    assert (await client.get(f"/events/{event}")).text.count(_A_TIME) == 2


async def test_an_event_pages_details_are_kept_rendered_but_its_form_is_each_visitors(
    client: Any, world: World, clock: Clock, rendered: list[str]
) -> None:
    event = await make_event(world.firm_a, kind="open_day")
    await make_slot(world.firm_a, event)
    first = (await client.get(f"/events/{event}", headers={"accept-language": "de"})).text
    second = (await client.get(f"/events/{event}", headers={"accept-language": "de"})).text
    czech = (await client.get(f"/events/{event}", headers={"accept-language": "cs"})).text
    assert rendered == ["public/_event_details.html"] * 2  # German once, Czech once
    details = 'id="slots-h"'
    assert details in first and details in czech
    assert first[: first.index('id="register-h"')] == second[: second.index('id="register-h"')]
    # Each visitor's own form: its idempotency key is new on every page.
    keys = [re.search(r'name="key" value="([^"]+)"', page)[1] for page in (first, second)]
    assert keys[0] != keys[1]
    assert "Termine und freie Plätze" in first and "Termine und freie Plätze" not in czech


async def test_an_event_page_for_a_member_is_never_cached(
    client: Any, world: World, clock: Clock
) -> None:
    event = await make_event(world.firm_a, kind="open_day")
    await make_slot(world.firm_a, event)
    await give_password(world.school_a.email)
    await sign_in(client, world.school_a.email)
    public_listing.listings.clear()
    assert (await client.get(f"/events/{event}")).status_code == 200
    assert len(public_listing.listings) == 0
    await make_slot(world.firm_a, event)
    # No clock moved: a member sees the new time at once.
    assert (await client.get(f"/events/{event}")).text.count(_A_TIME) == 2


async def test_visitors_who_find_an_entry_expired_together_share_one_load(
    db: str, clock: Clock
) -> None:
    """The visitors arriving while an entry is loaded wait for that load (one read of the
    database, not one each); a load that fails fails for each of them and keeps nothing."""
    loads: list[str] = []

    async def load() -> str:
        loads.append("read")
        await asyncio.sleep(0.01)  # the others arrive while this one reads
        return f"answer {len(loads)}"

    cache = public_listing.listings
    answers = await asyncio.gather(*(cache.get_or_load(("k",), load) for _ in range(20)))
    assert answers == ["answer 1"] * 20 and loads == ["read"]
    clock.now += get_settings().page_cache_seconds + 0.1
    assert await cache.get_or_load(("k",), load) == "answer 2"

    async def failing() -> str:
        loads.append("failed")
        await asyncio.sleep(0.01)
        raise RuntimeError("database gone")

    answers = await asyncio.gather(
        *(cache.get_or_load(("f",), failing) for _ in range(5)), return_exceptions=True
    )
    assert [type(a) for a in answers] == [RuntimeError] * 5 and loads.count("failed") == 1
    assert await cache.get_or_load(("f",), load) == "answer 4"
