"""Every refusal in the reader's language, with its figures and names; and a slot that
cannot be booked says why before anyone types."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from outreach.booking.eligibility import Reason
from outreach.calendar.holidays import closures_between
from outreach.errors import Conflict, DomainError, Invalid
from outreach.events.tables import Slot
from outreach.pages.common import error_text
from outreach.pages.i18n import Gettext
from outreach.reasons import TEXTS
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.pages.conftest import give_password, post_form, sign_in

SOURCE = Path(__file__).resolve().parents[2] / "outreach"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_ERRORS = {"DomainError", "Invalid", "Conflict", "Forbidden", "NotFound", "Unauthorised"}
# Words of an English sentence that neither a German nor a Czech sentence uses.
_ENGLISH = re.compile(
    r"\b(the|this|is|not|must|has|have|been|for|and|of|at|cannot|already|only|was|with"
    r"|time|persons|booking|places|holidays?|closed|grades?|password|between)\b",
    re.IGNORECASE,
)


def _raised_reasons(without_params: list[str] | None = None) -> set[str]:
    """Every reason code a service can raise, read from the source as written.

    `without_params` collects the codes raised by hand without the `params` their
    sentence needs (a page could not fill in the figures).
    """
    found: set[str] = {reason.value for reason in Reason}
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "because" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            if name in _ERRORS or name.endswith("Unavailable"):
                given = {keyword.arg for keyword in node.keywords}
                for keyword in node.keywords:
                    if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                        code = keyword.value.value
                        found.add(code)
                        needs = _PLACEHOLDER.search(TEXTS.get(code, ""))
                        if needs and "params" not in given and without_params is not None:
                            without_params.append(f"{path.name}:{node.lineno} {code}")
    return found


def _sample(reason: str) -> dict[str, object]:
    """Parameters for a reason's sentence, each value recognisable in any language."""
    values: dict[str, object] = {}
    for index, name in enumerate(_PLACEHOLDER.findall(TEXTS[reason])):
        if name in ("starts_at", "opens_at", "closes_at"):
            values[name] = datetime(2027, 3, 9, 7, 45, tzinfo=UTC)
        elif name in ("day", "first_day", "last_day"):
            values[name] = date(2027, 3, 9 + index)
        elif name == "holiday":
            values |= {"holiday": "Winterferien", "holiday_en": "Winter break"}
        elif name == "grades":
            values[name] = (9, 10)
        elif name in ("label", "slug", "school_year", "origin", "destination"):
            values[name] = {
                "label": "8c",
                "slug": "os-glashuette",
                "school_year": "2026/27",
                "origin": "Rehn GmbH",
                "destination": "Kaden GmbH",
            }[name]
        elif name == "choices":
            values[name] = ("school", "firm")
        else:
            values[name] = 37 + index
    return values


# Messages with figures or names that only the API can provoke (ids in a JSON body or a
# report's name in its URL): no page form sends them, so they stay English sentences.
_API_ONLY = ("no event ", "no priority ", "no report ")


def test_no_refusal_is_put_together_in_english_without_a_reason_code():
    """A message built from values (an f-string) cannot reach the catalogs: each one a
    page can meet is a reason code with parameters instead."""
    built = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name not in ("Invalid", "Conflict") or not isinstance(first, ast.JoinedStr):
                continue
            if any(keyword.arg == "reason" for keyword in node.keywords):
                continue
            lead = first.values[0]
            text = lead.value if isinstance(lead, ast.Constant) else ""
            if not str(text).startswith(_API_ONLY):
                built.append(f"{path.relative_to(SOURCE)}:{node.lineno} {ast.unparse(first)}")
    assert built == []


def test_every_reason_the_services_raise_has_its_sentence_in_the_catalogue():
    bare: list[str] = []
    raised = _raised_reasons(bare)
    assert len(raised) > 40  # the scan reads the services, not an empty tree
    assert not raised - set(TEXTS), sorted(raised - set(TEXTS))
    assert not bare, bare


