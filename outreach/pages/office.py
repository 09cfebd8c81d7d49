"""The network office: organisations, users and invitations, all events and bookings,
failed notifications, stored mails and the holiday calendar in use.

Mounted under `/office` (see `outreach.pages`), whose guard lets only the office in; the
routes here are relative to it.
"""

from __future__ import annotations

import logging
from datetime import date
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from outreach.accounts import services as accounts
from outreach.audit import services as audit
from outreach.booking import search as booking_search
from outreach.calendar import holidays
from outreach.config import get_settings
from outreach.errors import Conflict, Invalid, NotFound
from outreach.events import services as events
from outreach.notifications import transports
from outreach.organisations import services as organisations
from outreach.outbox import services as outbox
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
)
from outreach.pages.forms import Refused, back_to, go_on, handle_form
from outreach.pages.i18n import N_, translations
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from outreach.web import IdPath

__all__ = ["HANDLERS"]

log = logging.getLogger(__name__)


# The filters' refusals (`booking.search`), said in the reader's language.
_FILTER_MESSAGES = (
    N_("status must be one of the listed statuses"),
    N_("sort must be date or -date"),
    N_("from must be a date like 2026-12-31"),
    N_("to must be a date like 2026-12-31"),
    N_("page must be a whole number from 1"),
    N_("firm must be the short name of an organisation"),
    N_("school must be the short name of an organisation"),
    N_("firm: no organisation has this short name"),
    N_("school: no organisation has this short name"),
)


