"""End to end in Chromium: the booking page behind every booking mail.

A family registers for an open day without an account, opens its booking from the
mail the server wrote (the .eml file), confirms the address, reduces the number of
persons and cancels; a teacher's note ("a pupil uses a wheelchair") is read by the
host firm on the same page. The booking page's screenshot goes into the README.
"""

from __future__ import annotations

import asyncio
import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import DOCS
from tests.e2e.seed import FIRM_EMAIL, OPEN_DAY_TITLE, TEACHER_EMAIL, TOUR_TITLE
from tests.e2e.test_browser import sign_in

FAMILY = "familie.krause@example.org"
NOTE = "Ein Schüler nutzt einen Rollstuhl; bitte den Aufzug einplanen."


async def mails_to(
    mail_dir: Path, recipient: str, count: int, within: float = 30, last: str = ""
) -> list[Any]:
    """The mails the server wrote to `recipient`, oldest first, once there are `count` and
    one of them has a subject starting with `last` (the mail the step before sends)."""
    deadline = time.monotonic() + within
    while True:
        found = await asyncio.to_thread(_read_mails, mail_dir, recipient)
        arrived = any(str(m["Subject"]).startswith(last) for m in found)
        if (len(found) >= count and arrived) or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} mails to {recipient}, wanted {count}"
            return found
        await asyncio.sleep(0.25)


def _read_mails(mail_dir: Path, recipient: str) -> list[Any]:
    found = []
    # The server writes each mail to a hidden temporary file and renames it: skip those,
    # they may be gone by the time they are read.
    done = [p for p in mail_dir.glob("*.eml") if not p.name.startswith(".")]
    for path in sorted(done, key=lambda p: p.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if recipient in str(message["To"]):
            found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_a_family_opens_its_booking_from_the_mail_reduces_and_cancels(
    browser: Any, server: str, mail_dir: Path, artifacts: Path
) -> None:
    context = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    try:
        page = await context.new_page()
        await page.goto("/?host=e2e-feinwerk&kind=open_day")
        await page.get_by_role("link", name=OPEN_DAY_TITLE).first.click()
        await page.fill("#f-name", "Familie Krause")
        await page.fill("#f-email", FAMILY)
        await page.fill("#f-persons", "4")
        await page.locator('form[action$="/register"] button[type=submit]').click()
        await page.wait_for_url(re.compile(r"/confirmation$"))

        [first] = await mails_to(mail_dir, FAMILY, 1)
        text = text_of(first)
        verify = re.search(r"https?://\S+/bookings/\d+/verify\?token=\w+", text)
        booking = re.search(r"https?://\S+/bookings/(\d+)\?token=\w+", text)
        assert verify and booking, text
        await page.goto(local_path(verify.group(0)))
        await page.locator("main form button[type=submit]").click()
        await page.wait_for_load_state()

        # The booking, from the mail's link: no account, no sign-in.
        await page.goto(local_path(booking.group(0)))
        assert "/signin" not in page.url
        assert await page.locator("h1").inner_text() == "Ihre Buchung"
        assert await page.locator("#booking-status").inner_text() == "bestätigt"
        assert (await page.locator("#booking-persons").inner_text()).strip() == "4"
        assert "Altenberger Straße 12" in await page.locator(".facts").inner_text()
        DOCS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(DOCS / "booking-page.png"))

        # On a phone (390 px) nothing runs off the side.
        await page.set_viewport_size({"width": 390, "height": 844})
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        await page.screenshot(path=str(artifacts / "booking-page-390.png"), full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})

        # Fewer persons: two places go back to the slot.
        await page.fill("#f-persons", "2")
        await page.locator('form[action$="/persons"] button[type=submit]').click()
        await page.wait_for_load_state()
        assert "Anzahl der Personen ist geändert" in await page.locator(".notice").inner_text()
        assert (await page.locator("#booking-persons").inner_text()).strip() == "2"

        # Cancel with a reason.
        await page.fill("#f-reason", "Wir sind leider krank.")
        await page.locator('form[action$="/cancel"] button[type=submit]').click()
        await page.wait_for_load_state()
        assert await page.locator("#booking-status").inner_text() == "abgesagt"
        assert await page.locator('form[action$="/cancel"]').count() == 0
        await page.screenshot(path=str(artifacts / "booking-page-cancelled.png"), full_page=True)

        # The family was told each step once, each mail with its own link to the page.
        # Four steps, and between them a place on the waiting list and a place freed (an
        # unconfirmed registration holds at most a quarter of the places): wait for the last.
        mails = await mails_to(mail_dir, FAMILY, 4, last="Buchung storniert")
        subjects = [str(m["Subject"]) for m in mails]
        assert any(s.startswith("Buchung geändert") for s in subjects), subjects
        assert any(s.startswith("Buchung storniert") for s in subjects), subjects
        assert all(booking.group(0) in text_of(m) for m in mails)
    finally:
        await context.close()


async def test_the_firm_reads_the_teachers_note_on_the_booking_page(
    browser: Any, server: str, artifacts: Path
) -> None:
    teacher = await browser.new_context(base_url=server, locale="de-DE")
    firm = await browser.new_context(base_url=server, locale="de-DE")
    try:
        t = await teacher.new_page()
        await sign_in(t, TEACHER_EMAIL)
        await t.goto("/school/book?grade=9&host=e2e-feinwerk")
        row = t.locator("tr", has_text=TOUR_TITLE).last
        await row.get_by_role("link", name=re.compile("Diesen Termin buchen")).click()
        await t.fill("#f-class_label", "9c")
        await t.fill("#f-grade", "9")
        await t.fill("#f-pupils", "12")
        await t.fill("#f-adults", "1")
        await t.fill("#f-notes", NOTE)
        await t.locator("main form button[type=submit]").click()
        await t.wait_for_url(re.compile(r"/confirmation$"))

        f = await firm.new_page()
        await sign_in(f, FIRM_EMAIL)
        await f.goto("/firm")
        pending = f.locator("tr", has_text="9c").first
        await pending.get_by_role("link", name=TOUR_TITLE).click()
        await f.wait_for_url(re.compile(r"/bookings/\d+$"))
        assert await f.locator("#booking-note").inner_text() == NOTE
        await f.screenshot(path=str(artifacts / "booking-page-host.png"), full_page=True)
        # The host decides on the same page.
        await f.locator('form[action$="/confirm"] button[type=submit]').click()
        await f.wait_for_load_state()
        assert await f.locator("#booking-status").inner_text() == "bestätigt"
    finally:
        await teacher.close()
        await firm.close()