@pytest.mark.parametrize("locale", ["de", "cs"])
@pytest.mark.parametrize("reason", sorted(TEXTS))
def test_a_german_or_czech_page_says_every_refusal_in_its_language(reason, locale):
    params = _sample(reason)
    kind = Invalid if reason in ("wrong_grade", "party_too_large") else Conflict
    exc = kind.because(reason, field="slot", **params)
    english = error_text(Gettext("en"), exc)
    said = error_text(Gettext(locale), exc)
    assert said != english and not _ENGLISH.search(said), (locale, said)
    assert "%(" not in said
    for name, value in params.items():
        if isinstance(value, int):
            assert str(value) in said, (name, said)
    if "label" in params:
        assert "8c" in said
    if "holiday" in params:
        # German names the holiday as schools know it, other languages in English.
        assert ("Winterferien" if locale == "de" else "Winter break") in said
    if "day" in params:
        assert {"de": "09.03.2027", "cs": "9. 3. 2027"}[locale] in said
    if "starts_at" in params or "closes_at" in params or "opens_at" in params:
        # 07:45 UTC is 08:45 in Berlin in March.
        assert re.search(r"\b8:45\b|\b08:45\b", said), said


def test_the_api_answers_the_code_the_field_and_the_figures():
    exc = Invalid.because("party_too_large", field="pupils", max=30, persons=502)
    assert exc.to_dict() == {
        "message": "A booking in this time takes at most 30 persons, not 502.",
        "field": "pupils",
        "reason": "party_too_large",
        "params": {"max": 30, "persons": 502},
    }
    moment = Conflict.because(
        "window_closed", field="slot", closes_at=datetime(2027, 1, 4, 11, tzinfo=UTC)
    )
    assert moment.to_dict()["params"] == {"closes_at": "2027-01-04T12:00:00+01:00"}
    assert moment.message == "Booking for this time closed on 04.01.2027 12:00."
    assert DomainError("plain").to_dict() == {"message": "plain"}


# ---------------------------------------------------------------------------
# On the pages themselves


@pytest.fixture
async def world(db):
    world = await make_world()
    for principal in (world.school_a, world.admin):
        await give_password(principal.email)
    return world


_FORM = re.compile(r'<form method="post" action="/school/book/\d+"')


async def test_a_class_too_large_is_refused_in_german_and_czech_with_its_figures(client, world):
    tour = await make_event(world.firm_a)
    slot_id = await make_slot(world.firm_a, tour, max_party=30, capacity=600)
    await sign_in(client, world.school_a.email)
    visit = {"class_label": "8a", "grade": "8", "pupils": "500", "adults": "2"}
    german = await post_form(client, f"/school/book/{slot_id}", visit)
    assert german.status_code == 422
    assert "höchstens 30 Personen, nicht 502" in german.text
    client.cookies.set("lang", "cs")
    czech = await post_form(client, f"/school/book/{slot_id}", visit)
    assert "nejvýše 30 osob, ne 502" in czech.text
    api = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json={"class_label": "8a", "grade": 8, "pupils": 500, "adults": 2},
        headers={"Authorization": f"Bearer {world.tokens['school_a']}"},
    )
    assert api.status_code == 422
    body = api.json()
    assert (body["reason"], body["field"], body["params"]) == (
        "party_too_large",
        "pupils",
        {"max": 30, "persons": 502},
    )


async def test_the_office_reads_slug_rules_in_czech(client, world):
    await sign_in(client, world.admin.email)
    client.cookies.set("lang", "cs")
    form = {"kind": "firm", "slug": "Not A Slug", "name": "Uhrenfabrik"}
    refused = await post_form(client, "/office/organisations", form)
    assert refused.status_code == 422
    assert "Zkratka (slug) musí mít 1 až 64 malých písmen" in refused.text
    await post_form(client, "/office/organisations", {**form, "slug": "uhren"})
    taken = await post_form(client, "/office/organisations", {**form, "slug": "uhren"})
    assert "Organizace se zkratkou uhren už existuje." in taken.text


async def _book_page(client, slot_id: int, query: str = "") -> str:
    response = await client.get(f"/school/book/{slot_id}{query}")
    assert response.status_code == 200
    return response.text


