"""HTTP hardening shared by every route: security headers and rate limits.

Kept out of the controllers so that a new route cannot forget them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from itertools import accumulate
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar, Request
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import ValidationException
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import CacheObject, RateLimitConfig, RateLimitMiddleware
from litestar.routes import HTTPRoute
from litestar.stores.memory import MemoryStore

from outreach.errors import DomainError

if TYPE_CHECKING:
    from litestar.stores.base import Store
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from outreach.config import Settings

__all__ = [
    "MAX_JSON_DEPTH",
    "BoundedRequest",
    "SecurityHeaders",
    "SignInBackoff",
    "body_struct",
    "body_type",
    "client_address",
    "complete_allow",
    "json_depth",
    "rate_limit_config",
    "rate_limit_store",
    "security_headers",
]

# Our pages need no inline script and nothing from other origins.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'self'; "
    "object-src 'none'; frame-ancestors 'none'"
)
# The OpenAPI viewers load their scripts from a CDN; they get a looser policy of their own.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://unpkg.com; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://unpkg.com https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://cdn.jsdelivr.net; frame-ancestors 'none'"
)
# Writes that an abuser would hammer: sign-in, password reset, bookings and registrations,
# through the API and the pages alike (a teacher's page bookings as the API's).
_THROTTLED = re.compile(
    r"^/(?:api/v1/slots/\d+/bookings|api/v1/itineraries|sign-in|signin|login|password|"
    r"events/\d+/(?:book|register)|slots/\d+/book|school/book/\d+|school/plan/book)"
)


def client_address(app: ASGIApp, settings: Settings) -> ASGIApp:
    """The client is the connecting peer unless that peer is a configured proxy
    (`TRUSTED_PROXIES`, default none); then the nearest address in X-Forwarded-For that is
    not itself a trusted proxy. Done here, not by the server, so it holds under any."""
    if not settings.trusted_proxies:
        return app
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return ProxyHeadersMiddleware(app, trusted_hosts=list(settings.trusted_proxies))  # type: ignore[arg-type]


def security_headers(app: ASGIApp, settings: Settings) -> ASGIApp:
    """Wrap the whole application, not one route's middleware: the answers given before
    any route is found (404, 405) or by the exception layer around the route's middleware
    (429 from the limiter, error pages) carry the headers as well."""
    return SecurityHeaders(app, https=settings.base_url.startswith("https://"))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith("/schema")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers["Content-Security-Policy"] = _DOCS_CSP if docs else _CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                # Private feed and reminder URLs carry secrets: never leak them onwards.
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "geolocation=(), camera=(), microphone=()"
                if self.https:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def complete_allow(app: Litestar) -> ASGIApp:
    """`OPTIONS` answers every method of its path in `Allow`.

    Litestar builds the OPTIONS answer of a path when its first handler is added and
    does not update it for handlers added later (GET beside POST on /api/v1/events
    answered "OPTIONS, POST"); the route table the app ends with knows them all.
    """
    allowed = {
        route.path_format: ", ".join(sorted(route.methods))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }
    inner = app.asgi_handler

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await inner(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            # The router has matched the path by the time the answer starts.
            template = scope.get("path_template")
            if message["type"] == "http.response.start" and template in allowed:
                MutableScopeHeaders.from_message(message)["Allow"] = allowed[template]
            await send(message)

        await inner(scope, receive, send_allow)

    return answer


def refuse_nul_in_query() -> DefineMiddleware:
    return DefineMiddleware(_RefuseNul)


class _RefuseNul:
    """A NUL character in a query parameter is answered 422 naming the parameter.

    PostgreSQL cannot store or compare text with NUL in it and the driver raises; a filter
    like `?host=%00` must be a clear "no", never a 500, on every route at once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"%00" in raw or b"\x00" in raw:
            for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    field = name.replace("\x00", "") or "query"
                    body = json.dumps(
                        {"message": f"{field}: must not contain the NUL character", "field": field}
                    ).encode()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 422,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


class _RateLimit(RateLimitMiddleware):
    """Litestar's limiter, plus the `Retry-After` that clients and proxies understand."""

    def create_response_headers(self, cache_object: CacheObject) -> dict[str, str]:
        headers = super().create_response_headers(cache_object)
        headers["Retry-After"] = str(max(1, int(headers[self.config.rate_limit_reset_header_key])))
        return headers


async def _throttled(request: Request[Any, Any, Any]) -> bool:
    # A coroutine: Litestar runs a plain function here in its thread pool, a hand-off to
    # a thread and back on every request of every route (~60 µs of a feed's ~300 µs).
    return request.method == "POST" and bool(_THROTTLED.match(request.scope["path"]))


def rate_limit_config(settings: Settings) -> RateLimitConfig | None:
    """Per client address, on writes; None when RATE_LIMIT_PER_MINUTE is 0."""
    if settings.rate_limit_per_minute <= 0:
        return None
    return RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        check_throttle_handler=_throttled,
        middleware_class=_RateLimit,
        store="rate_limit",
    )


