"""HTTP side of the feeds: thin controllers that serve stored bytes (GET and HEAD).

Responses are built as raw ASGI responses: the body is already encoded, and HEAD must
answer the GET's headers (Content-Length included) without the body.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response.base import ASGIResponse

from outreach.errors import NotFound
from outreach.events.schemas import EventKind
from outreach.feeds import services
from outreach.feeds.http import calendar_file, feed_headers, is_not_modified
from outreach.principal import Principal
from outreach.web import MAX_ID, IdPath, error_responses

__all__ = [
    "EventCalendarController",
    "FeedController",
    "bench_route_handlers",
    "event_file_response",
    "feed_response",
    "is_event_file",
]

_GET_HEAD = [HttpMethod.GET, HttpMethod.HEAD]
# For the OpenAPI documentation: what else a feed URL answers.
_RESPONSES = {
    304: ResponseSpec(
        data_container=None,
        description="Not modified: the client's copy (If-None-Match, If-Modified-Since) is current",
    ),
    404: ResponseSpec(data_container=None, description="No such feed"),
    **error_responses(401, 422),
}
_EVENT_FILE = re.compile(r"^([1-9][0-9]{0,9})\.ics$")
_TOKEN_FILE = re.compile(r"^([A-Za-z0-9_-]{1,200})\.ics$")


def _answer(
    request: Request[Any, Any, Any], feed: services.StoredFeed
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for the stored feed: 304 when the client's copy is current."""
    if is_not_modified(
        etag=feed.etag,
        last_modified=feed.last_modified,
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
    ):
        headers = feed_headers(
            etag=feed.etag, last_modified=feed.last_modified, public=feed.public, length=None
        )
        return 304, headers, b""
    headers = feed_headers(
        etag=feed.etag, last_modified=feed.last_modified, public=feed.public, length=len(feed.body)
    )
    if feed.path is not None:
        headers.append(("content-location", feed.path))
    return 200, headers, feed.body


def feed_response(request: Request[Any, Any, Any], feed: services.StoredFeed) -> ASGIResponse:
    """The stored feed as a raw ASGI response; HEAD gets the GET's headers, no body."""
    status, headers, body = _answer(request, feed)
    head = request.method == HttpMethod.HEAD
    return ASGIResponse(
        status_code=status,
        headers=headers,
        body=b"" if head else body,
        is_head_response=head and status == 200,
        content_length=len(body),
    )


class FeedController(Controller):
    path = "/feeds"
    tags = ["feeds"]

    @route("/public.ics", http_method=_GET_HEAD, media_type="text/calendar", responses=_RESPONSES)
    async def public(
        self,
        request: Request[Any, Any, Any],
        kind: Annotated[EventKind | None, QueryParameter()] = None,
        host: Annotated[str | None, QueryParameter(min_length=1, max_length=64)] = None,
        grade: Annotated[int | None, QueryParameter(ge=1, le=13)] = None,
    ) -> ASGIResponse:
        """All published public events as iCalendar; filters in any combination.

        Answers 304 to a matching `If-None-Match` or `If-Modified-Since`.
        """
        filters = services.PublicFilter(kind=kind, host=host, grade=grade)
        return feed_response(request, await services.public_feed(filters))

    @route(
        "/private/{name:str}",
        http_method=_GET_HEAD,
        media_type="text/calendar",
        responses=_RESPONSES,
    )
    async def private(self, request: Request[Any, Any, Any], name: FromPath[str]) -> ASGIResponse:
        """Your own feed, at the URL from `GET /api/v1/me/feed`."""
        match = _TOKEN_FILE.match(name)
        try:
            if match is None:
                raise NotFound("no such feed")
            feed = await services.private_feed(match.group(1))
        except NotFound:
            # A wrong, rotated or missing token answers exactly like an unknown path.
            raise NotFoundException() from None
        return feed_response(request, feed)


class EventCalendarController(Controller):
    """One event as iCalendar.

    `/events/{id}.ics` cannot be a route of its own: Litestar does not match
    `{id:int}.ics`, and a `{name:str}` segment would share its routing node with the
    event page (`GET /events/{event_id:int}`), where one GET handler wins. So the page
    route hands names ending in `.ics` to `event_file_response`, and this controller
    serves the same feed at `/events/{id}/calendar.ics`.
    """

    path = "/events"
    tags = ["feeds"]

    @route(
        "/{event_id:int}/calendar.ics",
        http_method=_GET_HEAD,
        media_type="text/calendar",
        responses=_RESPONSES,
    )
    async def event(
        self,
        request: Request[Any, Any, Any],
        event_id: IdPath,
        by: NamedDependency[Principal],
    ) -> ASGIResponse:
        """One event as iCalendar (also at `/events/{id}.ics`)."""
        return feed_response(request, await services.event_feed(event_id, by=by))


async def event_file_response(
    request: Request[Any, Any, Any], name: str, by: Principal
) -> Response[bytes]:
    """`/events/{name}` where name is "<id>.ics": the event's feed; anything else 404.

    A plain `Response`, so that a handler that otherwise answers a page can return it;
    HEAD gets the GET's headers and no body, as on every calendar route.
    """
    match = _EVENT_FILE.match(name)
    if match is None or int(match.group(1)) > MAX_ID:
        raise NotFoundException()
    feed = await services.event_feed(int(match.group(1)), by=by)
    status, headers, body = _answer(request, feed)
    head = request.method == HttpMethod.HEAD
    return calendar_file(body, head=head, status=status, headers=dict(headers))


def is_event_file(name: str) -> bool:
    """Whether an `/events/{name}` segment asks for the event's .ics file."""
    return name.endswith(".ics")


# --------------------------------------------------------------------------- benchmark only


class _BareFeeds:
    """Feeds' bytes, read once, then served from memory (the baselines)."""

    public: services.StoredFeed | None = None
    private: dict[str, services.StoredFeed] = {}


@route(
    "/_bench/feed.ics", http_method=_GET_HEAD, media_type="text/calendar", include_in_schema=False
)
async def _bench_bare_feed(request: Request[Any, Any, Any]) -> ASGIResponse:
    if _BareFeeds.public is None:
        _BareFeeds.public = await services.public_feed(services.PublicFilter())
    return feed_response(request, _BareFeeds.public)


@route(
    "/_bench/private/{name:str}",
    http_method=_GET_HEAD,
    media_type="text/calendar",
    include_in_schema=False,
)
async def _bench_bare_private_feed(
    request: Request[Any, Any, Any], name: FromPath[str]
) -> ASGIResponse:
    """The private feed's own bytes from memory, on a route of the same shape."""
    feed = _BareFeeds.private.get(name)
    if feed is None:
        match = _TOKEN_FILE.match(name)
        if match is None:
            raise NotFoundException()
        feed = _BareFeeds.private[name] = await services.private_feed(match.group(1))
    return feed_response(request, feed)


def bench_route_handlers() -> list[HTTPRouteHandler]:
    """The benchmark's bare endpoints, mounted only with OUTREACH_BENCH_ROUTES=1."""
    if os.environ.get("OUTREACH_BENCH_ROUTES") != "1":
        return []
    return [_bench_bare_feed, _bench_bare_private_feed]
