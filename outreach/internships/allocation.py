"""PLACEHOLDER allocation (greedy by rank in lottery order), replaced by the exact
rank-maximal allocation of branch wt-alloc on merge; same interface."""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

__all__ = ["Allocation", "OfferPeriod", "Outcome", "Pupil", "allocate", "fits", "new_seed"]

_RANK_REASONS = ("first_wish", "second_wish", "third_wish")


@dataclass(frozen=True)
class OfferPeriod:
    id: int
    offer_id: int
    grades: frozenset[int]
    starts_on: date
    ends_on: date
    places: int


@dataclass(frozen=True)
class Pupil:
    id: int
    grade: int
    starts_on: date
    ends_on: date
    wishes: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    pupil_id: int
    offer_period_id: int | None
    rank: int | None
    reason: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Allocation:
    seed: int
    lottery: tuple[int, ...]
    outcomes: tuple[Outcome, ...]


def fits(pupil: Pupil, period: OfferPeriod) -> bool:
    return (
        pupil.grade in period.grades
        and period.starts_on <= pupil.starts_on
        and pupil.ends_on <= period.ends_on
    )


def new_seed() -> int:
    return secrets.randbelow(2**31)


def allocate(
    pupils: Sequence[Pupil],
    periods: Sequence[OfferPeriod],
    seed: int,
    taken: Mapping[int, int] | None = None,
) -> Allocation:
    taken = taken or {}
    by_id = {p.id: p for p in periods}
    order = sorted(p.id for p in pupils)
    random.Random(seed).shuffle(order)
    lottery = tuple(order)
    pupil_of = {p.id: p for p in pupils}
    free = {p.id: max(0, p.places - taken.get(p.id, 0)) for p in periods}
    demand: dict[int, int] = {}
    for p in pupils:
        if p.wishes:
            demand[p.wishes[0]] = demand.get(p.wishes[0], 0) + 1
    placed: dict[int, Outcome] = {}
    for rank in (1, 2, 3):
        for pid in lottery:
            pupil = pupil_of[pid]
            if pid in placed or len(pupil.wishes) < rank:
                continue
            wish = pupil.wishes[rank - 1]
            period = by_id.get(wish)
            if period is None or not fits(pupil, period) or free[wish] <= 0:
                continue
            free[wish] -= 1
            first = pupil.wishes[0]
            params: dict[str, object] = {
                "wish": first,
                "places": by_id[first].places if first in by_id else 0,
                "wishes": demand.get(first, 0),
            }
            placed[pid] = Outcome(pid, wish, rank, _RANK_REASONS[rank - 1], params)
    outcomes = []
    for pid in lottery:
        if pid in placed:
            outcomes.append(placed[pid])
            continue
        pupil = pupil_of[pid]
        fitting = [p.id for p in periods if fits(pupil, p)]
        if not fitting:
            outcomes.append(
                Outcome(
                    pid,
                    None,
                    None,
                    "no_fitting_offer",
                    {"grade": pupil.grade, "starts_on": pupil.starts_on, "ends_on": pupil.ends_on},
                )
            )
        elif not pupil.wishes:
            outcomes.append(Outcome(pid, None, None, "no_wishes", {}))
        else:
            still = tuple(i for i in fitting if free[i] > 0)
            outcomes.append(Outcome(pid, None, None, "wishes_full", {"free": still}))
    return Allocation(seed=seed, lottery=lottery, outcomes=tuple(outcomes))


def next_in_line(
    offer_period_id: int,
    outcomes: Sequence[Outcome],
    pupils: Sequence[Pupil],
    lottery: Sequence[int],
) -> int | None:
    """The pupil who wished this period most (rank, then lottery order) and holds no
    place as good: unplaced, or placed on a lower wish."""
    position = {pid: i for i, pid in enumerate(lottery)}
    held = {o.pupil_id: o.rank for o in outcomes if o.offer_period_id is not None}
    best: tuple[int, int, int] | None = None
    for pupil in pupils:
        if offer_period_id not in pupil.wishes:
            continue
        rank = pupil.wishes.index(offer_period_id) + 1
        current = held.get(pupil.id)
        if current is not None and current <= rank:
            continue
        key = (rank, position.get(pupil.id, len(position)), pupil.id)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]