def rate_limit_store(settings: Settings) -> Store:
    """Shared between web processes through Redis when there is one, else per process."""
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        # Beside the broker's keys: two deployments (or test runs) on one Redis never meet.
        namespace = f"{settings.broker_namespace}-rate-limit"
        return RedisStore.with_client(url=settings.redis_url, namespace=namespace)
    return MemoryStore()


class SignInBackoff:
    """Per-account back-off of password sign-ins, whatever the client address.

    The per-address limit (`RATE_LIMIT_PER_MINUTE`) does not stop many clients guessing
    one account's password. Failures are counted per e-mail address (an unknown address
    exactly as a known one, so the back-off reveals no account): after `FREE` failures
    each further attempt waits `FIRST`, doubling with every failure up to `CAP`, during
    which the address is refused without its password being checked. A success, or an
    hour without failures (`FORGET`), clears the count. Kept in the rate limiter's store:
    shared between the web processes through Redis where there is one.
    """

    FREE = 5
    FIRST = 30  # seconds
    CAP = 15 * 60
    FORGET = 60 * 60

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _key(email: str) -> str:
        # A hash: the store (Redis) keeps no address.
        return "signin-" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    async def _state(self, email: str) -> tuple[int, float]:
        raw = await self.store.get(self._key(email))
        if raw is None:
            return 0, 0.0
        state = json.loads(raw)
        return int(state["failures"]), float(state["until"])

    async def wait(self, email: str, now: float | None = None) -> int:
        """Seconds until `email` may try again; 0 when it may now."""
        _, until = await self._state(email)
        return max(0, math.ceil(until - (time.time() if now is None else now)))

    async def failed(self, email: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        failures, _ = await self._state(email)
        failures += 1
        over = failures - self.FREE
        pause = min(self.CAP, self.FIRST * 2 ** (over - 1)) if over > 0 else 0
        state = json.dumps({"failures": failures, "until": now + pause})
        await self.store.set(self._key(email), state, expires_in=self.FORGET + pause)

    async def succeeded(self, email: str) -> None:
        await self.store.delete(self._key(email))


# No body of ours nests deeper than a handful of levels; the JSON decoder recurses once
# per level and a body of 1,000 levels exhausted Python's stack (a 500 before).
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets in strings ignored)."""
    opening = body.count(b"[") + body.count(b"{")
    if opening <= MAX_JSON_DEPTH:  # the usual body: no need to look closer
        return opening
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


class BoundedRequest(Request[Any, Any, Any]):
    """A request whose JSON body is refused, before decoding, when it nests too deeply,
    and whose body must have the types its struct states, strictly (as the document says).

    Litestar converts a body to its struct leniently: a number became an instant (seconds
    since 1970), "5" a count. A JSON body has types of its own: they must be right.
    """

    async def json(self) -> Any:
        if json_depth(await self.body()) > MAX_JSON_DEPTH:
            raise DomainError.because("too_deep", field="body", max=MAX_JSON_DEPTH)
        value = await super().json()
        wanted = body_type(self.scope.get("route_handler"))
        if wanted is not None:
            try:
                msgspec.convert(_whole_numbers(value), wanted, strict=True)
            except msgspec.ValidationError as exc:
                field = _field_of(str(exc))
                raise ValidationException(
                    detail=f"{field}: {exc}",
                    extra=[{"message": str(exc), "key": field, "source": "body"}],
                ) from None
        return value


def _whole_numbers(value: Any) -> Any:
    """4.0 is an integer to JSON Schema (and to the document): let it pass as 4."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    return value


def body_type(handler: Any) -> Any:
    """The type a route handler takes as its JSON body (`data`): a struct, or a list of
    structs with the list's limits (`Annotated[list[S], Meta(max_length=...)]`); None for
    any other body or none."""
    body = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    annotation = body.annotation if body is not None else None
    if _is_struct(annotation):
        return annotation
    if get_origin(annotation) is list and _is_struct(get_args(annotation)[0]):
        limits = tuple(m for m in body.metadata if isinstance(m, msgspec.Meta))
        return Annotated[(annotation, *limits)] if limits else annotation  # type: ignore[arg-type]
    return None


def body_struct(handler: Any) -> type[msgspec.Struct] | None:
    """The struct a route handler takes as its JSON body (`data`), or as the items of a
    list body; None for any other body or none."""
    wanted = body_type(handler)
    if get_origin(wanted) is Annotated:
        wanted = get_args(wanted)[0]
    if get_origin(wanted) is list:
        wanted = get_args(wanted)[0]
    return wanted if _is_struct(wanted) else None


def _is_struct(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


_AT = re.compile(r"at `\$\.?([^`]*)`")
_NAMED = re.compile(r"(?:required|unknown) field `([^`]+)`")


def _field_of(message: str) -> str:
    """The field a msgspec error is about: "... - at `$.venue.name`" names venue.name."""
    at = _AT.search(message)
    named = _NAMED.search(message)
    path = at.group(1) if at else ""
    if named:
        return f"{path}.{named.group(1)}" if path else named.group(1)
    return re.sub(r"\[(\d+)\]", r".\1", path) or "body"
