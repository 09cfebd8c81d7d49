"""Firm coordinators (and the network office): events, slots, series, approvals, attendees.

Mounted under `/firm` (see `outreach.pages`), whose guard lets firm coordinators (and
the office) in; the routes here are relative to it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import groupby
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach import access
from outreach.accounts import services as accounts
from outreach.booking import attendance
from outreach.booking.queries import list_bookings
from outreach.booking.writes import confirm_booking, decline_booking
from outreach.errors import Conflict, Invalid, NotFound
from outreach.events import services as events
from outreach.events.schemas import EventIn, EventOut, EventPatch, SlotIn, SlotPatch
from outreach.events.tables import AUDIENCES, EVENT_KINDS
from outreach.organisations.services import get_organisation
from outreach.pages.common import (
    Checks,
    FormErrors,
    convert,
    form_data,
    gettext_for,
    local_times,
    page,
    parse_date,
    parse_int,
    safe_next,
)
from outreach.pages.forms import Refused, back_to, go_on, handle_form
from outreach.pages.school import private_feed_links
from outreach.presenters import services as presenters
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from outreach.web import IdPath

__all__ = ["HANDLERS"]


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _grades(raw: Any) -> list[str]:
    text = str(raw or "").replace(";", ",")
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if any(not p.isdigit() for p in parts):
        raise Invalid("grades must be numbers between 1 and 13, e.g. 8, 9, 10", field="grades")
    return parts


def _event_values(data: dict[str, Any]) -> dict[str, Any]:
    """The form as the fields of `EventIn`/`EventPatch` (types are checked by `convert`)."""
    venue = {
        "name": data.get("venue_name", ""),
        "street": data.get("venue_street", ""),
        "postal_code": data.get("venue_postal_code", ""),
        "city": data.get("venue_city", ""),
    }
    return {
        "kind": data.get("kind"),
        "title": str(data.get("title", "")).strip(),
        "description": data.get("description", ""),
        "grades": _grades(data.get("grades")),
        "audience": _list(data.get("audience")),
        "visibility": data.get("visibility"),
        "booking_mode": data.get("booking_mode"),
        "waitlist": data.get("waitlist") == "1",
        "status": data.get("status"),
        "venue": venue if str(venue["name"]).strip() else None,
    }


def _form_of(event: EventOut) -> dict[str, Any]:
    venue = event.venue
    return {
        "kind": event.kind,
        "title": event.title,
        "description": event.description,
        "grades": ", ".join(str(g) for g in event.grades),
        "audience": event.audience,
        "visibility": event.visibility,
        "booking_mode": event.booking_mode,
        "waitlist": "1" if event.waitlist else "",
        "status": event.status,
        "venue_name": venue.name if venue else "",
        "venue_street": venue.street if venue else "",
        "venue_postal_code": venue.postal_code if venue else "",
        "venue_city": venue.city if venue else "",
    }


_EVENT_FIELDS = {
    name: name
    for name in (
        "kind",
        "title",
        "description",
        "grades",
        "audience",
        "visibility",
        "booking_mode",
        "status",
    )
} | {"venue": "venue_name", "host": "__top__"}


async def _managed(event_id: int, me: Principal) -> EventOut:
    """An event `me` manages; NotFound otherwise, so other firms' events stay invisible."""
    row = await access.load_event_row(event_id, me)
    if not access.can_manage(row, me):
        raise NotFound(f"no event {event_id}", field="event")
    return await events.get_event(event_id, by=me)


