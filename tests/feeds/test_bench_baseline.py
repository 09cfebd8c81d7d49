"""The feed benchmark's baselines are fair: the same bytes, through the same stack, no cookie.

bench/feeds.py compares the public feed with `/_bench/feed.ics` and the private feed
with `/_bench/private/{token}.ics` (mounted only with OUTREACH_BENCH_ROUTES=1). Through
the session and CSRF middleware the first set a cookie on every answer and cost more
than the feeds it was compared with; the private feed was compared with the public
feed's bytes, almost twice its size.
"""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from outreach.accounts.services import feed_token_for
from outreach.app import create_app
from outreach.feeds import api
from tests.factories import World, make_event, make_slot


async def test_bare_feed_serves_the_public_feeds_bytes_without_a_cookie(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_slot(world.firm_a, await make_event(world.firm_a))
    monkeypatch.setenv("OUTREACH_BENCH_ROUTES", "1")
    # Read once per process: this database's.
    monkeypatch.setattr(api._BareFeeds, "public", None)
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app) as client:
        bare = await client.get("/_bench/feed.ics")
        stored = await client.get("/feeds/public.ics")
    assert bare.status_code == stored.status_code == 200
    assert bare.content == stored.content and b"BEGIN:VEVENT" in bare.content
    assert "set-cookie" not in bare.headers and "set-cookie" not in stored.headers
    assert bare.headers["etag"] == stored.headers["etag"]


async def test_bare_private_feed_serves_that_feeds_bytes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_slot(world.firm_a, await make_event(world.firm_a))
    token = await feed_token_for(by=world.firm_a)
    monkeypatch.setenv("OUTREACH_BENCH_ROUTES", "1")
    monkeypatch.setattr(api._BareFeeds, "private", {})
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app) as client:
        bare = await client.get(f"/_bench/private/{token}.ics")
        stored = await client.get(f"/feeds/private/{token}.ics")
        public = await client.get("/feeds/public.ics")
        wrong = await client.get("/_bench/private/nonsense")
    assert bare.status_code == stored.status_code == 200
    assert bare.content == stored.content and bare.content != public.content
    assert bare.headers["etag"] == stored.headers["etag"]
    assert "set-cookie" not in bare.headers
    assert wrong.status_code == 404


async def test_bare_feeds_are_not_mounted_by_default(world: World) -> None:
    token = await feed_token_for(by=world.firm_a)
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/_bench/feed.ics")).status_code == 404
        assert (await client.get(f"/_bench/private/{token}.ics")).status_code == 404
