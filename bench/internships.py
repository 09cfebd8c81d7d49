"""Allocation of an internship round, beside first come first served and the optimum.

A round of `--pupils` pupils (default 600) in classes of 25 (grades 8 to 10), each class
doing its internship in one of 3 periods of two weeks; `--offers` offers (default 150),
each in all 3 periods with 1 or 2 places (some only for grades 9 and 10). Popularity is
skewed (Zipf-like): a few occupations are wished by many. Each pupil ranks 3 distinct
fitting offers in their class's period. In the same run, on the same wishes:

* allocate: `allocation.allocate`, the exact rank-maximal min-cost flow (the service's
  code path; median of `--repeat` runs);
* first come first served: `allocation.first_come_first_served`, pupils in input order;
* the exhaustive optimum (`allocation.exhaustive_optimum`, exponential) on `--small-cases`
  small rounds of `--small-pupils` pupils, beside both.

Printed: the time of each, and the share of pupils placed and placed on their first,
second and third wish. Pure, in memory: the database part of a round is not measured.

    .venv/bin/python bench/internships.py [--pupils 600] [--offers 150] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outreach.internships.allocation import (
    Allocation,
    OfferPeriod,
    Pupil,
    allocate,
    exhaustive_optimum,
    first_come_first_served,
)

PERIODS = (date(2027, 3, 1), date(2027, 4, 19), date(2027, 6, 7))  # Mondays
CLASS_SIZE = 25


def make_round(
    pupils: int,
    offers: int,
    seed: int,
    places: tuple[int, ...] = (1, 2),
    class_size: int = CLASS_SIZE,
) -> tuple[list[Pupil], list[OfferPeriod]]:
    rng = random.Random(seed)
    periods: list[OfferPeriod] = []
    by_offer: dict[tuple[int, int], OfferPeriod] = {}  # (offer, period index)
    grades_of = []
    for offer in range(offers):
        grades = frozenset({9, 10}) if rng.random() < 0.2 else frozenset({8, 9, 10})
        grades_of.append(grades)
        for n, start in enumerate(PERIODS):
            period = OfferPeriod(
                id=offer * 10 + n,
                offer_id=offer,
                grades=grades,
                starts_on=start,
                ends_on=start + timedelta(days=11),
                places=rng.choice(places),
            )
            periods.append(period)
            by_offer[offer, n] = period
    popularity = [1 / (k + 1) ** 0.9 for k in range(offers)]
    rng.shuffle(popularity)
    result = []
    for i in range(pupils):
        klass = i // class_size
        grade = 8 + klass % 3
        n = klass % len(PERIODS)
        fitting = [o for o in range(offers) if grade in grades_of[o]]
        weights = [popularity[o] for o in fitting]
        wished: list[int] = []
        while len(wished) < min(3, len(fitting)):
            offer = rng.choices(fitting, weights)[0]
            if offer not in wished:
                wished.append(offer)
        start = PERIODS[n]
        result.append(
            Pupil(
                id=i + 1,
                grade=grade,
                starts_on=start,
                ends_on=start + timedelta(days=11),
                wishes=tuple(by_offer[o, n].id for o in wished),
            )
        )
    rng.shuffle(result)  # the order the wishes came in
    return result, periods


def timed(repeat: int, run: Callable[[], Allocation]) -> tuple[float, Allocation]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), result


def shares(counts: tuple[int, int, int, int], pupils: int) -> str:
    placed, first, second, third = (100 * c / pupils for c in counts)
    return f"{placed:6.1f} % {first:6.1f} % {second:6.1f} % {third:6.1f} %"


SMALL_RUNS: dict[str, Callable[[list[Pupil], list[OfferPeriod], int], tuple]] = {
    "allocate": lambda pupils, periods, seed: allocate(pupils, periods, seed).counts(),
    "fcfs": lambda pupils, periods, _seed: first_come_first_served(pupils, periods).counts(),
    "optimum": lambda pupils, periods, _seed: exhaustive_optimum(pupils, periods),
}


def main(args: argparse.Namespace) -> None:
    pupils, periods = make_round(args.pupils, args.offers, args.seed)
    places = sum(p.places for p in periods)
    print(
        f"round: {len(pupils)} pupils in classes of {CLASS_SIZE}, {args.offers} offers x"
        f" {len(PERIODS)} periods = {len(periods)} offer periods, {places} places;"
        f" seed {args.seed}; median of {args.repeat} runs"
    )
    print(f"{'':26} {'ms':>8} {'placed':>8} {'1st wish':>8} {'2nd':>8} {'3rd':>8}")
    alloc_s, alloc = timed(args.repeat, lambda: allocate(pupils, periods, seed=args.seed))
    fcfs_s, fcfs = timed(args.repeat, lambda: first_come_first_served(pupils, periods))
    for name, seconds, result in (
        ("allocate (rank-maximal)", alloc_s, alloc),
        ("first come first served", fcfs_s, fcfs),
    ):
        print(f"{name:26} {seconds * 1000:8.1f} {shares(result.counts(), len(pupils))}")
    again = allocate(pupils, periods, seed=args.seed)
    assert again == alloc, "the same seed gave another allocation"

    print(
        f"\nsmall rounds: {args.small_cases} cases of {args.small_pupils} pupils,"
        f" {args.small_offers} offers x {len(PERIODS)} periods, places 0..2, classes of 3"
    )
    totals = {"allocate": [0, 0, 0, 0], "fcfs": [0, 0, 0, 0], "optimum": [0, 0, 0, 0]}
    spent = {"allocate": 0.0, "fcfs": 0.0, "optimum": 0.0}
    for case in range(args.small_cases):
        small, small_periods = make_round(
            args.small_pupils, args.small_offers, args.seed + 1 + case, (0, 1, 2), 3
        )
        found = {}
        for name, run in SMALL_RUNS.items():
            started = time.perf_counter()
            found[name] = run(small, small_periods, case)
            spent[name] += time.perf_counter() - started
            totals[name] = [a + b for a, b in zip(totals[name], found[name], strict=True)]
        assert found["allocate"] == found["optimum"], (case, found)
    everyone = args.small_cases * args.small_pupils
    for name, label in (
        ("allocate", "allocate (rank-maximal)"),
        ("fcfs", "first come first served"),
        ("optimum", "exhaustive optimum"),
    ):
        per_case = spent[name] / args.small_cases * 1000
        print(f"{label:26} {per_case:8.2f} {shares(tuple(totals[name]), everyone)}")
    print("allocate equals the exhaustive optimum in every small case; ms: per case")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pupils", type=int, default=600)
    parser.add_argument("--offers", type=int, default=150)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--small-cases", type=int, default=20)
    parser.add_argument("--small-pupils", type=int, default=8)
    parser.add_argument("--small-offers", type=int, default=3)
    main(parser.parse_args())
