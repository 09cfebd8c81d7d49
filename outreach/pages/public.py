"""Pages for everyone: the calendar (list and month), an event, registering, subscribing."""

from __future__ import annotations

import calendar as pycalendar
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from outreach.booking import eligibility
from outreach.booking.rules import CLASS_VISIT_KINDS, REGISTRATION_KINDS, TEACHER_ONLY_KINDS
from outreach.booking.schemas import BookingRequest
from outreach.booking.writes import place_booking
from outreach.config import get_settings
from outreach.errors import Conflict, Invalid
from outreach.events import public_listing
from outreach.events import services as events
from outreach.events.schemas import EventOut, SlotOut
from outreach.events.tables import EVENT_KINDS
from outreach.feeds.api import event_file_response
from outreach.organisations.services import list_organisations
from outreach.pages.common import (
    SESSION_DONE,
    Checks,
    FormErrors,
    language_cookie,
    page,
    parse_date,
    parse_int,
    redirect,
    render_fragment,
    required,
    safe_next,
)
from outreach.pages.forms import Refused, handle_form
from outreach.pages.i18n import LOCALES, locale_of
from outreach.presenters import services as presenters
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from outreach.web import IdPath, idempotency_key

__all__ = [
    "HANDLERS",
    "Occurrence",
    "feed_links",
    "google_calendar_url",
    "remember_done",
    "subscribe_links",
]

LIST_DAYS = 120  # the list view's default reach
LIST_PAGE = 20  # dates per page of the list view ("more dates" shows the next ones)


@dataclass(frozen=True)
class Occurrence:
    """One slot of one event, as the calendar lists it."""

    event: EventOut
    slot: SlotOut


@dataclass(frozen=True)
class CalendarQuery:
    kind: str | None
    host: str | None
    grade: int | None
    first: date | None
    last: date | None
    free: bool
    view: str
    month: date
    page: int = 1

    @classmethod
    def from_request(cls, request: Request[Any, Any, Any]) -> CalendarQuery:
        q = request.query_params
        kind = q.get("kind") if q.get("kind") in EVENT_KINDS else None
        grade = parse_int(q.get("grade"))
        month = parse_date(f"{q.get('month', '')}-01") or datetime.now(LOCAL_TZ).date()
        return cls(
            kind=kind,
            host=(q.get("host") or "").strip() or None,
            grade=grade if grade is not None and 1 <= grade <= 13 else None,
            first=parse_date(q.get("from")),
            last=parse_date(q.get("to")),
            free=q.get("free") in ("1", "on", "true"),
            view="month" if q.get("view") == "month" else "list",
            month=month.replace(day=1),
            page=min(max(parse_int(q.get("page"), default=1) or 1, 1), 10_000),
        )

    @property
    def filtered(self) -> bool:
        """Whether any filter is set (then the folded filters show open)."""
        return any((self.kind, self.host, self.grade, self.first, self.last, self.free))

    def span(self, today: date | None = None) -> tuple[date, date]:
        if self.view == "month":
            last_day = pycalendar.monthrange(self.month.year, self.month.month)[1]
            return self.month, self.month.replace(day=last_day)
        first = self.first or today or datetime.now(LOCAL_TZ).date()
        return first, self.last or first + timedelta(days=LIST_DAYS)

    def params(self, **override: Any) -> str:
        values = {
            "view": self.view,
            "kind": self.kind,
            "host": self.host,
            "grade": self.grade,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "free": "1" if self.free else None,
            "month": f"{self.month:%Y-%m}" if self.view == "month" else None,
            "page": self.page if self.page > 1 else None,
        } | override
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def feed_links(
    kind: str | None, host: str | None, grade: int | None, name: str = "outreach"
) -> dict[str, str]:
    """The public feed for a filter (kind, host, grade are the feed's own filters)."""
    query = urlencode({k: v for k, v in (("kind", kind), ("host", host), ("grade", grade)) if v})
    url = f"{get_settings().base_url}/feeds/public.ics" + (f"?{query}" if query else "")
    return subscribe_links(url, name)


