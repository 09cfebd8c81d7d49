"""Litestar plumbing shared by every controller: the acting principal and error answers."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from outreach import db
from outreach.accounts.services import authenticate_token
from outreach.accounts.sessions import SESSION_KEY, principal_for_session
from outreach.errors import DomainError, Invalid, Unauthorised
from outreach.principal import ANONYMOUS, Principal
from outreach.security import hash_secret

__all__ = [
    "BEARER",
    "IDEMPOTENCY_KEY",
    "INSTANT_QUERY",
    "MAX_ID",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "ErrorOut",
    "IdPath",
    "IdQuery",
    "database_unreachable",
    "error_responses",
    "exception_handlers",
    "idempotency_key",
    "instant",
    "members_only",
    "principal_of",
    "provide_principal",
]

log = logging.getLogger(__name__)

# Row ids are PostgreSQL `integer`s: a larger number names no row, and the database
# drivers refuse to bind it (a 500 before), so the route refuses it as bad input (422).
MAX_ID = 2**31 - 1
IdPath = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
# What booking.writes accepts as an Idempotency-Key, documented so clients know.
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,200}$"


# The security requirement of an operation that needs a signed-in caller: stated in the
# OpenAPI document and enforced by `members_only`, from this one declaration. Operations
# without it are public (a bearer token there only shows more).
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

# An instant in a query: an RFC 3339 date-time (with its offset), as the document says
# (`format: date-time`). A bare number is refused: msgspec alone reads "5" as 5 seconds
# after 1970.
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
INSTANT_QUERY: dict[str, Any] = {"schema_extra": {"format": "date-time"}, "max_length": 40}


def instant(value: str | None, field: str) -> datetime | None:
    """A query's instant as a timezone-aware datetime; 422 naming `field` otherwise."""
    if value is None:
        return None
    if _INSTANT.fullmatch(value):
        try:
            return msgspec.convert(value, datetime)
        except msgspec.ValidationError:
            pass  # a 30th of February, an hour 25
    raise Invalid.because("not_an_instant", field=field)


async def members_only(connection: ASGIConnection[Any, Any, Any, Any], handler: Any) -> None:
    """Guard of the whole app: an operation that states `BEARER` answers 401 with
    `WWW-Authenticate` to an anonymous caller, before its body or parameters are read."""
    if connection.scope.get("method") == "OPTIONS":
        return  # what a path allows is no secret
    if handler.resolve_security() and not (await principal_of(connection)).is_member:
        raise Unauthorised("sign in: this operation needs a bearer token", field="Authorization")


class ErrorOut(msgspec.Struct):
    """Every error answer of the API: a message naming the field, and the field itself."""

    message: str
    field: str | None = None
    reason: str | None = None
    params: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None


_ERROR_MEANING = {
    400: "The request could not be read",
    401: "No valid bearer token (or none where the operation needs one)",
    403: "The caller's role or organisation may not do this",
    404: "No such object, or not the caller's to see",
    409: "The request is valid but cannot be done in the current state; `reason` says why",
    422: "Invalid input; `field` names the offending field",
    429: "Too many requests from this address; retry after `Retry-After` seconds",
}


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """The OpenAPI `responses=` of a route for the error answers it can give."""
    return {
        code: ResponseSpec(data_container=ErrorOut, description=_ERROR_MEANING[code])
        for code in codes
    }


# What any API route can answer besides success; writes can also conflict with the state.
READ_ERRORS = error_responses(400, 401, 403, 404, 422)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 422)


def idempotency_key(request: Request[Any, Any, Any], by: Principal, key: str | None) -> str | None:
    """The Idempotency-Key as the services store it: a signed-in caller's keys are already
    theirs (scoped by user); anonymous callers get a namespace per client address, so one
    client's key can neither replay nor block another client's request."""
    if key is None or by.is_member:
        return key
    client = request.client.host if request.client else ""
    scoped = f"client-{hash_secret(client)[:16]}:{key}"
    # Keys stay within the 200 characters a key may have: a long one is hashed.
    return scoped if len(scoped) <= 200 else f"client-{hash_secret(client)[:16]}:{hash_secret(key)}"


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller: from `Authorization: Bearer` first, else the pages' session cookie.

    One way for both: the API sends a bearer token; pages carry a signed session. The
    session middleware skips `/api/`, so an API call is never authorised by a cookie
    (that would need CSRF protection the API does not have).
    """
    return await principal_of(request)


async def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, worked out once per request: a page's guard and its handler ask alike."""
    known = connection.state.get("principal")
    if isinstance(known, Principal):
        return known
    principal = await _principal(connection)
    connection.state["principal"] = principal  # the page templates show who is signed in
    return principal


