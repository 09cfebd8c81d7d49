"""Transactions: row locks need one, and work registered on one runs after its commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from outreach.config import Settings
from outreach.db import (
    close_pool,
    current_engine,
    for_update,
    in_transaction,
    make_engine,
    numbered,
    on_commit,
    start_pool,
    use_engine,
    write_transaction,
)
from outreach.organisations.tables import Organisation


async def _add_org(slug: str) -> None:
    await Organisation.insert(Organisation(slug=slug, name=slug.title(), kind="school"))


async def test_for_update_outside_a_transaction_raises(db: str) -> None:
    await _add_org("os-altenberg")
    query = Organisation.objects().where(Organisation.slug == "os-altenberg")
    with pytest.raises(RuntimeError, match="write_transaction"):
        for_update(query)


async def test_for_update_inside_a_transaction_reads_the_rows(db: str) -> None:
    await _add_org("os-altenberg")
    async with write_transaction():
        row = await for_update(
            Organisation.objects().where(Organisation.slug == "os-altenberg")
        ).first()
    assert row is not None and row.slug == "os-altenberg"


async def test_callbacks_run_after_the_commit_once_per_key_and_never_after_a_rollback(
    db: str,
) -> None:
    seen: list[str] = []

    def note(text: str) -> Callable[[], Awaitable[None]]:
        async def callback() -> None:
            seen.append(f"{text} (in transaction: {in_transaction()})")

        return callback

    async with write_transaction():
        await _add_org("os-geising")
        on_commit(note("first"))
        async with write_transaction():  # joins: its callbacks wait for the outer commit
            kept = note("keyed")
            assert on_commit(kept, key="k") is kept
            assert on_commit(note("keyed again"), key="k") is kept
        assert seen == []
    assert seen == ["first (in transaction: False)", "keyed (in transaction: False)"]
    assert await Organisation.exists().where(Organisation.slug == "os-geising")

    seen.clear()
    with pytest.raises(ValueError):
        async with write_transaction():
            await _add_org("os-dippoldiswalde")
            on_commit(note("rolled back"))
            raise ValueError("the change fails")
    assert seen == []
    assert not await Organisation.exists().where(Organisation.slug == "os-dippoldiswalde")


async def test_a_failing_callback_does_not_undo_or_fail_the_commit(db: str) -> None:
    async def broken() -> None:
        raise ConnectionError("the broker is away")

    async with write_transaction():
        await _add_org("os-lauenstein")
        on_commit(broken)
    assert await Organisation.exists().where(Organisation.slug == "os-lauenstein")


async def test_on_commit_outside_a_transaction_raises(db: str) -> None:
    async def callback() -> None:
        return None

    with pytest.raises(RuntimeError, match="write_transaction"):
        on_commit(callback)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # the pool is PostgreSQL's
async def test_the_pool_rolls_back_what_a_connection_left_open_and_sends_no_reset(
    db: str, settings: Settings
) -> None:
    """A returned connection costs no reset round trip, yet never hands on a transaction."""
    tests_engine = current_engine()
    use_engine(make_engine(settings))  # an engine of its own: the tests' pool stays as it is
    await start_pool(1)
    try:
        pool = current_engine().pool
        async with pool.acquire() as connection:
            sent: list[str] = []
            connection.add_query_logger(lambda record: sent.append(record.query))
            await connection.execute("BEGIN")
            await connection.execute("SELECT 1")
        # asyncpg's own rollback only, not `SELECT pg_advisory_unlock_all(); ... RESET ALL`.
        assert "ROLLBACK" in sent
        assert [q for q in sent if "RESET" in q or "UNLISTEN" in q] == []
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT 1") == 1
    finally:
        await close_pool()
        use_engine(tests_engine)


def test_numbered_gives_postgres_placeholders_in_order() -> None:
    assert numbered("SELECT {} WHERE a = {} AND b IN ({}, {})") == (
        "SELECT $1 WHERE a = $2 AND b IN ($3, $4)"
    )
    assert numbered("SELECT 1") == "SELECT 1"
