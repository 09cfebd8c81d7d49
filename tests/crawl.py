"""Every page each demo role can reach: the one crawl behind the dead-link test
(tests/pages/test_no_dead_links.py, over HTTP) and the phone test (tests/e2e/test_phone.py,
in Chromium), so both look at the same pages.

A role starts on its start page and follows every same-origin link of every page it
reaches, bounded per kind of page (`PER_SHAPE`) and in total (`PER_ROLE`).
"""

from __future__ import annotations

import html
import re
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from outreach.demo import ADMIN_EMAIL

FIRM_EMAIL = "andreas.rehn@rehn-feinmechanik.example"
TEACHER_EMAIL = "katrin.boehme@os-glashuette.example"
# Each demo role: its account (None: signed out) and its start page.
ROLES = {
    "anonymous": (None, "/"),
    "office": (ADMIN_EMAIL, "/office"),
    "firm": (FIRM_EMAIL, "/firm"),
    "school": (TEACHER_EMAIL, "/school"),
}
PER_SHAPE = 3  # pages of one shape (same path with other ids or filters) opened per role
PER_ROLE = 220  # pages opened per role at most
# Links that act rather than show (none of these is a GET link today; kept off anyway).
NEVER = re.compile(r"^/(signout|language/)")
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""")
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Answer:
    """What the crawl needs of one GET (no redirect followed)."""

    status: int
    location: str
    content_type: str
    text: str


Fetch = Callable[[str], Awaitable[Answer]]


def local(url: str, base: str) -> str | None:
    """The path and query of a link to this site, or None for another site or a scheme."""
    if url.startswith(base):
        url = url[len(base) :] or "/"
    if not url.startswith("/") or url.startswith("//"):
        return None
    return url.split("#", 1)[0] or None


def links_of_page(page_path: str, body: str, base: str) -> list[str]:
    found = []
    for raw in _HREF.findall(body):
        href = html.unescape(raw.strip())
        if href.startswith(("#", "mailto:", "tel:", "webcal:", "data:")):
            continue
        target = local(href if "://" in href else urljoin(page_path, href), base)
        if target:
            found.append(target)
    return found


def shape(path: str) -> str:
    """One kind of page: ids replaced, query values dropped (filters, months, pages)."""
    parts = urlsplit(path)
    keys = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return re.sub(r"\d+", "#", parts.path) + "?" + "&".join(keys)


def fine(answer: Answer, *, signed_out: bool) -> bool:
    if answer.status == 200:
        return True
    return signed_out and answer.status in (302, 303) and answer.location.startswith("/signin")


async def crawl(
    fetch: Fetch,
    start: str,
    *,
    signed_out: bool,
    base: str,
    visit: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[int, list[tuple[str, int, str, str]]]:
    """Open the pages a role reaches from `start`: (pages opened, dead links found).

    `visit` is called with the path of every HTML page that answered 200.
    """
    seen_shapes: Counter[str] = Counter()
    queued = {start}
    queue: deque[tuple[str, str]] = deque([(start, "(start)")])
    dead: list[tuple[str, int, str, str]] = []
    opened = 0
    while queue and opened < PER_ROLE:
        path, source = queue.popleft()
        if seen_shapes[shape(path)] >= PER_SHAPE:
            continue
        seen_shapes[shape(path)] += 1
        opened += 1
        answer = await fetch(path)
        if not fine(answer, signed_out=signed_out):
            if answer.status in _REDIRECTS:
                target = local(answer.location, base)
                if target and target not in queued and not signed_out:
                    queued.add(target)
                    queue.append((target, path))
                    continue
            dead.append((path, answer.status, "linked from", source))
            continue
        if "text/html" not in answer.content_type:
            continue
        if visit is not None and answer.status == 200:
            await visit(path)
        for link in links_of_page(path, answer.text, base):
            if link not in queued and not NEVER.match(link):
                queued.add(link)
                queue.append((link, path))
    return opened, dead
