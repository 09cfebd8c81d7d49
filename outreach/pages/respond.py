"""The reminder's link: keep or cancel a booking without signing in.

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


HANDLERS = [respond_page, respond]
