"""Every refused form says every error at once: beside each field and in one summary above
the form (the GOV.UK pattern) whose links lead to the fields, with the values kept.

The summary comes from one place (`FormErrors` filled by `handle_form`, drawn by the
`error_summary` macro of the base template), so these forms stand for the others; the
browser test (tests/e2e/test_forms.py) checks that the summary takes the focus.
"""

from __future__ import annotations

import html as htmllib
import re

import pytest

from outreach.errors import Invalid, together
from outreach.events.schemas import SlotIn
from outreach.pages.common import Checks, FormErrors, convert
from tests.factories import make_event, make_slot, make_world
from tests.pages.conftest import give_password, post_form, sign_in

_SUMMARY = re.compile(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', re.S)
_LINK = re.compile(r'<a href="#([^"]+)">([^<]+)</a>')


@pytest.fixture
async def world(db):
    world = await make_world()
    for principal in (world.firm_a, world.school_a):
        await give_password(principal.email)
    return world


def summary_of(page: str) -> dict[str, str]:
    """The summary's links (target id -> text); each target is a field of the page that
    is marked invalid and described by the message beside it, which the summary repeats
    after the field's label."""
    found = _SUMMARY.search(page)
    assert found, "no error summary"
    assert 'tabindex="-1"' in found.group(0) and "autofocus" in found.group(0)
    assert 'aria-labelledby="error-summary-title"' in found.group(0)
    links = dict(_LINK.findall(found.group(1)))
    for target, text in links.items():
        tag = re.search(rf'<(input|select|textarea)[^>]*\bid="{target}"[^>]*>', page)
        assert tag, f"the summary links to #{target}, which is no field of the page"
        name = target.removeprefix("f-")
        assert 'aria-invalid="true"' in tag.group(0), target
        # A group of boxes is described on its fieldset (`_macros.choices`), a field on itself.
        if not re.search(r'type="(checkbox|radio)"', tag.group(0)):
            assert f"f-{name}-error" in tag.group(0), f"#{target} is not described by its error"
        beside = re.search(rf'<p class="error" id="f-{name}-error">([^<]+)</p>', page)
        assert beside, target
        # The summary names the field by its label (a field drawn by a macro), then says
        # what is said beside it.
        said = htmllib.unescape(beside.group(1))
        assert htmllib.unescape(text).endswith(said), target
    return {target: htmllib.unescape(text) for target, text in links.items()}


async def test_a_class_visit_sent_empty_names_every_missing_field_at_once(client, world):
    event_id = await make_event(world.firm_a)
    slot_id = await make_slot(world.firm_a, event_id)
    await sign_in(client, world.school_a.email)
    path = f"/school/book/{slot_id}"
    answer = await post_form(
        client, path, {"class_label": "", "grade": "", "pupils": "", "notes": "kept"}
    )
    assert answer.status_code == 422
    links = summary_of(answer.text)
    assert list(links) == ["f-class_label", "f-grade", "f-pupils"]  # in the form's order
    assert links["f-pupils"] == "Anzahl Schüler*innen: Bitte füllen Sie dieses Feld aus."
    assert "<title>Fehler: " in answer.text
    assert ">kept</textarea>" in answer.text


async def test_a_new_event_with_two_bad_values_shows_both_and_keeps_the_rest(client, world):
    await sign_in(client, world.firm_a.email)
    answer = await post_form(
        client,
        "/firm/events/new",
        {
            "kind": "factory_tour",
            "title": "",
            "grades": "8, 99",
            "visibility": "public",
            "booking_mode": "auto",
            "status": "draft",
            "venue_city": "Glashütte",
        },
    )
    assert answer.status_code == 422
    assert list(summary_of(answer.text)) == ["f-title", "f-grades"]
    assert 'value="8, 99"' in answer.text and 'value="Glashütte"' in answer.text


async def test_a_time_without_day_end_and_places_is_refused_on_all_three(client, world):
    event_id = await make_event(world.firm_a)
    await sign_in(client, world.firm_a.email)
    path = f"/firm/events/{event_id}/slots/new"
    answer = await post_form(
        client, path, {"day": "", "start": "09:00", "end": "", "capacity": "0"}
    )
    assert answer.status_code == 422
    assert list(summary_of(answer.text)) == ["f-day", "f-end", "f-capacity"]
    assert 'value="09:00"' in answer.text


async def test_a_registration_sent_empty_names_name_email_and_persons(client, world):
    event_id = await make_event(world.firm_a, kind="open_day")
    await make_slot(world.firm_a, event_id)
    answer = await post_form(
        client,
        f"/events/{event_id}/register",
        {"name": "", "email": "", "persons": ""},
        from_page=f"/events/{event_id}",
    )
    assert answer.status_code == 422
    assert set(summary_of(answer.text)) == {"f-slot", "f-name", "f-email", "f-persons"}


async def test_deleting_the_account_without_password_and_tick_says_both(client, world):
    await sign_in(client, world.school_a.email)
    answer = await post_form(client, "/account/delete", {}, from_page="/account")
    assert answer.status_code == 422
    assert list(summary_of(answer.text)) == ["f-password", "f-understood"]


async def test_a_refusal_of_no_field_is_in_the_summary_without_a_link(client, world):
    answer = await post_form(client, "/signin", {"email": "nobody@test.example", "password": "x"})
    found = _SUMMARY.search(answer.text)
    assert found and "<a " not in found.group(1)
    assert "Passwort" in found.group(1)


def test_convert_names_every_bad_field_and_checks_add_their_own():
    checks = Checks()
    checks.take(lambda: (_ for _ in ()).throw(Invalid("give the day", field="starts_at")))
    with pytest.raises(Invalid) as raised:
        checks.finish({"capacity": "0", "min_party": "x"}, SlotIn)
    fields = [each.field for each in raised.value.every]
    # starts_at refused by the page's own check is not refused again as missing.
    assert fields == ["starts_at", "ends_at", "capacity", "min_party"]
    assert raised.value.every[1].reason == "required"
    with pytest.raises(Invalid) as single:
        convert({"starts_at": "2030-01-01T09:00:00+01:00"}, SlotIn)
    assert [each.field for each in single.value.every] == ["ends_at", "capacity"]


def test_form_errors_keep_the_first_message_per_field_in_the_forms_order():
    errors = FormErrors()
    first = Invalid("a", field="b")
    together([first, Invalid("c", field="b"), Invalid("d", field="a"), Invalid("e")])
    errors.add(first, None, text=lambda exc: exc.message)
    ordered = errors.in_order_of(["a", "b"])
    assert ordered.summary == [(None, "e"), ("a", "d"), ("b", "a")]


async def test_signing_in_with_both_fields_empty_names_both(client, world):
    answer = await post_form(client, "/signin", {"email": "", "password": ""})
    assert answer.status_code == 422
    assert list(summary_of(answer.text)) == ["f-email", "f-password"]
