"""The caller's own things: their private calendar feed."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from msgspec import Struct

from outreach.accounts import services
from outreach.config import get_settings
from outreach.principal import Principal
from outreach.web import READ_ERRORS, WRITE_ERRORS

__all__ = ["MeController"]


class FeedUrl(Struct):
    url: str
    webcal: str


def _feed_url(token: str) -> FeedUrl:
    url = f"{get_settings().base_url}/feeds/private/{token}.ics"
    return FeedUrl(url=url, webcal="webcal://" + url.split("://", 1)[1])


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["me"]

    @get("/feed", responses=READ_ERRORS)
    async def feed(self, by: NamedDependency[Principal]) -> FeedUrl:
        """The URL of your private calendar feed."""
        return _feed_url(await services.feed_token_for(by=by))

    @post("/feed/rotate", status_code=200, responses=WRITE_ERRORS)
    async def rotate(self, by: NamedDependency[Principal]) -> FeedUrl:
        """A new private feed URL; the old one answers 404 from now on."""
        return _feed_url(await services.rotate_feed_token(by=by))