def subscribe_links(url: str, name: str) -> dict[str, str]:
    """Every way to subscribe to the feed at `url`: the calendar app on this device
    (webcal), Google Calendar and Outlook (personal and Microsoft 365) on the web, and
    the address itself for any other app."""
    webcal = "webcal://" + url.split("://", 1)[1]
    outlook = urlencode({"url": url, "name": name})
    return {
        "https": url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?" + urlencode({"cid": webcal}),
        "outlook": f"https://outlook.live.com/calendar/0/addfromweb?{outlook}",
        "office365": f"https://outlook.office.com/calendar/0/addfromweb?{outlook}",
    }


def google_calendar_url(event: EventOut, slot: SlotOut) -> str:
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    venue = event.venue
    where = ", ".join(p for p in (venue.name, venue.street, venue.city) if p) if venue else ""
    params = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{stamp(slot.starts_at)}/{stamp(slot.ends_at)}",
        "details": f"{event.description}\n\n{event.url}".strip(),
        "location": where,
        "ctz": "Europe/Berlin",
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(params)


def occurrences(items: list[EventOut], first: date, last: date) -> list[Occurrence]:
    start, end = _start(first), _start(last + timedelta(days=1))
    found = [
        Occurrence(event, slot)
        for event in items
        for slot in event.slots
        if not slot.cancelled and slot.ends_at >= start and slot.starts_at < end
    ]
    return sorted(found, key=lambda o: (o.slot.starts_at, o.event.title))


@dataclass(frozen=True)
class ListPage:
    items: list[Occurrence]
    page: int
    first: int  # the position of the page's first date, from 1
    total: int
    more: bool  # more dates follow on the next page


