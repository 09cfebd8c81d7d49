"""Liveness of the parts the service depends on."""

from __future__ import annotations

import asyncio
from typing import Any

from outreach import db
from outreach.config import get_settings

__all__ = ["health_report"]


async def _broker_ok(redis_url: str) -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def health_report() -> tuple[bool, dict[str, Any]]:
    settings = get_settings()
    try:
        database_ok = await asyncio.wait_for(db.ping(), timeout=5)
    except TimeoutError:  # a database that does not answer is down, not an error of ours
        database_ok = False
    if settings.redis_url:
        broker, broker_ok = "redis", await _broker_ok(settings.redis_url)
    else:
        broker, broker_ok = "embedded", True
    ok = database_ok and broker_ok
    return ok, {
        "status": "ok" if ok else "degraded",
        "database": {
            "engine": "postgres" if settings.uses_postgres else "sqlite",
            "ok": database_ok,
        },
        "broker": {"kind": broker, "ok": broker_ok},
        "mail": "smtp" if settings.smtp_url else "files",
    }
