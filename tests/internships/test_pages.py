"""The internship pages: each role's pages in de/en/cs with names (never slugs), forms
that name the field and keep the values, the 28-pupil wish table, the CSV upload, the
isolation of firms and schools, and the office's preview -> confirm flow."""

from __future__ import annotations

import html as htmllib
import re
from types import SimpleNamespace

import pytest

from outreach.internships import rounds
from outreach.internships.schemas import RoundIn
from outreach.internships.wishes import pupils_of_class, put_pupils
from outreach.organisations.tables import Organisation
from tests.factories import make_world
from tests.internships.helpers import make_class, make_offer, period_of, pupils
from tests.pages.conftest import csrf_of, give_password, post_form, sign_in

FIRM_A, FIRM_B = "Uhrenmanufaktur Lange", "Präzision Glashütte"
SCHOOL_A, SCHOOL_B = "Oberschule Müglitztal", "Gymnasium Altenberg"
WORDS = {"de": "Praktika", "en": "Internships", "cs": "Praxe"}


@pytest.fixture
async def scene(db):
    world = await make_world()
    for slug, name in (
        ("firm-a", FIRM_A),
        ("firm-b", FIRM_B),
        ("school-a", SCHOOL_A),
        ("school-b", SCHOOL_B),
    ):
        await Organisation.update({Organisation.name: name}).where(Organisation.slug == slug)
    for principal in (world.firm_a, world.firm_b, world.school_a, world.school_b, world.admin):
        await give_password(principal.email)
    offer = await make_offer(world.firm_a, places=30, occupation="Uhrmacher/in")
    other = await make_offer(world.firm_b, places=30, occupation="Feinmechaniker/in")
    klass = await make_class(world.school_a, label="8a")
    return SimpleNamespace(world=world, offer=offer, other=other, klass=klass)


async def _language(client, locale: str) -> None:
    await client.get(f"/language/{locale}?next=/")


def _text(page: str) -> str:
    return htmllib.unescape(page)


def _main(page: str) -> str:
    """The page's content without the header (its CSRF token, its navigation)."""
    found = re.search(r"<main.*</main>", page, re.S)
    return found.group(0) if found else page


async def test_each_roles_pages_render_in_three_languages_with_names(client, scene):
    w = scene.world
    await put_pupils(
        scene.klass.id,
        pupils([period_of(scene.offer)], [period_of(scene.other)], []),
        by=w.school_a,
    )
    done = await rounds.preview_round(RoundIn(classes=[scene.klass.id], seed=3), by=w.admin)
    await rounds.confirm_round(done.id, by=w.admin)
    pages = {
        None: ["/internships"],
        "firm_a": ["/firm/internships", f"/firm/internships/offers/{scene.offer.id}"],
        "school_a": [
            "/school/internships",
            f"/school/internships/classes/{scene.klass.id}",
            f"/school/internships/classes/{scene.klass.id}/pupils",
        ],
        "admin": ["/office/internships", f"/office/internships/rounds/{done.id}"],
    }
    for role, paths in pages.items():
        if role:  # one sign-in per role (hashing the password is slow on purpose)
            await sign_in(client, getattr(w, role).email)
        for locale, word in WORDS.items():
            await _language(client, locale)
            for path in paths:
                answer = await client.get(path)
                assert answer.status_code == 200, (locale, path)
                text = _text(answer.text)
                assert f'<html lang="{locale}">' in text
                assert word in text, (locale, path)
                assert "firm-a" not in re.sub(r'value="[^"]*"|href="[^"]*"', "", text)
    await _language(client, "de")  # still the office
    preview = _text((await client.get(f"/office/internships/rounds/{done.id}")).text)
    assert SCHOOL_A in preview and FIRM_A in preview and "Uhrmacher/in" in preview
    assert "Erster Wunsch." in preview


async def test_public_offers_filter_by_grade_occupation_and_firm(client, scene):
    text = _text((await client.get("/internships")).text)
    assert FIRM_A in text and FIRM_B in text and "Uhrmacher/in" in text
    text = _text((await client.get("/internships?firm=firm-b")).text)
    assert "Feinmechaniker/in" in text and "Uhrmacher/in" not in text
    text = _text((await client.get("/internships?occupation=uhrm")).text)
    assert "Uhrmacher/in" in text and "Feinmechaniker/in" not in text
    text = _text((await client.get("/internships?grade=12&firm=nonsense")).text)
    assert "Uhrmacher/in" not in text
    assert (await client.get("/internships?grade=x")).status_code == 200


