"""Count the database work of a piece of code: statements, transactions, connection checkouts.

Test-only and free for production: it wraps two methods of the current engine's class
for the duration of a `with` block, counting only that engine's calls. Every Piccolo
statement (`run_querystring`, `run_ddl`, raw SQL included) takes a query id through
`get_query_id`, on PostgreSQL and SQLite alike; every transaction starts with
`engine.transaction()`.

`checkouts` counts the connections taken from the pool: a statement outside a
transaction takes one and gives it back, and so does each transaction. Returning one
costs no round trip any more (asyncpg's reset statement is turned off, see
`db._keep_session`), but each checkout still waits for a free connection under load.
The tests' pool is one of their own (tests/conftest.py), so this is counted, not observed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from outreach.db import current_engine


@dataclass
class Counts:
    statements: int = 0
    transactions: int = 0
    checkouts: int = 0


@contextlib.contextmanager
def counting() -> Iterator[Counts]:
    engine = current_engine()
    engine_class = type(engine)  # the engines have __slots__: wrap the class's methods
    counts = Counts()
    next_id = engine_class.get_query_id
    begin = engine_class.transaction

    def get_query_id(self: Any) -> int:
        if self is engine:
            counts.statements += 1
            if self.current_transaction.get() is None:
                counts.checkouts += 1
        return next_id(self)

    def transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self is engine:
            counts.transactions += 1
            counts.checkouts += 1
        return begin(self, *args, **kwargs)

    saved = {name: engine_class.__dict__.get(name) for name in ("get_query_id", "transaction")}
    engine_class.get_query_id = get_query_id  # type: ignore[method-assign]
    engine_class.transaction = transaction  # type: ignore[method-assign]
    # QUERY_BUDGET_SQL=1: Piccolo prints each statement (see them with pytest -rP).
    engine.log_queries = os.environ.get("QUERY_BUDGET_SQL") == "1"
    try:
        yield counts
    finally:
        engine.log_queries = False
        for name, method in saved.items():
            if method is None:
                delattr(engine_class, name)  # inherited: the base class's again
            else:
                setattr(engine_class, name, method)
