"""The feeds over HTTP: content type, ETag and Last-Modified, 304, HEAD, tokens, no gzip."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from outreach.accounts.services import feed_token_for, rotate_feed_token, set_calendar_delivery
from outreach.events.schemas import SlotPatch
from outreach.events.services import cancel_event, update_slot
from tests.factories import World, at
from tests.feeds.helpers import publish, school_day_2027, titled_event, tour_with_slot, vevents
from tests.support import bearer

PUBLIC = "/feeds/public.ics"


async def _get(client: Any, url: str, **headers: str) -> Any:
    return await client.get(url, headers=headers)


async def test_the_public_feed_is_a_calendar_with_validators(client: Any, world: World) -> None:
    await tour_with_slot(world.firm_a, title="Präzision, zum Anfassen; live")
    response = await _get(client, PUBLIC, **{"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert response.headers["last-modified"].endswith(" GMT")
    assert "content-encoding" not in response.headers  # Outlook refuses gzip-encoded feeds
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert [str(e["SUMMARY"]) for e in vevents(response.content)] == [
        "Präzision, zum Anfassen; live"
    ]


async def test_conditional_requests(client: Any, world: World) -> None:
    await tour_with_slot(world.firm_a)
    first = await _get(client, PUBLIC)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]

    same = await _get(client, PUBLIC, **{"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["etag"] == etag and same.headers["last-modified"] == last_modified
    assert same.headers["cache-control"] == "public, max-age=300"
    assert (await _get(client, PUBLIC, **{"If-None-Match": f'"x", {etag}'})).status_code == 304
    assert (await _get(client, PUBLIC, **{"If-None-Match": '"other"'})).status_code == 200
    # If-None-Match decides alone when sent, even beside a matching If-Modified-Since.
    both = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert (await _get(client, PUBLIC, **both)).status_code == 200

    assert (await _get(client, PUBLIC, **{"If-Modified-Since": last_modified})).status_code == 304
    assert (
        await _get(client, PUBLIC, **{"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
    ).status_code == 200
    assert (await _get(client, PUBLIC, **{"If-Modified-Since": "garbage"})).status_code == 200


async def test_a_change_gives_new_validators_and_last_modified_grows(
    client: Any, world: World
) -> None:
    event_id, slot_id = await tour_with_slot(world.firm_a)
    first = await _get(client, PUBLIC)
    start = at(school_day_2027(), 14)
    await update_slot(
        slot_id, SlotPatch(starts_at=start, ends_at=start + timedelta(hours=1)), by=world.firm_a
    )
    await publish()
    second = await _get(
        client,
        PUBLIC,
        **{
            "If-None-Match": first.headers["etag"],
            "If-Modified-Since": first.headers["last-modified"],
        },
    )
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    assert parsedate_to_datetime(second.headers["last-modified"]) > parsedate_to_datetime(
        first.headers["last-modified"]
    )
    # A cancelled slot stays in the feed as cancelled.
    await cancel_event(event_id, "Umbau", by=world.firm_a)
    await publish()
    (entry,) = vevents((await _get(client, PUBLIC)).content)
    assert str(entry["STATUS"]) == "CANCELLED"


async def test_an_unchanged_feed_answers_the_same_bytes(client: Any, world: World) -> None:
    await tour_with_slot(world.firm_a)
    first = await _get(client, f"{PUBLIC}?kind=factory_tour&grade=8")
    await publish()
    second = await _get(client, f"{PUBLIC}?grade=8&kind=factory_tour")  # another order
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["last-modified"] == first.headers["last-modified"]
    assert second.headers["content-location"] == f"{PUBLIC}?grade=8&kind=factory_tour"


async def test_head_answers_the_headers_of_get(client: Any, world: World) -> None:
    await tour_with_slot(world.firm_a)
    get = await _get(client, PUBLIC)
    head = await client.head(PUBLIC)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "etag", "last-modified", "cache-control", "content-length"):
        assert head.headers[name] == get.headers[name], name
    token = await feed_token_for(by=world.firm_a)
    assert (await client.head(f"/feeds/private/{token}.ics")).status_code == 200
    assert (await client.head("/feeds/private/otf_nope.ics")).status_code == 404


async def test_bad_filters(client: Any, world: World) -> None:
    assert (await _get(client, f"{PUBLIC}?kind=party")).status_code == 422
    assert (await _get(client, f"{PUBLIC}?grade=99")).status_code == 422
    unknown = await _get(client, f"{PUBLIC}?host=no-such-firm")
    assert unknown.status_code == 404 and unknown.json()["field"] == "host"


async def test_private_feed_tokens(client: Any, world: World) -> None:
    await tour_with_slot(world.firm_a)
    token = await feed_token_for(by=world.firm_a)
    url = (await client.get("/api/v1/me/feed", headers=bearer(world.tokens["firm_a"]))).json()[
        "url"
    ]
    assert url.endswith(f"/feeds/private/{token}.ics")
    ok = await _get(client, f"/feeds/private/{token}.ics")
    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "private, max-age=300"
    assert (
        await _get(client, f"/feeds/private/{token}.ics", **{"If-None-Match": ok.headers["etag"]})
    ).status_code == 304

    unknown_path = await _get(client, "/feeds/private/")
    # The verifier's last hex digit changed (to "1" when it is "0": never the same token).
    wrong_verifier = token[:-1] + ("1" if token.endswith("0") else "0")
    answers = [
        await _get(client, f"/feeds/private/{wrong_verifier}.ics"),
        await _get(client, "/feeds/private/otf_00000000000000000000000000000000_00.ics"),
        await _get(client, "/feeds/private/.ics"),  # no token
        await _get(client, f"/feeds/private/{token}"),  # no .ics
        await _get(client, "/feeds/private/%2e%2e%2fetc.ics"),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.content == unknown_path.content  # a wrong token looks like no route

    await rotate_feed_token(by=world.firm_a)
    rotated = await _get(client, f"/feeds/private/{token}.ics")
    assert rotated.status_code == 404 and rotated.content == unknown_path.content
    fresh = await feed_token_for(by=world.firm_a)
    assert (await _get(client, f"/feeds/private/{fresh}.ics")).content == ok.content


async def test_event_calendar(client: Any, world: World) -> None:
    event_id, _ = await tour_with_slot(world.firm_a, title="Einzeln")
    response = await _get(client, f"/events/{event_id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert [str(e["SUMMARY"]) for e in vevents(response.content)] == ["Einzeln"]
    assert response.headers["content-location"] == f"/events/{event_id}/calendar.ics"
    assert (await client.head(f"/events/{event_id}/calendar.ics")).headers[
        "etag"
    ] == response.headers["etag"]
    assert (await _get(client, "/events/99999/calendar.ics")).status_code == 404
    assert (await _get(client, "/events/abc/calendar.ics")).status_code == 404

    hidden = await titled_event(world.firm_b, visibility="network")
    assert (await _get(client, f"/events/{hidden}/calendar.ics")).status_code == 404
    member = await client.get(
        f"/events/{hidden}/calendar.ics", headers=bearer(world.tokens["school_a"])
    )
    assert member.status_code == 200
    assert member.headers["cache-control"] == "private, max-age=300"
    draft = await titled_event(world.firm_a, status="draft")
    assert (await _get(client, f"/events/{draft}/calendar.ics")).status_code == 404


async def test_event_file_names(world: World) -> None:
    """`/events/{id}.ics` through `event_file_response`, as the event page's route uses it."""
    from litestar import Litestar, Request, get
    from litestar.params import FromPath
    from litestar.testing import AsyncTestClient

    from outreach.feeds.api import event_file_response, is_event_file
    from outreach.principal import ANONYMOUS
    from outreach.web import exception_handlers

    @get("/events/{name:str}")
    async def page(request: Request, name: FromPath[str]) -> Any:  # type: ignore[type-arg]
        assert is_event_file(name)
        return await event_file_response(request, name, ANONYMOUS)

    event_id, _ = await tour_with_slot(world.firm_a)
    app = Litestar([page], exception_handlers=exception_handlers)
    async with AsyncTestClient(app=app) as test_client:
        ok = await test_client.get(f"/events/{event_id}.ics")
        assert ok.status_code == 200 and ok.content.count(b"BEGIN:VEVENT") == 1
        for name in ("abc.ics", "0.ics", f"0{event_id}.ics", "99999.ics", "1.5.ics", "-1.ics"):
            assert (await test_client.get(f"/events/{name}")).status_code == 404, name


async def test_a_booking_in_the_bookers_feed_links_its_booking_page(
    client: Any, world: World
) -> None:
    from outreach.booking.writes import place_booking
    from tests.factories import class_visit

    _, slot_id = await tour_with_slot(world.firm_a)
    placed = (await place_booking(slot_id, class_visit(), by=world.school_a)).booking
    await publish()
    await set_calendar_delivery("subscription", by=world.school_a)  # own visits in the feed
    token = await feed_token_for(by=world.school_a)
    body = (await _get(client, f"/feeds/private/{token}.ics")).content
    [entry] = [e for e in vevents(body) if "Klasse 8a" in str(e["SUMMARY"])]
    assert str(entry["URL"]).endswith(f"/bookings/{placed.id}")
    # The page it names exists (a signed-out reader is sent to sign in, not to a 404).
    page = await client.get(f"/bookings/{placed.id}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
