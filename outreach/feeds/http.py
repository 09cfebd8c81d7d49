"""Conditional requests and response headers of the feeds (RFC 9110), without a framework.

Calendar clients poll: Apple and Thunderbird send If-None-Match / If-Modified-Since and
are happy with 304. A 304 must only answer a real match: a server that answers 304 to
every If-Modified-Since, or whose Last-Modified goes backwards, freezes Apple
subscriptions. Feeds are never compressed: Outlook refuses gzip-encoded subscriptions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from litestar import Response

__all__ = [
    "CONTENT_TYPE",
    "MAX_AGE",
    "calendar_file",
    "etag_matches",
    "feed_headers",
    "http_date",
    "is_not_modified",
]

# Written out here, with its one charset: a framework's `media_type="text/calendar"`
# adds "; charset=utf-8" itself, so a media type that already names it gets two.
CONTENT_TYPE = "text/calendar; charset=utf-8"
MAX_AGE = 300


def calendar_file(
    body: bytes, *, head: bool, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    """A calendar file as a plain `Response` (a page's handler may return it), GET or HEAD.

    HEAD answers the GET's headers, Content-Length included, and no body.
    """
    all_headers = {"content-type": CONTENT_TYPE, **(headers or {})}
    if status == 200:
        all_headers.setdefault("content-length", str(len(body)))
    return Response(
        b"" if head else body,
        status_code=status,
        headers=all_headers,
        media_type="text/calendar",
    )


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"; "*" matches anything."""
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _parse_http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_not_modified(
    *,
    etag: str,
    last_modified: datetime,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> bool:
    """304 or not. If-None-Match, when sent, decides alone (RFC 9110, 13.2.2); else
    If-Modified-Since matches when it is no earlier than Last-Modified (whole seconds)."""
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    if not if_modified_since:
        return False
    since = _parse_http_date(if_modified_since)
    if since is None:
        return False  # an unreadable date is ignored, as RFC 9110 says
    return last_modified.replace(microsecond=0) <= since


def feed_headers(
    *, etag: str, last_modified: datetime, public: bool, length: int | None
) -> list[tuple[str, str]]:
    headers = [
        ("content-type", CONTENT_TYPE),
        ("etag", etag),
        ("last-modified", http_date(last_modified)),
        ("cache-control", f"{'public' if public else 'private'}, max-age={MAX_AGE}"),
    ]
    if not public:
        # A private feed's URL is its password: keep it out of search engines.
        headers.append(("x-robots-tag", "noindex, nofollow"))
    if length is not None:
        headers.append(("content-length", str(length)))
    return headers
