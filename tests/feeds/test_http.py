"""Conditional requests, decided without a server: 304 only on a real match."""

from __future__ import annotations

from datetime import UTC, datetime

from outreach.feeds.http import etag_matches, feed_headers, http_date, is_not_modified

ETAG = '"abc123"'
LAST = datetime(2027, 3, 28, 8, 0, 0, tzinfo=UTC)


def _304(inm: str | None = None, ims: str | None = None) -> bool:
    return is_not_modified(etag=ETAG, last_modified=LAST, if_none_match=inm, if_modified_since=ims)


def test_if_none_match() -> None:
    assert _304(inm=ETAG)
    assert _304(inm=f'"other", {ETAG}')
    assert _304(inm=f"W/{ETAG}")  # weak comparison, as RFC 9110 asks for If-None-Match
    assert _304(inm="*")
    assert not _304(inm='"other"')
    assert not _304(inm="abc123")  # unquoted is another tag


def test_if_none_match_takes_precedence_over_if_modified_since() -> None:
    assert not _304(inm='"stale"', ims=http_date(LAST))
    assert _304(inm=ETAG, ims="Thu, 01 Jan 1970 00:00:00 GMT")


def test_if_modified_since() -> None:
    assert _304(ims=http_date(LAST))
    assert _304(ims="Sun, 28 Mar 2027 09:00:00 GMT")
    assert not _304(ims="Sun, 28 Mar 2027 07:59:59 GMT")
    assert not _304(ims="yesterday")  # unreadable: ignored, not a match
    assert not _304(ims="")
    assert not _304()


def test_sub_second_last_modified_is_compared_in_whole_seconds() -> None:
    assert is_not_modified(
        etag=ETAG,
        last_modified=LAST.replace(microsecond=900_000),
        if_none_match=None,
        if_modified_since=http_date(LAST),
    )


def test_etag_matches_needs_the_exact_tag() -> None:
    assert etag_matches(' "a" , "b" ', '"b"')
    assert not etag_matches('"ab"', '"a"')


def test_headers() -> None:
    public = dict(feed_headers(etag=ETAG, last_modified=LAST, public=True, length=10))
    assert public == {
        "content-type": "text/calendar; charset=utf-8",
        "etag": ETAG,
        "last-modified": "Sun, 28 Mar 2027 08:00:00 GMT",
        "cache-control": "public, max-age=300",
        "content-length": "10",
    }
    private = dict(feed_headers(etag=ETAG, last_modified=LAST, public=False, length=None))
    assert private["cache-control"] == "private, max-age=300"
    assert "content-length" not in private
    assert "noindex" in private["x-robots-tag"]
