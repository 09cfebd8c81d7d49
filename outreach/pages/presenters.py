"""Parents' evenings of a school and the firms invited to present there.

The school hosts the evening, invites firms and sees their answers; a firm answers on
its dashboard (`firm.py` shows the list, the answers are posted here); the public
event page names the firms that accepted.

The school's pages are mounted under `/school`, the firm's answers under `/firm` (see
`outreach.pages`); the routes here are relative to them.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach import access
from outreach.errors import Invalid, NotFound
from outreach.events import services as events
from outreach.events.schemas import EventIn, EventOut, SlotIn
from outreach.organisations.services import list_organisations
from outreach.pages.common import (
    Checks,
    FormErrors,
    convert,
    gettext_for,
    local_times,
    page,
)
from outreach.pages.forms import back_to, go_on, handle_form
from outreach.presenters import services as presenters
from outreach.presenters.schemas import EveningEdit, InviteIn
from outreach.principal import Principal
from outreach.web import IdPath

__all__ = ["FIRM_HANDLERS", "SCHOOL_HANDLERS"]


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


@get("/evenings/new")
async def new_evening_form(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    values = {"start": "18:30", "end": "20:00", "capacity": "80", "max_party": "4"}
    return _evening_form(request, {**values, "status": "published"})


@post("/evenings/new")
async def create_evening(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    async def create(data: dict[str, Any]) -> Any:
        checks = Checks()
        starts, ends = local_times(data, checks)
        venue_name = str(data.get("venue_name", "")).strip()
        event_in = checks.convert(
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
        slot_in = checks.finish(
            {
                "starts_at": starts,
                "ends_at": ends,
                "capacity": data.get("capacity"),
                "max_party": data.get("max_party") or 0,
            },
            SlotIn,
        )
        assert event_in is not None  # else `finish` raised its refusals with the slot's
        return await presenters.create_evening(event_in, slot_in, by=by)

    return await handle_form(
        request,
        create,
        fields=_EVENING_FIELDS,
        done=lambda created: go_on(
            request,
            f"/school/evenings/{created.id}",
            _("The parents' evening is saved. Now invite firms to present."),
        ),
        again=lambda r: _evening_form(request, r.values, r.errors, status_code=r.status_code),
    )


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


@get("/evenings/{event_id:int}/edit")
async def edit_evening_form(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    event = await _hosted(event_id, by)
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


@post("/evenings/{event_id:int}/edit")
async def edit_evening(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    await _hosted(event_id, by)

    async def update(data: dict[str, Any]) -> Any:
        checks = Checks()
        starts, ends = local_times(data, checks)
        edit = checks.finish(
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
        return await presenters.update_evening(event_id, edit, by=by)

    return await handle_form(
        request,
        update,
        fields=_EDIT_FIELDS,
        done=lambda _done: go_on(
            request,
            f"/school/evenings/{event_id}",
            _("The evening is saved; invited firms and registered guests hear of changes."),
        ),
        again=lambda r: _edit_form(
            request, event_id, r.values, r.errors, status_code=r.status_code
        ),
    )


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


@get("/evenings/{event_id:int}")
async def evening(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return await _evening_page(request, by, event_id)


@post("/evenings/{event_id:int}/invite")
async def invite(
    request: Request[Any, Any, Any], event_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    async def invite_them(data: dict[str, Any]) -> Any:
        data["firms"] = _list(data.get("firms"))
        if not data["firms"]:
            raise Invalid("choose at least one firm", field="firms")
        return await presenters.invite_firms(
            event_id,
            convert({"firms": data["firms"], "message": data.get("message", "")}, InviteIn),
            by=by,
        )

    def invited(result: Any) -> Redirect:
        message = _("%(n)s firms are invited and have been mailed.") % {"n": len(result.invited)}
        if result.unchanged:
            message += " " + _("Already invited: %(firms)s") % {
                "firms": ", ".join(i.firm_name for i in result.unchanged)
            }
        return go_on(request, f"/school/evenings/{event_id}", message)

    return await handle_form(
        request,
        invite_them,
        fields={"firms": "firms", "message": "message"},
        done=invited,
        again=lambda r: _evening_page(
            request, by, event_id, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


@post("/invitations/{invitation_id:int}/withdraw")
async def withdraw(
    request: Request[Any, Any, Any], invitation_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    found = await presenters.get_invitation(invitation_id, by=by)
    back = f"/school/evenings/{found.event_id}"
    return await handle_form(
        request,
        lambda _data: presenters.withdraw(invitation_id, by=by),
        done=lambda _done: go_on(
            request, back, _("The invitation is withdrawn; the firm has been told.")
        ),
        again=back_to(request, back),
    )


# --------------------------------------------------------------------------- answering


async def _answer(
    request: Request[Any, Any, Any], by: Principal, invitation_id: int, yes: bool
) -> Redirect:
    _ = gettext_for(request)
    answer = presenters.accept if yes else presenters.decline
    said = (
        _("You will present at %(title)s; the school has been told.")
        if yes
        else _("You declined %(title)s; the school has been told.")
    )
    return await handle_form(
        request,
        lambda data: answer(invitation_id, str(data.get("message", "")).strip(), by=by),
        done=lambda done: go_on(request, "/firm#invitations", said % {"title": done.event_title}),
        again=back_to(request, "/firm#invitations"),
    )


@post("/invitations/{invitation_id:int}/accept")
async def accept(
    request: Request[Any, Any, Any], invitation_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    return await _answer(request, by, invitation_id, True)


@post("/invitations/{invitation_id:int}/decline")
async def decline(
    request: Request[Any, Any, Any], invitation_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    return await _answer(request, by, invitation_id, False)


SCHOOL_HANDLERS = [
    new_evening_form,
    create_evening,
    edit_evening_form,
    edit_evening,
    evening,
    invite,
    withdraw,
]
FIRM_HANDLERS = [accept, decline]
