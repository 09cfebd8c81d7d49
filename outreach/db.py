"""Data layer plumbing: engine choice, transactions, migrations, health.

PostgreSQL in production, SQLite as the embedded default. Business rules never
open transactions themselves: they call `write_transaction()`, which on SQLite takes
the write lock at BEGIN (IMMEDIATE) so that two writers never deadlock on upgrade.
Work that must follow the commit (handing new outbox rows to the broker) is registered
on the transaction with `on_commit()` and runs once it has committed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from piccolo.columns import Column
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from outreach.accounts.tables import ApiToken, User, UserSession
from outreach.audit.tables import AuditEntry
from outreach.booking.tables import Booking, IdempotencyRecord
from outreach.events.tables import Event, Slot, Venue
from outreach.feeds.tables import FeedChange, FeedDocument, FeedPiece, FeedSegment
from outreach.internships.tables import (
    ClassPeriod,
    InternshipOffer,
    OfferPeriod,
    Placement,
    Pupil,
    Round,
    Wish,
)
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from outreach.organisations.tables import Organisation
from outreach.outbox.tables import Notification
from outreach.presenters.tables import PresenterInvitation
from outreach.workplan.tables import Milestone, MilestoneEvent, Priority, WorkPlan

if TYPE_CHECKING:
    from piccolo.engine.base import Engine
    from piccolo.table import Table

    from outreach.config import Settings

__all__ = [
    "all_tables",
    "close_pool",
    "current_engine",
    "for_update",
    "in_transaction",
    "is_postgres",
    "make_engine",
    "migrate",
    "on_commit",
    "pg_fetch",
    "ping",
    "select_list",
    "serving_from_pool",
    "start_pool",
    "unreachable",
    "use_engine",
    "write_transaction",
]

log = logging.getLogger(__name__)
Q = TypeVar("Q")
H = TypeVar("H", bound=Callable[[], Awaitable[None]])

# The callbacks registered on the outermost `write_transaction()` of this task, by key.
_commit_hooks: ContextVar[dict[Hashable, Callable[[], Awaitable[None]]] | None] = ContextVar(
    "outreach_commit_hooks", default=None
)


def make_engine(settings: Settings) -> Engine:
    if settings.database_url:
        return PostgresEngine(config={"dsn": settings.database_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # timeout: seconds a writer waits for SQLite's lock instead of failing at once.
    return SQLiteEngine(path=str(settings.sqlite_path), timeout=30)


def all_tables() -> list[type[Table]]:
    """Every table of every feature, in dependency order."""
    return [
        Organisation,
        User,
        ApiToken,
        UserSession,
        Venue,
        Event,
        Slot,
        Booking,
        IdempotencyRecord,
        Notification,
        AuditEntry,
        FeedChange,
        FeedPiece,
        FeedDocument,
        FeedSegment,
        Itinerary,
        ItineraryVisit,
        PresenterInvitation,
        WorkPlan,
        Priority,
        Milestone,
        MilestoneEvent,
        InternshipOffer,
        OfferPeriod,
        ClassPeriod,
        Pupil,
        Wish,
        Round,
        Placement,
    ]


def current_engine() -> Engine:
    return _piccolo_conf().DB


@functools.cache
def _piccolo_conf() -> Any:
    # Imported here: `piccolo_conf` builds its engine with `make_engine` from this module.
    # Cached: the engine is asked for several times per request, an import costs ~1 µs.
    from outreach import piccolo_conf

    return piccolo_conf


def use_engine(engine: Engine) -> None:
    """Point Piccolo (configuration, migrations and every table) at `engine`."""
    from piccolo.apps.migrations.tables import Migration

    # Imported here: `piccolo_conf` builds its engine with `make_engine` from this module.
    from outreach import piccolo_conf

    piccolo_conf.DB = engine
    for table in [*all_tables(), Migration]:
        table._meta.db = engine


def in_transaction() -> bool:
    return current_engine().current_transaction.get() is not None


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One atomic unit of writes; joins an enclosing transaction if there is one.

    The callbacks given to `on_commit()` inside it run after the commit, in order;
    after a rollback they are dropped.
    """
    engine = current_engine()
    if in_transaction():
        yield
        return
    hooks: dict[Hashable, Callable[[], Awaitable[None]]] = {}
    token = _commit_hooks.set(hooks)
    try:
        if isinstance(engine, SQLiteEngine):
            async with engine.transaction(transaction_type=TransactionType.immediate):
                yield
        else:
            async with engine.transaction():
                yield
    finally:
        _commit_hooks.reset(token)
    for callback in hooks.values():
        try:
            await callback()
        except Exception:
            # The writes are committed: the caller must not see them as failed.
            log.exception("a callback after commit failed")


def on_commit(callback: H, *, key: Hashable | None = None) -> H:
    """Run `callback` once the enclosing `write_transaction()` has committed.

    With a `key`, a transaction runs one callback per key: the first registered is
    kept and returned, so callers can gather work into it. Outside a transaction
    there is nothing to wait for: that is a mistake, and raises.
    """
    hooks = _commit_hooks.get()
    if hooks is None or not in_transaction():
        raise RuntimeError("on_commit() needs an open write_transaction()")
    return hooks.setdefault(object() if key is None else key, callback)  # type: ignore[return-value]