async def test_a_refused_class_period_names_its_fields_and_keeps_the_values(client, scene):
    await sign_in(client, scene.world.school_a.email)
    await _language(client, "en")
    answer = await post_form(
        client,
        "/school/internships/classes",
        {"class_label": "9z", "grade": "9", "starts_on": "2020-01-05", "ends_on": "2020-01-01"},
        from_page="/school/internships",
    )
    assert answer.status_code == 422
    text = _text(answer.text)
    assert 'href="#f-starts_on"' in text and 'href="#f-ends_on"' in text, _main(text)
    assert 'value="9z"' in text and 'value="2020-01-05"' in text


async def test_a_refused_offer_names_its_fields_and_keeps_the_values(client, scene):
    await sign_in(client, scene.world.firm_a.email)
    await _language(client, "en")
    answer = await post_form(
        client,
        "/firm/internships/offers/new",
        {"occupation": "", "description": "kept text", "p0_starts_on": "x", "p0_places": "0"},
    )
    assert answer.status_code == 422
    text = _text(answer.text)
    for field in ("occupation", "grades", "p0_starts_on", "p0_places"):
        assert f'href="#f-{field}"' in text, field
    assert "kept text" in text
    first = scene.offer.periods[0]
    answer = await post_form(
        client,
        "/firm/internships/offers/new",
        {
            "occupation": "Graveur/in",
            "grades": ["8", "9"],
            "p0_starts_on": first.starts_on.isoformat(),
            "p0_ends_on": first.ends_on.isoformat(),
            "p0_places": "3",
            "status": "published",
        },
    )
    assert answer.status_code == 303
    assert "Graveur/in" in (await client.get(answer.headers["location"])).text


async def test_the_firm_edits_and_publishes_its_offer(client, scene):
    await sign_in(client, scene.world.firm_a.email)
    path = f"/firm/internships/offers/{scene.offer.id}"
    period = scene.offer.periods[0]
    values = {
        "occupation": "Uhrmacher/in (neu)",
        "grades": ["8"],
        "status": "published",
        f"places_{period.id}": "5",
    }
    answer = await post_form(client, f"{path}/edit", values)
    assert answer.status_code == 303
    text = _text((await client.get(path)).text)
    assert "Uhrmacher/in (neu)" in text and "<td>5</td>" in text
    answer = await post_form(client, f"{path}/status", {"status": "draft"}, from_page=path)
    assert answer.status_code == 303
    assert "Uhrmacher/in (neu)" not in _text((await client.get("/internships")).text)


def _wish_form(n: int, period: int) -> dict[str, str]:
    data = {"rows": str(n)}
    for r in range(n):
        data |= {f"code_{r}": f"8a-{r + 1:02}", f"first_name_{r}": f"Kind{r + 1}"}
        data[f"wish1_{r}"] = str(period)
    return data


async def test_twenty_eight_pupils_in_one_sitting_and_every_error_at_once(client, scene):
    await sign_in(client, scene.world.school_a.email)
    await _language(client, "en")
    path = f"/school/internships/classes/{scene.klass.id}/pupils"
    page = await client.get(path)
    assert page.text.count('name="code_') == 30  # room for a class at once
    assert "Uhrmacher/in" in page.text and "Feinmechaniker/in" in page.text
    answer = await post_form(client, path, _wish_form(28, period_of(scene.offer)))
    assert answer.status_code == 303, answer.text[:2000]
    saved = await pupils_of_class(scene.klass.id, by=scene.world.school_a)
    assert len(saved) == 28 and saved[27].wishes == [period_of(scene.offer)]
    shown = (await client.get(path)).text
    assert 'value="8a-28"' in shown and shown.count(" selected>") >= 28
    # Two errors in two rows: both named by row and field, the values kept.
    bad = _wish_form(28, period_of(scene.offer))
    bad["code_4"] = "8a-01"
    bad["wish2_9"] = str(period_of(scene.offer))
    answer = await post_form(client, path, bad)
    assert answer.status_code == 422
    text = _text(answer.text)
    assert 'href="#f-code_4"' in text and "Row 5 (Kind5), code" in text
    assert 'href="#f-wish2_9"' in text and "Row 10 (Kind10), wish 2" in text
    assert "Uhrmacher/in" in re.search(r'id="f-wish2_9-error">([^<]*)<', text).group(1)
    assert 'value="Kind28"' in text
    more = await post_form(client, path, {"rows": "30", "add_rows": "1"}, from_page=path)
    assert more.status_code == 200 and more.text.count('name="code_') == 40


