"""The booking page behind every booking mail and calendar entry: `/bookings/{id}`.

Its readers: the booker (signed in, or from one of their mails by the signed link
`?token=`, without an account), the host and the office; for anyone else it does not
exist. GET only shows; every action is a POST form (CSRF; a link visitor's forms carry
the token) that calls one service and comes back here. Rules live in
`booking.manage` and the booking engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.booking import manage
from outreach.booking.schemas import PersonsIn
from outreach.booking.writes import confirm_booking, decline_booking
from outreach.errors import DomainError
from outreach.pages.common import (
    FormErrors,
    convert,
    error_text,
    form_data,
    gettext_for,
    page,
    remember,
)
from outreach.pages.forms import Refused, go_on, handle_form
from outreach.pages.i18n import locale_of, translations
from outreach.principal import Principal
from outreach.web import IdPath

__all__ = ["HANDLERS"]


def _token(value: Any) -> str | None:
    """The signed link's token if the request carries one (an empty one counts: invalid)."""
    return None if value is None else str(value)


def _here(booking_id: int, token: str | None) -> str:
    return f"/bookings/{booking_id}" + (f"?{urlencode({'token': token})}" if token else "")


def _link_invalid(request: Request[Any, Any, Any]) -> Template:
    """The same answer for a wrong, tampered or expired link and for no such booking."""
    return page(request, "bookings/link_invalid.html", status_code=404)


async def _show(
    request: Request[Any, Any, Any],
    booking_id: int,
    by: Principal,
    token: str | None,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    try:
        view = await manage.booking_page(booking_id, by=by, token=token)
    except manage.LinkInvalid:
        return _link_invalid(request)
    b = view.booking
    return page(
        request,
        "bookings/booking.html",
        status_code=status_code,
        no_store=True,
        view=view,
        booking=b,
        token=token or "",
        values=values or {"persons": b.persons, "pupils": b.pupils, "adults": b.adults},
        errors=errors,
    )


@get("/bookings/{booking_id:int}")
async def booking_page(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    """One booking with the actions its reader may take; changes nothing."""
    remember(request, by)
    return await _show(request, booking_id, by, _token(request.query_params.get("token")))


Work = Callable[[dict[str, Any], str | None], Awaitable[Any]]


async def _act(
    request: Request[Any, Any, Any],
    booking_id: int,
    by: Principal,
    work: Work,
    done: str | Callable[[], str],
) -> Template | Redirect:
    """One form of the page: the service acts and we come back, or the page says why not."""
    remember(request, by)
    data = await form_data(request)
    token = _token(data.get("token"))
    try:
        return await handle_form(
            request,
            lambda data: work(data, token),
            data=data,
            fields={**_PERSONS_FIELDS, "reason": "reason"},
            text=lambda exc: _refusal(request, exc),
            status_code=None,
            done=lambda _done: go_on(
                request, _here(booking_id, token), done() if callable(done) else done
            ),
            again=lambda refused: _again(request, booking_id, by, token, refused),
        )
    except manage.LinkInvalid:
        return _link_invalid(request)


def _reason(data: dict[str, Any]) -> str:
    return str(data.get("reason", "")).strip()


@post("/bookings/{booking_id:int}/cancel")
async def cancel(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    told = ["host"]

    async def work(data: dict[str, Any], token: str | None) -> Any:
        if token is not None:
            return await manage.cancel_by_view_link(booking_id, token, _reason(data))
        out, told[0] = await manage.cancel_signed_in(booking_id, _reason(data), by=by)
        return out

    _ = gettext_for(request)
    done = {
        "host": _("The booking is cancelled. The host has been told."),
        "booker": _("The booking is cancelled. The booker has been told."),
    }
    return await _act(request, booking_id, by, work, lambda: done[told[0]])


_PERSONS_FIELDS = {"persons": "persons", "pupils": "pupils", "adults": "adults"}


@post("/bookings/{booking_id:int}/persons")
async def change_persons(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    async def work(data: dict[str, Any], token: str | None) -> Any:
        wanted = convert({k: data.get(k) for k in _PERSONS_FIELDS}, PersonsIn)
        return await manage.change_persons(booking_id, wanted, by=by, token=token)

    done = gettext_for(request)("The number of persons is changed. The host has been told.")
    return await _act(request, booking_id, by, work, done)


@post("/bookings/{booking_id:int}/confirm")
async def confirm(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    async def work(data: dict[str, Any], token: str | None) -> Any:
        return await confirm_booking(booking_id, by=by)

    done = gettext_for(request)("The booking is confirmed; the booker has been told.")
    return await _act(request, booking_id, by, work, done)


@post("/bookings/{booking_id:int}/decline")
async def decline(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    async def work(data: dict[str, Any], token: str | None) -> Any:
        return await decline_booking(booking_id, _reason(data), by=by)

    done = gettext_for(request)("The booking is declined; the booker has been told.")
    return await _act(request, booking_id, by, work, done)


async def _again(
    request: Request[Any, Any, Any],
    booking_id: int,
    by: Principal,
    token: str | None,
    refused: Refused,
) -> Template:
    """The page once more, the refusal beside its field (or at the top); nothing changed."""
    values = {k: refused.values[k] for k in _PERSONS_FIELDS if k in refused.values} or None
    return await _show(
        request,
        booking_id,
        by,
        token,
        values=values,
        errors=refused.errors,
        status_code=refused.status_code,
    )


def _refusal(request: Request[Any, Any, Any], exc: DomainError) -> str:
    t = translations(locale_of(request))
    if isinstance(exc, manage.NotEnoughPlaces):
        free = exc.params["free"]
        if free == 0:
            return t.gettext("No more places are free in this time.")
        return t.ngettext(
            "Only %(n)s more place is free in this time.",
            "Only %(n)s more places are free in this time.",
            free,
        ) % {"n": free}
    return error_text(gettext_for(request), exc)


HANDLERS = [booking_page, cancel, change_persons, confirm, decline]
