"""Internship placements through the services: offers, classes, wishes, rounds,
placements; bad input stores nothing; firms and schools see only their own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.audit.tables import AuditEntry
from outreach.errors import Conflict, Forbidden, Invalid, NotFound
from outreach.internships import classes, offers, placements, rounds, wishes
from outreach.internships.schemas import (
    ClassPeriodIn,
    OfferIn,
    OfferPeriodIn,
    PlacementAttendanceIn,
    PupilIn,
    RoundIn,
)
from outreach.internships.tables import ClassPeriod, Pupil, Round, Wish
from outreach.timeutil import utcnow
from tests.factories import make_world
from tests.internships.helpers import (
    class_dates,
    make_class,
    make_offer,
    notices,
    period_of,
    pupils,
)


@pytest.fixture
async def world(db):
    return await make_world()


async def test_a_round_is_previewed_confirmed_and_told_once_per_class_and_firm(world):
    a = await make_offer(world.firm_a, places=1)
    b = await make_offer(world.firm_b, places=2, occupation="Feinwerkmechaniker")
    klass = await make_class(world.school_a)
    put = await wishes.put_pupils(
        klass.id,
        pupils([period_of(a), period_of(b)], [period_of(a), period_of(b)], [period_of(b)]),
        by=world.school_a,
    )
    assert [(p.code, p.first_name, len(p.wishes)) for p in put] == [
        ("P1", "Name1", 2),
        ("P2", "Name2", 2),
        ("P3", "Name3", 1),
    ]
    preview = await rounds.preview_round(RoundIn(classes=[klass.id], seed=7), by=world.admin)
    assert preview.status == "preview" and preview.seed == 7
    assert len(preview.placements) == 3 and preview.unplaced == []
    ranks = sorted(p.rank for p in preview.placements)
    assert ranks == [1, 1, 2]  # one of the two first wishes for firm A (1 place) moves on
    second = next(p for p in preview.placements if p.rank == 2)
    assert second.reason == "second_wish"
    assert second.message == "Second wish: the first had 1 places for 2 wishes."
    # The same seed gives the same allocation.
    again = await rounds.preview_round(RoundIn(classes=[klass.id], seed=7), by=world.admin)
    assert [(p.pupil, p.offer_period) for p in again.placements] == [
        (p.pupil, p.offer_period) for p in preview.placements
    ]
    await rounds.discard_round(again.id, by=world.admin)
    assert await notices() == []  # a preview tells nobody
    done = await rounds.confirm_round(preview.id, by=world.admin)
    assert done.status == "confirmed" and done.confirmed_at is not None
    assert sorted(await notices()) == sorted(
        [
            ("internship.class_results", world.school_a.email),
            ("internship.firm_placements", world.firm_a.email),
            ("internship.firm_placements", world.firm_b.email),
        ]
    )
    with pytest.raises(Conflict) as refused:
        await rounds.confirm_round(preview.id, by=world.admin)
    assert refused.value.reason == "round_status"
    # The office's acts are in the audit log.
    logged = await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)
    assert [e["action"] for e in logged][-4:] == [
        "internship_round.preview",
        "internship_round.preview",
        "internship_round.discard",
        "internship_round.confirm",
    ]
    # The offers count the confirmed places.
    [shown] = [o for o in await offers.list_offers(by=world.school_b) if o.id == a.id]
    assert shown.periods[0].free == 0


async def test_only_the_office_runs_rounds(world):
    klass = await make_class(world.school_a)
    for who in (world.school_a, world.firm_a):
        with pytest.raises(Forbidden):
            await rounds.preview_round(RoundIn(classes=[klass.id]), by=who)
    assert await Round.count() == 0


async def test_the_office_sees_reasons_and_free_offers_for_unplaced_pupils(world):
    a = await make_offer(world.firm_a, places=1)
    b = await make_offer(world.firm_b, places=3)
    klass = await make_class(world.school_a)
    await wishes.put_pupils(klass.id, pupils([period_of(a)], [period_of(a)], []), by=world.school_a)
    result = await rounds.preview_round(RoundIn(classes=[klass.id], seed=1), by=world.admin)
    reasons = sorted(u.reason for u in result.unplaced)
    assert reasons == ["no_wishes", "wishes_full"]
    for u in result.unplaced:
        assert u.free == [period_of(b)]
    grade_7 = await make_class(world.school_a, grade=7, label="7a")
    await wishes.put_pupils(grade_7.id, pupils([]), by=world.school_a)
    alone = await rounds.preview_round(RoundIn(classes=[grade_7.id], seed=1), by=world.admin)
    [u] = alone.unplaced
    assert u.reason == "no_fitting_offer" and u.message.startswith(
        "Not placed: no offer for grade 7"
    )


async def _refused(world, klass, data) -> Invalid:
    with pytest.raises(Invalid) as refused:
        await wishes.put_pupils(klass.id, data, by=world.school_a)
    assert await Pupil.count() == 0 and await Wish.count() == 0  # nothing stored
    return refused.value


async def test_bad_wishes_are_refused_naming_the_pupil_and_field_and_nothing_is_stored(world):
    a = await make_offer(world.firm_a)
    b = await make_offer(world.firm_a, occupation="Mikrotechnologe")
    c = await make_offer(world.firm_b, occupation="Zerspanungsmechaniker")
    d = await make_offer(world.firm_b, occupation="Industriemechaniker")
    draft = await make_offer(world.firm_b, status="draft")
    grade_10 = await make_offer(world.firm_b, grades=(10,))
    klass = await make_class(world.school_a)
    ok = [period_of(a)]
    unknown = await _refused(world, klass, pupils(ok, [999_999]))
    assert (unknown.field, unknown.reason) == ("pupils[1].wishes", "unknown_offer_period")
    assert unknown.params == {"id": 999_999}
    hidden = await _refused(world, klass, pupils([period_of(draft)]))
    assert (hidden.field, hidden.reason) == ("pupils[0].wishes", "unknown_offer_period")
    four = [period_of(o) for o in (a, b, c, d)]
    fourth = await _refused(world, klass, pupils(ok, ok, four))
    assert (fourth.field, fourth.reason, fourth.params) == (
        "pupils[2].wishes",
        "too_many_wishes",
        {"max": 3},
    )
    wrong = await _refused(world, klass, pupils([period_of(grade_10)]))
    assert (wrong.field, wrong.reason) == ("pupils[0].wishes", "wish_does_not_fit")
    twice = await _refused(world, klass, [PupilIn(code="X"), PupilIn(code="Y"), PupilIn(code="X")])
    assert (twice.field, twice.reason) == ("pupils[2].code", "duplicate_code")
    same = await _refused(world, klass, pupils([period_of(a), period_of(a)]))
    assert (same.field, same.reason) == ("pupils[0].wishes", "duplicate_wish")
    # Every refusal of one list is found at once (a form shows each beside its field).
    both = await _refused(world, klass, pupils([999_999], four))
    assert [e.field for e in both.every] == ["pupils[0].wishes", "pupils[1].wishes"]


async def test_wishes_close_at_the_deadline_for_the_school(world):
    a = await make_offer(world.firm_a)
    klass = await make_class(world.school_a)
    late = utcnow() + timedelta(days=(klass.wishes_until - utcnow().date()).days + 1)
    with pytest.raises(Invalid) as refused:
        await wishes.put_pupils(klass.id, pupils([period_of(a)]), by=world.school_a, now=late)
    assert (refused.value.field, refused.value.reason) == ("wishes_until", "wishes_closed")
    assert await Pupil.count() == 0
    # The office may still correct the list.
    assert len(await wishes.put_pupils(klass.id, pupils([]), by=world.admin, now=late)) == 1


async def test_a_replaced_list_replaces_the_pupils_and_wishes(world):
    a = await make_offer(world.firm_a)
    klass = await make_class(world.school_a)
    await wishes.put_pupils(klass.id, pupils([period_of(a)], []), by=world.school_a)
    now = await wishes.put_pupils(klass.id, pupils([], prefix="Q"), by=world.school_a)
    assert [p.code for p in now] == ["Q1"]
    assert await Pupil.count() == 1 and await Wish.count() == 0


async def test_bad_class_periods_are_refused_naming_the_field(world):
    first, last = class_dates()
    today = utcnow().date()

    async def refused(**change) -> Invalid:
        data = {"class_label": "8a", "grade": 8, "starts_on": first, "ends_on": last} | change
        with pytest.raises(Invalid) as caught:
            await classes.create_class_period(ClassPeriodIn(**data), by=world.school_a)
        return caught.value

    past = await refused(starts_on=today - timedelta(days=3), ends_on=today + timedelta(days=5))
    assert (past.field, past.reason) == ("starts_on", "in_the_past")
    backwards = await refused(ends_on=first - timedelta(days=1))
    assert (backwards.field, backwards.reason) == ("ends_on", "ends_before_starts")
    grade = await refused(grade=42)
    assert (grade.field, grade.reason, grade.params) == (
        "grade",
        "out_of_range",
        {"min": 5, "max": 13},
    )
    assert await ClassPeriod.count() == 0
    with pytest.raises(Forbidden):
        await classes.create_class_period(
            ClassPeriodIn(class_label="8a", grade=8, starts_on=first, ends_on=last),
            by=world.firm_a,
        )


async def test_the_period_counts_working_days_without_weekends_and_holidays(world):
    klass = await make_class(world.school_a)
    days = await classes.class_days(klass.id, by=world.school_a)
    assert len(days) == 12
    assert [d.kind for d in days[5:7]] == ["weekend", "weekend"]
    assert klass.working_days == sum(1 for d in days if d.kind == "working_day") <= 10
    with pytest.raises(NotFound):
        await classes.class_days(klass.id, by=world.school_b)


async def test_offers_firm_own_admin_for_a_firm_public_sees_published(world):
    mine = await make_offer(world.firm_a)
    assert mine.host == "firm-a" and mine.periods[0].free == 2
    by_office = await make_offer(world.admin, host="firm-b", status="draft")
    assert by_office.host == "firm-b" and by_office.status == "draft"
    with pytest.raises(Invalid) as no_host:
        await make_offer(world.admin)
    assert no_host.value.field == "host"
    with pytest.raises(Forbidden):
        await make_offer(world.school_a)
    listed = await offers.list_offers(by=world.school_a)
    assert [o.id for o in listed] == [mine.id]
    assert await offers.list_offers(by=world.school_a, grade=12) == []
    assert [o.id for o in await offers.list_offers(by=world.school_a, host="firm-b")] == []
    assert {o.id for o in await offers.offers_of_host(by=world.firm_b)} == {by_office.id}
    published = await offers.set_offer_status(by_office.id, "published", by=world.firm_b)
    assert published.status == "published"
    with pytest.raises(NotFound):
        await offers.set_offer_status(by_office.id, "draft", by=world.firm_a)
    first, _ = class_dates()
    with pytest.raises(Invalid) as past:
        await offers.create_offer(
            OfferIn(
                occupation="Uhrmacher",
                grades=[8],
                periods=[
                    OfferPeriodIn(starts_on=first, ends_on=first, places=1),
                    OfferPeriodIn(
                        starts_on=utcnow().date() - timedelta(days=2), ends_on=first, places=1
                    ),
                ],
            ),
            by=world.firm_a,
        )
    assert (past.value.field, past.value.reason) == ("periods[1].starts_on", "in_the_past")


async def _confirmed_round(world, offer, *codes_wishes, school=None, label="8a"):
    klass = await make_class(school or world.school_a, label=label)
    await wishes.put_pupils(klass.id, pupils(*codes_wishes), by=school or world.school_a)
    preview = await rounds.preview_round(RoundIn(classes=[klass.id], seed=3), by=world.admin)
    return klass, await rounds.confirm_round(preview.id, by=world.admin)


async def test_firms_and_schools_see_only_their_own_placements(world):
    a = await make_offer(world.firm_a)
    b = await make_offer(world.firm_b)
    _, first = await _confirmed_round(world, a, [period_of(a), period_of(b)])
    _, second = await _confirmed_round(
        world, b, [period_of(b), period_of(a)], school=world.school_b, label="8b"
    )
    seen_a = await placements.list_placements(by=world.firm_a)
    assert {p.host for p in seen_a} == {"firm-a"}
    assert all(p.rank is None and p.reason is None and p.code is None for p in seen_a)
    assert {p.school for p in await placements.list_placements(by=world.school_a)} == {"school-a"}
    school_view = await placements.list_placements(by=world.school_a)
    assert school_view[0].rank == 1 and school_view[0].code == "P1"
    assert len(await placements.list_placements(by=world.admin)) == 2
    assert await placements.list_placements(by=world.school_b, round_id=first.id) == []
    # Firm A never learns how school B's pupil ranked it, nor the pupils' wish lists.
    with pytest.raises(NotFound):
        await wishes.pupils_of_class(second.classes[0], by=world.firm_a)
    with pytest.raises(NotFound):
        await wishes.pupils_of_class(second.classes[0], by=world.school_a)
    with pytest.raises(NotFound):
        await wishes.put_pupils(second.classes[0], [], by=world.school_a)
    # A preview is the office's: no school or firm sees it.
    a2 = await make_class(world.school_a, label="8c")
    await wishes.put_pupils(a2.id, pupils([period_of(a)]), by=world.school_a)
    preview = await rounds.preview_round(RoundIn(classes=[a2.id]), by=world.admin)
    assert await placements.list_placements(by=world.firm_a, round_id=preview.id) == []


async def test_cancelling_hands_the_place_to_the_next_wish_in_line(world):
    a = await make_offer(world.firm_a, places=1)
    _, done = await _confirmed_round(world, a, [period_of(a)], [period_of(a)])
    [at_a] = done.placements
    [waiting] = done.unplaced
    assert waiting.reason == "wishes_full"
    with pytest.raises(NotFound):
        await placements.cancel_placement(at_a.placement, by=world.firm_b)
    with pytest.raises(NotFound):
        await placements.cancel_placement(at_a.placement, by=world.school_b)
    told = len(await notices())
    cancelled = await placements.cancel_placement(at_a.placement, by=world.school_a)
    assert cancelled.status == "cancelled"
    after = await rounds.get_round(done.id, by=world.admin)
    moved = next(p for p in after.placements if p.pupil == waiting.pupil)
    assert (moved.offer_period, moved.rank, moved.reason, moved.status) == (
        period_of(a),
        1,
        "next_in_line",
        "placed",
    )
    assert after.unplaced == []
    kinds = [k for k, _ in (await notices())[told:]]
    assert kinds.count("internship.cancelled") == 2  # teacher and firm A
    assert kinds.count("internship.next_in_line") == 2  # teacher and firm A
    with pytest.raises(Conflict):
        await placements.cancel_placement(at_a.placement, by=world.admin)
    # The place is taken again: nobody else is in line, and the offer shows none free.
    [shown] = await offers.list_offers(by=world.school_a)
    assert shown.periods[0].free == 0


async def test_capacity_holds_across_rounds(world):
    a = await make_offer(world.firm_a, places=1)
    one = await make_class(world.school_a, label="8a")
    two = await make_class(world.school_b, label="8b")
    await wishes.put_pupils(one.id, pupils([period_of(a)]), by=world.school_a)
    await wishes.put_pupils(two.id, pupils([period_of(a)]), by=world.school_b)
    p1 = await rounds.preview_round(RoundIn(classes=[one.id], seed=1), by=world.admin)
    p2 = await rounds.preview_round(RoundIn(classes=[two.id], seed=1), by=world.admin)
    assert len(p1.placements) == len(p2.placements) == 1  # previews do not hold places
    await rounds.confirm_round(p1.id, by=world.admin)
    with pytest.raises(Conflict) as full:
        await rounds.confirm_round(p2.id, by=world.admin)
    assert full.value.reason == "over_capacity"
    assert full.value.params == {"id": period_of(a), "free": 0, "placed": 1}
    p3 = await rounds.preview_round(RoundIn(classes=[two.id], seed=1), by=world.admin)
    assert p3.placements == [] and p3.unplaced[0].reason == "wishes_full"
    with pytest.raises(Conflict) as again:
        await rounds.preview_round(RoundIn(classes=[one.id]), by=world.admin)
    assert again.value.reason == "class_in_round"
    with pytest.raises(Conflict):
        await wishes.put_pupils(one.id, [], by=world.admin)


async def test_the_firm_confirms_and_records_attendance_after_the_period(world):
    a = await make_offer(world.firm_a)
    klass, done = await _confirmed_round(world, a, [period_of(a)])
    [placed] = done.placements
    confirmed = await placements.confirm_placement(placed.placement, by=world.firm_a)
    assert confirmed.status == "confirmed_by_firm"
    with pytest.raises(NotFound):
        await placements.confirm_placement(placed.placement, by=world.school_a)
    early = PlacementAttendanceIn(days_attended=5, apprenticeship_offered=True)
    with pytest.raises(Conflict) as refused:
        await placements.record_attendance(placed.placement, early, by=world.firm_a)
    assert refused.value.reason == "internship_not_over"
    after = utcnow() + timedelta(days=(klass.ends_on - utcnow().date()).days + 1)
    with pytest.raises(Invalid) as too_many:
        await placements.record_attendance(
            placed.placement, PlacementAttendanceIn(days_attended=11), by=world.firm_a, now=after
        )
    assert too_many.value.params == {"max": klass.working_days}
    done = await placements.record_attendance(placed.placement, early, by=world.firm_a, now=after)
    assert (done.days_attended, done.apprenticeship_offered) == (5, True)


async def test_the_scheduler_previews_classes_whose_wishes_are_due_once(world):
    a = await make_offer(world.firm_a)
    klass = await make_class(world.school_a)
    await make_class(world.school_a, label="8z")  # no pupils: nothing to allocate
    await wishes.put_pupils(klass.id, pupils([period_of(a)]), by=world.school_a)
    assert await rounds.allocate_due_rounds() is None  # not due yet
    due = utcnow() + timedelta(days=(klass.wishes_until - utcnow().date()).days + 1)
    round_id = await rounds.allocate_due_rounds(due)
    assert round_id is not None
    shown = await rounds.get_round(round_id, by=world.admin)
    assert shown.status == "preview" and shown.classes == [klass.id]
    assert await rounds.allocate_due_rounds(due) is None


async def test_first_names_are_anonymised_with_the_bookings_retention(world):
    a = await make_offer(world.firm_a)
    klass, _ = await _confirmed_round(world, a, [period_of(a)])
    assert await classes.anonymise_pupils() == 0
    later = utcnow() + timedelta(days=(klass.ends_on - utcnow().date()).days + 367)
    assert await classes.anonymise_pupils(now=later) == 1
    [row] = await Pupil.select(Pupil.first_name, Pupil.code, Pupil.anonymised_at)
    assert row["first_name"] == "" and row["code"] == "P1" and row["anonymised_at"]
    assert await classes.anonymise_pupils(now=later) == 0
    [shown] = await placements.list_placements(by=world.admin)
    assert shown.first_name == ""
