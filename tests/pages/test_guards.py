"""Who may open a page is said once per audience: the router's guard.

The authorisation matrix (tests/security) tries every route with every role; these
tests hold the shape that keeps it so: every page under an audience's path is behind
`members_only`, and a handler cannot slip under a prefix unguarded.
"""

from __future__ import annotations

import pytest
from litestar import get
from litestar.routes import HTTPRoute

from outreach.app import create_app
from outreach.pages import audience
from outreach.pages.common import members_only

AUDIENCES = {"/school": ("school",), "/firm": ("firm",), "/office": (), "/reports": None}
AUDIENCES |= {"/account": ("school", "firm")}


def _page_routes() -> list[tuple[str, str, object]]:
    app = create_app(start_workers=False, use_pool=False)
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if method not in ("HEAD", "OPTIONS"):
                found.append((method, route.path, handler))
    return found


def test_every_page_of_an_audience_is_behind_its_guard():
    guarded = 0
    for method, path, handler in _page_routes():
        prefix = next((p for p in AUDIENCES if path == p or path.startswith(f"{p}/")), None)
        if prefix is None:
            continue
        assert members_only in handler.resolve_guards(), f"{method} {path} has no guard"
        roles = handler.opt.get("roles")
        assert roles is not None, f"{method} {path} names no roles"
        if AUDIENCES[prefix] is not None:
            # A handler may add a role to its audience's, never drop it.
            assert set(AUDIENCES[prefix]) <= set(roles), f"{method} {path}: {roles}"
        guarded += 1
    assert guarded >= 70  # the teachers', firms', office's, Bilanz and account pages


def test_a_handler_repeating_its_prefix_is_refused():
    @get("/school/overview")
    async def misplaced() -> str:
        return ""

    with pytest.raises(ValueError, match="repeats the prefix /school"):
        audience("/school", ("school",), [misplaced])
