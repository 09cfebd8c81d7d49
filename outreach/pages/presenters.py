"""Parents' evenings of a school and the firms invited to present there.

The school hosts the evening, invites firms and sees their answers; a firm answers on
its dashboard (`firm.py` shows the list, the answers are posted here); the public
event page names the firms that accepted.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach import access
from outreach.errors import Conflict, Invalid, NotFound
from outreach.events import services as events
from outreach.events.schemas import EventIn, EventOut, SlotIn
from outreach.organisations.services import list_organisations
from outreach.pages.common import (
    FormErrors,
    convert,
    error_text,
    flash,
    form_data,
    gettext_for,
    page,
    parse_local,
    redirect,
    require,
)
from outreach.presenters import services as presenters
from outreach.presenters.schemas import EveningEdit, InviteIn
from outreach.principal import Principal
from outreach.web import IdPath

__all__ = ["HANDLERS"]


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


async def _hosted(event_id: int, me: Principal) -> EventOut:
    """A parents' evening `me` hosts; NotFound otherwise (other schools' stay invisible)."""
    row = await access.load_event_row(event_id, me)
    if not access.can_manage(row, me) or row.kind != "parents_evening":
        raise NotFound(f"no event {event_id}", field="event")
    return await events.get_event(event_id, by=me)


# --------------------------------------------------------------------------- a new evening

_EVENING_FIELDS = {
    "title": "title",
    "description": "description",
    "starts_at": "day",
    "ends_at": "end",
    "capacity": "capacity",
    "max_party": "max_party",
    "status": "status",
    "venue": "venue_name",
    "kind": "__top__",
    "host": "__top__",
}


def _evening_form(
    request: Request[Any, Any, Any],
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request, "school/evening_form.html", values=values, errors=errors, status_code=status_code
    )


@get("/school/evenings/new")
async def new_evening_form(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    require(request, by, "school")
    values = {"start": "18:30", "end": "20:00", "capacity": "80", "max_party": "4"}
    return _evening_form(request, {**values, "status": "published"})


@post("/school/evenings/new")
async def create_evening(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    me = require(request, by, "school")
    _ = gettext_for(request)
    data = await form_data(request)
    try:
        starts = parse_local(data.get("day"), data.get("start"))
        ends = parse_local(data.get("day"), data.get("end"))
        if starts is None:
            raise Invalid("give the day and the start time", field="starts_at")
        if ends is None:
            raise Invalid("give the end time", field="ends_at")
        venue_name = str(data.get("venue_name", "")).strip()
        event_in = convert(
            {
                "kind": "parents_evening",
                "title": str(data.get("title", "")).strip(),
                "description": data.get("description", ""),
                "audience": ["parents"],
                "visibility": "public",
                "booking_mode": "auto",
                "status": data.get("status") or "published",
                "venue": {"name": venue_name} if venue_name else None,
            },
            EventIn,
        )
        slot_in = convert(
            {
                "starts_at": starts,
                "ends_at": ends,
                "capacity": data.get("capacity"),
                "max_party": data.get("max_party") or 0,
            },
            SlotIn,
        )
        created = await presenters.create_evening(event_in, slot_in, by=me)
    except (Invalid, Conflict) as exc:
        errors = FormErrors()
        errors.add(exc, _EVENING_FIELDS, text=error_text(_, exc))
        return _evening_form(request, data, errors, status_code=422)
    flash(request, _("The parents' evening is saved. Now invite firms to present."))
    return redirect(f"/school/evenings/{created.id}")


# --------------------------------------------------------------------------- changing it

_EDIT_FIELDS = {
    "title": "title",
    "description": "description",
    "starts_at": "day",
    "ends_at": "end",
    "capacity": "capacity",
    "venue": "venue_name",
    "venue_name": "venue_name",
}


def _edit_form(
    request: Request[Any, Any, Any],
    event_id: int,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "school/evening_form.html",
        values=values,
        errors=errors,
        status_code=status_code,
        editing=event_id,
    )


@get("/school/evenings/{event_id:int}/edit")
async def edit_evening_form(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    me = require(request, by, "school")
    event = await _hosted(event_id, me)
    values: dict[str, Any] = {
        "title": event.title,
        "description": event.description,
        "venue_name": event.venue.name if event.venue else "",
    }
    live = [s for s in event.slots if not s.cancelled]
    if live:
        values |= {
            "day": live[0].starts_at.date().isoformat(),
            "start": live[0].starts_at.strftime("%H:%M"),
            "end": live[0].ends_at.strftime("%H:%M"),
            "capacity": live[0].capacity,
        }
    return _edit_form(request, event_id, values)


@post("/school/evenings/{event_id:int}/edit")
async def edit_evening(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    me = require(request, by, "school")
    _ = gettext_for(request)
    await _hosted(event_id, me)
    data = await form_data(request)
    try:
        starts = parse_local(data.get("day"), data.get("start"))
        ends = parse_local(data.get("day"), data.get("end"))
        if starts is None:
            raise Invalid("give the day and the start time", field="starts_at")
        if ends is None:
            raise Invalid("give the end time", field="ends_at")
        edit = convert(
            {
                "title": str(data.get("title", "")).strip(),
                "description": data.get("description", ""),
                "venue_name": data.get("venue_name", ""),
                "starts_at": starts,
                "ends_at": ends,
                "capacity": data.get("capacity"),
            },
            EveningEdit,
        )
        await presenters.update_evening(event_id, edit, by=me)
    except (Invalid, Conflict) as exc:
        errors = FormErrors()
        errors.add(exc, _EDIT_FIELDS, text=error_text(_, exc))
        return _edit_form(request, event_id, data, errors, status_code=422)
    flash(
        request,
        _("The evening is saved; invited firms and registered guests hear of changes."),
    )
    return redirect(f"/school/evenings/{event_id}")


# --------------------------------------------------------------------------- inviting


async def _evening_page(
    request: Request[Any, Any, Any],
    me: Principal,
    event_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    event = await _hosted(event_id, me)
    invitations = await presenters.invitations_for_event(event_id, by=me)
    status_of = {i.firm: i.status for i in invitations}
    firms = [f for f in await list_organisations("firm")]
    return page(
        request,
        "school/evening.html",
        status_code=status_code,
        event=event,
        invitations=invitations,
        firms=firms,
        status_of=status_of,
        values=values or {"firms": []},
        errors=errors,
    )


@get("/school/evenings/{event_id:int}")
async def evening(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return await _evening_page(request, require(request, by, "school"), event_id)


@post("/school/evenings/{event_id:int}/invite")
async def invite(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    me = require(request, by, "school")
    _ = gettext_for(request)
    data = await form_data(request)
    data["firms"] = _list(data.get("firms"))
    try:
        if not data["firms"]:
            raise Invalid("choose at least one firm", field="firms")
        result = await presenters.invite_firms(
            event_id,
            convert({"firms": data["firms"], "message": data.get("message", "")}, InviteIn),
            by=me,
        )
    except (Invalid, Conflict) as exc:
        errors = FormErrors()
        errors.add(exc, {"firms": "firms", "message": "message"}, text=error_text(_, exc))
        return await _evening_page(
            request, me, event_id, values=data, errors=errors, status_code=422
        )
    message = _("%(n)s firms are invited and have been mailed.") % {"n": len(result.invited)}
    if result.unchanged:
        message += " " + _("Already invited: %(firms)s") % {
            "firms": ", ".join(i.firm_name for i in result.unchanged)
        }
    flash(request, message)
    return redirect(f"/school/evenings/{event_id}")


@post("/school/invitations/{invitation_id:int}/withdraw")
async def withdraw(
    request: Request[Any, Any, Any], invitation_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    me = require(request, by, "school")
    _ = gettext_for(request)
    found = await presenters.get_invitation(invitation_id, by=me)
    try:
        await presenters.withdraw(invitation_id, by=me)
        flash(request, _("The invitation is withdrawn; the firm has been told."))
    except (Invalid, Conflict) as exc:
        flash(request, error_text(_, exc))
    return redirect(f"/school/evenings/{found.event_id}")


# --------------------------------------------------------------------------- answering


async def _answer(request: Request[Any, Any, Any], by: Principal, invitation_id: int, yes: bool):
    me = require(request, by, "firm")
    _ = gettext_for(request)
    data = await form_data(request)
    message = str(data.get("message", "")).strip()
    try:
        if yes:
            done = await presenters.accept(invitation_id, message, by=me)
            flash(
                request,
                _("You will present at %(title)s; the school has been told.")
                % {"title": done.event_title},
            )
        else:
            done = await presenters.decline(invitation_id, message, by=me)
            flash(
                request,
                _("You declined %(title)s; the school has been told.")
                % {"title": done.event_title},
            )
    except (Invalid, Conflict) as exc:
        flash(request, error_text(_, exc))
    return redirect("/firm#invitations")


@post("/firm/invitations/{invitation_id:int}/accept")
async def accept(
    request: Request[Any, Any, Any], invitation_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    return await _answer(request, by, invitation_id, True)


@post("/firm/invitations/{invitation_id:int}/decline")
async def decline(
    request: Request[Any, Any, Any], invitation_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    return await _answer(request, by, invitation_id, False)


HANDLERS = [
    new_evening_form,
    create_evening,
    edit_evening_form,
    edit_evening,
    evening,
    invite,
    withdraw,
    accept,
    decline,
]