def _list_page(items: list[Occurrence], page: int) -> ListPage:
    last_page = max((len(items) + LIST_PAGE - 1) // LIST_PAGE, 1)
    page = min(page, last_page)
    start = (page - 1) * LIST_PAGE
    return ListPage(items[start : start + LIST_PAGE], page, start + 1, len(items), page < last_page)


def _by_month(items: list[Occurrence]) -> list[tuple[date, list[Occurrence]]]:
    """The dates under the month they fall in (local time), in order."""
    months: dict[date, list[Occurrence]] = {}
    for item in items:
        day = item.slot.starts_at.astimezone(LOCAL_TZ).date()
        months.setdefault(day.replace(day=1), []).append(item)
    return list(months.items())


def month_grid(month: date, items: list[Occurrence]) -> list[list[tuple[date, list[Occurrence]]]]:
    by_day: dict[date, list[Occurrence]] = {}
    for item in items:
        by_day.setdefault(item.slot.starts_at.astimezone(LOCAL_TZ).date(), []).append(item)
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    return [[(day, by_day.get(day, [])) for day in week] for week in weeks]


@get("/")
async def calendar_page(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    query = CalendarQuery.from_request(request)
    if by.is_member:  # network events and own drafts: never shared
        return page(request, "public/calendar.html", **await _calendar(query, by))
    # An anonymous visitor's content is the same for every one of this language and
    # query (and day): kept rendered for the page cache's moment, its data read when it
    # is rendered (one bound, not two). The page around it carries the per-visitor parts.
    locale = locale_of(request)
    today = datetime.now(LOCAL_TZ).date()

    async def render() -> Markup:
        context = await _calendar(query, by, today=today)
        return render_fragment(request, "public/_calendar_content.html", **context)

    content = await public_listing.for_visitor(by, ("calendar", locale, today, query), render)
    return page(request, "public/calendar.html", content=content)


async def _calendar(
    query: CalendarQuery, by: Principal, *, today: date | None = None
) -> dict[str, Any]:
    """What the calendar's content shows, read now."""
    today = today or datetime.now(LOCAL_TZ).date()
    first, last = query.span(today)
    filters = events.EventFilter(
        kind=query.kind,
        host=query.host,
        grade=query.grade,
        starts_from=_start(first),
        starts_to=_start(last + timedelta(days=1)),
        available=query.free or None,
        status="published",
    )
    found = await events.list_events(filters, by=by)
    hosts = await list_organisations()
    items = occurrences(found, first, last)
    shown = listed = None
    if query.view == "list":  # one page of dates, grouped by month
        listed = _list_page(items, query.page)
        shown = listed.items
    prev_month = (query.month - timedelta(days=1)).replace(day=1)
    next_month = (query.month + timedelta(days=32)).replace(day=1)
    return {
        "q": query,
        "items": items,
        "grid": month_grid(query.month, items) if query.view == "month" else None,
        "hosts": hosts,
        "kinds": EVENT_KINDS,
        "feed": feed_links(query.kind, query.host, query.grade),
        "today": today,
        "prev_month": query.params(month=f"{prev_month:%Y-%m}"),
        "next_month": query.params(month=f"{next_month:%Y-%m}"),
        "list_link": query.params(view="list", month=None),
        "month_link": query.params(view="month", page=None),
        "google": google_calendar_url,
        "listed": listed,
        "by_month": _by_month(shown or []),
        "more_link": query.params(page=listed.page + 1) if listed and listed.more else None,
        "back_link": query.params(page=listed.page - 1) if listed and listed.page > 1 else None,
        # Past the list's reach: the dates after it, from the next day on.
        "later_link": (
            query.params(
                **{"from": (last + timedelta(days=1)).isoformat(), "to": None, "page": None}
            )
            if listed and not listed.more
            else None
        ),
    }


@dataclass(frozen=True, slots=True)
class _EventData:
    """What an event page shows of the event: the same for every anonymous visitor."""

    event: EventOut
    slots: list[SlotOut]
    refusals: dict[int, eligibility.Refusal]
    presenters: list[dict[str, str]]
    google_links: dict[int, str]  # slot id -> "add to Google Calendar"
    # The details part of the page rendered for anonymous visitors, by language: kept
    # with the data, so both expire together (see _event_page).
    details: dict[str, Markup] = field(default_factory=dict)


async def _event_page(
    request: Request[Any, Any, Any],
    by: Principal,
    event_id: int,
    *,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    now = utcnow()

    async def load() -> _EventData:
        event = await events.get_event(event_id, by=by)
        slots = [s for s in event.slots if not s.cancelled]
        return _EventData(
            event=event,
            slots=slots,
            # Why a time takes no booking, said beside it (not open yet, closed, full, ...).
            refusals=await eligibility.slot_refusals([s.id for s in slots], now=now),
            presenters=(await presenters.accepted_presenters([event.id])).get(event.id, []),
            # Written once with the data (urlencode of a long description per time was
            # a fifth of the page's rendering).
            google_links={s.id: google_calendar_url(event, s) for s in slots},
        )

    # Kept a second for anonymous visitors; a refused form is answered from fresh data
    # (it may have been refused because a place was just taken).
    data: _EventData = (
        await load()
        if errors is not None
        else await public_listing.for_visitor(by, ("event", event_id), load)
    )
    event, slots = data.event, data.slots
    takes_registrations = (
        event.booking_mode != "none"
        and event.kind in REGISTRATION_KINDS
        and (event.kind not in TEACHER_ONLY_KINDS or by.role in ("school", "admin"))
    )
    shown = {
        "event": event,
        "slots": slots,
        "refusals": data.refusals,
        "takes_class_visits": event.booking_mode != "none" and event.kind in CLASS_VISIT_KINDS,
        "teacher_only": event.kind in TEACHER_ONLY_KINDS,
        "feed": feed_links(event.kind, event.host, None),
        "google": lambda _event, slot: data.google_links[slot.id],
        "presenters": data.presenters,
    }
    if not by.is_member and errors is None:
        # The details are the same for every anonymous visitor of one language: rendered
        # once per copy of the data (the form below them is each visitor's own).
        locale = locale_of(request)
        if locale not in data.details:
            data.details[locale] = render_fragment(request, "public/_event_details.html", **shown)
        shown["details"] = data.details[locale]
    return page(
        request,
        "public/event.html",
        status_code=status_code,
        takes_registrations=takes_registrations,
        errors=errors,
        values=values or {"key": secrets.token_urlsafe(16), "persons": "1"},
        now=now,
        **shown,
    )


# HEAD too: `/events/<id>.ics` is a calendar route, and calendar clients ask with HEAD.
@route("/events/{ref:str}", http_method=[HttpMethod.GET, HttpMethod.HEAD])
async def event_page(
    request: Request[Any, Any, Any], ref: FromPath[str], by: NamedDependency[Principal]
) -> Template | Response[bytes]:
    """The event's page; `/events/<id>.ics` is its calendar file (served by the feeds)."""
    if ref.isdigit():
        return await _event_page(request, by, int(ref))
    # One GET route per path: names that are no id go to the feed, which 404s the rest.
    return await event_file_response(request, ref, by)


def _chosen_slot(data: dict[str, Any]) -> int:
    slot_id = parse_int(data.get("slot"))
    if slot_id is None:
        raise Invalid("choose a time", field="slot")
    return slot_id


_REGISTRATION_FIELDS = {"name": "name", "email": "email", "persons": "persons", "slot": "slot"}


@post("/events/{event_id:int}/register")
async def register(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    """A registration for an open day, parents' evening or seminar (POST-redirect-GET)."""

    async def register_for(data: dict[str, Any]) -> Any:
        checks = Checks()
        slot_id = checks.take(lambda: _chosen_slot(data))
        for name in ("name", "email", "persons") if by.email is None else ("name", "persons"):
            checks.take(lambda name=name: required(data, name))
        req = checks.finish(
            {
                "name": data.get("name"),
                "email": data.get("email") or by.email,
                "persons": data.get("persons"),
                "notes": data.get("notes", ""),
                "language": request.state.get("locale"),
            },
            BookingRequest,
        )
        key = idempotency_key(request, by, data.get("key") or None)
        assert slot_id is not None  # else `finish` raised its refusal with the others
        return await place_booking(slot_id, req, by=by, key=key)

    def registered(placement: Any) -> Redirect:
        remember_done(request, placement.booking)
        return redirect("/confirmation")

    async def again(refused: Refused) -> Template:
        errors = refused.errors
        if isinstance(refused.error, Conflict):  # a full or closed time: beside the choice
            errors = FormErrors()
            errors.add(refused.error, {"slot": "slot"}, text=lambda _each: refused.text)
        return await _event_page(
            request,
            by,
            event_id,
            errors=errors,
            values=refused.values,
            status_code=refused.status_code,
        )

    return await handle_form(
        request,
        register_for,
        fields=_REGISTRATION_FIELDS,
        done=registered,
        again=again,
    )


def remember_done(request: Request[Any, Any, Any], placed: Any) -> None:
    """What the confirmation page shows, kept in the session for the redirect."""
    session = dict(request.scope.get("session") or {})
    session[SESSION_DONE] = {
        "id": placed.id,
        "status": placed.status,
        "title": placed.event_title,
        "event_id": placed.event_id,
        "starts_at": placed.starts_at.isoformat(),
        "ends_at": placed.ends_at.isoformat(),
        "persons": placed.persons,
        "kind": placed.kind,
        "waitlist_position": placed.waitlist_position,
        # A registration without an account waits for the address to be confirmed.
        "verify_by": placed.verify_by.isoformat() if placed.verify_by else None,
    }
    request.set_session(session)


@get("/confirmation")
async def confirmation(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    session = request.scope.get("session") or {}
    done = session.get(SESSION_DONE) if isinstance(session, dict) else None
    if done:
        done = {
            **done,
            "starts_at": datetime.fromisoformat(done["starts_at"]),
            "ends_at": datetime.fromisoformat(done["ends_at"]),
            "verify_by": (
                datetime.fromisoformat(done["verify_by"]) if done.get("verify_by") else None
            ),
        }
    return page(request, "public/confirmation.html", done=done)


@get("/language/{locale:str}")
async def switch_language(request: Request[Any, Any, Any], locale: FromPath[str]) -> Redirect:
    """The language switch: a plain link, remembered in a cookie (no script needed)."""
    target = safe_next(request.query_params.get("next"))
    response = Redirect(path=target, status_code=303)
    if locale in LOCALES:
        response.cookies.append(language_cookie(locale))
    return response


HANDLERS = [calendar_page, event_page, register, confirmation, switch_language]
