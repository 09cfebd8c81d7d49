"""The pure search: every proposal is a valid day, and pruning loses nothing.

No database: candidates and rules are generated. Validity is checked here from first
principles (own distance formula, own lunch check), not with the planner's helpers.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.itineraries.planner import (
    Candidate,
    Rules,
    evaluate,
    exhaustive,
    lunch_start,
    search,
    travel_minutes,
)

GLASHUETTE = (50.852, 13.779)


def km_between(a: Candidate, b: Candidate) -> float:
    # Chord between points on the unit sphere: another formula than the planner's.
    def unit(c: Candidate) -> tuple[float, float, float]:
        lat, lon = math.radians(c.lat), math.radians(c.lon)
        return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))

    chord = math.dist(unit(a), unit(b))
    return 6371.0088 * 2 * math.asin(min(1.0, chord / 2))


def needed(a: Candidate, b: Candidate, rules: Rules) -> float:
    return km_between(a, b) * rules.detour / rules.speed_kmh * 60 + rules.buffer


def assert_valid_day(plan, rules: Rules) -> None:
    visits = plan.visits
    assert rules.min_visits <= len(visits) <= rules.max_visits
    assert len({v.host for v in visits}) == len(visits), "two visits at one firm"
    assert visits[0].start >= rules.arrive and visits[-1].end <= rules.leave
    for a, b in itertools.pairwise(visits):
        assert a.end <= b.start, "overlapping visits"
        # Rounding to whole minutes may only add time, never take it away.
        assert b.start - a.end >= needed(a, b, rules) - 1e-6, "no time to travel"
    for leg, (a, b) in zip(plan.legs, itertools.pairwise(visits), strict=True):
        # Whole minutes, rounded up: at most one more than needed.
        assert needed(a, b, rules) - 1e-6 <= leg.minutes < needed(a, b, rules) + 1 + 1e-6
    if rules.lunch_minutes:
        assert plan.lunch is not None
        start, end = plan.lunch
        assert end - start == rules.lunch_minutes
        assert rules.lunch_from <= start and end <= rules.lunch_until
        # Lunch is outside every visit and every leg.
        busy = [(v.start, v.end) for v in visits]
        assert all(end <= s or start >= e for s, e in busy), "lunch during a visit"
        assert start >= rules.arrive and end <= rules.leave
        for leg, (a, b) in zip(plan.legs, itertools.pairwise(visits), strict=True):
            if a.end <= start and end <= b.start:
                assert (end + leg.minutes <= b.start) or (start - leg.minutes >= a.end)
    else:
        assert plan.lunch is None


@st.composite
def days(draw):
    hosts = draw(st.integers(1, 7))
    candidates = []
    slot_id = 0
    for h in range(hosts):
        lat = GLASHUETTE[0] + draw(st.floats(-0.03, 0.03))
        lon = GLASHUETTE[1] + draw(st.floats(-0.05, 0.05))
        wanted = draw(st.booleans())
        for _ in range(draw(st.integers(1, 4))):
            start = draw(st.integers(7 * 12, 16 * 12)) * 5
            slot_id += 1
            candidates.append(
                Candidate(
                    slot_id=slot_id,
                    host=f"firm-{h}",
                    start=start,
                    end=start + draw(st.sampled_from([45, 60, 90, 120])),
                    lat=lat,
                    lon=lon,
                    wanted=wanted,
                    topical=draw(st.booleans()),
                )
            )
    max_visits = draw(st.integers(1, 4))
    rules = Rules(
        arrive=draw(st.sampled_from([7 * 60, 8 * 60, 9 * 60 + 30])),
        leave=draw(st.sampled_from([12 * 60, 14 * 60 + 30, 17 * 60])),
        speed_kmh=draw(st.sampled_from([4.5, 30.0])),
        detour=draw(st.sampled_from([1.0, 1.3])),
        buffer=draw(st.sampled_from([0, 10])),
        min_visits=draw(st.integers(1, max_visits)),
        max_visits=max_visits,
        lunch_minutes=draw(st.sampled_from([0, 0, 30, 45, 60])),
        limit=draw(st.integers(1, 6)),
    )
    return candidates, rules


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_proposals_never_overlap_and_respect_travel_and_the_school_day(day):
    candidates, rules = day
    result = search(candidates, rules)
    for plan in result.plans:
        assert_valid_day(plan, rules)
        assert evaluate(plan.visits, rules) == plan


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_pruning_finds_the_same_best_proposals_as_checking_every_combination(day):
    candidates, rules = day
    pruned, every = search(candidates, rules), exhaustive(candidates, rules)
    assert [p.key for p in pruned.plans] == [p.key for p in every.plans]
    assert len({p.hosts for p in pruned.plans}) == len(pruned.plans)
    ranked = [p.key for p in pruned.plans]
    assert ranked == sorted(ranked)
    assert [p.score for p in pruned.plans] == sorted((p.score for p in pruned.plans), reverse=True)


@settings(max_examples=200, deadline=None)
@given(days(), st.data())
def test_required_visits_are_in_every_proposal(day, data):
    candidates, rules = day
    rules = replace(rules, min_visits=1, max_visits=4)
    first = search(candidates, replace(rules, limit=1)).plans
    if not first or len(first[0].visits) < 2:
        return
    keep = data.draw(st.sampled_from(first[0].visits))
    result = search(candidates, rules, required=[keep])
    assert result.plans, "the original day still qualifies"
    for plan in result.plans:
        assert keep in plan.visits
        assert_valid_day(plan, rules)


def test_travel_time_is_the_detoured_walk_plus_the_buffer():
    rules = Rules(arrive=0, leave=24 * 60, speed_kmh=4.5, detour=1.3, buffer=10)
    # 1 km straight: 1.3 km at 4.5 km/h is 17.3 minutes, rounded up, plus 10.
    assert travel_minutes(1.0, rules) == 28
    assert travel_minutes(0.0, rules) == 10
    bus = Rules(arrive=0, leave=24 * 60, speed_kmh=30, detour=1.3, buffer=10)
    assert travel_minutes(23.0, bus) == 60 + 10


def test_lunch_fits_before_or_after_the_walk_inside_the_window():
    rules = Rules(arrive=0, leave=24 * 60, speed_kmh=4.5, lunch_minutes=45)
    assert lunch_start(12 * 60, 13 * 60 + 15, 30, rules) == 12 * 60  # eat, then walk
    assert lunch_start(12 * 60, 13 * 60 + 14, 30, rules) is None
    assert lunch_start(9 * 60, 10 * 60, 0, rules) is None  # before 11:00
    assert lunch_start(13 * 60 + 30, 15 * 60, 0, rules) is None  # past 14:00
    assert lunch_start(10 * 60, 12 * 60, 20, rules) == 11 * 60


def test_wanted_firms_rank_before_shorter_days():
    near = dict(lat=GLASHUETTE[0], lon=GLASHUETTE[1])
    cands = [
        Candidate(1, "a", 9 * 60, 10 * 60, **near),
        Candidate(2, "b", 10 * 60 + 15, 11 * 60, **near),
        Candidate(3, "c", 13 * 60, 14 * 60, wanted=True, **near),
    ]
    rules = Rules(arrive=8 * 60, leave=15 * 60, speed_kmh=4.5, max_visits=2)
    best = search(cands, rules).plans[0]
    assert [v.host for v in best.visits][-1] == "c"
    assert best.wanted == 1 and best.score > search(cands, rules).plans[1].score


def test_the_search_checks_far_fewer_chains_than_there_are_combinations():
    rng = random.Random(7)
    cands = []
    for firm in range(18):
        lat, lon = (
            GLASHUETTE[0] + rng.uniform(-0.01, 0.01),
            GLASHUETTE[1] + rng.uniform(-0.02, 0.02),
        )
        for n, start in enumerate(sorted(rng.sample(range(8 * 60, 14 * 60 + 1, 30), 6))):
            cands.append(
                Candidate(firm * 10 + n, f"f{firm}", start, start + 90, lat, lon, firm < 3)
            )
    rules = Rules(arrive=8 * 60, leave=16 * 60, speed_kmh=4.5, max_visits=3, lunch_minutes=45)
    pruned, every = search(cands, rules), exhaustive(cands, rules)
    assert [p.key for p in pruned.plans] == [p.key for p in every.plans]
    assert pruned.checked * 10 < every.checked
    assert pruned.plans[0].wanted == 3


def test_speeds_and_buffer_are_settings():
    from outreach.config import ConfigError, Settings

    env = {"OUTREACH_DATA_DIR": "/tmp/outreach-tests-default", "SECRET_KEY": "x" * 40}
    default = Settings.from_env(env)
    assert (default.planner_walk_kmh, default.planner_bus_kmh) == (4.5, 30.0)
    assert (default.planner_detour_factor, default.planner_buffer_minutes) == (1.3, 10)
    tuned = Settings.from_env(
        {**env, "PLANNER_WALK_KMH": "3.5", "PLANNER_BUS_KMH": "40", "PLANNER_BUFFER_MINUTES": "5"}
    )
    assert (tuned.planner_walk_kmh, tuned.planner_bus_kmh, tuned.planner_buffer_minutes) == (
        3.5,
        40.0,
        5,
    )
    for name, value in (("PLANNER_WALK_KMH", "fast"), ("PLANNER_DETOUR_FACTOR", "0.5")):
        try:
            Settings.from_env({**env, name: value})
        except ConfigError as exc:
            assert name in str(exc)
        else:
            raise AssertionError(f"{name}={value} was accepted")
