"""The pages over HTTP: sign-in, CSRF, isolation, escaping, languages and the main flows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from outreach.booking.tables import Booking
from outreach.events.tables import Slot
from tests.factories import at, class_visit, make_event, make_slot, make_world, school_day
from tests.pages.conftest import PASSWORD, csrf_of, give_password, post_form, sign_in


@pytest.fixture
async def world(db):
    world = await make_world()
    for principal in (world.firm_a, world.firm_b, world.school_a, world.admin):
        await give_password(principal.email)
    return world


async def test_sign_in_and_out(client, world):
    response = await sign_in(client, world.school_a.email)
    assert response.headers["location"] == "/school"
    page = await client.get("/school")
    assert page.status_code == 200
    assert world.school_a.email in page.text
    out = await post_form(client, "/signout", {}, from_page="/school")
    assert out.status_code == 303
    again = await client.get("/school", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/signin?next=")


async def test_sign_in_failure_says_the_same_for_unknown_user_and_wrong_password(client, world):
    wrong = await post_form(client, "/signin", {"email": world.firm_a.email, "password": "nope"})
    unknown = await post_form(
        client, "/signin", {"email": "nobody@test.example", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 400

    def message(html: str) -> str:
        return re.search(r'<div class="error-summary" role="alert".*?</div>', html, re.S).group(0)

    assert message(wrong.text) == message(unknown.text)
    assert "Passwort" in message(wrong.text)  # German by default


async def test_session_cookie_is_http_only_and_lax(client, world):
    response = await sign_in(client, world.admin.email)
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "session" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie


async def test_a_form_post_without_the_csrf_token_is_refused(client, world):
    await client.get("/signin")  # has the CSRF cookie, but does not send the token
    response = await client.post(
        "/signin", data={"email": world.firm_a.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "outreach_session" not in response.headers.get("set-cookie", "")


async def test_the_api_needs_no_csrf_token_and_ignores_the_session(client, world):
    await sign_in(client, world.admin.email)
    # Signed in by cookie, the API still sees an anonymous caller: only bearer tokens count.
    response = await client.get("/api/v1/bookings")
    assert response.status_code == 401


async def test_a_firm_cannot_see_another_firms_attendee_list(client, world):
    event_id = await make_event(world.firm_b, booking_mode="approval")
    await make_slot(world.firm_b, event_id)
    await sign_in(client, world.firm_a.email)
    response = await client.get(f"/firm/events/{event_id}/attendees")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    await sign_in(client, world.firm_b.email)
    assert (await client.get(f"/firm/events/{event_id}/attendees")).status_code == 200


async def test_html_in_titles_is_escaped(client, world):
    from outreach.events.schemas import EventPatch
    from outreach.events.services import update_event

    event_id = await make_event(world.firm_a, kind="open_day")
    await make_slot(world.firm_a, event_id)
    await update_event(event_id, EventPatch(title="<script>alert(1)</script>"), by=world.firm_a)
    for path in ("/", f"/events/{event_id}"):
        html = (await client.get(path)).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_german_by_default_english_and_czech_on_request(client, world):
    german = await client.get("/signin")
    assert '<html lang="de">' in german.text
    assert "Anmelden" in german.text
    english = await client.get("/signin", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text
    czech = await client.get("/signin", headers={"Accept-Language": "cs"})
    assert '<html lang="cs">' in czech.text
    assert "Přihlásit" in czech.text


async def test_the_language_switch_is_remembered(client, world):
    response = await client.get("/language/en?next=/signin", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    page = await client.get("/signin", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in page.text
    evil = await client.get("/language/en?next=//evil.example", follow_redirects=False)
    assert evil.headers["location"] == "/"


async def test_dates_are_formatted_for_the_locale(client, world):
    event_id = await make_event(world.firm_a, kind="open_day")
    day = school_day(20)
    await make_slot(world.firm_a, event_id, starts_at=at(day, 9))
    german = (await client.get(f"/events/{event_id}")).text
    english = (await client.get(f"/events/{event_id}", headers={"Accept-Language": "en"})).text
    assert f"{day.day}. " in german and "09:00" in german
    assert day.strftime("%B") in english and "9:00" in english


async def test_public_registration_with_errors_beside_the_field_then_confirmation(client, world):
    event_id = await make_event(world.firm_a, kind="open_day")
    slot_id = await make_slot(world.firm_a, event_id)
    path = f"/events/{event_id}/register"
    bad = await post_form(
        client,
        path,
        {"slot": slot_id, "name": "", "email": "x@test.example", "persons": "2"},
        from_page=f"/events/{event_id}",
    )
    assert bad.status_code == 422
    assert 'id="f-name-error"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    assert await Booking.count() == 0
    ok = await post_form(
        client,
        path,
        {"slot": slot_id, "name": "Familie Muster", "email": "m@test.example", "persons": "3"},
        from_page=f"/events/{event_id}",
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/confirmation"
    done = await client.get("/confirmation")
    # Without an account the places are held until the address is confirmed.
    assert "Bitte bestätigen Sie Ihre E-Mail-Adresse" in done.text
    assert await Booking.count() == 1


async def test_the_calendar_filters_and_links_the_feed(client, world):
    tour = await make_event(world.firm_a, kind="factory_tour", grades=[8, 9])
    await make_slot(world.firm_a, tour)
    open_day = await make_event(world.firm_b, kind="open_day")
    await make_slot(world.firm_b, open_day)
    html = (await client.get("/?kind=factory_tour&host=firm-a&grade=8")).text
    assert f"/events/{tour}" in html
    assert f"/events/{open_day}" not in html
    assert (
        'href="webcal://outreach.test/feeds/public.ics?kind=factory_tour&amp;host=firm-a&amp;grade=8"'
        in html
    )
    month = await client.get("/?view=month")
    assert month.status_code == 200
    assert '<table class="month"' in month.text


async def test_a_teacher_books_a_class_visit_and_the_firm_confirms_it(client, world):
    event_id = await make_event(world.firm_a, booking_mode="approval", grades=[8])
    slot_id = await make_slot(world.firm_a, event_id)
    await sign_in(client, world.school_a.email)
    search = await client.get("/school/book?grade=8")
    assert f"/school/book/{slot_id}" in search.text
    bad = await post_form(
        client,
        f"/school/book/{slot_id}",
        {"class_label": "8a", "grade": "5", "pupils": "20", "adults": "2"},
    )
    assert bad.status_code == 422 and 'id="f-grade-error"' in bad.text
    booked = await post_form(
        client,
        f"/school/book/{slot_id}",
        {"class_label": "8a", "grade": "8", "pupils": "20", "adults": "2"},
    )
    assert booked.status_code == 303
    booking = await Booking.objects().first()
    assert booking.status == "pending"

    await sign_in(client, world.firm_a.email)
    dashboard = await client.get("/firm")
    assert f'id="pending-{booking.id}"' in dashboard.text
    confirmed = await post_form(
        client, f"/firm/bookings/{booking.id}/confirm", {}, from_page="/firm"
    )
    assert confirmed.status_code == 303
    sheet = await client.get(f"/firm/events/{event_id}/attendees")
    assert "8a" in sheet.text and "break-after" not in sheet.text  # rules live in print.css

    await sign_in(client, world.school_a.email)
    mine = await client.get("/school")
    assert "status-confirmed" in mine.text


async def test_a_slot_in_the_holidays_is_explained_before_booking(client, world):
    from outreach.calendar.holidays import closures_between

    event_id = await make_event(world.firm_a)
    today = school_day(0)
    holiday = next(
        c for c in closures_between(today + timedelta(days=3), today + timedelta(days=300))
    )
    slot_id = await make_slot(world.firm_a, event_id, starts_at=at(holiday.first_day, 9))
    await sign_in(client, world.school_a.email)
    page = await client.get(
        f"/school/book?from={holiday.first_day.isoformat()}&to={holiday.first_day.isoformat()}"
    )
    assert "Nicht für Klassen buchbar" in page.text
    assert holiday.name in page.text
    assert f'href="/school/book/{slot_id}"' not in page.text


async def test_a_teacher_cancels_with_a_reason(client, world):
    from outreach.booking.writes import place_booking

    event_id = await make_event(world.firm_a)
    slot_id = await make_slot(world.firm_a, event_id)
    placed = await place_booking(slot_id, class_visit(), by=world.school_a)
    await sign_in(client, world.school_a.email)
    path = f"/school/bookings/{placed.booking.id}/cancel"
    response = await post_form(client, path, {"reason": "Bus fällt aus"})
    assert response.status_code == 303
    booking = await Booking.objects().first()
    assert booking.status == "cancelled" and booking.reason == "Bus fällt aus"


async def test_a_firm_creates_an_event_and_a_series_of_slots(client, world):
    await sign_in(client, world.firm_a.email)
    created = await post_form(
        client,
        "/firm/events/new",
        {
            "kind": "factory_tour",
            "title": "Uhrwerke von innen",
            "grades": "8, 9",
            "audience": "pupils",
            "visibility": "public",
            "booking_mode": "approval",
            "waitlist": "1",
            "status": "published",
        },
    )
    assert created.status_code == 303, created.text
    event_path = created.headers["location"]
    event_id = int(event_path.rsplit("/", 1)[1])
    form = (await client.get(f"/firm/events/{event_id}/series")).text
    assert 'name="weekdays"' in form and " checked" not in form  # no day chosen for the host
    first = school_day(10)
    values = {
        "first_day": first.isoformat(),
        "last_day": (first + timedelta(days=13)).isoformat(),
        "weekdays": ["1", "3"],
        "times": "09:00, 13:00",
        "minutes": "90",
        "capacity": "30",
        "min_party": "1",
    }
    # First the preview: every time listed, nothing written yet.
    preview = await post_form(client, f"/firm/events/{event_id}/series", values)
    assert preview.status_code == 200, preview.text
    days = preview.text.split('class="series-days"')[1].split("</ul>")[0]
    listed = re.findall(r"<li>([^<]*)</li>", days)
    assert await Slot.count().where(Slot.event == event_id) == 0
    response = await post_form(
        client, f"/firm/events/{event_id}/series", {**values, "step": "create"}
    )
    assert response.status_code == 303, response.text
    slots = await Slot.objects().where(Slot.event == event_id)
    assert slots and all(s.starts_at.weekday() in (1, 3) for s in slots)
    assert len(slots) == 2 * len(listed)  # two start times on each day listed
    assert f"Termine, die angelegt werden: {len(slots)}" in preview.text
    bad = await post_form(
        client,
        f"/firm/events/{event_id}/series",
        {"first_day": first.isoformat(), "last_day": first.isoformat(), "times": "9 Uhr"},
    )
    assert bad.status_code == 422


async def test_an_invitation_lets_the_person_set_a_password(client, world):
    from outreach.accounts.tables import User

    await sign_in(client, world.admin.email)
    response = await post_form(
        client,
        "/office/users",
        {"email": "neu@test.example", "role": "school", "org": "school-a", "language": "en"},
    )
    assert response.status_code == 303, response.text
    user = await User.objects().where(User.email == "neu@test.example").first()
    assert user.password_hash is None
    from outreach.config import get_settings
    from outreach.notifications.transports import list_stored_mails, read_stored_mail

    names = list_stored_mails(get_settings())
    from email import message_from_bytes, policy

    mail = "".join(
        message_from_bytes(read_stored_mail(get_settings(), n), policy=policy.default)
        .get_body()
        .get_content()
        for n in names
    )
    link = re.search(r"http://outreach\.test(/password/set\?token=[^\s]+)", mail)
    assert link, mail
    await post_form(client, "/signout", {}, from_page="/")
    form = await client.get(link.group(1))
    assert form.status_code == 200
    done = await client.post(
        "/password/set",
        data={
            "token": link.group(1).split("token=")[1],
            "password": "brand-new-password",
            "password2": "brand-new-password",
            "_csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    # The link dies with its use: the password hash it was made for is gone.
    assert (await client.get(link.group(1))).status_code == 404


async def test_the_reminder_link_shows_on_get_and_acts_on_post(client, world):
    from outreach.booking.writes import place_booking
    from outreach.config import get_settings
    from outreach.links import respond_token

    event_id = await make_event(world.firm_a, kind="open_day")
    slot_id = await make_slot(world.firm_a, event_id)
    from tests.factories import registration

    placed = await place_booking(slot_id, registration(2, world.school_b.email), by=world.school_b)
    booking_id = placed.booking.id
    token = respond_token(get_settings(), booking_id)
    path = f"/bookings/{booking_id}/respond?token={token}"
    assert (await client.get(f"/bookings/{booking_id}/respond?token=wrong")).status_code == 404
    page = await client.get(path)
    assert page.status_code == 200
    assert (await Booking.objects().first()).status == "confirmed"
    response = await client.post(
        f"/bookings/{booking_id}/respond",
        data={"token": token, "answer": "cancel", "_csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert (await Booking.objects().first()).status == "cancelled"


@pytest.mark.parametrize(
    "path",
    [
        "/office",
        "/office/organisations",
        "/office/users",
        "/office/events",
        "/office/bookings",
        "/office/notifications",
        "/office/mails",
        "/office/holidays",
    ],
)
async def test_office_pages_open_for_the_office_only(client, world, path):
    await sign_in(client, world.firm_a.email)
    assert (await client.get(path)).status_code == 403
    await sign_in(client, world.admin.email)
    response = await client.get(path)
    assert response.status_code == 200, response.text


async def test_unknown_paths_answer_a_page_to_browsers_and_json_to_the_api(client, world):
    page = await client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    api = await client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")


async def test_the_event_page_and_its_calendar_file_share_the_path(client, world):
    event_id = await make_event(world.firm_a, kind="open_day")
    await make_slot(world.firm_a, event_id)
    assert (await client.get(f"/events/{event_id}")).status_code == 200
    ics = await client.get(f"/events/{event_id}.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert (await client.get("/events/nonsense")).status_code == 404


async def test_slot_forms_show_the_refusal_beside_the_field(client, world):
    from outreach.booking.writes import place_booking

    event_id = await make_event(world.firm_a)
    slot_id = await make_slot(world.firm_a, event_id, capacity=30)
    await place_booking(slot_id, class_visit(pupils=20, adults=2), by=world.school_a)
    await sign_in(client, world.firm_a.email)
    day = school_day(20).isoformat()
    bad_new = await post_form(
        client,
        f"/firm/events/{event_id}/slots/new",
        {"day": day, "start": "10:00", "end": "09:00", "capacity": "20"},
    )
    assert bad_new.status_code == 422 and 'id="f-end-error"' in bad_new.text
    below_booked = await post_form(
        client,
        f"/firm/slots/{slot_id}/edit",
        {"day": day, "start": "09:00", "end": "10:30", "capacity": "10"},
    )
    assert below_booked.status_code == 422 and 'id="f-capacity-error"' in below_booked.text
    assert (await Slot.objects().where(Slot.id == slot_id).first()).capacity == 30


async def test_the_attendee_list_prints_only_booked_times_and_names_the_host_once(client, world):
    from outreach.booking.writes import place_booking
    from outreach.organisations.tables import Organisation

    event_id = await make_event(world.firm_a)  # its venue: the firm's own premises
    day = school_day()
    booked = await make_slot(world.firm_a, event_id, starts_at=at(day, 9))
    empty = [await make_slot(world.firm_a, event_id, starts_at=at(day, h)) for h in (11, 13)]
    await place_booking(booked, class_visit("9c"), by=world.school_a)
    host = await Organisation.select(Organisation.name).where(Organisation.slug == "firm-a").first()
    await sign_in(client, world.firm_a.email)

    sheet = (await client.get(f"/firm/events/{event_id}/attendees")).text
    sheets = re.findall(r'<section class="sheet".*?</section>', sheet, re.S)
    assert len(sheets) == 1 and f'id="sheet-{booked}"' in sheets[0] and "9c" in sheets[0]
    assert sheets[0].count(host["name"]) == 1
    # The empty times are listed on screen only, outside every printed sheet.
    rest = re.search(
        r'<section class="no-print" aria-labelledby="empty-times">.*?</section>', sheet, re.S
    )
    assert rest and rest.group(0).count("<li>") == len(empty)

    nothing = await make_event(world.firm_a)
    await make_slot(world.firm_a, nothing)
    page = (await client.get(f"/firm/events/{nothing}/attendees")).text
    assert 'class="sheet"' not in page and "Termine ohne Buchungen" in page


async def test_the_series_preview_names_each_skipped_holiday_in_the_readers_language(client, world):
    from outreach.calendar.holidays import closures_between

    event_id = await make_event(world.firm_a)
    today = school_day(0)
    closure = next(
        c
        for c in closures_between(today + timedelta(days=3), today + timedelta(days=300))
        if c.first_day.weekday() < 5
    )
    await sign_in(client, world.firm_a.email)
    values = {
        "first_day": (closure.first_day - timedelta(days=7)).isoformat(),
        "last_day": closure.first_day.isoformat(),
        "weekdays": [str(closure.first_day.weekday())],
        "times": "10:00",
        "minutes": "60",
        "capacity": "20",
        "min_party": "1",
    }
    german = await post_form(client, f"/firm/events/{event_id}/series", values)
    skipped = german.text.split('class="series-skipped"')[1].split("</ul>")[0]
    assert closure.name in skipped
    assert "Termine, die angelegt werden: 1" in german.text
    client.cookies.set("lang", "en")
    english = await post_form(client, f"/firm/events/{event_id}/series", values)
    assert closure.name_en in english.text.split('class="series-skipped"')[1]
    assert await Slot.count().where(Slot.event == event_id) == 0
