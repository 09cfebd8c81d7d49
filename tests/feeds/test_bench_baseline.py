"""The feed benchmark's baseline is fair: the same bytes, through the same stack, no cookie.

bench/feeds.py compares the stored feeds with `/_bench/feed.ics` (mounted only with
OUTREACH_BENCH_ROUTES=1). Through the session and CSRF middleware it set a cookie on
every answer and cost more than the feeds it was compared with.
"""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from outreach.app import create_app
from outreach.feeds import api
from tests.factories import World, make_event, make_slot


async def test_bare_feed_serves_the_public_feeds_bytes_without_a_cookie(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_slot(world.firm_a, await make_event(world.firm_a))
    monkeypatch.setenv("OUTREACH_BENCH_ROUTES", "1")
    monkeypatch.setattr(api._BareFeed, "feed", None)  # read once per process: this database's
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app) as client:
        bare = await client.get("/_bench/feed.ics")
        stored = await client.get("/feeds/public.ics")
    assert bare.status_code == stored.status_code == 200
    assert bare.content == stored.content and b"BEGIN:VEVENT" in bare.content
    assert "set-cookie" not in bare.headers and "set-cookie" not in stored.headers
    assert bare.headers["etag"] == stored.headers["etag"]


async def test_bare_feed_is_not_mounted_by_default(world: World) -> None:
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/_bench/feed.ics")).status_code == 404
