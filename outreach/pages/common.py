"""Shared plumbing of the pages: rendering, sessions, guards, forms and error pages.

Pages are thin like the API controllers: read a form, call one service, render or
redirect. Rules live in the services; a `DomainError` becomes an error beside the
field it names (`Invalid`), a message at the top (`Conflict`), or an error page.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect, Template
from markupsafe import Markup

from outreach import db, web
from outreach.accounts import sessions
from outreach.config import Settings, get_settings
from outreach.errors import DomainError, Forbidden, Invalid, NotFound, Unauthorised, together
from outreach.pages.i18n import LANG_COOKIE, Gettext, locale_of
from outreach.pages.messages import reason_text
from outreach.principal import ANONYMOUS, Principal
from outreach.reasons import TEXTS
from outreach.timeutil import LOCAL_TZ

__all__ = [
    "NO_STORE",
    "TOP",
    "Checks",
    "FormErrors",
    "form_data",
    "gettext_for",
    "local_times",
    "members_only",
    "page",
    "page_exception_handlers",
    "parse_date",
    "parse_int",
    "redirect",
    "render_fragment",
    "required",
    "safe_next",
    "session_id_of",
    "session_secret",
    "sign_in",
    "sign_out",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Session payload keys: the server-side session's id (outreach.accounts.sessions), a
# one-shot notice.
SESSION_ID = sessions.SESSION_KEY
SESSION_FLASH = "flash"
SESSION_DONE = "done"
TOP = "__top__"  # the key of FormErrors for what belongs to no field


NO_STORE = {"Cache-Control": "private, no-store"}


def session_secret(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose derived from SECRET_KEY, so one leak does not open the others."""
    return hashlib.sha256(f"outreach:{purpose}:{settings.secret_key}".encode()).digest()


def gettext_for(request: Request[Any, Any, Any]) -> Gettext:
    """`_()` for Python code of a page (notices, mail texts) in the request's language."""
    return Gettext(locale_of(request))


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    return request.state.get("principal", ANONYMOUS)


def page(
    request: Request[Any, Any, Any],
    name: str,
    *,
    status_code: int = 200,
    no_store: bool = False,
    **context: Any,
) -> Template:
    """Render `templates/pages/<name>` with what every page needs.

    `no_store`: the page shows other people's contact data; no browser or proxy keeps it.
    """
    flash = None
    session = request.scope.get("session")
    if isinstance(session, dict) and SESSION_FLASH in session:
        flash = session.pop(SESSION_FLASH)
        request.set_session(session)
    base = {
        "me": principal_of(request),
        "locale": locale_of(request),
        "flash": flash,
        "path": request.url.path,
        "query": request.url.query,
        "errors": context.pop("errors", None) or FormErrors(),
    }
    return Template(
        f"pages/{name}",
        context={**base, **context},
        status_code=status_code,
        headers=NO_STORE if no_store else None,
    )


def render_fragment(request: Request[Any, Any, Any], name: str, **context: Any) -> Markup:
    """`templates/pages/<name>` alone, in the request's language: a part of a page that
    the handler keeps rendered (see `public.calendar_page`). Only what the context gives
    reaches it: no CSRF token, no messages."""
    template = request.app.template_engine.engine.get_template(f"pages/{name}")
    html = template.render(locale=locale_of(request), me=principal_of(request), **context)
    # The output of our autoescaping environment: every value in it is escaped already.
    return Markup(html)  # noqa: S704


def flash(request: Request[Any, Any, Any], message: str) -> None:
    """A notice shown once on the next page (after a POST-redirect-GET)."""
    session = dict(request.scope.get("session") or {})
    session[SESSION_FLASH] = message
    request.set_session(session)


