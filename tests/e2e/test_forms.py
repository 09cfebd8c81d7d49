"""A refused form in Chromium: the error summary above it takes the focus, names every
error and links to each field; what was typed stays; axe finds nothing serious."""

from __future__ import annotations

import re

from tests.e2e.seed import FIRM_EMAIL
from tests.e2e.test_browser import DOCS, check_axe, shot, sign_in


async def test_a_new_event_with_two_mistakes_gets_a_focused_summary_linking_both(
    browser, server, axe_source, artifacts
):
    # bypass_csp: axe is injected as an inline script, which our CSP rightly forbids.
    ctx = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 390, "height": 844}, bypass_csp=True
    )
    try:
        page = await ctx.new_page()
        await sign_in(page, FIRM_EMAIL)
        await page.goto("/firm/events/new")
        await page.fill("#f-grades", "8, 99")
        await page.fill("#f-venue_city", "Glashütte")
        await page.fill("#f-description", "Bitte feste Schuhe.")
        await page.locator("main form button[type=submit]").click()
        await page.wait_for_load_state()

        summary = page.locator(".error-summary")
        assert await summary.get_attribute("role") == "alert"
        assert "Es gibt ein Problem" in await summary.locator("h2").inner_text()
        focused = await page.evaluate("document.activeElement.className")
        assert focused == "error-summary"
        assert (await page.title()).startswith("Fehler: ")
        links = summary.locator("a")
        hrefs = [await links.nth(i).get_attribute("href") for i in range(await links.count())]
        assert hrefs == ["#f-title", "#f-grades"]
        for href in hrefs:
            field = page.locator(href)
            assert await field.get_attribute("aria-invalid") == "true"
            described = await field.get_attribute("aria-describedby") or ""
            error = page.locator(f"{href}-error")
            assert f"{href[1:]}-error" in described.split()
            # The summary names the field by its label and says what is said beside it.
            said = await summary.locator(f"a[href='{href}']").inner_text()
            label = await page.locator(f"label[for='{href[1:]}']").inner_text()
            assert said == f"{label.rstrip(' *')}: {await error.inner_text()}"
        # What was typed stays, the mistakes included.
        assert await page.input_value("#f-grades") == "8, 99"
        assert await page.input_value("#f-venue_city") == "Glashütte"
        assert await page.input_value("#f-description") == "Bitte feste Schuhe."
        await shot(page, artifacts, "form-error-summary-phone")
        DOCS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(DOCS / "phone-form-errors.png"))  # the first screenful
        await check_axe(page, axe_source, "form-error-summary")

        # A link of the summary leads to its field.
        await summary.locator("a[href='#f-title']").click()
        assert page.url.endswith("#f-title")
        assert await page.locator("#f-title").is_visible()

        await page.fill("#f-title", "E2E Formular-Führung")
        await page.fill("#f-grades", "8, 9")
        await page.locator("main form button[type=submit]").click()
        # (the browser keeps the fragment the summary link set across the redirect)
        await page.wait_for_url(re.compile(r"/firm/events/\d+(#f-title)?$"))
        assert await page.locator(".error-summary").count() == 0
    finally:
        await ctx.close()