def is_postgres() -> bool:
    return isinstance(current_engine(), PostgresEngine)


def select_list(columns: Iterable[Column]) -> str:
    """The select list of Piccolo's `select(*columns)` (its row keys: the columns' names),
    for SQL written once instead of built by Piccolo on every call."""
    return ", ".join(f'"{c._meta.db_column_name}" AS "{c._meta.name}"' for c in columns)


async def pg_fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run a statement written for PostgreSQL (`$1`-style parameters), built once.

    For hot paths where building the statement with Piccolo costs more than running it
    (issue 21: 4 ms of Piccolo against 0.3 ms through asyncpg for a mail's context). It
    runs where Piccolo would run it: on the transaction's connection, else on the pool,
    else on a connection of its own; and it takes a query id like every Piccolo
    statement, so the query budget counts it and `log_queries` prints it. PostgreSQL
    only: the callers keep their Piccolo path for SQLite.
    """
    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        raise RuntimeError("pg_fetch() runs PostgreSQL's SQL; SQLite takes the Piccolo path")
    query_id = engine.get_query_id()
    if engine.log_queries:
        engine.print_query(query_id=query_id, query=f"{sql} {args!r}")
    transaction = engine.current_transaction.get()
    if transaction is not None:
        return await transaction.connection.fetch(sql, *args)
    if engine.pool is not None:
        async with engine.pool.acquire() as connection:
            return await connection.fetch(sql, *args)
    connection = await engine.get_new_connection()
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


@functools.lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """SQL written with Piccolo's `{}` placeholders, with PostgreSQL's `$1`, `$2`, ...
    instead, for `pg_fetch` (the same text then serves both databases)."""
    pieces = sql.split("{}")
    return "".join(f"{piece}${n}" for n, piece in enumerate(pieces[:-1], 1)) + pieces[-1]


def for_update(query: Q) -> Q:
    """Lock the selected rows until the transaction ends (PostgreSQL).

    SQLite needs no row locks: `write_transaction()` holds its database-wide write lock.
    Outside a transaction a lock would end with the statement, protecting nothing: that
    is a mistake in the caller, and raises on both databases.
    """
    if not in_transaction():
        raise RuntimeError("for_update() outside write_transaction(): the lock would end at once")
    return query.lock_rows("UPDATE") if is_postgres() else query


async def migrate() -> None:
    """Apply every migration not yet applied; safe to run again."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        # WAL lets readers go on while one writer commits; it persists in the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")
    with contextlib.redirect_stdout(_LogWriter()):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")


class _LogWriter:
    """Piccolo prints progress; route it to the log instead of stdout."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("migrations: %s", text.strip())
        return len(text)

    def flush(self) -> None:
        return None


async def ping() -> bool:
    try:
        rows = await current_engine()._run_in_new_connection("SELECT 1 AS ok")
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False
    return bool(rows) and rows[0]["ok"] == 1


_UNREACHABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08, among them "connection was closed"
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
)


def unreachable(exc: BaseException) -> bool:
    """The error says the database cannot be reached now, not that a request was wrong.

    The asyncpg pool replaces a lost connection on its next use, so once the database
    answers again the same process recovers by itself: a caller may retry later.
    """
    seen: BaseException | None = exc
    for _ in range(5):  # the error itself and what it was raised from
        if seen is None:
            return False
        if isinstance(seen, _UNREACHABLE):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "connection is closed" in str(seen):
            return True
        if isinstance(seen, OSError) and "Connect call failed" in str(seen):
            return True  # several addresses tried, each refused
        seen = seen.__cause__ or seen.__context__
    return False


def refused_text(exc: BaseException) -> bool:
    """PostgreSQL refused a text the request carried (a NUL character: SQLite takes it).

    The input was wrong, not the server: the callers answer 422 instead of 500.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(
            seen,
            asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError,
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _keep_session(connection: asyncpg.Connection) -> None:
    """What the pool runs when a connection comes back: nothing beyond asyncpg's own
    rollback of a transaction left open (that one always runs first).

    asyncpg's default reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;`) is a round trip on every return to the pool: 2-4 of a booking's and
    6 of a home page's (issue 21). It undoes session state that this project never
    leaves on a pooled connection: its advisory locks are transaction-scoped
    (`pg_advisory_xact_lock`, released at commit or rollback; the scheduler's session
    lock lives on a connection of its own, outside the pool), it never LISTENs, never
    opens a cursor outside a transaction (`WITH HOLD`) and never runs `SET` without
    `LOCAL`. A change that starts doing one of those must reset it itself, or bring
    the default reset back here.
    """
    del connection


# Whether this process serves from the pool `start_pool` made (a server or a worker).
_serving_from_pool = False


async def start_pool(max_size: int) -> None:
    global _serving_from_pool
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=max_size, reset=_keep_session)
        _serving_from_pool = True


async def close_pool() -> None:
    global _serving_from_pool
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
    _serving_from_pool = False


def serving_from_pool() -> bool:
    """Whether this process serves from the pool `start_pool` made: the production server
    and workers. The per-process caches that trade a bounded delay for round trips (verified
    tokens, checked feed copies) are on only then; a pool the tests keep to reuse their
    connections does not turn them on."""
    return _serving_from_pool and getattr(current_engine(), "pool", None) is not None
