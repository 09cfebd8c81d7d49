"""Signing in and out, forgotten passwords and invitations (both end in "set a password"),
and one's own account: its data to download, or its deletion.

The account pages are mounted under `/account` (see `outreach.pages`), open to every
member; their routes are relative to it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.accounts import privacy, sessions
from outreach.accounts import services as accounts
from outreach.config import get_settings
from outreach.errors import DomainError, Invalid, NotFound, Unauthorised, together
from outreach.hardening import SignInBackoff
from outreach.pages.common import (
    TOP,
    Checks,
    FormErrors,
    error_text,
    flash,
    form_data,
    gettext_for,
    page,
    redirect,
    required,
    safe_next,
    sign_in,
    sign_out,
)
from outreach.pages.forms import go_on, handle_form
from outreach.principal import Principal

__all__ = ["ACCOUNT_HANDLERS", "HANDLERS", "home_of", "password_link"]

log = logging.getLogger(__name__)


def home_of(by: Principal) -> str:
    return {"school": "/school", "firm": "/firm", "admin": "/office"}.get(by.role, "/")


def password_link(token: str) -> str:
    return f"{get_settings().base_url}/password/set?token={token}"


@get("/signin")
async def signin_form(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return page(request, "auth/signin.html", next=safe_next(request.query_params.get("next"), ""))


@post("/signin")
async def signin(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    email = str(data.get("email", ""))

    def again(errors: FormErrors, status_code: int) -> Template:
        return page(
            request,
            "auth/signin.html",
            status_code=status_code,
            errors=errors,
            email=email,
            next=safe_next(data.get("next"), ""),
        )

    backoff = SignInBackoff(request.app.stores.get("rate_limit"))
    if wait := await backoff.wait(email):
        # Too many failures for this address, from anywhere: not even the password is checked.
        text = _("Too many failed sign-ins with this address. Try again in %(minutes)s minutes.")
        answer = again(FormErrors({TOP: text % {"minutes": math.ceil(wait / 60)}}), 429)
        answer.headers["Retry-After"] = str(wait)
        return answer
    checks = Checks()
    for name in ("email", "password"):
        checks.take(lambda name=name: required(data, name))
    if checks.found:  # an empty field is named beside it; nothing is asked of the accounts
        errors = FormErrors()
        errors.add(together(checks.found), None, text=lambda each: error_text(_, each))
        return again(errors, 422)
    try:
        principal = await accounts.authenticate_password(email, str(data.get("password", "")))
    except Unauthorised:
        await backoff.failed(email)
        # One message for an unknown address and a wrong password: no account is revealed.
        return again(FormErrors({TOP: _("The e-mail address or the password is wrong.")}), 400)
    await backoff.succeeded(email)
    assert principal.user_id is not None
    await sign_in(request, principal.user_id)
    return redirect(safe_next(data.get("next"), home_of(principal)))


@post("/signout")
async def signout(request: Request[Any, Any, Any]) -> Redirect:
    await sign_out(request)
    return redirect("/")


@post("/signout-everywhere")
async def signout_everywhere(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Redirect:
    """Every session of the account ends, on this device and all others."""
    assert by.user_id is not None
    await sessions.end_sessions(by.user_id)
    request.set_session({})
    flash(request, gettext_for(request)("You are signed out on every device."))
    return redirect("/signin")


@get("/password/forgot")
async def forgot_form(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return page(request, "auth/forgot.html")


@post("/password/forgot")
async def forgot(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    found = await accounts.request_password_reset(str(data.get("email", "")))
    flash(
        request,
        _("If the address belongs to an account, a link to set a new password is on its way."),
    )
    response = redirect("/signin")
    if found is not None:
        user, token = found
        text = _(
            "Hello,\n\nsomeone asked to set a new password for your outreach account. "
            "If that was you, open this link within two hours:\n\n%(link)s\n\n"
            "If it was not you, ignore this mail; your password stays as it is."
        ) % {"link": password_link(token)}
        # After the answer is sent: the mail server's time must not tell who has an account.
        response.background = BackgroundTask(
            _send_reset, user.id, user.email, _("Set a new password"), text
        )
    return response


async def _send_reset(user_id: int, email: str, subject: str, text: str) -> None:
    try:
        await accounts.send_account_mail(email, subject, text)
    except Exception:  # the same answer either way; the log tells the operator
        log.exception("password reset mail to user %s failed", user_id)


@get("/password/set")
async def set_password_form(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    token = request.query_params.get("token", "")
    try:
        user = await accounts.password_token_user(token)
    except NotFound:
        return page(request, "auth/set_password.html", status_code=404, invalid=True)
    return page(request, "auth/set_password.html", token=token, email=user.email)


@post("/password/set")
async def set_password(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    token = str(data.get("token", ""))
    errors = FormErrors()
    try:
        if data.get("password") != data.get("password2"):
            raise Invalid.because("passwords_differ", field="password2")
        principal = await accounts.set_password_with_token(token, str(data.get("password", "")))
    except NotFound:
        return page(request, "auth/set_password.html", status_code=404, invalid=True)
    except DomainError as exc:
        errors.add(
            exc,
            {"password": "password", "password2": "password2"},
            text=lambda each: error_text(_, each),
        )
        user = await accounts.password_token_user(token)
        return page(
            request,
            "auth/set_password.html",
            status_code=422,
            errors=errors,
            token=token,
            email=user.email,
        )
    assert principal.user_id is not None
    await sign_in(request, principal.user_id)
    flash(request, _("Your password is set. You are signed in."))
    return redirect(home_of(principal))


@get("/")
async def account_page(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    """Your data: download it, or delete your account; how visits reach your calendar."""
    return page(request, "auth/account.html", delivery=await accounts.calendar_delivery(by=by))


@post("/calendar")
async def account_calendar(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    """How one's own visits reach one's calendar: invitations, subscription, or both."""
    _ = gettext_for(request)

    async def choose(data: dict[str, Any]) -> None:
        await accounts.set_calendar_delivery(str(data.get("delivery", "")), by=by)

    return await handle_form(
        request,
        choose,
        fields={"calendar_delivery": "delivery"},
        done=lambda _done: go_on(request, "/account", _("Your calendar choice is saved.")),
        again=lambda r: page(
            request,
            "auth/account.html",
            status_code=r.status_code,
            errors=r.errors,
            delivery=str(r.values.get("delivery", "")),
        ),
    )


@get("/export")
async def account_export(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Response[Any]:
    return Response(
        await privacy.export_data(by=by),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="outreach-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@post("/delete")
async def account_delete(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    def ticked(data: dict[str, Any]) -> None:
        if data.get("understood") != "yes":
            raise Invalid("tick the box to confirm the deletion", field="understood")

    async def delete(data: dict[str, Any]) -> None:
        checks = Checks()
        checks.take(lambda: required(data, "password"))
        checks.take(lambda: ticked(data))
        checks.end()
        await privacy.delete_account(by=by, password=str(data.get("password", "")))

    def deleted(_done: None) -> Redirect:
        # A fresh session that holds only the notice: nothing of the account is kept.
        request.set_session({})
        return go_on(request, "/", _("Your account is deleted."))

    delivery = await accounts.calendar_delivery(by=by)  # shown again beside the refusal

    def refusal(exc: DomainError) -> str:
        if exc.field == "password" and exc.reason != "required":
            return _("The password is wrong.")
        if exc.field == "understood":
            return _("Please tick the box to confirm.")
        return error_text(_, exc)

    return await handle_form(
        request,
        delete,
        fields={"password": "password", "understood": "understood"},
        text=refusal,
        done=deleted,
        again=lambda r: page(
            request,
            "auth/account.html",
            status_code=r.status_code,
            errors=r.errors,
            delivery=delivery,
        ),
    )


HANDLERS = [
    signin_form,
    signin,
    signout,
    forgot_form,
    forgot,
    set_password_form,
    set_password,
]
ACCOUNT_HANDLERS = [
    account_page,
    account_calendar,
    account_export,
    account_delete,
    signout_everywhere,
]
