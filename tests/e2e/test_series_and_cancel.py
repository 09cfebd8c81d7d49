"""End to end in Chromium: a firm previews a series (every time to be created, every day
skipped with its holiday) before anything is written, then creates it; a firm cancels one
time a teacher has booked, and the teacher, the feed and the API see it cancelled; the
office's work plan fits a 1,280 px screen and deletes a milestone only after asking.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx
from babel.dates import format_date

from outreach.calendar.holidays import closure_on, closures_between
from outreach.timeutil import LOCAL_TZ, utcnow
from tests.e2e.seed import ADMIN_EMAIL, FIRM_EMAIL, TEACHER_EMAIL, TOUR_TITLE
from tests.e2e.test_browser import shot, sign_in


async def _slots(server: str, event_id: str) -> list[dict[str, Any]]:
    """The event's times as the public API answers them (what is really stored)."""
    async with httpx.AsyncClient(base_url=server) as api:
        response = await api.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 200, response.text
    return response.json()["slots"]


async def _open_tour(page) -> str:
    await page.goto("/firm")
    await page.get_by_role("link", name=re.compile(TOUR_TITLE)).first.click()
    await page.wait_for_url(re.compile(r"/firm/events/\d+$"))
    return page.url.rsplit("/", 1)[1]


def _series_around_a_holiday() -> tuple[date, date, int, list[date], list[date]]:
    """A span of seven weeks on one weekday that meets a school closure: its first and
    last day, the weekday, the days a time is made on and the days skipped."""
    today = utcnow().astimezone(LOCAL_TZ).date()
    closed = next(
        day
        for closure in closures_between(today + timedelta(days=30), today + timedelta(days=400))
        for day in (closure.first_day + timedelta(days=n) for n in range(7))
        if day.weekday() < 5 and closure_on(day) is not None
    )
    first, last = closed - timedelta(days=21), closed + timedelta(days=21)
    days = [first + timedelta(days=7 * n) for n in range(7)]
    made = [d for d in days if closure_on(d) is None]
    skipped = [d for d in days if closure_on(d) is not None]
    assert made and skipped
    return first, last, closed.weekday(), made, skipped


async def test_a_series_is_previewed_with_its_skipped_days_before_it_is_created(
    browser, server, artifacts
):
    first, last, weekday, made, skipped = _series_around_a_holiday()
    ctx = await browser.new_context(base_url=server, locale="de-DE")
    try:
        page = await ctx.new_page()
        await sign_in(page, FIRM_EMAIL)
        event_id = await _open_tour(page)
        before = len(await _slots(server, event_id))
        await page.get_by_role("link", name="Terminserie anlegen").click()
        await page.wait_for_url(re.compile(r"/series$"))
        # No weekday is ticked for the host: each one chosen is one they meant.
        assert await page.locator("input[name=weekdays]:checked").count() == 0

        await page.fill("#f-first_day", first.isoformat())
        await page.fill("#f-last_day", last.isoformat())
        await page.locator(f"input[name=weekdays][value='{weekday}']").check()
        await page.fill("#f-times", "10:15")
        await page.fill("#f-minutes", "60")
        await page.locator("button[name=step][value=preview]").click()
        await page.wait_for_load_state()

        heading = await page.locator("#preview-heading").inner_text()
        assert heading.endswith(f": {len(made)}"), heading
        days = await page.locator("ul.series-days li").all_inner_texts()
        assert len(days) == len(made)
        assert all("10:15" in text for text in days), days
        shown_skips = await page.locator("ul.series-skipped li").all_inner_texts()
        assert len(shown_skips) == len(skipped)
        for day, text in zip(skipped, shown_skips, strict=True):
            assert closure_on(day).name in text, (day, text)
        await shot(page, artifacts, "firm-series-preview")
        # The preview wrote nothing.
        assert len(await _slots(server, event_id)) == before

        create = page.locator("button[name=step][value=create]")
        assert f"({len(made)})" in await create.inner_text()
        await create.click()
        await page.wait_for_url(re.compile(rf"/firm/events/{event_id}$"))
        assert f"{len(made)} Termine wurden angelegt" in await page.locator(".notice").inner_text()
        after = await _slots(server, event_id)
        assert len(after) == before + len(made)
        created = sorted(s["starts_at"][:16] for s in after if "T10:15" in s["starts_at"])
        assert created == [f"{d.isoformat()}T10:15" for d in made]
    finally:
        await ctx.close()


