"""Liveness of the parts the service depends on."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from outreach import db
from outreach.config import Settings, get_settings
from outreach.errors import Forbidden, Unauthorised

__all__ = ["check_metrics_reader", "health_report"]


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


LOOPBACK = ("127.0.0.1", "::1")


def check_metrics_reader(request: Any, settings: Settings) -> None:
    """Who may read /metrics: the holder of METRICS_TOKEN; without one, loopback only.

    A request that came through a proxy (X-Forwarded-For, Forwarded) is never taken for
    a loopback one; the proxy of compose.yaml refuses /metrics from outside anyway.
    """
    if settings.metrics_token:
        scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), settings.metrics_token.encode()
        ):
            raise Unauthorised("/metrics needs 'Bearer <METRICS_TOKEN>'", field="Authorization")
        return
    client = request.client.host if request.client else None
    # Forwarded: the address may come from a header (uvicorn's proxy support); trust none.
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if client not in LOOPBACK or forwarded:
        raise Forbidden("/metrics is served to loopback only (set METRICS_TOKEN)")
