"""Links in mails: keep or cancel a booking, confirm a registration's e-mail address.

GET only shows the booking and two buttons (mail scanners open links); POST acts, after
the booking service has checked the link's HMAC token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.booking import links
from outreach.errors import Conflict, Invalid
from outreach.pages.common import (
    form_data,
    gettext_for,
    page,
)
from outreach.pages.forms import Refused, go_on, handle_form
from outreach.principal import Principal
from outreach.web import IdPath

__all__ = ["HANDLERS"]


@get("/bookings/{booking_id:int}/respond")
async def respond_page(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    token = request.query_params.get("token", "")
    found = await links.get_booking_by_link(booking_id, token)
    return page(request, "respond/respond.html", booking=found, token=token)


@post("/bookings/{booking_id:int}/respond")
async def respond(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    token = str(data.get("token", ""))

    async def answer(data: dict[str, Any]) -> str:
        if data.get("answer") == "cancel":
            await links.cancel_by_link(booking_id, token, str(data.get("reason", "")).strip())
            return _("The booking is cancelled. Thank you for telling us.")
        if data.get("answer") == "keep":
            await links.reconfirm_by_link(booking_id, token)
            return _("Thank you: you are expected.")
        raise Invalid("choose keep or cancel", field="answer")

    async def again(refused: Refused) -> Template:
        found = await links.get_booking_by_link(booking_id, token)
        return page(
            request,
            "respond/respond.html",
            status_code=refused.status_code,
            booking=found,
            token=token,
            errors=refused.errors,
        )

    return await handle_form(
        request,
        answer,
        data=data,
        status_code=409,
        done=lambda said: go_on(request, f"/bookings/{booking_id}/respond?token={token}", said),
        again=again,
    )


@get("/bookings/{booking_id:int}/verify")
async def address_page(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    """The first mail's link: one button, so a mail scanner opening it confirms nothing."""
    token = request.query_params.get("token", "")
    found = await links.get_booking_by_address_link(booking_id, token)
    return page(request, "respond/verify.html", booking=found, token=token)


@post("/bookings/{booking_id:int}/verify")
async def confirm_address(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    token = str(data.get("token", ""))

    def confirmed(done: Any) -> Redirect:
        if done.status == "confirmed":
            said = _("Thank you: your address is confirmed and you are registered.")
        elif done.status == "waitlisted":
            said = _("Thank you: your address is confirmed; you stay on the waiting list.")
        else:
            said = _("Thank you: your address is confirmed; the host will now decide.")
        return go_on(request, f"/bookings/{booking_id}/verify?token={token}", said)

    async def again(refused: Refused) -> Template:
        found = await links.get_booking_by_address_link(booking_id, token)
        return page(
            request,
            "respond/verify.html",
            status_code=refused.status_code,
            booking=found,
            token=token,
            errors=refused.errors,
        )

    return await handle_form(
        request,
        lambda _data: links.confirm_address(booking_id, token),
        data=data,
        refusals=(Conflict,),
        status_code=409,
        done=confirmed,
        again=again,
    )


HANDLERS = [respond_page, respond, address_page, confirm_address]
