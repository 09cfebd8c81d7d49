"""The network office's view of all bookings: filtered, sorted by date, one page at a time,
and the figures its overview opens with.

The filters come from a query string, so `BookingSearch.parse` reads raw text and
refuses what it cannot use with an `Invalid` naming the parameter; the query itself
(`search_bookings`) and the counts (`office_figures`) live here, below the pages.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from outreach.audit import services as audit
from outreach.booking.queries import _outs
from outreach.booking.tables import Booking
from outreach.db import write_transaction
from outreach.errors import Forbidden, Invalid
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow

__all__ = [
    "PAGE_SIZE",
    "SORTS",
    "STATUSES",
    "BookingPage",
    "BookingSearch",
    "OfficeFigures",
    "office_figures",
    "search_bookings",
]

PAGE_SIZE = 50
STATUSES = ("pending", "confirmed", "waitlisted", "declined", "cancelled")
# "date": the earliest visit first (what comes next); "-date": the latest first.
SORTS = ("date", "-date")


@dataclass(frozen=True)
class BookingSearch:
    firm: str | None = None  # the host's slug (a firm, or any host the office names)
    school: str | None = None  # the booking school's slug
    status: str | None = None
    first: date | None = None  # visits on or after this local day
    last: date | None = None  # visits on or before this local day
    sort: str = "date"
    page: int = 1

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> BookingSearch:
        """The filters of a query string; the first one that cannot be used is refused."""

        def text(name: str) -> str | None:
            value = str(raw.get(name) or "").strip()
            return value or None

        status = text("status")
        if status is not None and status not in STATUSES:
            raise Invalid("status must be one of the listed statuses", field="status")
        sort = text("sort") or "date"
        if sort not in SORTS:
            raise Invalid("sort must be date or -date", field="sort")
        first, last = _day(text("from"), "from"), _day(text("to"), "to")
        if first and last and last < first:
            raise Invalid("the last day must not be before the first day", field="to")
        page = text("page") or "1"
        if not page.isdigit() or not 1 <= int(page) <= 100_000:
            raise Invalid("page must be a whole number from 1", field="page")
        return cls(
            firm=_slug(text("firm"), "firm"),
            school=_slug(text("school"), "school"),
            status=status,
            first=first,
            last=last,
            sort=sort,
            page=int(page),
        )

    def params(self, **override: Any) -> dict[str, str]:
        """The search as query parameters (for the pager and the sort link)."""
        values = {
            "firm": self.firm,
            "school": self.school,
            "status": self.status,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "sort": self.sort if self.sort != "date" else None,
            "page": str(self.page) if self.page != 1 else None,
        } | override
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


# Whole sentences, one per field, so that each reaches the catalogs as it is.
_NOT_A_DATE = {
    "from": "from must be a date like 2026-12-31",
    "to": "to must be a date like 2026-12-31",
}
_NOT_A_SLUG = {
    "firm": "firm must be the short name of an organisation",
    "school": "school must be the short name of an organisation",
}
_NO_SUCH_ORG = {
    "firm": "firm: no organisation has this short name",
    "school": "school: no organisation has this short name",
}


def _day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(_NOT_A_DATE[field], field=field) from None


def _slug(value: str | None, field: str) -> str | None:
    if value is not None and (len(value) > 64 or not value.replace("-", "").isalnum()):
        raise Invalid(_NOT_A_SLUG[field], field=field)
    return value


@dataclass(frozen=True)
class BookingPage:
    bookings: list[Any]  # BookingOut
    total: int
    page: int
    last_page: int


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


async def _org_id(slug: str, field: str) -> int:
    row = await Organisation.select(Organisation.id).where(Organisation.slug == slug).first()
    if row is None:
        raise Invalid(_NO_SUCH_ORG[field], field=field)
    return row["id"]


async def search_bookings(search: BookingSearch, *, by: Principal) -> BookingPage:
    """One page of all bookings for the network office, by visit date."""
    if not by.is_admin:
        raise Forbidden("only the network office lists all bookings")
    where = []
    if search.firm:
        where.append(Booking.event.host == await _org_id(search.firm, "firm"))
    if search.school:
        where.append(Booking.school == await _org_id(search.school, "school"))
    if search.status:
        where.append(Booking.status == search.status)
    if search.first:
        where.append(Booking.slot.starts_at >= _start_of(search.first))
    if search.last:
        where.append(Booking.slot.starts_at < _start_of(search.last + timedelta(days=1)))
    total = await Booking.count().where(*where)
    last_page = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(search.page, last_page)
    ascending = search.sort == "date"
    rows = await (
        Booking.objects()
        .where(*where)
        .order_by(Booking.slot.starts_at, ascending=ascending)
        .order_by(Booking.id, ascending=ascending)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    found = await _outs(rows)
    if found:  # a look at other people's contact data, logged like every such look
        async with write_transaction():
            await audit.record(
                "bookings.view",
                by=by,
                object_type="bookings",
                object_id=None,
                detail={"view": "office_bookings", "bookings": len(found), "status": search.status},
            )
    return BookingPage(found, total, page, last_page)


@dataclass(frozen=True)
class OfficeFigures:
    """What the office asks first, each with the span of the list it opens."""

    month_first: date  # today
    month_last: date  # the last day of this month
    coming_this_month: int  # confirmed visits from today to the month's end
    pending: int  # bookings waiting for a host's decision
    waiting: int  # bookings on a waiting list


async def office_figures(*, by: Principal, now: datetime | None = None) -> OfficeFigures:
    if not by.is_admin:
        raise Forbidden("only the network office sees the network's figures")
    moment = now or utcnow()
    today = moment.astimezone(LOCAL_TZ).date()
    month_last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    # Counted as the list it links to filters: confirmed, today to the month's last day.
    coming = await Booking.count().where(
        Booking.status == "confirmed",
        Booking.slot.starts_at >= _start_of(today),
        Booking.slot.starts_at < _start_of(month_last + timedelta(days=1)),
    )
    pending = await Booking.count().where(Booking.status == "pending")
    waiting = await Booking.count().where(Booking.status == "waitlisted")
    return OfficeFigures(today, month_last, coming, pending, waiting)
