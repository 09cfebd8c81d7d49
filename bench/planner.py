"""Planning time of the class day planner's search, beside an exhaustive baseline.

A day of 18 firms with 6 slots each (90-minute tours between 8:00 and 14:30, venues
scattered over Glashütte), a class that wants 3 of the firms, walks between them
(speeds and buffer: the settings' defaults), arrives 8:00, leaves 15:30, with a
lunch break. In the same run and on the same candidates:

* search: `planner.search`, depth-first branch and bound (the service's code path);
* baseline: `planner.exhaustive`, every combination of 2..max_visits slots checked.

Both must return the same proposals. Printed: the time of each (best of `--repeat`
runs), the ratio, and how many chains / combinations each looked at. Pure, in memory:
the database part of planning (four queries) is not what is measured here.

    .venv/bin/python bench/planner.py [--max-visits 3 4] [--lunch 45] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outreach.config import Settings
from outreach.itineraries.planner import Candidate, Rules, SearchResult, exhaustive, search

GLASHUETTE = (50.852, 13.779)
TOPICS = ("cnc", "uhrmacher", "feinmechanik", "ausbildung", "elektronik", "optik")


def make_day(firms: int, slots: int, wanted: int, seed: int) -> list[Candidate]:
    rng = random.Random(seed)
    starts = range(8 * 60, 14 * 60 + 31, 15)
    candidates = []
    for f in range(firms):
        # About 2 km across: walks of 10 to 40 minutes with the buffer.
        lat = GLASHUETTE[0] + rng.uniform(-0.009, 0.009)
        lon = GLASHUETTE[1] + rng.uniform(-0.014, 0.014)
        topic = TOPICS[f % len(TOPICS)]
        for n, start in enumerate(sorted(rng.sample(starts, slots))):
            candidates.append(
                Candidate(
                    slot_id=f * 100 + n,
                    host=f"firm-{f:02d}",
                    start=start,
                    end=start + 90,
                    lat=lat,
                    lon=lon,
                    wanted=f < wanted,
                    topical=topic == "uhrmacher",
                )
            )
    return candidates


def best_of(repeat: int, run: Callable[[], SearchResult]) -> tuple[float, SearchResult]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def main(args: argparse.Namespace) -> None:
    candidates = make_day(args.firms, args.slots, args.wanted, args.seed)
    print(
        f"day: {args.firms} firms x {args.slots} slots = {len(candidates)} candidates,"
        f" {args.wanted} wanted firms, lunch {args.lunch} min, walking"
        f" {Settings.planner_walk_kmh} km/h x {Settings.planner_detour_factor}"
        f" + {Settings.planner_buffer_minutes} min buffer; best of {args.repeat} runs"
    )
    header = (
        f"{'visits':>6} {'search ms':>10} {'checked':>9} {'baseline ms':>12} {'checked':>10}"
        f" {'ratio':>8}  best proposal"
    )
    print(header)
    for max_visits in args.max_visits:
        rules = Rules(
            arrive=8 * 60,
            leave=15 * 60 + 30,
            speed_kmh=Settings.planner_walk_kmh,
            detour=Settings.planner_detour_factor,
            buffer=Settings.planner_buffer_minutes,
            min_visits=2,
            max_visits=max_visits,
            lunch_minutes=args.lunch,
            limit=5,
        )
        fast_s, fast = best_of(args.repeat, lambda r=rules: search(candidates, r))
        base_repeat = args.repeat if max_visits <= 3 else 1
        base_s, base = best_of(base_repeat, lambda r=rules: exhaustive(candidates, r))
        same = [p.key for p in fast.plans] == [p.key for p in base.plans]
        assert same, "the search and the baseline disagree"
        top = fast.plans[0]
        summary = (
            f"{len(top.visits)} visits, {top.wanted}/{args.wanted} wanted,"
            f" {top.waiting} min waiting, {top.travel} min walking"
        )
        print(
            f"2..{max_visits:<3} {fast_s * 1000:10.1f} {fast.checked:9d} {base_s * 1000:12.1f}"
            f" {base.checked:10d} {base_s / fast_s:8.0f}x  {summary}"
        )
    print("ratio: baseline time / search time (same proposals, same run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=18)
    parser.add_argument("--slots", type=int, default=6, help="slots per firm")
    parser.add_argument("--wanted", type=int, default=3, help="firms the class asks for")
    parser.add_argument("--lunch", type=int, default=45, help="lunch minutes (0: none)")
    parser.add_argument("--max-visits", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    main(parser.parse_args())
