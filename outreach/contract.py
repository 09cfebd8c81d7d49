"""The API's OpenAPI document says what the server enforces and answers.

Litestar writes the document from the handlers, but drops two things the server holds
to: `additionalProperties: false` of the request bodies (their structs refuse unknown
fields) and the limits on the items of arrays (a topic of at most 64 characters).
msgspec, which decodes the bodies, states both in its own JSON Schema of each struct;
those schemas replace Litestar's for the request bodies' components, once, when the
document is first asked for (building it costs about a second: not at start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar.routes import HTTPRoute

from outreach.hardening import body_struct

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["request_structs", "state_request_schemas"]


# What a struct's fields cannot say alone, but a schema can.
_RULES: dict[str, dict[str, Any]] = {
    # A day to plan: `date`, or at least one of `dates`.
    "PlanRequest": {
        "anyOf": [
            {"required": ["date"], "properties": {"date": {"type": "string"}}},
            {"required": ["dates"], "properties": {"dates": {"minItems": 1}}},
        ]
    },
}


# Operations that answer other types than JSON on request (`format=csv`): path, method.
_ALSO_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/v1/reports/{name}", "get"): {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        },
    },
}


def request_structs(app: Litestar) -> list[type[msgspec.Struct]]:
    """The struct of every operation's request body, in route order."""
    found: dict[str, type[msgspec.Struct]] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if (struct := body_struct(handler)) is not None:
                found.setdefault(struct.__name__, struct)
    return list(found.values())


def state_request_schemas(app: Litestar, inner: ASGIApp) -> ASGIApp:
    """Before the first request for the document: amend the dict the plugin caches and
    serves at /schema (every rendering of it: JSON, YAML, the viewers)."""
    plugin: Any = app.plugins.get("OpenAPIPlugin")  # by name: its module is private
    stated: list[bool] = []

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if not stated and scope["type"] == "http" and scope["path"].startswith("/schema"):
            document = plugin.provide_openapi_schema()  # built once, cached, served as is
            _, components = msgspec.json.schema_components(
                request_structs(app), ref_template="#/components/schemas/{name}"
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in components.items():
                _keep_formats(schema, schemas.get(name, {}))
                schemas[name] = schema | _RULES.get(name, {})
            for (path, method), content in _ALSO_ANSWERS.items():
                ok = document["paths"][path][method]["responses"]["200"]
                ok.setdefault("content", {}).update(content)
            stated.append(True)
        await inner(scope, receive, send)

    return serve


def _keep_formats(schema: dict[str, Any], litestars: dict[str, Any]) -> None:
    """msgspec writes an instant as a plain string; Litestar says `format: date-time`
    (and `date` for days): keep that, property by property."""
    theirs = litestars.get("properties", {})
    for name, prop in schema.get("properties", {}).items():
        found = _formats(theirs.get(name, {}))
        if len(found) == 1:
            (wanted,) = found
            for node in _strings(prop):
                node.setdefault("format", wanted)


def _formats(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["format"]} if isinstance(node.get("format"), str) else set()
        return own.union(*(_formats(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(value) for value in node))
    return set()


def _strings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("type") == "string" and "enum" not in node else []
        return own + [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []
