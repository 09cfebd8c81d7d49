"""End to end in Chromium: a class visit booked, confirmed and seen; a family subscribes;
axe-core finds no serious or critical violation on the main pages; screenshots kept."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import DOCS
from tests.e2e.seed import (
    ADMIN_EMAIL,
    EVENING_TITLE,
    FIRM_EMAIL,
    PASSWORD,
    TEACHER_EMAIL,
    TOUR_TITLE,
)


async def sign_in(page, email: str) -> None:
    await page.goto("/signin")
    await page.fill("#f-email", email)
    await page.fill("#f-password", PASSWORD)
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_load_state()
    assert "/signin" not in page.url, await page.content()


async def shot(page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_a_teacher_books_the_firm_confirms_the_teacher_sees_it(browser, server, artifacts):
    teacher = await browser.new_context(base_url=server, locale="de-DE")
    firm = await browser.new_context(base_url=server, locale="de-DE")
    try:
        t = await teacher.new_page()
        await sign_in(t, TEACHER_EMAIL)
        await t.goto("/school/book?grade=8&host=e2e-feinwerk")
        await t.locator("h1").wait_for()
        search_shot = await shot(t, artifacts, "teacher-search")
        row = t.locator("tr", has_text=TOUR_TITLE).first
        await row.get_by_role("link", name=re.compile("Diesen Termin buchen")).click()
        await t.fill("#f-class_label", "8b")
        await t.fill("#f-grade", "8")
        await t.fill("#f-pupils", "22")
        await t.fill("#f-adults", "2")
        await shot(t, artifacts, "teacher-booking-form")
        await t.locator("main form button[type=submit]").click()
        await t.wait_for_url(re.compile(r"/confirmation$"))
        assert "Anfrage erhalten" in await t.locator("h1").inner_text()

        f = await firm.new_page()
        await sign_in(f, FIRM_EMAIL)
        await f.goto("/firm")
        pending = f.locator("tr", has_text="8b")
        await shot(f, artifacts, "firm-dashboard")
        await pending.get_by_role("button", name=re.compile("Bestätigen")).click()
        await f.wait_for_load_state()
        assert "Bestätigt" in await f.locator(".notice").inner_text()

        await t.goto("/school")
        visit = t.locator("tr", has_text=TOUR_TITLE).first
        assert "bestätigt" in await visit.inner_text()
        await shot(t, artifacts, "teacher-dashboard")
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(search_shot, DOCS / "teacher-booking.png")
    finally:
        await teacher.close()
        await firm.close()


async def test_a_family_subscribes_to_a_filtered_feed(context, server, artifacts):
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_text("Veranstaltungen filtern").click()  # the filters fold away
    await page.select_option("#f-kind", "open_day")
    await page.select_option("#f-host", "rehn-feinmechanik")
    await page.locator("form.filters button[type=submit]").click()
    await page.wait_for_load_state()
    href = await page.locator("#webcal-link").get_attribute("href")
    parts = urlsplit(href)
    assert parts.scheme == "webcal"
    assert parts.netloc == urlsplit(server).netloc
    assert parts.path == "/feeds/public.ics"
    assert parse_qs(parts.query) == {"kind": ["open_day"], "host": ["rehn-feinmechanik"]}
    address = await page.locator("#feed-address").input_value()
    assert address == f"{server}/feeds/public.ics?{parts.query}"
    await page.goto("/")
    await shot(page, artifacts, "public-calendar")
    DOCS.mkdir(parents=True, exist_ok=True)
    # The README's copy shows the first screenful only: the full list is long.
    await page.screenshot(path=str(DOCS / "public-calendar.png"))


PUBLIC_PAGES = {"calendar": "/", "calendar-month": "/?view=month", "signin": "/signin"}
ROLE_PAGES = {
    TEACHER_EMAIL: {
        "school-dashboard": "/school",
        "school-search": "/school/book",
        "school-new-evening": "/school/evenings/new",
    },
    FIRM_EMAIL: {"firm-home": "/firm", "firm-new-event": "/firm/events/new"},
    ADMIN_EMAIL: {
        "office": "/office",
        "office-users": "/office/users",
        "office-holidays": "/office/holidays",
        "office-user": "/office/users/1",
    },
}


async def check_axe(page, axe_source: str, name: str) -> None:
    await page.add_script_tag(content=axe_source)
    result = await page.evaluate("async () => await axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "; ".join(bad)


@pytest.mark.parametrize("locale", ["de-DE", "en-GB"])
async def test_main_pages_have_no_serious_accessibility_violations(
    browser, server, axe_source, artifacts, locale
):
    suffix = "" if locale == "de-DE" else "-en"
    # bypass_csp: axe is injected as an inline script, which our CSP rightly forbids.
    ctx = await browser.new_context(base_url=server, locale=locale, bypass_csp=True)
    try:
        page = await ctx.new_page()
        await page.goto("/")
        event_href = await page.locator(".cards a").first.get_attribute("href")
        for name, path in {**PUBLIC_PAGES, "event": event_href}.items():
            await page.goto(path)
            await shot(page, artifacts, name + suffix)
            await check_axe(page, axe_source, name)
        for email, pages in ROLE_PAGES.items():
            await ctx.clear_cookies()
            await sign_in(page, email)
            for name, path in pages.items():
                await page.goto(path)
                await shot(page, artifacts, name + suffix)
                await check_axe(page, axe_source, name)
            if email == TEACHER_EMAIL:
                await page.goto("/school")
                await page.get_by_role("link", name=EVENING_TITLE, exact=True).click()
                await page.wait_for_load_state()
                await shot(page, artifacts, "school-evening" + suffix)
                await check_axe(page, axe_source, "school-evening")
            if email == FIRM_EMAIL:
                await page.goto("/firm")
                await page.get_by_role("link", name=re.compile(TOUR_TITLE)).first.click()
                await page.wait_for_load_state()
                await check_axe(page, axe_source, "firm-event")
                await page.goto(page.url + "/attendees")
                await shot(page, artifacts, "attendees" + suffix)
                await page.emulate_media(media="print")
                await page.pdf(path=str(artifacts / f"attendees{suffix}.pdf"), format="A4")
                await page.emulate_media(media="screen")
    finally:
        await ctx.close()


async def test_a_school_invites_a_firm_to_its_parents_evening_and_the_public_sees_it(
    browser, server, artifacts
):
    teacher = await browser.new_context(base_url=server, locale="de-DE")
    firm = await browser.new_context(base_url=server, locale="de-DE")
    public = await browser.new_context(base_url=server, locale="de-DE")
    try:
        t = await teacher.new_page()
        await sign_in(t, TEACHER_EMAIL)
        await t.goto("/school")
        await t.get_by_role("link", name=EVENING_TITLE, exact=True).click()
        await t.wait_for_url(re.compile(r"/school/evenings/\d+$"))
        evening_path = urlsplit(t.url).path
        event_id = evening_path.rsplit("/", 1)[1]
        await t.get_by_label(re.compile("E2E Feinwerk GmbH")).check()
        await t.fill("#f-message", "Bitte stellen Sie den Beruf Uhrmacher vor.")
        await t.get_by_role("button", name="Einladungen senden").click()
        await t.wait_for_load_state()
        assert "eingeladen" in await t.locator(".notice").inner_text()
        row = t.locator("#invitations tr", has_text="E2E Feinwerk GmbH")
        assert "noch keine Antwort" in await row.inner_text()

        f = await firm.new_page()
        await sign_in(f, FIRM_EMAIL)
        await f.goto("/firm")
        card = f.locator("li.invitation", has_text=EVENING_TITLE)
        assert "Uhrmacher" in await card.inner_text()
        await shot(f, artifacts, "firm-invitations")
        await card.locator("input[name=message]").fill("Wir kommen gern zu zweit.")
        await card.get_by_role("button", name=re.compile("^Zusagen")).click()
        await f.wait_for_load_state()
        assert "Schule wurde benachrichtigt" in await f.locator(".notice").inner_text()

        p = await public.new_page()
        await p.goto(f"/events/{event_id}")
        presenting = p.locator("ul.presenters")
        assert "E2E Feinwerk GmbH" in await presenting.inner_text()
        await shot(p, artifacts, "public-evening")

        await t.goto(evening_path)
        row = t.locator("#invitations tr", has_text="E2E Feinwerk GmbH")
        text = await row.inner_text()
        assert "stellt sich vor" in text and "zu zweit" in text
        await shot(t, artifacts, "school-evening-answered")
    finally:
        await teacher.close()
        await firm.close()
        await public.close()