@get("/")
async def overview(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """The figures the office asks first, each a link to the list it counts."""
    figures = await booking_search.office_figures(by=by)
    month = {"from": figures.month_first.isoformat(), "to": figures.month_last.isoformat()}
    return page(
        request,
        "office/overview.html",
        figures=figures,
        failed=await outbox.count_failed(),
        month_link=urlencode({"status": "confirmed", **month}),
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


@get("/organisations")
async def orgs(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return await _orgs_page(request)


@post("/organisations")
async def create_org(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    fields = ("kind", "slug", "name", "street", "postal_code", "city", "contact_name")
    return await handle_form(
        request,
        lambda data: organisations.create_organisation(
            organisations.OrganisationIn(
                **{f: str(data.get(f, "")).strip() for f in fields},
                contact_email=str(data.get("contact_email", "")).strip(),
            ),
            by=by,
        ),
        fields={f: f for f in (*fields, "contact_email")},
        done=lambda org: go_on(
            request, "/office/organisations", _("%(name)s is added.") % {"name": org.name}
        ),
        again=lambda r: _orgs_page(
            request, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


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
        open_invitations=await accounts.list_open_invitations(by=me),
        organisations=await organisations.list_organisations(),
        values=values or {"role": "school", "language": "de"},
        errors=errors,
    )


@get("/users")
async def users(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return await _users_page(request, by)


@post("/users")
async def invite(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    """Invite a person: a user without a password, and a mail with a set-password link."""
    return await handle_form(
        request,
        lambda data: accounts.invite_user(
            accounts.NewUser(
                email=str(data.get("email", "")),
                role=str(data.get("role", "")),
                org_slug=str(data.get("org", "")) or None,
                name=str(data.get("name", "")),
                language=str(data.get("language", "de")),
            ),
            by=by,
        ),
        refusals=(Invalid, Conflict, NotFound),
        fields={f: f for f in ("email", "role", "org", "name", "language")},
        done=lambda invited: _send_invitation(request, *invited),
        again=lambda r: _users_page(
            request, by, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


async def _send_invitation(request: Request[Any, Any, Any], user: Any, token: str) -> Redirect:
    """Mail the set-password link in the invited person's language; say how it went."""
    _ = gettext_for(request)
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


_USER_FIELDS = {f: f for f in ("name", "role", "org", "language", "user")}


async def _user_form(
    request: Request[Any, Any, Any],
    user_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    user = await accounts.get_user(user_id)
    orgs = await organisations.list_organisations()
    slug_of = {o.id: o.slug for o in orgs}
    current = {
        "name": user.name,
        "role": user.role,
        "org": slug_of.get(user.organisation, ""),
        "language": user.language,
    }
    return page(
        request,
        "office/user.html",
        status_code=status_code,
        user=user,
        organisations=orgs,
        values=values or current,
        errors=errors,
    )


@get("/users/{user_id:int}")
async def user_form(
    request: Request[Any, Any, Any], user_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return await _user_form(request, user_id)


@post("/users/{user_id:int}")
async def edit_user(
    request: Request[Any, Any, Any], user_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    async def again(refused: Refused) -> Template:
        if isinstance(refused.error, NotFound) and refused.error.field != "org":
            raise refused.error  # the user is gone: an error page, not the form
        return await _user_form(
            request,
            user_id,
            values=refused.values,
            errors=refused.errors,
            status_code=refused.status_code,
        )

    return await handle_form(
        request,
        lambda data: accounts.update_user(
            user_id,
            accounts.UserChange(
                name=str(data.get("name", "")),
                role=str(data.get("role", "")),
                org_slug=str(data.get("org", "")) or None,
                language=str(data.get("language", "de")),
            ),
            by=by,
        ),
        refusals=(Invalid, Conflict, NotFound),
        fields=_USER_FIELDS,
        done=lambda user: go_on(
            request,
            "/office/users",
            _("The changes to %(email)s are saved.") % {"email": user.email},
        ),
        again=again,
    )


@post("/users/{user_id:int}/active")
async def set_active(
    request: Request[Any, Any, Any], user_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    """Deactivate or reactivate: `active=0` or `active=1`."""
    _ = gettext_for(request)
    data = await form_data(request)
    active = str(data.get("active", "")) == "1"
    text = (
        _("%(email)s can sign in again.")
        if active
        else _("%(email)s is deactivated: no sign-in, no API token, no feed.")
    )
    return await handle_form(
        request,
        lambda _data: accounts.set_user_active(user_id, active, by=by),
        data=data,
        done=lambda user: go_on(request, "/office/users", text % {"email": user.email}),
        again=back_to(request, "/office/users"),
    )


@post("/users/{user_id:int}/reinvite")
async def reinvite(
    request: Request[Any, Any, Any], user_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    return await handle_form(
        request,
        lambda _data: accounts.reinvite_user(user_id, by=by),
        done=lambda invited: _send_invitation(request, *invited),
        again=back_to(request, "/office/users"),
    )


@get("/events")
async def all_events(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    found = await events.list_events(events.EventFilter(), by=by)
    return page(request, "office/events.html", events=found)


@get("/bookings")
async def all_bookings(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """All bookings by visit date, filtered by firm, school, status and days; paged."""
    raw = {k: request.query_params.get(k) for k in ("firm", "school", "status", "from", "to")}
    raw |= {k: request.query_params.get(k) for k in ("sort", "page")}
    errors = FormErrors()
    try:
        search = booking_search.BookingSearch.parse(raw)
        found = await booking_search.search_bookings(search, by=by)
    except Invalid as exc:  # a filter it cannot use: said beside that filter
        errors.add(exc, None, text=lambda each: error_text(gettext_for(request), each))
        search, found = booking_search.BookingSearch(), None
    orgs = await organisations.list_organisations()
    link = search.params
    return page(
        request,
        "office/bookings.html",
        status_code=422 if found is None else 200,
        no_store=True,
        found=found,
        search=search,
        values=raw,
        errors=errors,
        firms=[(o.slug, o.name) for o in orgs if o.kind != "school"],
        schools=[(o.slug, o.name) for o in orgs if o.kind == "school"],
        statuses=booking_search.STATUSES,
        other_sort=urlencode(link(sort="-date" if search.sort == "date" else "date", page=None)),
        prev_link=urlencode(link(page=found.page - 1)) if found and found.page > 1 else None,
        next_link=(
            urlencode(link(page=found.page + 1)) if found and found.page < found.last_page else None
        ),
        export=urlencode({"status": search.status} if search.status else {}),
    )


@get("/notifications")
async def failed(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return page(request, "office/notifications.html", failed=await outbox.list_failed())


@post("/notifications/{notification_id:int}/retry")
async def retry(
    request: Request[Any, Any, Any], notification_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    if await outbox.requeue(notification_id, by=by):
        return go_on(request, "/office/notifications", _("The notice is queued again."))
    return go_on(request, "/office/notifications", _("This notice is no longer failed."))


@get("/audit")
async def audit_log(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """Who did what as the office, and who looked at attendee lists; newest first, paged."""
    q = request.query_params
    page_no = max(parse_int(q.get("page"), default=1) or 1, 1)
    filters = audit.AuditFilter(
        action=(q.get("action") or "").strip()[:64] or None,
        object_type=(q.get("object_type") or "").strip()[:32] or None,
        actor=parse_int(q.get("actor")),
    )
    found = await audit.list_entries(
        filters, by=by, limit=audit.PAGE_SIZE, offset=(page_no - 1) * audit.PAGE_SIZE
    )
    last_page = max((found.total + audit.PAGE_SIZE - 1) // audit.PAGE_SIZE, 1)
    keep = {
        k: v
        for k, v in (
            ("action", filters.action),
            ("object_type", filters.object_type),
            ("actor", filters.actor),
        )
        if v
    }
    return page(
        request,
        "office/audit.html",
        entries=found.entries,
        total=found.total,
        filters=filters,
        page_no=page_no,
        last_page=last_page,
        prev_link=urlencode({**keep, "page": page_no - 1}) if page_no > 1 else None,
        next_link=urlencode({**keep, "page": page_no + 1}) if page_no < last_page else None,
    )


@get("/mails")
async def mails(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """The stored mails, newest first: date, recipient and subject; paged."""
    settings = get_settings()
    page_no = max(parse_int(request.query_params.get("page"), default=1) or 1, 1)
    found = transports.stored_mail_page(settings, page=page_no)
    return page(
        request,
        "office/mails.html",
        no_store=True,  # recipients' addresses
        found=found,
        prev_link=f"page={found.page - 1}" if found.page > 1 else None,
        next_link=f"page={found.page + 1}" if found.page < found.last_page else None,
        smtp=bool(settings.smtp_url),
    )


@get("/mails/{name:str}")
async def mail(
    request: Request[Any, Any, Any], name: FromPath[str], by: NamedDependency[Principal]
) -> Template:
    raw = transports.read_stored_mail(get_settings(), name)
    if raw is None:
        raise NotFound(f"no mail {name}")
    # The file name (a Message-ID) can be longer than an object id column holds.
    await audit.record(
        "mail.read", by=by, object_type="mail", object_id=None, detail={"file": name}
    )
    message = message_from_bytes(raw, policy=policy.default)
    body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    return page(
        request,
        "office/mail.html",
        no_store=True,
        mail_name=name,  # not `name`: that is page()'s own parameter (the template)
        headers=[(k, str(message[k])) for k in ("From", "To", "Subject", "Date") if message[k]],
        text=body.get_content() if body is not None else "",
        parts=[part.get_content_type() for part in message.walk()],
    )


@get("/holidays")
async def holiday_calendar(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
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
    audit_log,
    overview,
    orgs,
    create_org,
    users,
    invite,
    user_form,
    edit_user,
    set_active,
    reinvite,
    all_events,
    all_bookings,
    failed,
    retry,
    mails,
    mail,
    holiday_calendar,
]
