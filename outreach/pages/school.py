"""Teachers: their school's visits, booking a class visit, cancelling, their feed, seminars.

Mounted under `/school` (see `outreach.pages`), whose guard lets teachers (and the office)
in; the routes here are relative to it.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.accounts import services as accounts
from outreach.booking.queries import get_booking, list_bookings
from outreach.booking.rules import CLASS_VISIT_KINDS, class_visit_obstacles
from outreach.booking.schemas import BookingRequest
from outreach.booking.writes import cancel_booking, place_booking
from outreach.config import get_settings
from outreach.events import services as events
from outreach.itineraries.views import list_itineraries
from outreach.organisations.services import list_organisations
from outreach.pages.common import (
    Checks,
    FormErrors,
    gettext_for,
    page,
    parse_date,
    parse_int,
    required,
)
from outreach.pages.forms import Refused, go_on, handle_form
from outreach.pages.public import google_calendar_url, remember_done, subscribe_links
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from outreach.web import IdPath

__all__ = ["HANDLERS", "private_feed_links"]

SEARCH_DAYS = 42


def private_feed_links(token: str) -> dict[str, str]:
    url = f"{get_settings().base_url}/feeds/private/{token}.ics"
    return subscribe_links(url, "outreach")


@get("/")
async def dashboard(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    now = utcnow()
    today = now.astimezone(LOCAL_TZ).date()
    visits = await list_bookings(by=by)
    seminars = await events.list_events(
        events.EventFilter(kind="teacher_training", status="published", starts_from=now), by=by
    )
    # The school's own parents' evenings, by its id (no lookups of its row or slug).
    evenings = (
        await events.list_events(
            events.EventFilter(kind="parents_evening", host_id=by.org_id), by=by
        )
        if by.org_id
        else []
    )
    return page(
        request,
        "school/dashboard.html",
        upcoming=sorted((b for b in visits if b.ends_at >= now), key=lambda b: b.starts_at),
        past=sorted(
            (b for b in visits if b.ends_at < now), key=lambda b: b.starts_at, reverse=True
        ),
        seminars=seminars,
        evenings=sorted(evenings, key=lambda e: e.id, reverse=True),
        class_days=[i for i in await list_itineraries(by=by) if i.date >= today],
        feed=private_feed_links(await accounts.feed_token_for(by=by)),
        now=now,
    )


# Firms rotate their feed here too (their dashboard's form posts to it).
@post("/feed/rotate", opt={"roles": ("school", "firm")})
async def rotate_feed(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Redirect:
    await accounts.rotate_feed_token(by=by)
    said = gettext_for(request)("A new feed address is set; the old one no longer works.")
    return go_on(request, "/school" if by.role == "school" else "/firm", said)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


@get("/book")
async def search(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """Free slots for a class, with holidays and clashes explained before anything is sent."""
    q = request.query_params
    today = datetime.now(LOCAL_TZ).date()
    first = parse_date(q.get("from")) or today
    last = parse_date(q.get("to")) or first + timedelta(days=SEARCH_DAYS)
    grade = parse_int(q.get("grade"))
    grade = grade if grade is not None and 1 <= grade <= 13 else None
    host = (q.get("host") or "").strip() or None
    class_label = (q.get("class_label") or "").strip()
    found = await events.list_events(
        events.EventFilter(
            host=host,
            grade=grade,
            starts_from=_day_start(first),
            starts_to=_day_start(last + timedelta(days=1)),
            available=True,
            status="published",
        ),
        by=by,
    )
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    rows = [
        (event, slot)
        for event in found
        if event.kind in CLASS_VISIT_KINDS and event.booking_mode != "none"
        for slot in event.slots
        if slot.bookable and slot.available > 0 and start <= slot.starts_at < end
    ]
    rows.sort(key=lambda r: r[1].starts_at)
    obstacles = await class_visit_obstacles(
        [slot.id for _, slot in rows], by=by, class_label=class_label or None, grade=grade
    )
    return page(
        request,
        "school/search.html",
        rows=rows,
        obstacles=obstacles,
        firms=await list_organisations("firm"),
        values={
            "from": first.isoformat(),
            "to": last.isoformat(),
            "grade": grade or "",
            "host": host or "",
            "class_label": class_label,
        },
    )


async def _book_page(
    request: Request[Any, Any, Any],
    me: Principal,
    slot_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    slot = await events.get_slot(slot_id, by=me)
    event = await events.get_event(slot.event_id, by=me)
    values = values or {"key": secrets.token_urlsafe(16), "contact_email": me.email or ""}
    # The grade the search was for (?grade=): a slot not for it says so before typing.
    grade = parse_int(request.query_params.get("grade"))
    obstacles = await class_visit_obstacles(
        [slot_id],
        by=me,
        class_label=values.get("class_label") or None,
        grade=grade if request.method == "GET" else None,
    )
    obstacle = obstacles.get(slot_id)
    return page(
        request,
        "school/book.html",
        status_code=status_code,
        event=event,
        slot=slot,
        obstacle=obstacle,
        # Not bookable whatever is typed: say why, show no form. A class clash depends on
        # the class typed, so its form stays for another class.
        closed=obstacle is not None and obstacle.blocking and obstacle.reason != "class_conflict",
        values=values,
        errors=errors,
        google=google_calendar_url,
    )


@get("/book/{slot_id:int}")
async def book_form(
    request: Request[Any, Any, Any], slot_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return await _book_page(request, by, slot_id)


_VISIT_FIELDS = {
    name: name
    for name in ("class_label", "grade", "pupils", "adults", "contact_name", "contact_email")
} | {"notes": "notes", "slot": "__top__", "booking": "__top__"}


@post("/book/{slot_id:int}")
async def book(
    request: Request[Any, Any, Any], slot_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    async def place(data: dict[str, Any]) -> Any:
        checks = Checks()
        for name in ("class_label", "grade", "pupils"):
            checks.take(lambda name=name: required(data, name))
        req = checks.finish(
            {
                **{k: data.get(k) for k in ("class_label", "grade", "pupils", "adults")},
                "adults": data.get("adults") or "0",
                "contact_name": data.get("contact_name"),
                "contact_email": data.get("contact_email") or by.email,
                "notes": data.get("notes", ""),
                "language": request.state.get("locale"),
            },
            BookingRequest,
        )
        return await place_booking(slot_id, req, by=by, key=data.get("key") or None)

    def placed(done: Any) -> Redirect:
        remember_done(request, done.booking)
        return go_on(request, "/confirmation")

    return await handle_form(
        request,
        place,
        fields=_VISIT_FIELDS,
        done=placed,
        again=lambda r: _book_page(
            request, by, slot_id, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


@get("/bookings/{booking_id:int}/cancel")
async def cancel_form(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return page(request, "school/cancel.html", booking=await get_booking(booking_id, by=by))


@post("/bookings/{booking_id:int}/cancel")
async def cancel(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    async def again(refused: Refused) -> Template:
        found = await get_booking(booking_id, by=by)
        return page(
            request,
            "school/cancel.html",
            status_code=refused.status_code,
            booking=found,
            errors=refused.errors,
        )

    return await handle_form(
        request,
        lambda data: cancel_booking(booking_id, str(data.get("reason", "")).strip(), by=by),
        status_code=409,
        done=lambda _done: go_on(
            request, "/school", _("The visit is cancelled. The host has been told.")
        ),
        again=again,
    )


HANDLERS = [dashboard, rotate_feed, search, book_form, book, cancel_form, cancel]
