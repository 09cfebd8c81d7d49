"""Teachers: the class day planner. Plan a day at several firms, book it all or nothing,
follow each visit's status, cancel, replace a visit that fell away, print the day.

Planning is a GET (it changes nothing, so the form works without JavaScript and the
result can be bookmarked); booking, cancelling and replacing are POSTs with the CSRF
token and, where places are taken, an idempotency key in a hidden field so that a
double click books once. Every rule is in the itineraries services
(`availability`, `planning`, `writes`, `views`).

Mounted under `/school` (see `outreach.pages`) with the teachers' other pages; the routes
here are relative to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.errors import Forbidden, Invalid
from outreach.itineraries.explain import Speaker, render, render_one
from outreach.itineraries.planning import (
    ExplainedPlan,
    plan_day_explained,
    replacement_options_explained,
)
from outreach.itineraries.schemas import (
    ItineraryIn,
    ItineraryOut,
    LegOut,
    LunchOut,
    PlanOut,
    PlanRequest,
    ProposalOut,
    VisitOut,
    VisitStatusOut,
)
from outreach.itineraries.sketch import RouteStop, route_svg, stops_of
from outreach.itineraries.views import get_itinerary
from outreach.itineraries.writes import (
    ItineraryUnavailable,
    book_itinerary,
    book_replacement,
    cancel_itinerary,
)
from outreach.itineraries.writes import cancel_visit as cancel_itinerary_visit
from outreach.languages import babel_locale
from outreach.organisations.services import list_organisations
from outreach.pages.common import (
    FormErrors,
    convert,
    form_data,
    gettext_for,
    page,
    parse_date,
    parse_int,
)
from outreach.pages.forms import Refused, go_on, handle_form
from outreach.pages.i18n import holiday_name, locale_of, translations
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from outreach.web import IdPath

__all__ = ["HANDLERS"]

MAX_DAYS = 31
# Fields of the planning form, carried as hidden fields into each "book this day" form.
_PLAN_FIELDS = (
    "date",
    "date_to",
    "grade",
    "pupils",
    "adults",
    "arrive_at",
    "leave_by",
    "lunch_minutes",
    "travel_mode",
    "max_visits",
    "topics",
    "class_label",
)
# Service field -> form field, for errors shown beside their field.
_FIELDS = {name: name for name in _PLAN_FIELDS} | {
    "dates": "date_to",
    "firms": "firms",
    "min_visits": "max_visits",
    "slot_ids": "__top__",
    "slot": "__top__",
}


def _values(source: Any) -> dict[str, Any]:
    """The planning form's values from a query string or a posted form."""

    def one(name: str) -> str:
        value = source.get(name)
        if isinstance(value, list):
            value = value[-1] if value else ""
        return str(value or "").strip()

    firms = source.getall("firms", []) if hasattr(source, "getall") else source.get("firms", [])
    if isinstance(firms, str):
        firms = [firms]
    values: dict[str, Any] = {name: one(name) for name in _PLAN_FIELDS}
    values["firms"] = [f.strip() for f in firms if f and f.strip()]
    return values


def _defaults() -> dict[str, Any]:
    start = datetime_today() + timedelta(days=14)
    while start.weekday() >= 5:
        start += timedelta(days=1)
    return {
        "date": start.isoformat(),
        "date_to": "",
        "grade": "",
        "pupils": "",
        "adults": "2",
        "arrive_at": "08:00",
        "leave_by": "15:00",
        "lunch_minutes": "0",
        "travel_mode": "foot",
        "max_visits": "3",
        "topics": "",
        "class_label": "",
        "firms": [],
    }


def datetime_today() -> date:
    return utcnow().astimezone(LOCAL_TZ).date()


def _days(values: dict[str, Any]) -> list[date]:
    first = parse_date(values.get("date"))
    if first is None:
        raise Invalid("Please give a date.", field="date")
    last = parse_date(values.get("date_to")) if values.get("date_to") else first
    if last is None or last < first:
        raise Invalid("The end of the range must be a date on or after the first.", field="date_to")
    if (last - first).days >= MAX_DAYS:
        raise Invalid("Plan at most 31 days at a time.", field="date_to")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if len(days) == 1:
        return days  # a single date is checked as asked, and explained if closed
    # A range looks at the weekdays in it.
    return [d for d in days if d.weekday() < 5] or days


