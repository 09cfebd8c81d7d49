"""A phone (390 x 844) in Chromium: every page each demo role reaches has no horizontal
scroll, and the controls of the navigation and the forms are at least 44 px to tap.

The pages are those of the dead-link test (`tests.crawl`: each demo role from its start
page, every same-origin link, bounded per kind of page); here each one is also laid out
in the browser and measured. The README's phone screenshot is taken on the way.
"""

from __future__ import annotations

from pathlib import Path

from outreach.demo import DEMO_PASSWORD
from tests.crawl import ROLES, Answer, crawl
from tests.e2e.test_browser import DOCS

PHONE = {"width": 390, "height": 844}
TAP = 44  # px, WCAG 2.5.5 (target size, enhanced) and Apple's and Google's guidance
# What a finger taps: the navigation's links and buttons, and the forms' controls. Inline
# links in running text are exempt (WCAG 2.5.5); checkboxes count by their label.
_TARGETS = """
  header nav a, header .account a, header .account button, .skip:focus,
  main form button, main form .button, main a.button, main form select,
  main form input:not([type=hidden]):not([type=checkbox]):not([type=radio]),
  main form .choices label
"""
_WIDE = """() => {
  const doc = document.documentElement;
  if (doc.scrollWidth <= window.innerWidth) return null;
  const culprits = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(e => !e.closest(".table-box, table") || e.matches(".table-box, table"))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className
      + " " + Math.round(e.getBoundingClientRect().right) + "px");
  return {width: doc.scrollWidth, culprits};
}"""
_SMALL = """([selector, tap]) => [...document.querySelectorAll(selector)]
  .filter(e => e.offsetParent !== null)
  .map(e => { const r = e.getBoundingClientRect();
    const said = (e.textContent || e.name || "").trim().slice(0, 30);
    return {what: e.tagName.toLowerCase() + " " + said, width: r.width, height: r.height}; })
  .filter(t => t.height < tap - 0.5 || t.width < tap - 0.5)"""


async def _sign_in(page, email: str) -> None:
    await page.goto("/signin")
    await page.fill("#f-email", email)
    await page.fill("#f-password", DEMO_PASSWORD)
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_load_state()
    assert "/signin" not in page.url, await page.content()


async def test_every_page_of_every_role_fits_a_phone_with_fingers_sized_targets(
    browser, server, artifacts: Path
):
    wide: list[str] = []
    small: list[str] = []
    measured: dict[str, int] = {}
    for role, (email, start) in ROLES.items():
        ctx = await browser.new_context(base_url=server, locale="de-DE", viewport=PHONE)
        try:
            page = await ctx.new_page()
            if email is not None:
                await _sign_in(page, email)

            async def fetch(path: str, ctx=ctx) -> Answer:
                response = await ctx.request.get(path, max_redirects=0)
                headers = response.headers
                body = (
                    await response.text() if "text/html" in headers.get("content-type", "") else ""
                )
                return Answer(
                    response.status,
                    headers.get("location", ""),
                    headers.get("content-type", ""),
                    body,
                )

            async def visit(path: str, page=page, role=role) -> None:
                await page.goto(path)
                found = await page.evaluate(_WIDE)
                if found is not None:
                    wide.append(f"{role} {path}: {found['width']} px; {found['culprits']}")
                for target in await page.evaluate(_SMALL, [_TARGETS, TAP]):
                    small.append(f"{role} {path}: {target}")
                measured[role] = measured.get(role, 0) + 1

            _opened, dead = await crawl(
                fetch, start, signed_out=email is None, base=server, visit=visit
            )
            assert not dead, dead
            if role == "firm":
                await page.goto("/firm")
                await page.screenshot(path=str(artifacts / "phone-firm.png"))
            if role == "anonymous":
                await page.goto("/")
                DOCS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(DOCS / "phone-calendar.png"))
        finally:
            await ctx.close()
    print(f"\npages measured at 390 px: {measured}")
    assert all(measured.get(role, 0) > 10 for role in ROLES), measured
    assert not wide, "\n".join(wide)
    assert not small, "\n".join(small[:40])
