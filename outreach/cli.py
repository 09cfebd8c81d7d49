"""The `outreach` command line: serve, worker, scheduler, migrate, demo, org, user."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from outreach import db
from outreach.accounts.services import NewUser, create_user, issue_api_token
from outreach.config import ConfigError, get_settings, set_settings
from outreach.demo import load_demo, load_demo_if_empty
from outreach.errors import DomainError
from outreach.observability import prepare_multiprocess_dir, setup_logging
from outreach.organisations.services import OrganisationIn, create_organisation
from workers.scheduler import run_scheduler_forever, tick

T = TypeVar("T")
log = logging.getLogger("outreach")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _fail_config(exc: ConfigError) -> None:
    """Every wrong setting on a line of its own, so one start shows them all."""
    click.echo("error: the configuration has problems:", err=True)
    for problem in exc.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(2)


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run one async step with the database; domain and config errors exit 2 with a message."""

    async def wrapped() -> T:
        await db.start_pool(2)
        try:
            return await make()
        finally:
            await db.close_pool()

    try:
        return asyncio.run(wrapped())
    except DomainError as exc:
        _fail(f"{exc.field}: {exc}" if exc.field else str(exc))
        raise  # unreachable: _fail exits
    except ConfigError as exc:
        _fail_config(exc)
        raise


@click.group()
def main() -> None:
    """outreach: school outreach for a network of firms."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        _fail_config(exc)
        raise
    setup_logging(settings.log_format)


@main.command()
def migrate() -> None:
    """Apply all migrations; safe to run again."""
    _run(db.migrate)
    click.echo("migrations applied")


@main.command()
def demo() -> None:
    """Load the demo network of the Glashütte region; safe to run again."""

    async def step() -> Any:
        await db.migrate()
        return await load_demo()

    summary = _run(step)
    click.echo(summary)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (production; each owns its database pool).",
)
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=False,
    help="Load the demo network first when the database holds no organisations.",
)
def serve(host: str, port: int, workers: int, with_demo: bool) -> None:
    """Run the web service (with no REDIS_URL, also an in-process worker and scheduler)."""
    import uvicorn

    settings = get_settings().serving_at(host, port)
    if not settings.base_url_given:
        # Links in mails, feeds and pages name this server; the server processes
        # uvicorn starts read it from the environment.
        set_settings(settings)
        os.environ["BASE_URL"] = settings.base_url
    if not settings.uses_postgres or with_demo:
        # The embedded database is ours alone: bring it up to date on start.
        async def step() -> None:
            await db.migrate()
            if with_demo:
                loaded = await load_demo_if_empty()
                if loaded:
                    log.info("demo network loaded: %s", loaded)

        _run(step)
    log.info(
        "serving on %s (listening on %s:%d; database: %s)",
        settings.base_url,
        host,
        port,
        "postgres" if settings.uses_postgres else settings.sqlite_path,
    )
    if workers > 1 and settings.embedded_worker:
        _fail("--workers needs REDIS_URL: the in-process worker lives in one process only")
    if workers > 1:
        # Each process writes its metrics here; /metrics in any of them adds all up.
        metrics_dir = os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", str(settings.data_dir / "metrics")
        )
        prepare_multiprocess_dir(metrics_dir)
    uvicorn.run(
        "outreach.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # Our JSON access line (outreach.observability) replaces uvicorn's.
        access_log=False,
        log_config=None,
        # X-Forwarded-For is read by the app itself, from TRUSTED_PROXIES only.
        proxy_headers=False,
        # On SIGTERM, requests in flight get this long to finish before the process exits.
        timeout_graceful_shutdown=20,
    )


@main.command()
@click.option("--processes", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
def worker(processes: int, threads: int) -> None:
    """Run Dramatiq workers for mails and feeds (needs REDIS_URL)."""
    if not get_settings().redis_url:
        _fail("outreach worker needs REDIS_URL; without it `outreach serve` runs the worker")
    from dramatiq.cli import main as dramatiq_main

    sys.argv = [
        "dramatiq",
        "workers.tasks",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--skip-logging",  # workers.tasks sets up the JSON log lines
    ]
    sys.exit(dramatiq_main())


@main.command()
@click.option(
    "--once",
    is_flag=True,
    help="Run one whole tick here (anonymising, releases, feeds, the sweep) and exit.",
)
def scheduler(once: bool) -> None:
    """Run the periodic part: due reminders, retries, the outbox sweep."""

    async def step() -> bool:
        if once:
            # Delivered in this process, so the tick is done when the command returns.
            return await tick(direct=True)
        await run_scheduler_forever()
        return True

    if not _run(step):
        click.echo("another scheduler is ticking right now; nothing done")


@main.group()
def org() -> None:
    """Organisations: firms, schools, partners."""


@org.command("create")
@click.option("--kind", required=True, type=click.Choice(["firm", "school", "partner", "network"]))
@click.option("--slug", required=True, help="Short unique name used in URLs, e.g. uhrwerk-gmbh.")
@click.option("--name", required=True)
@click.option("--city", default="")
@click.option("--email", "contact_email", default="", help="Contact e-mail of the organisation.")
def org_create(kind: str, slug: str, name: str, city: str, contact_email: str) -> None:
    """Create an organisation."""
    data = OrganisationIn(kind=kind, slug=slug, name=name, city=city, contact_email=contact_email)
    created = _run(lambda: create_organisation(data))
    click.echo(f"created {created.kind} {created.slug} (id {created.id})")


@main.group()
def user() -> None:
    """Users and their API tokens."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "firm", "school"]))
@click.option("--org", "org_slug", default=None, help="Slug of the user's firm or school.")
@click.option("--name", default="")
@click.option("--language", default="de", type=click.Choice(["de", "en", "cs"]))
def user_create(email: str, role: str, org_slug: str | None, name: str, language: str) -> None:
    """Create a user and print an API token (as the last line)."""

    async def step() -> tuple[Any, str]:
        created = await create_user(
            NewUser(email=email, role=role, org_slug=org_slug, name=name, language=language)
        )
        return created, await issue_api_token(created.id, label="cli")

    created, token = _run(step)
    click.echo(f"created {created.role} user {created.email} (id {created.id})")
    click.echo("API token (shown once, keep it safe):")
    click.echo(token)


if __name__ == "__main__":
    main()
