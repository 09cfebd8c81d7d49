"""The web pages: server-rendered with Jinja2, working without JavaScript.

One package rather than a `pages.py` per feature: a page mixes features (the teacher's
dashboard shows bookings, events, holidays and the feed link), and all pages share the
session, CSRF, language and error-page plumbing, which lives here once. Each module is
one audience: `public`, `auth`, `school`, `firm`, `office`, `respond`, `bookings`
(the booking page, for its booker, host and the office).
"""

from __future__ import annotations

from pathlib import Path

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
    messages,
    office,
    planner,
    presenters,
    public,
    reports,
    respond,
    school,
)
from outreach.pages.common import page_exception_handlers, session_secret
from outreach.pages.i18n import install

__all__ = ["csrf_config", "page_router", "session_config", "static_router", "template_config"]

STATIC = Path(__file__).resolve().parent / "static"
# Paths with their own authentication (bearer tokens, feed tokens) or none at all.
_NOT_PAGES = ["^/api/", "^/feeds/", "^/schema", "^/health"]


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


def page_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            *public.HANDLERS,
            *auth.HANDLERS,
            *school.HANDLERS,
            *planner.HANDLERS,
            *firm.HANDLERS,
            *office.HANDLERS,
            *respond.HANDLERS,
            *bookings.HANDLERS,
            *presenters.HANDLERS,
            *reports.HANDLERS,
        ],
        exception_handlers=page_exception_handlers,
        include_in_schema=False,
    )