def _plan_request(values: dict[str, Any]) -> PlanRequest:
    days = _days(values)
    topics = [t.strip() for t in values.get("topics", "").split(",") if t.strip()]
    max_visits = parse_int(values.get("max_visits"), default=3) or 3
    return convert(
        {
            "grade": values.get("grade"),
            "pupils": values.get("pupils"),
            "adults": values.get("adults") or "0",
            "dates": [d.isoformat() for d in days],
            "arrive_at": values.get("arrive_at"),
            "leave_by": values.get("leave_by"),
            "travel_mode": values.get("travel_mode") or "foot",
            "lunch_minutes": values.get("lunch_minutes") or "0",
            "firms": values.get("firms") or [],
            "topics": topics,
            "max_visits": max_visits,
            "min_visits": min(2, max_visits),
            "class_label": values.get("class_label") or None,
        },
        PlanRequest,
    )


def _sketch(proposal: ProposalOut, n: int, mode: str, title: str, locale: str) -> str:
    stops = [
        RouteStop(v.host_name, v.venue.lat, v.venue.lon, f"{v.starts_at:%H:%M}")
        for v in proposal.visits
        if v.venue is not None and v.venue.lat is not None and v.venue.lon is not None
    ]
    if not stops:
        return ""
    return route_svg(
        stops,
        mode=mode,
        width=420,
        height=260,
        title=title,
        title_id=f"sketch-{n}",
        locale=locale,
    )


def _speaker(request: Request[Any, Any, Any]) -> Speaker:
    """The planner's explanations in the request's language, dates as Babel writes them."""
    locale = locale_of(request)
    catalog = translations(locale)

    def day(value: date) -> str:
        return format_date(value, "medium", locale=babel_locale(locale))

    def holiday(name: str, name_en: str) -> str:
        return holiday_name(name, name_en, locale)

    return Speaker(
        gettext=catalog.gettext,
        ngettext=catalog.ngettext,
        date=day,
        closure_day=day,
        holiday=holiday,
    )


def _explained(request: Request[Any, Any, Any], explained: ExplainedPlan) -> dict[str, Any]:
    """The explanation and each suggestion's message in the reader's language."""
    speaker = _speaker(request)
    return {
        "explanation": render(explained.notes, speaker),
        "suggestion_texts": [render_one(n, speaker) for n in explained.suggestion_notes],
    }


def _rows(
    visits: Sequence[VisitOut | VisitStatusOut],
    legs: list[LegOut],
    lunch: LunchOut | None,
) -> list[tuple[str, Any]]:
    """A day's table in time order: each visit, the way after it, the lunch break where
    it falls (before a walk that starts after it, not at the end of the table).

    A visit of a booked day that fell away (cancelled, declined) keeps its row, but no way
    leads on from it."""
    rows: list[tuple[Any, int, str, Any]] = []
    for n, v in enumerate(visits):
        rows.append((v.starts_at, 3 * n, "visit", v))
        if getattr(v, "status", "confirmed") not in ("pending", "confirmed", "waitlisted"):
            continue
        for leg in legs:
            if leg.from_ == v.host:
                rows.append((leg.departs_at or v.ends_at, 3 * n + 2, "leg", leg))
    if lunch is not None:
        rows.append((lunch.starts_at, 3 * len(visits), "lunch", lunch))
    # Lunch after a visit that ends when it starts, before the walk after that lunch.
    rows.sort(key=lambda row: (row[0], row[2] == "leg", row[1]))
    return [(kind, item) for _, _, kind, item in rows]


def _date_link(values: dict[str, Any], day: date | None) -> str:
    if day is None:
        return ""
    query = {k: v for k, v in values.items() if k != "firms" and v}
    query |= {"date": day.isoformat(), "date_to": ""}
    pairs = [*query.items(), *(("firms", f) for f in values.get("firms", []))]
    return "/school/plan?" + urlencode(pairs)