@get("/")
async def dashboard(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    host = (await get_organisation(by.org_id)).slug if by.org_id else None
    mine = await events.list_events(events.EventFilter(host=host), by=by)
    pending = await list_bookings(by=by, status="pending", audit_view="dashboard")
    now = utcnow()
    return page(
        request,
        "firm/dashboard.html",
        events=sorted(mine, key=lambda e: (e.status == "cancelled", e.id), reverse=False),
        pending=sorted(pending, key=lambda b: b.starts_at),
        feed=private_feed_links(await accounts.feed_token_for(by=by)),
        now=now,
        invitations=await presenters.list_invitations(by=by),
    )


def _event_form(
    request: Request[Any, Any, Any],
    *,
    values: dict[str, Any],
    event: EventOut | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "firm/event_form.html",
        status_code=status_code,
        values=values,
        event=event,
        errors=errors,
        kinds=EVENT_KINDS,
        audiences=AUDIENCES,
    )


@get("/events/new")
async def new_event_form(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    defaults = {
        "kind": "factory_tour",
        "visibility": "public",
        "booking_mode": "approval",
        "waitlist": "1",
        "status": "draft",
        "audience": ["pupils"],
    }
    return _event_form(request, values=defaults)


@post("/events/new")
async def create_event(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    return await handle_form(
        request,
        lambda data: events.create_event(convert(_event_values(data), EventIn), by=by),
        fields=_EVENT_FIELDS,
        done=lambda created: go_on(
            request, f"/firm/events/{created.id}", _("The event is saved. Now add its times.")
        ),
        again=lambda r: _event_form(
            request, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


@get("/events/{event_id:int}")
async def event_detail(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    event = await _managed(event_id, by)
    pending = await list_bookings(
        by=by, event_id=event_id, status="pending", audit_view="event_page"
    )
    return page(request, "firm/event.html", event=event, pending=pending, now=utcnow())


@get("/events/{event_id:int}/edit")
async def edit_event_form(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    event = await _managed(event_id, by)
    return _event_form(request, values=_form_of(event), event=event)


@post("/events/{event_id:int}/edit")
async def edit_event(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    event = await _managed(event_id, by)

    async def update(data: dict[str, Any]) -> Any:
        wanted = _event_values(data)
        current = _event_values(_form_of(event))
        # Only what changed: a title or venue change tells every attendee.
        changes = {k: v for k, v in wanted.items() if k != "kind" and v != current[k]}
        if "venue" in changes and changes["venue"] is None:
            del changes["venue"]
        return await events.update_event(event_id, convert(changes, EventPatch), by=by)

    return await handle_form(
        request,
        update,
        fields=_EVENT_FIELDS,
        done=lambda _done: go_on(request, f"/firm/events/{event_id}", _("The changes are saved.")),
        again=lambda r: _event_form(
            request, values=r.values, event=event, errors=r.errors, status_code=r.status_code
        ),
    )


@post("/events/{event_id:int}/cancel")
async def cancel_event(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    here = f"/firm/events/{event_id}"
    return await handle_form(
        request,
        lambda data: events.cancel_event(event_id, str(data.get("reason", "")).strip(), by=by),
        done=lambda _done: go_on(
            request, here, _("The event is cancelled; everyone booked has been told.")
        ),
        again=back_to(request, here),
    )


_SLOT_FIELDS = {
    "starts_at": "day",
    "ends_at": "end",
    "capacity": "capacity",
    "min_party": "min_party",
    "max_party": "max_party",
    "booking_closes_at": "booking_closes_at",
    "booking_opens_at": "booking_opens_at",
}


def _window(data: dict[str, Any], name: str) -> datetime | None:
    """An optional local date and time from a `datetime-local` field, in Europe/Berlin."""
    raw = str(data.get(name) or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("give a date and time, e.g. 2026-03-01 08:00", field=name) from None
    if moment.tzinfo is not None:
        raise Invalid("give a local date and time", field=name)
    return moment.replace(tzinfo=LOCAL_TZ)


@get("/events/{event_id:int}/slots/new")
async def new_slot_form(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    event = await _managed(event_id, by)
    values = {"start": "09:00", "end": "10:30", "capacity": "30", "min_party": "1"}
    return page(request, "firm/slot_form.html", event=event, slot=None, values=values)


@post("/events/{event_id:int}/slots/new")
async def create_slot(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    event = await _managed(event_id, by)

    async def add(data: dict[str, Any]) -> Any:
        checks = Checks()
        starts, ends = local_times(data, checks)
        slot_in = checks.finish(
            {
                "starts_at": starts,
                "ends_at": ends,
                "capacity": data.get("capacity"),
                "min_party": data.get("min_party") or 1,
                "max_party": data.get("max_party") or 0,
                "booking_opens_at": checks.take(lambda: _window(data, "booking_opens_at")),
                "booking_closes_at": checks.take(lambda: _window(data, "booking_closes_at")),
            },
            SlotIn,
        )
        return await events.add_slot(event_id, slot_in, by=by)

    return await handle_form(
        request,
        add,
        fields=_SLOT_FIELDS,
        done=lambda _done: go_on(request, f"/firm/events/{event_id}", _("The time is added.")),
        again=lambda r: _slot_form_again(request, r, event, None),
    )


def _slot_form_again(
    request: Request[Any, Any, Any], refused: Refused, event: Any, slot: Any
) -> Template:
    """The slot form once more, with the service's refusal beside its field."""
    return page(
        request,
        "firm/slot_form.html",
        status_code=refused.status_code,
        event=event,
        slot=slot,
        values=refused.values,
        errors=refused.errors,
    )


@get("/slots/{slot_id:int}/edit")
async def edit_slot_form(
    request: Request[Any, Any, Any], slot_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    slot = await events.get_slot(slot_id, by=by)
    event = await _managed(slot.event_id, by)
    values = {
        "day": slot.starts_at.astimezone(LOCAL_TZ).date().isoformat(),
        "start": f"{slot.starts_at.astimezone(LOCAL_TZ):%H:%M}",
        "end": f"{slot.ends_at.astimezone(LOCAL_TZ):%H:%M}",
        "capacity": slot.capacity,
    }
    return page(request, "firm/slot_form.html", event=event, slot=slot, values=values)


@post("/slots/{slot_id:int}/edit")
async def edit_slot(
    request: Request[Any, Any, Any], slot_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    slot = await events.get_slot(slot_id, by=by)
    event = await _managed(slot.event_id, by)

    async def update(data: dict[str, Any]) -> Any:
        checks = Checks()
        starts, ends = local_times(data, checks)
        changes: dict[str, Any] = {}
        if (starts, ends) != (slot.starts_at, slot.ends_at):
            changes |= {"starts_at": starts, "ends_at": ends}
        if parse_int(data.get("capacity")) != slot.capacity:
            changes["capacity"] = data.get("capacity")
        return await events.update_slot(slot_id, checks.finish(changes, SlotPatch), by=by)

    return await handle_form(
        request,
        update,
        fields=_SLOT_FIELDS,
        done=lambda _done: go_on(
            request, f"/firm/events/{event.id}", _("The time is changed; bookers have been told.")
        ),
        again=lambda r: _slot_form_again(request, r, event, slot),
    )


@post("/slots/{slot_id:int}/cancel")
async def cancel_slot(
    request: Request[Any, Any, Any], slot_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    """Cancel one time (from its own page, which asks first): its bookers are told."""
    _ = gettext_for(request)
    slot = await events.get_slot(slot_id, by=by)
    await _managed(slot.event_id, by)
    here = f"/firm/events/{slot.event_id}"
    return await handle_form(
        request,
        lambda data: events.cancel_slot(slot_id, str(data.get("reason", "")).strip(), by=by),
        done=lambda _done: go_on(
            request, here, _("The time is cancelled; everyone booked has been told.")
        ),
        again=back_to(request, here),
    )


_SERIES_FIELDS = {
    name: name
    for name in ("first_day", "last_day", "weekdays", "times", "minutes", "capacity", "min_party")
} | {"max_party": "max_party", "starts_at": "__top__", "ends_at": "minutes"}


def _times(raw: Any) -> tuple[time, ...]:
    found = []
    for part in str(raw or "").replace(";", ",").replace(" ", ",").split(","):
        if not part.strip():
            continue
        try:
            found.append(time.fromisoformat(part.strip()))
        except ValueError:
            raise Invalid("times must look like 09:00, 13:00", field="times") from None
    return tuple(found)


def _day_of(start: datetime) -> date:
    return start.date()  # the starts of a series are local times


@get("/events/{event_id:int}/series")
async def series_form(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    event = await _managed(event_id, by)
    values = {
        "weekdays": [],  # chosen by the host: a pre-ticked day creates times nobody wanted
        "times": "09:00, 13:00",
        "minutes": "90",
        "capacity": "30",
        "min_party": "1",
    }
    return page(request, "firm/series.html", event=event, values=values)


@post("/events/{event_id:int}/series")
async def create_series(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    """Two steps: the form shows what the series would create and skip (step "preview",
    the default: nothing is written); "create" then makes all of it in one transaction."""
    _ = gettext_for(request)
    event = await _managed(event_id, by)
    data = await form_data(request)
    data["weekdays"] = _list(data.get("weekdays"))
    creating = data.get("step") == "create"

    async def plan_or_add(data: dict[str, Any]) -> Any:
        first, last = parse_date(data.get("first_day")), parse_date(data.get("last_day"))
        if first is None:
            raise Invalid("give the first day", field="first_day")
        if last is None:
            raise Invalid("give the last day", field="last_day")
        numbers = {
            name: parse_int(data.get(name), default=default)
            for name, default in (("minutes", None), ("capacity", None), ("min_party", 1))
        }
        for name, value in numbers.items():
            if value is None:
                raise Invalid(f"{name} must be a whole number", field=name, reason="format")
        series = events.SeriesIn(
            first_day=first,
            last_day=last,
            weekdays=tuple(int(d) for d in data["weekdays"] if d.isdigit()),
            times=_times(data.get("times")),
            minutes=numbers["minutes"] or 0,
            capacity=numbers["capacity"] or 0,
            min_party=numbers["min_party"] or 1,
            max_party=parse_int(data.get("max_party"), default=0) or 0,
        )
        if not creating:
            return events.plan_slot_series(series)
        return await events.add_slot_series(event_id, series, by=by)

    def shown(result: Any) -> Template | Redirect:
        if not creating:  # the preview: nothing written yet
            days = [(day, list(starts)) for day, starts in groupby(result.starts, key=_day_of)]
            return page(
                request,
                "firm/series.html",
                event=event,
                values=data,
                preview=result,
                preview_days=days,
            )
        message = _("%(n)s times were added.") % {"n": len(result.created)}
        if result.skipped:
            message += " " + _("Skipped because schools are closed: %(days)s") % {
                "days": ", ".join(f"{day:%d.%m.}" for day, _reason in result.skipped)
            }
        return go_on(request, f"/firm/events/{event_id}", message)

    return await handle_form(
        request,
        plan_or_add,
        data=data,
        fields=_SERIES_FIELDS,
        done=shown,
        again=lambda r: page(
            request,
            "firm/series.html",
            status_code=r.status_code,
            event=event,
            values=r.values,
            errors=r.errors,
        ),
    )


@post("/bookings/{booking_id:int}/confirm")
async def confirm(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    back = _back(request, "/firm")
    return await handle_form(
        request,
        lambda _data: confirm_booking(booking_id, by=by),
        done=lambda done: go_on(request, back, _("Confirmed: %(title)s, %(who)s.") % _who(done)),
        again=back_to(request, back),
    )


@post("/bookings/{booking_id:int}/decline")
async def decline(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    back = _back(request, "/firm")
    return await handle_form(
        request,
        lambda data: decline_booking(booking_id, str(data.get("reason", "")).strip(), by=by),
        done=lambda done: go_on(request, back, _("Declined: %(title)s, %(who)s.") % _who(done)),
        again=back_to(request, back),
    )


def _who(done: Any) -> dict[str, str]:
    who = f"{done.school or ''} {done.class_label}".strip() or done.contact_name
    return {"title": done.event_title, "who": who}


def _back(request: Request[Any, Any, Any], default: str) -> str:
    return safe_next(request.query_params.get("next"), default)


@get("/events/{event_id:int}/attendees", opt={"roles": ("firm", "school")})
async def attendees(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    """Who comes, one A4 page per slot when printed; counts and contacts, never pupils.

    Schools that host (parents' evenings) use it too: to record who came.
    """
    event = await _managed(event_id, by)
    # The list (and its print) shows contact data: the look is logged (audit_view).
    found = await list_bookings(by=by, event_id=event_id, audit_view="attendee_list")
    by_slot: dict[int, list[Any]] = {}
    for b in found:
        if b.status in ("confirmed", "pending", "waitlisted"):
            by_slot.setdefault(b.slot_id, []).append(b)
    now = utcnow()
    return page(
        request,
        "firm/attendees.html",
        no_store=True,
        event=event,
        slots=[s for s in event.slots if not s.cancelled],
        by_slot=by_slot,
        printed=now,
        begun={s.id for s in event.slots if s.starts_at <= now},
        attended=await attendance.recorded_for(event_id, by=by),
    )


@post("/events/{event_id:int}/attendance", opt={"roles": ("firm", "school")})
async def record_attendance(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    """Who came, per booking of one slot (`attended_<booking id>`; empty: not recorded)."""
    _ = gettext_for(request)
    await _managed(event_id, by)
    here = f"/firm/events/{event_id}/attendees"
    data = await form_data(request)
    entries: dict[int, int] = {}
    for key, value in data.items():
        booking_id = (
            parse_int(key.removeprefix("attended_")) if key.startswith("attended_") else None
        )
        if booking_id is None or str(value).strip() == "":
            continue
        count = parse_int(value)
        if count is None:
            return go_on(request, here, _("Please enter the number of persons who came."))
        entries[booking_id] = count
    return await handle_form(
        request,
        lambda _data: attendance.record_many(entries, by=by, event_id=event_id),
        data=data,
        refusals=(Invalid, Conflict, NotFound),
        done=lambda _done: go_on(request, here, _("Attendance is saved.")),
        again=back_to(request, here),
    )


HANDLERS = [
    dashboard,
    new_event_form,
    create_event,
    event_detail,
    edit_event_form,
    edit_event,
    cancel_event,
    cancel_slot,
    new_slot_form,
    create_slot,
    edit_slot_form,
    edit_slot,
    series_form,
    create_series,
    confirm,
    decline,
    attendees,
    record_attendance,
]
