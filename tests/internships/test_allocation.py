"""The internship allocation (pure, no database): exact, fair, reproducible, explained."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.internships.allocation import (
    Allocation,
    OfferPeriod,
    Outcome,
    Pupil,
    allocate,
    exhaustive_optimum,
    first_come_first_served,
    fits,
    lottery_order,
    new_seed,
    next_in_line,
)

MONDAY = date(2027, 3, 1)


def period(pid: int, places: int, grades=(8, 9, 10), start=0, days=11) -> OfferPeriod:
    starts_on = MONDAY + timedelta(days=start)
    return OfferPeriod(
        id=pid,
        offer_id=pid // 10,
        grades=frozenset(grades),
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=days),
        places=places,
    )


def pupil(pid: int, *wishes: int, grade=9, start=0, days=11) -> Pupil:
    starts_on = MONDAY + timedelta(days=start)
    return Pupil(
        id=pid,
        grade=grade,
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=days),
        wishes=wishes,
    )


def seeds_where(first_wins: bool, pupils) -> int:
    """A seed whose lottery puts pupils[0] first (or not)."""
    for seed in range(100):
        if (lottery_order(pupils, seed)[0] == pupils[0].id) == first_wins:
            return seed
    raise AssertionError("no such seed in 100")


# --- exact and fair, against brute force --------------------------------------------------


@st.composite
def rounds(draw):
    periods = [
        period(
            pid,
            places=draw(st.integers(0, 3)),
            grades=draw(st.sampled_from([(8,), (9,), (8, 9)])),
            start=draw(st.sampled_from([0, 7])),
            days=draw(st.sampled_from([4, 11])),
        )
        for pid in range(1, draw(st.integers(1, 4)) + 1)
    ]
    ids = [p.id for p in periods] + [99]  # 99: no such offer period (ignored)
    pupils = [
        pupil(
            100 + n,
            *draw(st.lists(st.sampled_from(ids), max_size=3)),
            grade=draw(st.sampled_from([8, 9])),
            start=draw(st.sampled_from([0, 7])),
            days=4,
        )
        for n in range(draw(st.integers(0, 7)))
    ]
    taken = draw(st.dictionaries(st.sampled_from(ids), st.integers(0, 2), max_size=2))
    return pupils, periods, taken, draw(st.integers(0, 2**63 - 1))


def brute_force(pupils, periods, taken, lottery):
    """Every allocation tried; the best by (placed, 1st, 2nd, 3rd, lottery order)."""
    by_id = {p.id: p for p in periods}
    left = {p.id: max(0, p.places - taken.get(p.id, 0)) for p in periods}
    options = []
    for p in pupils:
        ranked = {}
        for rank, pid in enumerate(p.wishes, 1):
            if pid in by_id and pid not in ranked and fits(p, by_id[pid]):
                ranked[pid] = rank
        options.append([None, *ranked.items()])
    position = {pid: i for i, pid in enumerate(lottery)}
    best_key, best = None, None

    def visit(index, chosen):
        nonlocal best_key, best
        if index == len(pupils):
            ranks = Counter(r for _, r in chosen.values())
            by_lottery = [0] * len(pupils)
            for p_index, (_, rank) in chosen.items():
                by_lottery[position[pupils[p_index].id]] = 4 - rank
            key = (len(chosen), ranks[1], ranks[2], ranks[3], tuple(by_lottery))
            if best_key is None or key > best_key:
                best_key = key
                best = {pupils[i].id: pid for i, (pid, _) in chosen.items()}
            return
        for option in options[index]:
            if option is None:
                visit(index + 1, chosen)
            elif left[option[0]] > 0:
                left[option[0]] -= 1
                visit(index + 1, {**chosen, index: option})
                left[option[0]] += 1

    visit(0, {})
    return best_key[:4], best


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds())
def test_allocation_is_the_rank_maximal_optimum_and_keeps_every_rule(case):
    pupils, periods, taken, seed = case
    result = allocate(pupils, periods, seed, taken)
    counts, best = brute_force(pupils, periods, taken, result.lottery)

    assert result.counts() == counts == exhaustive_optimum(pupils, periods, taken)
    # Ties too: the lottery decides, so the allocation is the unique best one.
    assert result.placed() == best
    assert result.lottery == lottery_order(pupils, seed)
    assert sorted(result.lottery) == sorted(p.id for p in pupils)

    by_id = {p.id: p for p in periods}
    assert [o.pupil_id for o in result.outcomes] == [p.id for p in pupils]
    used = Counter(result.placed().values())
    for pid, count in used.items():
        assert count <= by_id[pid].places - taken.get(pid, 0)
    for p, outcome in zip(pupils, result.outcomes, strict=True):
        if outcome.offer_period_id is None:
            assert outcome.rank is None
            assert outcome.reason in {"no_fitting_offer", "no_wishes", "wishes_full"}
            for free in outcome.params["free"]:
                assert fits(p, by_id[free])
        else:
            assert fits(p, by_id[outcome.offer_period_id])
            assert outcome.rank == p.wishes.index(outcome.offer_period_id) + 1
            assert outcome.reason == ("first_wish", "second_wish", "third_wish")[outcome.rank - 1]
    free = result.free_places(periods, taken)
    assert all(n >= 0 for n in free.values())
    assert allocate(pupils, periods, seed, taken) == result


# --- the lottery ---------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_allocation_and_the_lottery_decides_ties():
    pupils = [pupil(1, 10), pupil(2, 10)]
    periods = [period(10, places=1)]
    winners = set()
    for first_wins in (True, False):
        seed = seeds_where(first_wins, pupils)
        result = allocate(pupils, periods, seed)
        assert result == allocate(pupils, periods, seed)
        assert result.seed == seed
        assert list(result.placed()) == [result.lottery[0]]
        winners.add(result.lottery[0])
    assert winners == {1, 2}  # different seeds, different allocations


def test_the_earlier_pupil_in_the_lottery_gets_the_better_wish_on_a_tie():
    pupils = [pupil(1, 10, 20), pupil(2, 10, 20)]
    periods = [period(10, places=1), period(20, places=1)]
    for first_wins in (True, False):
        result = allocate(pupils, periods, seeds_where(first_wins, pupils))
        ahead, behind = result.lottery
        assert result.placed() == {ahead: 10, behind: 20}


def test_placing_more_pupils_comes_before_first_wishes_and_before_the_lottery():
    # 1 wishes only A; 2 wishes A first, then B: both placed, 2 on the second wish.
    pupils = [pupil(1, 10), pupil(2, 10, 20)]
    periods = [period(10, places=1), period(20, places=1)]
    for first_wins in (True, False):
        result = allocate(pupils, periods, seeds_where(first_wins, pupils))
        assert result.placed() == {1: 10, 2: 20}
    # First come first served, in input order: pupil 2 first takes A, pupil 1 is left out.
    fcfs = first_come_first_served(list(reversed(pupils)), periods)
    assert fcfs.placed() == {2: 10}
    assert fcfs.lottery == (2, 1)
    assert fcfs.outcome_of(1).reason == "wishes_full"


def test_one_more_first_wish_outweighs_any_number_of_second_wishes():
    # 1 on 10 (first) and 2 on 20 (third) beat 1 on 20 and 2 on 10 (two second wishes),
    # whoever the lottery puts first.
    pupils = [pupil(1, 10, 20), pupil(2, 30, 10, 20)]
    periods = [period(10, places=1), period(20, places=1), period(30, places=0)]
    for first_wins in (True, False):
        result = allocate(pupils, periods, seeds_where(first_wins, pupils))
        assert result.placed() == {1: 10, 2: 20}
        assert result.counts() == (2, 1, 0, 1) == exhaustive_optimum(pupils, periods)


def test_new_seed_is_63_bits():
    seeds = {new_seed() for _ in range(20)}
    assert len(seeds) > 1 and all(0 <= s < 2**63 for s in seeds)


# --- reasons -------------------------------------------------------------------------------


def test_reasons_say_which_wish_was_missed_with_its_places_and_wishes():
    # Five pupils wish offer period 10 (2 places) first; 20 (2 places) second, 30 third.
    pupils = [pupil(n, 10, 20, 30) for n in range(1, 6)]
    periods = [period(10, places=2), period(20, places=2), period(30, places=5)]
    result = allocate(pupils, periods, seed=7)
    reasons = Counter(o.reason for o in result.outcomes)
    assert reasons == {"first_wish": 2, "second_wish": 2, "third_wish": 1}
    missed = {"wish": 1, "offer_period_id": 10, "places": 2, "wishes": 5}
    for outcome in result.outcomes:
        assert outcome.params == ({} if outcome.rank == 1 else missed)
    assert result.counts() == (5, 2, 2, 1)


def test_places_in_the_reason_are_those_left_in_the_round():
    pupils = [pupil(1, 10, 20), pupil(2, 10, 20)]
    periods = [period(10, places=3), period(20, places=2)]
    result = allocate(pupils, periods, seed=1, taken={10: 2})
    second = next(o for o in result.outcomes if o.rank == 2)
    assert second.params == {"wish": 1, "offer_period_id": 10, "places": 1, "wishes": 2}
    assert result.free_places(periods, {10: 2}) == {10: 0, 20: 1}
    assert result.free_places(periods) == {10: 2, 20: 1}


def test_unplaced_pupils_are_told_why_and_which_offers_are_still_free():
    periods = [
        period(10, places=1, grades=(9,)),
        period(20, places=2, grades=(9,)),
        period(30, places=1, grades=(10,)),
        period(40, places=4, grades=(9,), start=21),  # another period: does not fit
        period(50, places=0, grades=(9,)),  # fits, but no places
    ]
    pupils = [
        pupil(1, 10),
        pupil(2, 10),
        pupil(3),  # no wishes
        pupil(4, 30, 40),  # wishes that do not fit
        pupil(5, 10, grade=8),  # no offer for grade 8
    ]
    result = allocate(pupils, periods, seed=seeds_where(True, pupils[:2]))
    outcomes = {o.pupil_id: o for o in result.outcomes}
    assert result.placed() == {1: 10} or result.placed() == {2: 10}
    loser = outcomes[2] if result.placed() == {1: 10} else outcomes[1]
    assert loser.reason == "wishes_full"
    assert loser.params == {
        "free": (20,),
        "wish": 1,
        "offer_period_id": 10,
        "places": 1,
        "wishes": 2,
    }
    assert outcomes[3].reason == "no_wishes"
    assert outcomes[3].params == {"free": (20,)}
    assert outcomes[4].reason == "no_wishes"
    assert outcomes[4].params == {"free": (20,)}
    assert outcomes[5].reason == "no_fitting_offer"
    assert outcomes[5].params == {
        "grade": 8,
        "starts_on": MONDAY,
        "ends_on": MONDAY + timedelta(days=11),
        "free": (),
    }
    assert outcomes[5].rank is None and outcomes[5].offer_period_id is None


def test_taken_places_are_not_given_again():
    pupils = [pupil(1, 10, 20), pupil(2, 10)]
    periods = [period(10, places=2), period(20, places=1)]
    result = allocate(pupils, periods, seed=3, taken={10: 2, 20: 0})
    assert result.placed() == {1: 20}
    assert result.outcome_of(2).params["free"] == ()


def test_wishes_for_unknown_or_unfitting_periods_are_ignored_but_keep_their_rank():
    pupils = [pupil(1, 99, 30, 10)]
    periods = [period(10, places=1), period(30, places=1, grades=(8,))]
    outcome = allocate(pupils, periods, seed=0).outcomes[0]
    assert (outcome.offer_period_id, outcome.rank, outcome.reason) == (10, 3, "third_wish")
    assert outcome.params == {}  # no better wish that fitted


def test_the_class_period_must_lie_within_the_offer_period():
    offer = period(10, places=1, start=7, days=11)
    assert fits(pupil(1, grade=9, start=7, days=11), offer)
    assert fits(pupil(1, grade=9, start=9, days=4), offer)
    assert not fits(pupil(1, grade=9, start=0, days=11), offer)
    assert not fits(pupil(1, grade=9, start=14, days=11), offer)
    assert not fits(pupil(1, grade=8, start=7, days=11), period(10, 1, grades=(9,), start=7))


def test_bad_input_is_refused_with_its_field():
    with pytest.raises(ValueError, match="pupils"):
        allocate([pupil(1), pupil(1)], [], seed=0)
    with pytest.raises(ValueError, match="periods"):
        allocate([], [period(10, 1), period(10, 2)], seed=0)
    with pytest.raises(ValueError, match="wishes"):
        allocate([pupil(1, 10, 20, 30, 40)], [period(10, 1)], seed=0)
    assert allocate([], [], seed=0) == Allocation(seed=0, lottery=(), outcomes=())


# --- the waiting list after a cancellation ---------------------------------------------------


def test_next_in_line_is_the_best_rank_then_the_lottery():
    periods = [period(10, places=1), period(20, places=1), period(30, places=1, grades=(8,))]
    pupils = [
        pupil(1, 10),  # placed on 10
        pupil(2, 20, 10),  # wished 10 second
        pupil(3, 20, 10),
        pupil(4, 30, 10),
        pupil(5, 20, 30, 10),  # third
        pupil(6, 30),  # 30 does not fit (grade 9)
    ]
    placed = {1: 10}
    outcomes = [
        Outcome(p.id, placed.get(p.id), 1 if p.id in placed else None, "x", {}) for p in pupils
    ]
    assert next_in_line(10, outcomes, pupils, (5, 4, 3, 2, 1, 6)) == 4
    assert next_in_line(10, outcomes, pupils, (5, 2, 3, 4, 1, 6)) == 2
    assert next_in_line(10, outcomes, pupils, (5, 3, 2, 4, 1, 6)) == 3
    assert next_in_line(20, outcomes, pupils, (5, 3, 2, 4, 1, 6)) == 5
    allocation = Allocation(seed=0, lottery=(5, 3), outcomes=tuple(outcomes))
    assert next_in_line(20, allocation, pupils, allocation.lottery) == 5
    # Nobody: nobody wished it, or whoever did does not fit (checked with `periods`).
    assert next_in_line(99, outcomes, pupils, ()) is None
    assert next_in_line(30, outcomes, pupils, (6, 4)) == 6
    assert next_in_line(30, outcomes, pupils, (6, 4), periods) is None
    assert next_in_line(99, outcomes, pupils, (), periods) is None


def test_next_in_line_orders_pupils_outside_the_lottery_last_in_input_order():
    pupils = [pupil(1, 10), pupil(2, 10), pupil(3, 10)]
    outcomes = first_come_first_served(pupils, [period(10, places=0)]).outcomes
    assert next_in_line(10, outcomes, pupils, (3,)) == 3
    assert next_in_line(10, outcomes, pupils, ()) == 1


# --- first come first served ---------------------------------------------------------------


def test_first_come_first_served_gives_each_in_turn_their_best_free_wish():
    pupils = [pupil(1, 10, 20), pupil(2, 10, 20, 30), pupil(3, 10, 20, 30), pupil(4, 30)]
    periods = [period(10, places=1), period(20, places=1), period(30, places=1)]
    result = first_come_first_served(pupils, periods)
    assert result.placed() == {1: 10, 2: 20, 3: 30}
    assert [o.reason for o in result.outcomes] == [
        "first_wish",
        "second_wish",
        "third_wish",
        "wishes_full",
    ]
    assert result.counts() == (3, 1, 1, 1)
    # The optimum: still 3 places for 4 pupils, but 4 on 30, their first wish.
    assert exhaustive_optimum(pupils, periods) == (3, 2, 1, 0)
    assert allocate(pupils, periods, seed=1).counts() == (3, 2, 1, 0)