async def test_csv_upload_good_and_bad(client, scene):
    await sign_in(client, scene.world.school_a.email)
    await _language(client, "en")
    path = f"/school/internships/classes/{scene.klass.id}/pupils"
    token = csrf_of((await client.get(path)).text)
    wish = period_of(scene.offer)
    good = f"code;first_name;wish1;wish2;wish3\r\nA1;Änne;{wish};;\r\nA2;Jörg;;;\r\n"
    answer = await client.post(
        f"{path}/csv",
        data={"_csrf_token": token},
        files={"file": ("klasse.csv", "\ufeff".encode() + good.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:2000]
    saved = await pupils_of_class(scene.klass.id, by=scene.world.school_a)
    assert [(p.code, p.first_name, p.wishes) for p in saved] == [
        ("A1", "Änne", [wish]),
        ("A2", "Jörg", []),
    ]
    bad = f"B1,Anna,{wish}\nB1,Ben,x\nB3,Cem,{period_of(scene.other)},{wish},{wish},9,9\n"
    answer = await client.post(
        f"{path}/csv",
        data={"_csrf_token": token},
        files={"file": ("klasse.csv", bad.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    text = _text(answer.text)
    assert "Line 2, column wish1" in text and "Line 3: 7 columns" in text
    # Readable lines go to the services, which name the line of each refusal.
    bad = f"B1,Anna,{wish}\nB1,Ben,99999\n"
    answer = await client.post(
        f"{path}/csv",
        data={"_csrf_token": token},
        files={"file": ("klasse.csv", bad.encode(), "text/csv")},
        follow_redirects=False,
    )
    text = _text(answer.text)
    assert answer.status_code == 422
    assert "Line 2, column code" in text and "Line 2, column wish1" in text, _main(text)
    assert len(await pupils_of_class(scene.klass.id, by=scene.world.school_a)) == 2


async def test_firms_and_schools_see_only_their_own(client, scene):
    w = scene.world
    await sign_in(client, w.firm_b.email)
    for path in ("", "/edit"):
        answer = await client.get(f"/firm/internships/offers/{scene.offer.id}{path}")
        assert answer.status_code == 404, path
    token = csrf_of((await client.get("/firm/internships")).text)
    answer = await client.post(
        f"/firm/internships/offers/{scene.offer.id}/status",
        data={"_csrf_token": token, "status": "draft"},
    )
    assert answer.status_code == 404
    await sign_in(client, w.school_b.email)
    for path in ("", "/pupils"):
        answer = await client.get(f"/school/internships/classes/{scene.klass.id}{path}")
        assert answer.status_code == 404, path
    assert ">8a</a>" not in _main((await client.get("/school/internships")).text)


async def test_office_preview_then_confirm_and_the_placements_after(client, scene):
    w = scene.world
    wish = period_of(scene.offer)
    await put_pupils(
        scene.klass.id, pupils([wish], [wish, period_of(scene.other)], []), by=w.school_a
    )
    await sign_in(client, w.admin.email)
    await _language(client, "en")
    answer = await post_form(
        client, "/office/internships/rounds", {"seed": "7"}, from_page="/office/internships"
    )
    assert answer.status_code == 422 and 'href="#f-classes"' in answer.text
    answer = await post_form(
        client,
        "/office/internships/rounds",
        {"classes": str(scene.klass.id), "seed": "7"},
        from_page="/office/internships",
    )
    assert answer.status_code == 303
    path = answer.headers["location"]
    text = _text((await client.get(path)).text)
    assert "Preview" in text and "Name1" in text and "Not placed: no wishes were given." in text
    assert "of 3 pupils placed" in text and "66.7%" in text, _main(text)
    assert f"{FIRM_A} (" in text
    answer = await post_form(client, f"{path}/confirm", {}, from_page=path)
    assert answer.status_code == 303
    text = _text((await client.get(path)).text)
    assert "Confirmed on" in text and "Cancel; offer the place" in text
    # The school sees its results with the reasons; the firm its pupils without ranks.
    await sign_in(client, w.school_a.email)
    await _language(client, "en")
    text = _text((await client.get(f"/school/internships/classes/{scene.klass.id}")).text)
    assert "First wish." in text and "Not placed: no wishes were given." in text
    assert "Feinmechaniker/in" in text  # still free for the unplaced pupil
    await sign_in(client, w.firm_a.email)
    await _language(client, "en")
    text = _text((await client.get("/firm/internships")).text)
    assert "Name1" in text and SCHOOL_A in text and "First wish" not in text
    token = csrf_of(text)
    placed = re.search(r"/firm/internships/placements/(\d+)/confirm", text).group(1)
    answer = await client.post(
        f"/firm/internships/placements/{placed}/confirm",
        data={"_csrf_token": token, "next": "/firm/internships"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "taken by the firm" in (await client.get("/firm/internships")).text
    await sign_in(client, w.firm_b.email)
    assert "Name1" not in (await client.get("/firm/internships")).text