async def _principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorised(
                "use the Authorization header as 'Bearer <token>'", field="Authorization"
            )
        return await authenticate_token(token.strip())
    session = request.scope.get("session")
    if isinstance(session, dict) and isinstance(session.get(SESSION_KEY), str):
        principal = await principal_for_session(session[SESSION_KEY])
        if principal is not None:
            return principal
        request.clear_session()  # ended, expired, or the user deactivated: signed out
    return ANONYMOUS


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    headers = {"WWW-Authenticate": 'Bearer realm="outreach"'} if exc.status_code == 401 else None
    return Response(exc.to_dict(), status_code=exc.status_code, headers=headers)


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


def _field_of(error: dict[str, Any]) -> str | None:
    # msgspec reports an unexpected field on the body as a whole; name the field itself.
    unknown = _UNKNOWN_FIELD.search(str(error.get("message", "")))
    if unknown:
        return unknown.group(1)
    key = error.get("key")
    return str(key) if key else None


def _as_sent(request: Request[Any, Any, Any], errors: list[Any]) -> None:
    """Name a query parameter or header as the client sent it (`from`), not by the
    handler's Python name for it (`starts_from`)."""
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except AttributeError:  # outside a route
        return
    for error in errors:
        if not isinstance(error, dict) or error.get("key") not in parameters:
            continue
        kwarg = parameters[error["key"]].kwarg_definition
        sent = getattr(kwarg, "query", None) or getattr(kwarg, "header", None)
        if sent:
            error["key"] = sent


def _validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """Bad input is 422 with the first offending field named in the message."""
    errors = exc.extra if isinstance(exc.extra, list) else []
    _as_sent(request, errors)
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    field = _field_of(first)
    detail = str(first.get("message") or exc.detail or "invalid request")
    message = f"{field}: {detail}" if field else detail
    body: dict[str, Any] = {"message": message, "errors": errors}
    if field:
        body["field"] = field
    return Response(body, status_code=422)


_NOT_PAGES = ("/api/", "/feeds/", "/schema", "/health", "/static/")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page (not the API): errors outside any route get HTML too.

    The app (`outreach.app`) sends those to the pages' handler; this module knows no pages.
    """
    path = request.url.path
    return not path.startswith(_NOT_PAGES) and "text/html" in request.headers.get("accept", "")


def api_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == 400 and str(exc.detail).startswith("JSON is malformed"):
        return Response(
            {"message": f"the request body is not valid JSON ({exc.detail})", "field": "body"},
            status_code=422,
        )
    body: dict[str, Any] = {"message": exc.detail}
    if isinstance(exc, NotAuthorizedException):
        body["field"] = "Authorization"
    return Response(body, status_code=exc.status_code, headers=exc.headers)


RETRY_AFTER_SECONDS = 5


def database_unreachable(exc: Exception) -> Response[dict[str, str]] | None:
    """503 with Retry-After while the database cannot be reached; the pool reconnects."""
    if not db.unreachable(exc):
        return None
    log.warning("database unreachable: %s: %s", type(exc).__name__, exc)
    return Response(
        {"message": "the database cannot be reached at the moment; try again shortly"},
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    if (unavailable := database_unreachable(exc)) is not None:
        return unavailable
    if db.refused_text(exc):
        return Response(
            {"message": "body: text must not contain the NUL character", "field": "body"},
            status_code=422,
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        {"message": "internal error; it has been logged"},
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


exception_handlers: dict[Any, Any] = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: api_http_error,
    Exception: _unexpected,
}
