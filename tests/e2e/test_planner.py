"""End to end in Chromium: on the demo network a teacher plans a three-firm day for a
class of 24 with 2 adults, books it in a few clicks, sees each visit's status and opens
the page to print; axe-core finds no serious or critical violation on those pages."""

from __future__ import annotations

import re
from datetime import timedelta

from outreach.timeutil import LOCAL_TZ, utcnow
from tests.e2e.seed import TEACHER_EMAIL
from tests.e2e.test_browser import check_axe, shot, sign_in


async def test_a_teacher_plans_and_books_a_three_firm_day(browser, server, axe_source, artifacts):
    # bypass_csp: axe is injected as an inline script, which our CSP rightly forbids.
    ctx = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    try:
        page = await ctx.new_page()
        await sign_in(page, TEACHER_EMAIL)
        await page.goto("/school")
        # The demo's class days are school days from two weeks ahead on.
        first = utcnow().astimezone(LOCAL_TZ).date() + timedelta(days=14)
        # Three clicks: the planner in the menu, "show proposals", "book this day".
        await page.get_by_role("link", name="Firmentag planen").first.click()
        await page.wait_for_url(re.compile(r"/school/plan$"))
        await check_axe(page, axe_source, "planner-form")
        await page.fill("#f-date", first.isoformat())
        await page.fill("#f-date_to", (first + timedelta(days=21)).isoformat())
        await page.fill("#f-class_label", "8c")
        await page.fill("#f-grade", "8")
        await page.fill("#f-pupils", "24")
        await page.fill("#f-adults", "2")
        await page.select_option("#f-max_visits", "3")
        await page.get_by_role("button", name="Vorschläge zeigen").click()
        await page.wait_for_load_state()
        proposal = page.locator("li.proposal").first
        await proposal.wait_for()
        assert await proposal.locator("tbody tr:not(.leg)").count() == 3
        assert await proposal.locator("svg[role=img]").count() == 1
        await shot(page, artifacts, "planner-proposals")
        await check_axe(page, axe_source, "planner-proposals")

        await proposal.get_by_role("button", name=re.compile("Diesen Tag buchen")).click()
        await page.wait_for_url(re.compile(r"/school/itineraries/\d+$"))
        assert "Der Tag ist gebucht" in await page.locator(".notice").inner_text()
        visits = page.locator("tr[id^=visit-]")
        assert await visits.count() == 3
        for n in range(3):
            assert "bestätigt" in await visits.nth(n).locator("td").nth(3).inner_text()
        assert "alle Firmen haben bestätigt" in await page.locator("#day-status").inner_text()
        await shot(page, artifacts, "planner-itinerary")
        await check_axe(page, axe_source, "planner-itinerary")

        await page.get_by_role("link", name="Seite zum Ausdrucken für die Eltern").click()
        await page.wait_for_url(re.compile(r"/school/itineraries/\d+/print$"))
        assert "Klasse 8c: Firmenbesuche" in await page.locator("h1").inner_text()
        assert await page.locator("figure svg circle").count() == 3
        assert await page.locator("tr.leg", has_text="Fußweg zu").count() == 2
        await shot(page, artifacts, "planner-print")
        await check_axe(page, axe_source, "planner-print")
        await page.emulate_media(media="print")
        await page.pdf(path=str(artifacts / "planner-print.pdf"), format="A4")
    finally:
        await ctx.close()
