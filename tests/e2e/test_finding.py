"""End to end in Chromium on a phone (390 x 844): the public calendar shows its dates
first, filters and subscribe ways folded (no script: <details>), twenty dates a page."""

from __future__ import annotations

import re

from tests.e2e.test_browser import shot


async def test_on_a_phone_the_calendar_folds_its_filters_and_pages_its_dates(
    browser, server, artifacts
):
    ctx = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        page = await ctx.new_page()
        await page.goto("/")
        assert not await page.locator("#f-kind").is_visible()
        assert not await page.locator("#google-link").is_visible()
        assert await page.locator("li.card").count() == 20
        assert re.search(r"Termine 1\u201320 von \d+", await page.locator("main").inner_text())
        await shot(page, artifacts, "calendar-phone")

        await page.get_by_text("Veranstaltungen filtern").click()
        assert await page.locator("#f-kind").is_visible()
        await page.select_option("#f-kind", "factory_tour")
        await page.locator("form.filters button[type=submit]").click()
        await page.wait_for_url(re.compile(r"kind=factory_tour"))
        # A filter is set: the filters stay open, so the reader sees what filters the list.
        assert await page.locator("#f-kind").is_visible()
        kinds = await page.locator("li.card .tag").all_inner_texts()
        assert kinds and set(kinds) == {"Betriebsbesichtigung"}

        await page.goto("/")
        await page.get_by_role("link", name="Weitere Termine").click()
        await page.wait_for_url(re.compile(r"page=2"))
        assert re.search(r"Termine 21\u2013\d+ von \d+", await page.locator("main").inner_text())
        await page.get_by_role("link", name="Frühere Termine").click()
        await page.wait_for_load_state()
        assert re.search(r"Termine 1\u201320 von \d+", await page.locator("main").inner_text())
    finally:
        await ctx.close()
