"""The network office: organisations, users and invitations, all events and bookings,
failed notifications, stored mails and the holiday calendar in use."""

from __future__ import annotations

import logging
from datetime import date
from email import message_from_bytes, policy
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from outreach.accounts import services as accounts
from outreach.booking import services as booking
from outreach.calendar import holidays
from outreach.config import get_settings
from outreach.errors import Conflict, Invalid, NotFound
from outreach.events import services as events
from outreach.notifications import services as notifications
from outreach.notifications import transports
from outreach.organisations import services as organisations
from outreach.pages.auth import password_link
from outreach.pages.common import (
    FormErrors,
    error_text,
    flash,
    form_data,
    gettext_for,
    page,
    parse_int,
    redirect,
    require,
)
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from outreach.web import IdPath

__all__ = ["HANDLERS"]

log = logging.getLogger(__name__)


@get("/office")
async def overview(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    me = require(request, by)
    return page(
        request,
        "office/overview.html",
        failed=len(await notifications.list_failed()),
        pending=len(await booking.list_bookings(by=me, status="pending")),
    )


async def _orgs_page(
    request: Request[Any, Any, Any],
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "office/organisations.html",
        status_code=status_code,
        organisations=await organisations.list_organisations(),
        values=values or {"kind": "firm"},
        errors=errors,
    )


@get("/office/organisations")
async def orgs(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    require(request, by)
    return await _orgs_page(request)


@post("/office/organisations")
async def create_org(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    me = require(request, by)
    _ = gettext_for(request)
    data = await form_data(request)
    fields = ("kind", "slug", "name", "street", "postal_code", "city", "contact_name")
    try:
        org = await organisations.create_organisation(
            organisations.OrganisationIn(
                **{f: str(data.get(f, "")).strip() for f in fields},
                contact_email=str(data.get("contact_email", "")).strip(),
            ),
            by=me,
        )
    except (Invalid, Conflict) as exc:
        errors = FormErrors()
        errors.add(exc, {f: f for f in (*fields, "contact_email")}, text=error_text(_, exc))
        return await _orgs_page(request, values=data, errors=errors, status_code=422)
    flash(request, _("%(name)s is added.") % {"name": org.name})
    return redirect("/office/organisations")


async def _users_page(
    request: Request[Any, Any, Any],
    me: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "office/users.html",
        status_code=status_code,
        users=await accounts.list_users(by=me),
        organisations=await organisations.list_organisations(),
        values=values or {"role": "school", "language": "de"},
        errors=errors,
    )


@get("/office/users")
async def users(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return await _users_page(request, require(request, by))


@post("/office/users")
async def invite(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    """Invite a person: a user without a password, and a mail with a set-password link."""
    me = require(request, by)
    _ = gettext_for(request)
    data = await form_data(request)
    try:
        user, token = await accounts.invite_user(
            accounts.NewUser(
                email=str(data.get("email", "")),
                role=str(data.get("role", "")),
                org_slug=str(data.get("org", "")) or None,
                name=str(data.get("name", "")),
                language=str(data.get("language", "de")),
            ),
            by=me,
        )
    except (Invalid, Conflict, NotFound) as exc:
        errors = FormErrors()
        fields = {f: f for f in ("email", "role", "org", "name", "language")}
        errors.add(exc, fields, text=error_text(_, exc))
        return await _users_page(request, me, values=data, errors=errors, status_code=422)
    # The invitation is written in the invited person's language, not the office's.
    from outreach.pages.i18n import translations

    t = translations(user.language).gettext
    text = t(
        "Hello,\n\nthe network office has opened an outreach account for you (%(email)s). "
        "Set your password with this link within 14 days:\n\n%(link)s\n"
    ) % {"email": user.email, "link": password_link(token)}
    try:
        await accounts.send_account_mail(user.email, t("Your outreach account"), text)
        flash(request, _("The invitation to %(email)s is sent.") % {"email": user.email})
    except Exception:
        log.exception("invitation mail to user %s failed", user.id)
        flash(
            request,
            _("The account exists, but the mail failed. Send this link yourself: %(link)s")
            % {"link": password_link(token)},
        )
    return redirect("/office/users")


@get("/office/events")
async def all_events(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    me = require(request, by)
    found = await events.list_events(events.EventFilter(), by=me)
    return page(request, "office/events.html", events=found)


@get("/office/bookings")
async def all_bookings(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    me = require(request, by)
    status = request.query_params.get("status") or None
    if status not in (None, "pending", "confirmed", "waitlisted", "declined", "cancelled"):
        status = None
    found = await booking.list_bookings(by=me, status=status)
    return page(request, "office/bookings.html", bookings=found, status=status)


@get("/office/notifications")
async def failed(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    require(request, by)
    return page(request, "office/notifications.html", failed=await notifications.list_failed())


@post("/office/notifications/{notification_id:int}/retry")
async def retry(
    request: Request[Any, Any, Any], notification_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    require(request, by)
    _ = gettext_for(request)
    if await notifications.requeue(notification_id):
        await booking.after_commit()  # hand it to the workers now, not at the next sweep
        flash(request, _("The notice is queued again."))
    else:
        flash(request, _("This notice is no longer failed."))
    return redirect("/office/notifications")


@get("/office/mails")
async def mails(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    require(request, by)
    settings = get_settings()
    return page(
        request,
        "office/mails.html",
        names=transports.list_stored_mails(settings),
        smtp=bool(settings.smtp_url),
    )


@get("/office/mails/{name:str}")
async def mail(
    request: Request[Any, Any, Any], name: FromPath[str], by: NamedDependency[Principal]
) -> Template:
    require(request, by)
    raw = transports.read_stored_mail(get_settings(), name)
    if raw is None:
        raise NotFound(f"no mail {name}")
    message = message_from_bytes(raw, policy=policy.default)
    body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    return page(
        request,
        "office/mail.html",
        mail_name=name,  # not `name`: that is page()'s own parameter (the template)
        headers=[(k, str(message[k])) for k in ("From", "To", "Subject", "Date") if message[k]],
        text=body.get_content() if body is not None else "",
        parts=[part.get_content_type() for part in message.walk()],
    )


@get("/office/holidays")
async def holiday_calendar(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    require(request, by)
    today = utcnow().astimezone(LOCAL_TZ).date()
    year = parse_int(request.query_params.get("year"), default=None)
    start_year = year if year and 2000 <= year <= 2100 else int(holidays.school_year_of(today)[:4])
    first, last = date(start_year, 8, 1), date(start_year + 1, 7, 31)
    return page(
        request,
        "office/holidays.html",
        school_year=f"{start_year}/{(start_year + 1) % 100:02d}",
        closures=holidays.closures_between(first, last),
        covered=holidays.covered_school_years(),
        source=holidays.school_holiday_source(),
        prev_year=start_year - 1,
        next_year=start_year + 1,
    )


HANDLERS = [
    overview,
    orgs,
    create_org,
    users,
    invite,
    all_events,
    all_bookings,
    failed,
    retry,
    mails,
    mail,
    holiday_calendar,
]
