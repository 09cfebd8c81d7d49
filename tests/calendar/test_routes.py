"""HTTP of the calendar files: HEAD on every calendar route, one charset on every answer."""

from __future__ import annotations

from typing import Any

from litestar.routes import HTTPRoute

from outreach.accounts.services import feed_token_for
from outreach.app import create_app
from outreach.itineraries import writes as itineraries
from outreach.itineraries.schemas import ItineraryIn
from tests.feeds.helpers import publish, tour_with_slot
from tests.itineraries.helpers import make_net, three_firm_day
from tests.support import bearer

# The one route that serves both a page and a calendar file (`/events/<id>.ics`).
EVENT_PAGE = "/events/{ref:str}"


def _handlers() -> list[tuple[HTTPRoute, Any]]:
    app = create_app(start_workers=False, use_pool=False)
    return [
        (route, handler)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
    ]


def test_every_calendar_route_answers_head() -> None:
    calendar_routes = {
        route.path
        for route, handler in _handlers()
        if str(handler.media_type).startswith("text/calendar") or route.path == EVENT_PAGE
    }
    assert {
        "/feeds/public.ics",
        "/feeds/private/{name:str}",
        "/events/{event_id:int}/calendar.ics",
        "/itineraries/{name:str}",
        EVENT_PAGE,
    } <= calendar_routes
    without = {
        route.path
        for route, _ in _handlers()
        if route.path in calendar_routes and "HEAD" not in route.methods
    }
    assert without == set()


def test_no_route_declares_a_charset_the_framework_adds_again() -> None:
    """Litestar appends "; charset=utf-8" to every text/* media type it is given."""
    declared = {
        (route.path, str(handler.media_type))
        for route, handler in _handlers()
        if "charset" in str(handler.media_type)
    }
    assert declared == set()


async def test_head_answers_the_gets_headers_without_a_body(client: Any) -> None:
    net = await make_net()
    world = net.world
    event_id, _ = await tour_with_slot(world.firm_a)  # type: ignore[attr-defined]
    slots = await three_firm_day(net)
    trip = await itineraries.book_itinerary(
        ItineraryIn(
            slot_ids=[slots["rehn"], slots["kaden"], slots["seifert"]],
            class_label="8a",
            grade=8,
            pupils=24,
            adults=2,
            arrive_at="08:30",
            leave_by="15:00",
        ),
        by=world.school_a,  # type: ignore[attr-defined]
    )
    await publish()
    token = await feed_token_for(by=world.school_a)  # type: ignore[attr-defined]
    teacher = bearer(world.tokens["school_a"])  # type: ignore[attr-defined]
    for path, headers in (
        ("/feeds/public.ics", {}),
        (f"/feeds/private/{token}.ics", {}),
        (f"/events/{event_id}.ics", {}),
        (f"/events/{event_id}/calendar.ics", {}),
        (f"/itineraries/{trip.itinerary.id}.ics", teacher),
    ):
        got = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert got.status_code == head.status_code == 200, path
        assert head.content == b"", path
        assert got.content.startswith(b"BEGIN:VCALENDAR"), path
        assert got.headers["content-type"] == "text/calendar; charset=utf-8", path
        for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
        assert head.headers["content-length"] == str(len(got.content)), path
