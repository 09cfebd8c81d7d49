"""Links in mails: keep or cancel a booking, confirm a registration's e-mail address.

GET only shows the booking and two buttons (mail scanners open links); POST acts, after
the booking service has checked the link's HMAC token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.booking import services as booking
from outreach.errors import Conflict, Invalid
from outreach.pages.common import (
    FormErrors,
    error_text,
    flash,
    form_data,
    gettext_for,
    page,
    redirect,
)
from outreach.principal import Principal
from outreach.web import IdPath

__all__ = ["HANDLERS"]


@get("/bookings/{booking_id:int}/respond")
async def respond_page(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    token = request.query_params.get("token", "")
    found = await booking.get_booking_by_link(booking_id, token)
    return page(request, "respond/respond.html", booking=found, token=token)


@post("/bookings/{booking_id:int}/respond")
async def respond(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    token = str(data.get("token", ""))
    try:
        if data.get("answer") == "cancel":
            await booking.cancel_by_link(booking_id, token, str(data.get("reason", "")).strip())
            flash(request, _("The booking is cancelled. Thank you for telling us."))
        elif data.get("answer") == "keep":
            await booking.reconfirm_by_link(booking_id, token)
            flash(request, _("Thank you: you are expected."))
        else:
            raise Invalid("choose keep or cancel", field="answer")
    except (Invalid, Conflict) as exc:
        found = await booking.get_booking_by_link(booking_id, token)
        return page(
            request,
            "respond/respond.html",
            status_code=409,
            booking=found,
            token=token,
            errors=FormErrors({"__top__": error_text(_, exc)}),
        )
    return redirect(f"/bookings/{booking_id}/respond?token={token}")


@get("/bookings/{booking_id:int}/verify")
async def address_page(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    """The first mail's link: one button, so a mail scanner opening it confirms nothing."""
    token = request.query_params.get("token", "")
    found = await booking.get_booking_by_address_link(booking_id, token)
    return page(request, "respond/verify.html", booking=found, token=token)


@post("/bookings/{booking_id:int}/verify")
async def confirm_address(
    request: Request[Any, Any, Any], booking_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    token = str((await form_data(request)).get("token", ""))
    try:
        done = await booking.confirm_address(booking_id, token)
    except Conflict as exc:
        found = await booking.get_booking_by_address_link(booking_id, token)
        return page(
            request,
            "respond/verify.html",
            status_code=409,
            booking=found,
            token=token,
            errors=FormErrors({"__top__": error_text(_, exc)}),
        )
    if done.status == "confirmed":
        flash(request, _("Thank you: your address is confirmed and you are registered."))
    elif done.status == "waitlisted":
        flash(request, _("Thank you: your address is confirmed; you stay on the waiting list."))
    else:
        flash(request, _("Thank you: your address is confirmed; the host will now decide."))
    return redirect(f"/bookings/{booking_id}/verify?token={token}")


HANDLERS = [respond_page, respond, address_page, confirm_address]
