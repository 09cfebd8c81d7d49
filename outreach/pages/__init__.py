"""The web pages: server-rendered with Jinja2, working without JavaScript.

One package rather than a `pages.py` per feature: a page mixes features (the teacher's
dashboard shows bookings, events, holidays and the feed link), and all pages share the
session, CSRF, language and error-page plumbing, which lives here once. Each module is
one audience: `public`, `auth`, `school`, `firm`, `office`, `respond`, `bookings`
(the booking page, for its booker, host and the office).

Who may open a page is said once per audience: the pages of teachers, firms, the office,
the Bilanz and one's own account hang under a router of their own (`/school`, `/firm`,
`/office`, `/reports`, `/account`) whose guard (`common.members_only`) sends a visitor
to the sign-in form and refuses a member of another role (403); the office opens every
page. A handler that also serves another role says so in its `opt={"roles": ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from outreach.config import Settings
from outreach.pages import (
    auth,
    bookings,
    firm,
    internships,
    messages,
    office,
    planner,
    presenters,
    public,
    reports,
    respond,
    school,
)
from outreach.pages.common import members_only, page_exception_handlers, session_secret
from outreach.pages.i18n import install

__all__ = [
    "audience",
    "csrf_config",
    "page_router",
    "session_config",
    "static_router",
    "template_config",
]

STATIC = Path(__file__).resolve().parent / "static"
# Paths with their own authentication (bearer tokens, feed tokens) or none at all; and
# the benchmark's bare feed (mounted only for bench/feeds.py), which must cost what the
# stored feeds cost: no session, no CSRF cookie.
_NOT_PAGES = ["^/api/", "^/feeds/", "^/schema", "^/health", "^/_bench/"]


def session_config(settings: Settings) -> CookieBackendConfig:
    """The session in a cookie, encrypted and signed (AES-GCM) with a key from SECRET_KEY."""
    return CookieBackendConfig(
        secret=session_secret(settings, "session"),
        key="outreach_session",
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        exclude=_NOT_PAGES,
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=session_secret(settings, "csrf").hex(),
        cookie_name="outreach_csrf",
        cookie_httponly=True,  # forms carry the token; no script needs to read it
        cookie_samesite="lax",
        cookie_secure=settings.secure_cookies,
        exclude=_NOT_PAGES,
    )


def template_config(directory: Path) -> TemplateConfig[JinjaTemplateEngine]:
    def setup(engine: JinjaTemplateEngine) -> None:
        install(engine.engine)
        messages.install(engine.engine)
        engine.engine.trim_blocks = True
        engine.engine.lstrip_blocks = True

    return TemplateConfig(directory=directory, engine=JinjaTemplateEngine, engine_callback=setup)


def static_router() -> Router:
    return create_static_files_router(
        path="/static", directories=[STATIC], name="static", include_in_schema=False
    )


def audience(path: str, roles: tuple[str, ...], handlers: Sequence[Any]) -> Router:
    """The pages of one audience under `path`, open to members with one of `roles`.

    Handlers name their paths relative to `path`; one that repeats it (`/school/...`
    under `/school`) would answer at `/school/school/...`, so it is refused here.
    """
    for handler in handlers:
        for route in handler.paths:
            if route == path or route.startswith(f"{path}/"):
                raise ValueError(f"{handler.handler_name}: {route} repeats the prefix {path}")
    return Router(
        path=path, guards=[members_only], opt={"roles": roles}, route_handlers=list(handlers)
    )


def page_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            *public.HANDLERS,
            *internships.PUBLIC_HANDLERS,
            *auth.HANDLERS,
            audience("/account", ("school", "firm"), auth.ACCOUNT_HANDLERS),
            audience(
                "/school",
                ("school",),
                [
                    *school.HANDLERS,
                    *planner.HANDLERS,
                    *presenters.SCHOOL_HANDLERS,
                    *internships.SCHOOL_HANDLERS,
                ],
            ),
            audience(
                "/firm",
                ("firm",),
                [*firm.HANDLERS, *presenters.FIRM_HANDLERS, *internships.FIRM_HANDLERS],
            ),
            audience(
                "/office",
                (),
                [*office.HANDLERS, *reports.OFFICE_HANDLERS, *internships.OFFICE_HANDLERS],
            ),
            audience("/reports", ("firm", "school"), reports.HANDLERS),
            *respond.HANDLERS,
            *bookings.HANDLERS,
        ],
        exception_handlers=page_exception_handlers,
        include_in_schema=False,
    )
