"""The annual review in Chromium: the office and a firm open it on the demo network;
the charts load as images under our CSP, axe finds nothing serious, A4 print works."""

from __future__ import annotations

from outreach.demo import DEMO_PASSWORD
from tests.e2e.seed import ADMIN_EMAIL, PASSWORD
from tests.e2e.test_browser import DOCS, check_axe, shot

FIRM_EMAIL = "andreas.rehn@rehn-feinmechanik.example"  # a demo coordinator
OTHER_FIRM = "Galvano Pötschke GmbH"


async def _sign_in(page, email: str, password: str) -> None:
    await page.goto("/signin")
    await page.fill("#f-email", email)
    await page.fill("#f-password", password)
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_load_state()
    assert "/signin" not in page.url


async def _charts_loaded(page) -> int:
    """How many chart images the browser decoded (an SVG blocked or broken has no width)."""
    await page.wait_for_load_state("networkidle")
    widths = await page.eval_on_selector_all(
        ".charts img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
    )
    assert widths and all(w > 0 for w in widths), widths
    return len(widths)


async def test_office_and_firm_open_the_bilanz(browser, server, axe_source, artifacts):
    ctx = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    try:
        page = await ctx.new_page()
        await _sign_in(page, ADMIN_EMAIL, PASSWORD)
        await page.goto("/reports")
        assert "Jahresbilanz" in await page.locator("h1").inner_text()
        assert await page.locator("table.milestones tbody tr").count() >= 6
        assert await _charts_loaded(page) == 5
        office_shot = await shot(page, artifacts, "bilanz-office")
        for n, figure in enumerate(await page.locator(".charts figure").all()):
            await figure.screenshot(path=str(artifacts / f"bilanz-chart-{n}.png"))
        await page.emulate_media(media="print")
        await page.pdf(path=str(artifacts / "bilanz-office.pdf"), format="A4")
        await page.emulate_media(media="screen")
        DOCS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(DOCS / "bilanz.png"))
        assert office_shot.exists()

        await ctx.clear_cookies()
        await _sign_in(page, FIRM_EMAIL, DEMO_PASSWORD)
        await page.goto("/reports")
        await _charts_loaded(page)
        text = await page.locator("main").inner_text()
        assert "Rehn" in text and OTHER_FIRM not in text
        await shot(page, artifacts, "bilanz-firm")
    finally:
        await ctx.close()

    axe_ctx = await browser.new_context(base_url=server, locale="de-DE", bypass_csp=True)
    try:
        page = await axe_ctx.new_page()
        await _sign_in(page, ADMIN_EMAIL, PASSWORD)
        for path in ("/reports", "/office/workplan"):
            await page.goto(path)
            await check_axe(page, axe_source, path)
    finally:
        await axe_ctx.close()