async def test_a_slot_that_cannot_be_booked_says_why_and_shows_no_form(client, world):
    tour = await make_event(world.firm_a, waitlist=False, grades=[8, 9])
    day = school_day(20)
    await sign_in(client, world.school_a.email)

    holiday = closures_between(day, day + timedelta(days=300))[0]
    on_holiday = await make_slot(world.firm_a, tour, starts_at=at(holiday.first_day, 9))
    text = await _book_page(client, on_holiday)
    assert "Dieser Termin ist nicht buchbar" in text and holiday.name in text
    assert "Die Schulen sind geschlossen" in text and not _FORM.search(text)

    begun = await make_slot(world.firm_a, tour, starts_at=at(day, 9))
    started = datetime.now(UTC) - timedelta(minutes=20)
    await Slot.update({Slot.starts_at: started, Slot.ends_at: started + timedelta(hours=1)}).where(
        Slot.id == begun
    )
    text = await _book_page(client, begun)
    assert "hat am" in text and "begonnen und kann nicht mehr gebucht werden" in text
    assert not _FORM.search(text)

    closed = await make_slot(world.firm_a, tour, starts_at=at(day, 10))
    await Slot.update({Slot.booking_closes_at: datetime.now(UTC) - timedelta(days=1)}).where(
        Slot.id == closed
    )
    text = await _book_page(client, closed)
    assert "Die Buchung für diesen Termin endete am" in text and not _FORM.search(text)

    later = await make_slot(world.firm_a, tour, starts_at=at(day, 11))
    opens = datetime.now(UTC) + timedelta(days=3)
    await Slot.update({Slot.booking_opens_at: opens}).where(Slot.id == later)
    client.cookies.set("lang", "cs")
    text = await _book_page(client, later)
    assert "Rezervace na tento termín začíná" in text and not _FORM.search(text)

    full = await make_slot(world.firm_a, tour, starts_at=at(day, 13), capacity=20)
    await Slot.update({Slot.held: 20}).where(Slot.id == full)
    text = await _book_page(client, full)
    assert "Tento termín má volných míst: 0" in text and not _FORM.search(text)

    fits = await make_slot(world.firm_a, tour, starts_at=at(day, 15), min_party=5, max_party=28)
    text = await _book_page(client, fits, "?grade=7")  # the search was for grade 7
    assert "Tato akce je pro ročníky 8, 9, ne pro 7. ročník." in text
    assert not _FORM.search(text)


async def test_the_limits_stand_beside_the_form(client, world):
    tour = await make_event(world.firm_a, grades=[8, 9])
    slot_id = await make_slot(world.firm_a, tour, min_party=5, max_party=28)
    await sign_in(client, world.school_a.email)
    text = await _book_page(client, slot_id, "?grade=8")
    assert _FORM.search(text) and 'id="limits"' in text
    assert "5 bis 28 Personen je Buchung" in text and "Klassenstufen 8, 9" in text
    assert 'name="grade" value="8"' in text or 'value="8"' in text
    assert "nicht buchbar" not in text
    # A full slot whose event keeps a waiting list still takes the booking (it waits).
    waiting = await make_event(world.firm_a, waitlist=True)
    full = await make_slot(world.firm_a, waiting, capacity=20)
    await Slot.update({Slot.held: 20}).where(Slot.id == full)
    assert _FORM.search(await _book_page(client, full))


async def test_the_event_page_says_why_a_time_takes_no_booking(client, world):
    open_day = await make_event(world.firm_a, kind="open_day", waitlist=False)
    later = await make_slot(world.firm_a, open_day, starts_at=at(school_day(20), 10))
    full = await make_slot(world.firm_a, open_day, starts_at=at(school_day(20), 14), capacity=8)
    fine = await make_slot(world.firm_a, open_day, starts_at=at(school_day(21), 10))
    await Slot.update({Slot.booking_opens_at: datetime.now(UTC) + timedelta(days=2)}).where(
        Slot.id == later
    )
    await Slot.update({Slot.held: 8}).where(Slot.id == full)
    text = (await client.get(f"/events/{open_day}")).text
    # Two times take no registration and say why; the third (`fine`) says nothing.
    assert text.count('<br><span class="warn">') == 2
    assert "Die Buchung für diesen Termin beginnt am" in text
    assert "Dieser Termin hat 0 freie Plätze, zu wenige für 1." in text
    czech = (await client.get(f"/events/{open_day}", headers={"Accept-Language": "cs"})).text
    assert (
        "Rezervace na tento termín začíná" in czech
        and "Tento termín má volných míst: 0, to nestačí pro 1." in czech
    )
    assert f'name="slot" value="{fine}"' in text  # offered in the registration form