async def test_a_firm_cancels_one_booked_time_and_the_teacher_sees_it_cancelled(
    browser, server, artifacts
):
    firm = await browser.new_context(base_url=server, locale="de-DE")
    teacher = await browser.new_context(base_url=server, locale="de-DE")
    try:
        f = await firm.new_page()
        await sign_in(f, FIRM_EMAIL)
        event_id = await _open_tour(f)
        # A time of this test's own: a school day some weeks ahead, in the afternoon.
        day = utcnow().astimezone(LOCAL_TZ).date() + timedelta(days=50)
        while day.weekday() >= 5 or closure_on(day) is not None:
            day += timedelta(days=1)
        await f.get_by_role("link", name="Termin anlegen").click()
        await f.fill("#f-day", day.isoformat())
        await f.fill("#f-start", "14:00")
        await f.fill("#f-end", "15:30")
        await f.fill("#f-capacity", "30")
        await f.locator("main form button[type=submit]").click()
        await f.wait_for_url(re.compile(rf"/firm/events/{event_id}$"))
        [slot] = [
            s for s in await _slots(server, event_id) if s["starts_at"].startswith(f"{day}T14:00")
        ]

        t = await teacher.new_page()
        await sign_in(t, TEACHER_EMAIL)
        await t.goto(f"/school/book/{slot['id']}")
        await t.fill("#f-class_label", "9c")
        await t.fill("#f-grade", "9")
        await t.fill("#f-pupils", "18")
        await t.fill("#f-adults", "2")
        await t.locator("main form button[type=submit]").click()
        await t.wait_for_url(re.compile(r"/confirmation$"))

        await f.goto(f"/firm/slots/{slot['id']}/edit")
        await f.fill("#f-reason", "Die Werkstatt wird umgebaut.")
        await shot(f, artifacts, "firm-cancel-time")
        await f.get_by_role("button", name="Diesen Termin absagen").click()
        await f.wait_for_url(re.compile(rf"/firm/events/{event_id}$"))
        assert "Der Termin ist abgesagt" in await f.locator(".notice").inner_text()
        row = f.locator("tr", has_text=day.strftime("%Y")).filter(has_text="14:00")
        assert "abgesagt" in await row.first.inner_text()

        [after] = [s for s in await _slots(server, event_id) if s["id"] == slot["id"]]
        assert after["cancelled"] is True
        async with httpx.AsyncClient(base_url=server) as api:
            feed = (await api.get(f"/events/{event_id}.ics")).text.replace("\r\n ", "")
        cancelled = [
            block
            for block in feed.split("BEGIN:VEVENT")[1:]
            if f"UID:slot-{slot['id']}@" in block  # the time by its UID (times are in UTC)
        ]
        assert cancelled and "STATUS:CANCELLED" in cancelled[0], feed[:2000]

        await t.goto("/school")
        # The row of this day's visit (other tests' classes may visit on other days).
        visit = (
            t.locator("tr", has_text=format_date(day, "full", locale="de"))
            .filter(has_text="9c")
            .first
        )
        assert "abgesagt" in await visit.inner_text()  # the teacher's visit is cancelled
    finally:
        await firm.close()
        await teacher.close()


async def test_the_work_plan_fits_1280_px_and_deletes_only_after_asking(browser, server, artifacts):
    ctx = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    try:
        page = await ctx.new_page()
        await sign_in(page, ADMIN_EMAIL)
        await page.goto("/office/workplan")
        rows = page.locator("table.workplan tbody tr")
        assert await rows.count() > 1  # the demo's plan has its milestones
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, width
        delete = rows.first.get_by_role("link", name=re.compile("^Löschen"))
        box = await delete.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, box
        await shot(page, artifacts, "office-workplan")

        title = await rows.first.locator("th").inner_text()
        before = await rows.count()
        await delete.click()
        await page.wait_for_url(re.compile(r"/office/milestones/\d+/delete$"))
        assert title in await page.locator("h1").inner_text()
        await page.get_by_role("link", name="Behalten und zurück").click()
        await page.wait_for_url(re.compile(r"/office/workplan"))
        assert await rows.count() == before  # going back deleted nothing

        await rows.first.get_by_role("link", name=re.compile("^Löschen")).click()
        await page.get_by_role("button", name="Endgültig löschen").click()
        await page.wait_for_url(re.compile(r"/office/workplan"))
        assert "gelöscht" in await page.locator(".notice").inner_text()
        assert await rows.count() == before - 1
    finally:
        await ctx.close()