async def _planner_page(
    request: Request[Any, Any, Any],
    values: dict[str, Any],
    *,
    explained: ExplainedPlan | None = None,
    errors: FormErrors | None = None,
    taken: bool = False,
    status_code: int = 200,
) -> Template:
    _ = gettext_for(request)
    sketches = []
    plan = explained.plan if explained is not None else None
    words: dict[str, Any] = {"explanation": "", "suggestion_texts": []}
    if explained is not None and plan is not None:
        words = _explained(request, explained)
        sketches = [
            _sketch(
                p,
                n,
                values.get("travel_mode") or "foot",
                _("Route sketch of proposal %(n)s") % {"n": n},
                locale_of(request),
            )
            for n, p in enumerate(plan.proposals, start=1)
        ]
    return page(
        request,
        "school/planner.html",
        status_code=status_code,
        values=values,
        plan=plan,
        rows=[_rows(p.visits, p.legs, p.lunch) for p in plan.proposals] if plan else [],
        **words,
        sketches=sketches,
        taken=taken,
        errors=errors,
        firms=await list_organisations("firm"),
        date_link=lambda day: _date_link(values, day),
        new_key=lambda: secrets.token_urlsafe(16),
    )


@get("/plan")
async def planner(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """The form, and with a date given, the ranked proposals or why nothing fits."""
    if "date" not in request.query_params:
        return await _planner_page(request, _defaults())
    values = _values(request.query_params)
    return await handle_form(
        request,
        lambda values: plan_day_explained(_plan_request(values), by=by),
        data=values,
        refusals=(Invalid,),
        fields=_FIELDS,
        done=lambda explained: _planner_page(request, values, explained=explained),
        again=lambda r: _planner_page(
            request, r.values, errors=r.errors, status_code=r.status_code
        ),
    )


@post("/plan/book")
async def book_day(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    """Book one proposal all or nothing; when a part was just taken, fresh proposals."""
    if by.role != "school":
        # The office may look at the planner, but a class day is booked by its school.
        raise Forbidden("only a teacher books a class day for their school")
    _ = gettext_for(request)
    data = await form_data(request)
    slot_ids = data.get("slot_ids") or []
    slot_ids = [slot_ids] if isinstance(slot_ids, str) else slot_ids

    async def book(values: dict[str, Any]) -> Any:
        if not values["class_label"]:
            raise Invalid("Please name the class (e.g. 8a) before booking.", field="class_label")
        req = _plan_request(values)
        return await book_itinerary(
            convert(
                {
                    "slot_ids": [parse_int(s) for s in slot_ids],
                    "class_label": values["class_label"],
                    "grade": req.grade,
                    "pupils": req.pupils,
                    "adults": req.adults,
                    "contact_email": by.email,
                    "language": request.state.get("locale"),
                    "travel_mode": req.travel_mode,
                    "arrive_at": req.arrive_at,
                    "leave_by": req.leave_by,
                    "lunch_minutes": req.lunch_minutes,
                    "firms": req.firms,
                    "topics": req.topics,
                },
                ItineraryIn,
            ),
            by=by,
            key=str(data.get("key") or "") or None,
        )

    async def again(refused: Refused) -> Template:
        if isinstance(refused.error, ItineraryUnavailable):
            # Nothing was booked: say so, and show what fits now.
            return await _planner_page(
                request,
                refused.values,
                explained=refused.error.explained,
                taken=True,
                status_code=409,
            )
        return await _planner_page(
            request, refused.values, errors=refused.errors, status_code=refused.status_code
        )

    return await handle_form(
        request,
        book,
        data=_values(data),
        fields=_FIELDS,
        done=lambda booked: go_on(
            request,
            f"/school/itineraries/{booked.itinerary.id}",
            _("The day is booked. Each firm's part shows its own status."),
        ),
        again=again,
    )


async def _itinerary_page(
    request: Request[Any, Any, Any],
    me: Principal,
    itinerary_id: int,
    *,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    _ = gettext_for(request)
    it = await get_itinerary(itinerary_id, by=me)
    now = utcnow()
    # For each visit that fell away (and has not started): what would replace it.
    replacements: dict[int, PlanOut] = {}
    replacement_texts: dict[int, str] = {}
    speaker = _speaker(request)
    for visit in it.visits:
        if visit.status in ("cancelled", "declined") and visit.starts_at > now:
            options = await replacement_options_explained(it.id, visit.booking_id, by=me, now=now)
            replacements[visit.booking_id] = options.plan
            replacement_texts[visit.booking_id] = render(options.notes, speaker)
    kept = {v.slot_id for v in it.visits}
    stops = stops_of(it)
    return page(
        request,
        "school/itinerary.html",
        status_code=status_code,
        itinerary=it,
        replacements=replacements,
        replacement_texts=replacement_texts,
        rows=_rows(it.visits, it.legs, it.lunch),
        kept=kept,
        sketch=route_svg(
            stops,
            mode=it.travel_mode,
            width=480,
            height=300,
            title=_("Route sketch"),
            locale=locale_of(request),
        )
        if stops
        else "",
        cancellable=it.status != "cancelled" and it.visits[0].starts_at > now,
        errors=errors,
        new_key=lambda: secrets.token_urlsafe(16),
        hosts={v.host: v.host_name for v in it.visits},
    )


@get("/itineraries/{itinerary_id:int}")
async def itinerary(
    request: Request[Any, Any, Any], itinerary_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return await _itinerary_page(request, by, itinerary_id)


@get("/itineraries/{itinerary_id:int}/print")
async def itinerary_print(
    request: Request[Any, Any, Any], itinerary_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    """One page to print and hand to parents: times, places, ways, contacts, a sketch."""
    _ = gettext_for(request)
    it: ItineraryOut = await get_itinerary(itinerary_id, by=by)
    stops = stops_of(it)
    locale = locale_of(request)
    sketch = (
        route_svg(stops, mode=it.travel_mode, title=_("Route sketch"), locale=locale)
        if stops
        else ""
    )
    return Template(
        "itineraries/print.html",
        context={"itinerary": it, "route_svg": sketch, "locale": locale},
    )


@post("/itineraries/{itinerary_id:int}/visits/{booking_id:int}/cancel")
async def cancel_visit(
    request: Request[Any, Any, Any],
    itinerary_id: IdPath,
    booking_id: IdPath,
    by: NamedDependency[Principal],
) -> Template | Redirect:
    _ = gettext_for(request)
    return await _day_action(
        request,
        by,
        itinerary_id,
        lambda data: cancel_itinerary_visit(
            itinerary_id, booking_id, str(data.get("reason", "")).strip(), by=by
        ),
        to=f"/school/itineraries/{itinerary_id}#replacements",
        said=_("The visit is cancelled. The host has been told."),
    )


@post("/itineraries/{itinerary_id:int}/cancel")
async def cancel_day(
    request: Request[Any, Any, Any], itinerary_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    return await _day_action(
        request,
        by,
        itinerary_id,
        lambda data: cancel_itinerary(itinerary_id, str(data.get("reason", "")).strip(), by=by),
        to=f"/school/itineraries/{itinerary_id}",
        said=_("The whole day is cancelled. Every host has been told."),
    )


@post("/itineraries/{itinerary_id:int}/replace")
async def replace_visit(
    request: Request[Any, Any, Any], itinerary_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    """Book the chosen replacement into the day (one click, idempotent)."""
    _ = gettext_for(request)

    async def replace(data: dict[str, Any]) -> Any:
        booking_id, slot_id = parse_int(data.get("booking")), parse_int(data.get("slot"))
        if booking_id is None or slot_id is None:
            raise Invalid("Please pick a replacement.", field="slot")
        return await book_replacement(
            itinerary_id, booking_id, slot_id, by=by, key=str(data.get("key") or "") or None
        )

    return await _day_action(
        request,
        by,
        itinerary_id,
        replace,
        to=f"/school/itineraries/{itinerary_id}",
        said=_("The replacement is booked into your day."),
    )


async def _day_action(
    request: Request[Any, Any, Any],
    by: Principal,
    itinerary_id: int,
    act: Callable[[dict[str, Any]], Awaitable[Any]],
    *,
    to: str,
    said: str,
) -> Template | Redirect:
    """A button on the day's page: done, on to `to` with a notice; refused, the day's page
    once more with the refusal above everything (409)."""

    async def again(refused: Refused) -> Template:
        return await _itinerary_page(
            request, by, itinerary_id, errors=refused.errors, status_code=refused.status_code
        )

    return await handle_form(
        request,
        act,
        status_code=409,
        done=lambda _done: go_on(request, to, said),
        again=again,
    )


HANDLERS = [
    planner,
    book_day,
    itinerary,
    itinerary_print,
    cancel_visit,
    cancel_day,
    replace_visit,
]
