"""The caller's own things: their private calendar feed, their data, their account."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from msgspec import Meta, Struct

from outreach.accounts import privacy, services
from outreach.config import get_settings
from outreach.principal import Principal
from outreach.web import BEARER, READ_ERRORS, WRITE_ERRORS

__all__ = ["MeController"]


class DeleteIn(Struct, forbid_unknown_fields=True):
    # The account's own e-mail address, typed again: a deletion is never an accident.
    confirm: Annotated[str, Meta(max_length=254)]


class Deleted(Struct):
    deleted: bool
    bookings_anonymised: int


class FeedUrl(Struct):
    url: str
    webcal: str


def _feed_url(token: str) -> FeedUrl:
    url = f"{get_settings().base_url}/feeds/private/{token}.ics"
    return FeedUrl(url=url, webcal="webcal://" + url.split("://", 1)[1])


class MeController(Controller):
    path = "/api/v1/me"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["me"]

    @get("/feed", responses=READ_ERRORS)
    async def feed(self, by: NamedDependency[Principal]) -> FeedUrl:
        """The URL of your private calendar feed."""
        return _feed_url(await services.feed_token_for(by=by))

    @post("/feed/rotate", status_code=200, responses=WRITE_ERRORS)
    async def rotate(self, by: NamedDependency[Principal]) -> FeedUrl:
        """A new private feed URL; the old one answers 404 from now on."""
        return _feed_url(await services.rotate_feed_token(by=by))

    @get("/export", responses=READ_ERRORS)
    async def export(self, by: NamedDependency[Principal]) -> Response[dict[str, Any]]:
        """Your data as JSON: account, organisation, your bookings, token metadata."""
        data = await privacy.export_data(by=by)
        return Response(
            data,
            headers={
                "Content-Disposition": 'attachment; filename="outreach-my-data.json"',
                "Cache-Control": "no-store",
            },
        )

    @post("/delete", status_code=200, responses=WRITE_ERRORS)
    async def delete(self, data: JSONBody[DeleteIn], by: NamedDependency[Principal]) -> Deleted:
        """Delete your account: tokens revoked, your bookings' contact data anonymised."""
        count = await privacy.delete_account(by=by, confirm_email=data.confirm)
        return Deleted(deleted=True, bookings_anonymised=count)
