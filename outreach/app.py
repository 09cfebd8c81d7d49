"""The application factory: routes, error answers, OpenAPI and start-up hooks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from outreach import __version__, db
from outreach.accounts.api import MeController
from outreach.audit.api import AuditController
from outreach.booking.api import BookingController, SlotBookingController
from outreach.config import Settings, get_settings
from outreach.contract import state_request_schemas
from outreach.events.api import EventController, SlotController
from outreach.feeds.api import EventCalendarController, FeedController, bench_route_handlers
from outreach.hardening import (
    BoundedRequest,
    client_address,
    complete_allow,
    rate_limit_config,
    rate_limit_store,
    refuse_nul_in_query,
    security_headers,
)
from outreach.health import check_metrics_reader, health_report
from outreach.internships.api import (
    InternshipClassController,
    InternshipOfferController,
    InternshipPlacementController,
    InternshipRoundController,
)
from outreach.itineraries.api import ItineraryCalendarController, ItineraryController
from outreach.observability import (
    RequestObservability,
    draining,
    install_drain_on_sigterm,
    render_metrics,
)
from outreach.pages import (
    csrf_config,
    page_router,
    session_config,
    static_router,
    template_config,
)
from outreach.pages.common import page_exception_handlers
from outreach.presenters.api import EventPresenterController, PresenterInvitationController
from outreach.web import (
    api_http_error,
    exception_handlers,
    members_only,
    provide_principal,
    wants_page,
)
from outreach.workplan.api import MilestoneController, ReportController, WorkPlanController
from workers.broker import start_embedded_worker, stop_embedded_worker

__all__ = ["create_app"]

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_DOWN = {503: ResponseSpec(dict[str, Any], description="The database or the broker is down")}


@get("/health", tags=["operations"], include_in_schema=True, responses=_DOWN)
async def health() -> Response[dict[str, Any]]:
    """Database and broker state; 503 when one of them is down."""
    ok, report = await health_report()
    report["version"] = __version__
    return Response(report, status_code=200 if ok else 503)


@get("/health/live", tags=["operations"])
async def live() -> dict[str, str]:
    """Liveness: the process answers (restart it if not); checks nothing else."""
    return {"status": "ok"}


@get("/health/ready", tags=["operations"], responses=_DOWN)
async def ready() -> Response[dict[str, Any]]:
    """Readiness: send traffic only while the database and broker answer, and not draining."""
    if draining():
        return Response({"status": "draining"}, status_code=503)
    ok, report = await health_report()
    return Response(report, status_code=200 if ok else 503)


@get("/metrics", tags=["operations"], include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics: with METRICS_TOKEN as a bearer token, else from loopback only."""
    check_metrics_reader(request, get_settings())
    body, content_type = await render_metrics()
    return Response(body, media_type=content_type)


async def _drain_on_sigterm() -> None:
    install_drain_on_sigterm(get_settings().shutdown_drain_seconds)


async def _start_pool() -> None:
    await db.start_pool(get_settings().db_pool_max)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """An error outside any route (404, 405): a page for a browser, JSON for the API."""
    if wants_page(request):
        return page_exception_handlers[HTTPException](request, exc)  # type: ignore[no-any-return]
    return api_http_error(request, exc)


async def _start_workers() -> None:
    """Connect the outbox to the broker; without REDIS_URL also run the worker in-process."""
    start_embedded_worker()


async def _stop_workers() -> None:
    stop_embedded_worker()


def create_app(*, start_workers: bool = True, use_pool: bool = True) -> Litestar:
    """The web application.

    `use_pool`: a PostgreSQL pool belongs to one event loop; tests that share the
    database with the app from another loop run without one.
    """
    settings = get_settings()
    openapi = OpenAPIConfig(
        title="outreach",
        version=__version__,
        description=(
            "Schedules school outreach for a network of firms: events, slots, class visits, "
            "registrations and calendar feeds. Authenticate with `Authorization: Bearer <token>`."
        ),
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(path="/swagger"), RedocRenderPlugin(path="/")],
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
        ),
        # No document-wide requirement: each operation that needs a signed-in caller states
        # `BEARER` (outreach.web), which `members_only` enforces; the others are public.
    )
    app = Litestar(
        route_handlers=[
            health,
            live,
            ready,
            metrics,
            EventController,
            SlotController,
            SlotBookingController,
            BookingController,
            MeController,
            AuditController,
            ItineraryController,
            ItineraryCalendarController,
            EventPresenterController,
            PresenterInvitationController,
            FeedController,
            EventCalendarController,
            WorkPlanController,
            MilestoneController,
            ReportController,
            InternshipOfferController,
            InternshipClassController,
            InternshipRoundController,
            InternshipPlacementController,
            *bench_route_handlers(),
            page_router(),
            static_router(),
        ],
        dependencies={"by": Provide(provide_principal)},
        guards=[members_only],
        # Pages: a session cookie, CSRF on every form, Jinja templates (see outreach/pages).
        csrf_config=csrf_config(settings),
        template_config=template_config(TEMPLATES),
        exception_handlers={**exception_handlers, HTTPException: _http_error},
        openapi_config=openapi,
        on_startup=[
            _drain_on_sigterm,
            *([_start_pool] if use_pool else []),
            *([_start_workers] if start_workers else []),
        ],
        on_shutdown=[
            *([_stop_workers] if start_workers else []),
            *([db.close_pool] if use_pool else []),
        ],
        response_cache_config=ResponseCacheConfig(),
        middleware=[*_hardening(settings), session_config(settings).middleware],
        stores={"rate_limit": rate_limit_store(settings)},
        request_max_body_size=settings.max_body_bytes,
        request_class=BoundedRequest,
        debug=False,
        # Logging is set up once per process (outreach.observability): JSON lines.
        logging_config=None,
    )
    # Outermost: request id, access line and request metrics for every answer, 404s too;
    # inside it the security headers, on every answer as well.
    # Outermost of all: the client's address, from X-Forwarded-For only behind a trusted
    # proxy, so the rate limits and the log see the real client and nobody can pick one.
    served = state_request_schemas(app, complete_allow(app))
    app.asgi_handler = client_address(
        RequestObservability(security_headers(served, settings)), settings
    )
    return app


def _hardening(settings: Settings) -> list[Any]:
    limits = rate_limit_config(settings)
    return [
        refuse_nul_in_query(),
        *([limits.middleware] if limits else []),
    ]
