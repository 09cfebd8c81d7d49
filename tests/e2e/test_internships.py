"""In Chromium: a teacher fills the class's wish table, the office starts a round, looks
at the preview and confirms it; the README's screenshots of both pages are kept. The
wish page fits a phone (390 px): only its table scrolls, in its own box."""

from __future__ import annotations

import re

from tests.e2e.seed import ADMIN_EMAIL, INTERN_CLASS, TEACHER_EMAIL
from tests.e2e.test_browser import DOCS, check_axe, shot, sign_in

PUPILS = ["Anna", "Ben", "Cem", "Dana", "Emil", "Frieda", "Gül", "Hannes"]


async def test_a_teacher_enters_wishes_and_the_office_confirms_the_round(
    browser, server, artifacts, axe_source
):
    # bypass_csp: axe is injected as an inline script, which our CSP rightly forbids.
    size = {"width": 1280, "height": 900}
    teacher = await browser.new_context(
        base_url=server, locale="de-DE", viewport=size, bypass_csp=True
    )
    office = await browser.new_context(
        base_url=server, locale="de-DE", viewport=size, bypass_csp=True
    )
    try:
        t = await teacher.new_page()
        await sign_in(t, TEACHER_EMAIL)
        await t.goto("/school")
        await t.get_by_role("link", name="Praktika: Klassen und Wünsche").click()
        await t.get_by_role("link", name=INTERN_CLASS, exact=True).click()
        await t.get_by_role("link", name=re.compile("Schüler\\*innen und Wünsche")).click()
        await t.locator("h1").wait_for()
        options = await t.locator("#f-wish1_0 option").evaluate_all(
            "os => os.map(o => o.value).filter(v => v)"
        )
        assert len(options) == 3, options
        # Everyone wants the scarcest offer first (2 places); the last pupil wishes nothing.
        scarce, *others = sorted(options, key=lambda v: options.index(v) != 2)
        for row, name in enumerate(PUPILS):
            await t.fill(f"#f-code_{row}", f"8i-{row + 1:02}")
            await t.fill(f"#f-first_name_{row}", name)
            if row < len(PUPILS) - 1:
                await t.select_option(f"#f-wish1_{row}", scarce)
                await t.select_option(f"#f-wish2_{row}", others[row % 2])
                await t.select_option(f"#f-wish3_{row}", others[(row + 1) % 2])
        await t.get_by_role("button", name="Schüler*innen und Wünsche speichern").click()
        await t.wait_for_load_state()
        assert "8 Schüler*innen gespeichert" in await t.locator(".notice").inner_text()
        assert await t.input_value("#f-first_name_7") == "Hannes"
        await check_axe(t, axe_source, "internship-wishes")
        DOCS.mkdir(parents=True, exist_ok=True)
        await t.screenshot(path=str(DOCS / "internship-wishes.png"))  # the first screenful
        await t.set_viewport_size({"width": 390, "height": 844})
        wide = await t.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, wide
        await shot(t, artifacts, "phone-internship-wishes")

        o = await office.new_page()
        await sign_in(o, ADMIN_EMAIL)
        await o.goto("/office")
        await o.locator("nav.views").get_by_role("link", name="Praktika", exact=True).click()
        await o.get_by_label(re.compile(f"{INTERN_CLASS}, E2E Oberschule verteilen")).check()
        await o.fill("#f-seed", "20")
        await o.get_by_role("button", name="Runde starten (Vorschau)").click()
        await o.wait_for_url(re.compile(r"/office/internships/rounds/\d+$"))
        text = await o.locator("main").inner_text()
        assert "von 8 Schüler*innen vermittelt" in text and "Hannes" in text
        assert "E2E Feinwerk GmbH" in text and "keine Wünsche" in text
        await check_axe(o, axe_source, "internship-preview")
        await o.screenshot(path=str(DOCS / "internship-preview.png"), full_page=True)
        await o.get_by_role("button", name="Runde bestätigen").click()
        await o.wait_for_load_state()
        assert "bestätigt" in await o.locator(".notice").inner_text()
    finally:
        await teacher.close()
        await office.close()