def redirect(path: str) -> Redirect:
    # 303: the browser follows a POST with a GET, so a reload never posts twice.
    return Redirect(path=path, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site; `//host` and `https://...` would redirect elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


class FormErrors(dict[str, str]):
    """Messages by field name, in the order of the form; `top` holds what belongs to no field.

    The one structure every form's errors take: the fields show theirs beside them
    (`_macros.field`), the page's summary lists all of them (`_macros.error_summary`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The label of each field with an error, as the page names it (`labelled`), so
        # the summary says which field each message is about.
        self.labels: dict[str, str] = {}

    def labelled(self, name: str, label: str) -> str:
        """Called by the field macros while the page is drawn; shows nothing."""
        self.labels[name] = str(label)
        return ""

    @property
    def top(self) -> list[str]:
        return [message for field, message in self.items() if field == TOP]

    @property
    def summary(self) -> list[tuple[str | None, str]]:
        """(field or None, message) for the summary: what belongs to no field first."""
        return [(None, text) for text in self.top] + [
            (field, text) for field, text in self.items() if field != TOP
        ]

    def add(
        self,
        exc: DomainError,
        fields: Mapping[str, str] | None = None,
        *,
        text: str | Callable[[DomainError], str],
    ) -> None:
        """File the error, and every one found with it, beside its field when the form
        shows one, else at the top; a field keeps the first message filed for it.

        `text` says each error in the reader's language; a string is the text of `exc`
        alone (the others found with it, if any, are said by their English message)."""
        if isinstance(text, str):
            said = text
            text = lambda each: said if each is exc else each.message  # noqa: E731
        for each in exc.every:
            field = each.field
            if field and fields is not None and field in fields:
                name = fields[field]
            elif field and fields is None:
                name = field
            else:
                name = TOP
            self.setdefault(name, text(each))

    def in_order_of(self, names: Iterable[str]) -> FormErrors:
        """The same errors in the order the form shows its fields (the posted names)."""
        place = {name: index for index, name in enumerate(names)}
        return FormErrors(sorted(self.items(), key=lambda item: place.get(item[0], len(place))))


async def form_data(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form; repeated names (checkboxes) become lists."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = form.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    data.pop("_csrf_token", None)
    return data


def parse_int(value: Any, *, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_local(day: Any, clock: Any) -> datetime | None:
    """A local date and time from two form fields, as an aware instant in Europe/Berlin."""
    parsed_day = parse_date(day)
    try:
        parsed_time = time.fromisoformat(str(clock).strip())
    except (TypeError, ValueError):
        return None
    if parsed_day is None:
        return None
    return datetime.combine(parsed_day, parsed_time, tzinfo=LOCAL_TZ)


async def members_only(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The guard of an audience's router (`/school`, `/firm`, `/office`, ...).

    A visitor who is not signed in is sent to the sign-in form (`Unauthorised`, see
    `_domain_error`); a member needs one of the roles the router names in `opt["roles"]`
    (a handler may name others in its own `opt`), the office may open every page (403
    for anyone else).
    """
    by = await web.principal_of(connection)
    if not by.is_member:
        raise Unauthorised("sign in to see this page")
    if not (by.is_admin or by.role in handler.opt.get("roles", ())):
        raise Forbidden("this page is for another role")


def remember(request: Request[Any, Any, Any], by: Principal) -> Principal:
    """Make the principal known to the templates of a page anyone may open."""
    request.state["principal"] = by
    return by


async def sign_in(request: Request[Any, Any, Any], user_id: int) -> None:
    # A fresh session on sign-in: nothing of the anonymous one is carried over.
    request.set_session({SESSION_ID: await sessions.start_session(user_id)})


async def sign_out(request: Request[Any, Any, Any]) -> None:
    """End this session on the server too, so a copy of the cookie opens nothing."""
    session_id = session_id_of(request)
    if session_id is not None:
        await sessions.end_session(session_id)
    request.clear_session()


def session_id_of(request: Request[Any, Any, Any]) -> str | None:
    session = request.scope.get("session")
    found = session.get(SESSION_ID) if isinstance(session, dict) else None
    return found if isinstance(found, str) else None


def language_cookie(locale: str) -> Cookie:
    return Cookie(
        key=LANG_COOKIE,
        value=locale,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )


# --------------------------------------------------------------------------- error pages

_TITLES = {
    400: "The request could not be read",
    403: "You may not do this",
    404: "Page not found",
    405: "This does not work that way",
    409: "This cannot be done now",
    422: "Please check your input",
    500: "Something went wrong",
}


def _error_page(request: Request[Any, Any, Any], status: int, message: str) -> Template:
    _ = gettext_for(request)
    return page(
        request,
        "error.html",
        status_code=status,
        title=_(_TITLES.get(status, "Something went wrong")),
        message=message,
        status=status,
    )


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Any:
    _ = gettext_for(request)
    if isinstance(exc, Unauthorised):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(path=f"/signin?{urlencode({'next': target})}", status_code=303)
    if isinstance(exc, NotFound):
        return _error_page(request, 404, _("There is no such page, or it is not yours to see."))
    if isinstance(exc, Forbidden):
        return _error_page(request, 403, _("Your account may not open this page."))
    return _error_page(request, exc.status_code, _(exc.message))


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Any:
    _ = gettext_for(request)
    if isinstance(exc, NotFoundException):
        return _error_page(request, 404, _("There is no such page, or it is not yours to see."))
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        # The form was older than the cookie, or posted from elsewhere: ask to reload it.
        return _error_page(
            request,
            403,
            _(
                "The form has expired or did not come from this site. "
                "Please reload it and try again."
            ),
        )
    if exc.status_code >= 500:
        log.error("error on %s: %s", request.url.path, exc.detail)
    response = _error_page(request, exc.status_code, _(_TITLES.get(exc.status_code, "Error")))
    # What the exception says about retrying (429: Retry-After) or allowed methods (405).
    response.headers.update(exc.headers or {})
    return response


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Any:
    _ = gettext_for(request)
    if db.unreachable(exc):  # a moment without the database: 503, the pool reconnects
        log.warning("database unreachable on %s: %s", request.url.path, exc)
        message = _("The service is briefly unavailable. Please try again in a few seconds.")
        response = _error_page(request, 503, message)
        response.headers["Retry-After"] = "5"
        return response
    if db.refused_text(exc):  # a NUL character in a form field: the input, not the server
        return _error_page(request, 400, _(_TITLES.get(400, "Error")))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_page(request, 500, _("The error has been logged. Please try again later."))


page_exception_handlers: dict[Any, Any] = {
    DomainError: _domain_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}


def quote_path(value: str) -> str:
    return quote(value, safe="")


def convert(data: Mapping[str, Any], kind: type[T]) -> T:
    """A service struct from form values, checked by its own constraints.

    Empty fields count as not given; every value that breaks a constraint, and every
    required one missing, becomes `Invalid` naming its field, all raised together like
    the services' own errors, so the form shows each beside its field at once.
    """
    return Checks().finish(data, kind)


class Checks:
    """The checks of one form, all run before it says no, so every error shows at once.

    `take` runs a check of the page's own (a day and a time read together) and keeps
    its refusal; `convert` builds a service's struct and keeps its refusals; `end`
    raises what was found, together (`errors.together`); `finish` is the last
    `convert` and the `end`.
    """

    def __init__(self) -> None:
        self.found: list[DomainError] = []

    def take(self, check: Callable[[], T], default: T | None = None) -> T | None:
        try:
            return check()
        except Invalid as exc:
            self.found.append(exc)
            return default

    def convert(self, data: Mapping[str, Any], kind: type[T]) -> T | None:
        """The struct, or None with its refusals kept (not those of fields refused before)."""
        refused = {exc.field for exc in self.found}
        cleaned = {k: v for k, v in data.items() if v not in ("", None) and k not in refused}
        try:
            return msgspec.convert(cleaned, kind, strict=False)
        except msgspec.ValidationError as exc:
            found = _field_errors(cleaned, kind) or [_invalid(str(exc))]
            self.found += [each for each in found if each.field not in refused]
            return None

    def end(self) -> None:
        if self.found:
            raise together(self.found)

    def finish(self, data: Mapping[str, Any], kind: type[T]) -> T:
        converted = self.convert(data, kind)
        self.end()
        assert converted is not None  # a failed convert has raised at `end`
        return converted


def required(data: Mapping[str, Any], name: str) -> Any:
    """The form's value `name`, refused as missing when it is empty."""
    value = data.get(name)
    if value is None or not str(value).strip():
        raise Invalid.because("required", field=name)
    return value


def local_times(data: Mapping[str, Any], checks: Checks) -> tuple[Any, Any]:
    """A time's start and end from the form's `day`, `start` and `end`, in Europe/Berlin;
    each one missing is its own refusal (`starts_at`, `ends_at`)."""

    def moment(clock: str, field: str, message: str) -> datetime:
        found = parse_local(data.get("day"), data.get(clock))
        if found is None:
            raise Invalid(message, field=field)
        return found

    starts = checks.take(lambda: moment("start", "starts_at", "give the day and the start time"))
    ends = checks.take(lambda: moment("end", "ends_at", "give the end time"))
    return starts, ends


_AT = re.compile(r"at `\$\.([A-Za-z_]+)")


def _invalid(message: str, field: str | None = None, reason: str = "format") -> Invalid:
    if field is None:
        found = _AT.search(message)
        field = found.group(1) if found else None
    return Invalid(message, field=field, reason=reason)


def _field_errors(cleaned: Mapping[str, Any], kind: type[Any]) -> list[DomainError]:
    """Each field of a struct checked on its own: msgspec stops at the first error."""
    try:
        fields = msgspec.structs.fields(kind)
    except TypeError:  # not a struct: its one error is all there is
        return []
    found: list[DomainError] = []
    for info in fields:
        if info.encode_name not in cleaned:
            if info.required:
                message = f"Object missing required field `{info.encode_name}`"
                found.append(_invalid(message, info.encode_name, reason="required"))
            continue
        try:
            msgspec.convert(cleaned[info.encode_name], info.type, strict=False)
        except msgspec.ValidationError as exc:
            found.append(_invalid(f"{exc} - at `$.{info.encode_name}`", info.encode_name))
    return found


def error_text(_: Gettext, exc: DomainError) -> str:
    """The error in the reader's language: a refusal with a reason code is the catalogue's
    sentence with its figures and names (`messages.reason_text`); a fixed message is its
    catalog entry (`messages.SERVICE_MESSAGES`)."""
    if exc.reason in TEXTS:
        try:
            return reason_text(exc.reason, exc.params, _.locale)
        except KeyError:  # raised without the figures its sentence needs: a bug, not a 500
            log.warning("refusal %r raised without its params %r", exc.reason, exc.params)
    if exc.field in ("email", "contact_email") and "valid" in exc.message:
        return _("Please enter a valid e-mail address.")
    return _(exc.message)
