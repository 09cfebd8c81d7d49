"""The allocation of an internship round: rank-maximal, exact, ties by a seeded lottery.

All classes of a round are allocated at once. Each pupil gets at most one offer period,
from their ranked wishes (at most three), and only one that fits them (`fits`: their
grade, and their class's internship period within the offer period's dates); no offer
period gets more pupils than its places left (`places` less what earlier rounds `taken`).

Among all such allocations the one chosen is, in this order of importance,

1. the one placing the most pupils,
2. then with the most on their first wish, then on their second, then on their third
   (rank-maximal),
3. then the best for the pupils in lottery order: the first pupil of the lottery gets
   the best rank they can get without costing anything above, then the second, and so
   on. The lottery is `random.Random(seed)` shuffling the pupils, so the seed recorded
   with the round reproduces the allocation exactly; and the allocation is unique.

It is computed exactly as a min-cost flow (networkx's network simplex, integer costs):
source -> pupil (1) -> fitting wished offer period (1) -> sink (places left), and pupil ->
sink directly for "not placed"; one flow for each group of pupils and offer periods that
the wishes connect (the objective is a sum over pupils). A placement at rank r earns

    P + U * M**(3 - r) + (4 - r) * 4**(n - 1 - position in the lottery)

with n pupils (of the group), M = n + 1 (a count never reaches M), U = 4**n (above the
whole lottery level) and P = U * M**3 (above all the rank levels together), so that each
level counts only where every level above it ties. Python's integers are exact at any size.

Every pupil's `Outcome` carries a stable reason code and the figures for its sentence
(the services turn them into catalog sentences):

* ``first_wish`` {}
* ``second_wish`` / ``third_wish`` {"wish": rank of the better wish missed,
  "offer_period_id", "places": its places left in the round, "wishes": how many pupils
  wished it at that rank} -- the best-ranked fitting wish that was missed;
* ``no_fitting_offer`` {"grade", "starts_on", "ends_on", "free": ()} -- no offer period
  at all fits the pupil;
* ``no_wishes`` {"free"} -- offer periods fit, but the pupil wished none of them;
* ``wishes_full`` {"free", "wish", "offer_period_id", "places", "wishes"} -- every
  fitting wish was taken (figures of the best-ranked one).

``free`` (every unplaced pupil's) lists the ids of the offer periods that fit the pupil
and still have places after the allocation.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import networkx as nx

MAX_WISHES = 3
REASON_OF_RANK = {1: "first_wish", 2: "second_wish", 3: "third_wish"}
NO_FITTING_OFFER = "no_fitting_offer"
NO_WISHES = "no_wishes"
WISHES_FULL = "wishes_full"


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
    starts_on: date  # the pupil's class internship period
    ends_on: date
    wishes: tuple[int, ...]  # OfferPeriod ids, ranked best first, at most 3


@dataclass(frozen=True)
class Outcome:
    pupil_id: int
    offer_period_id: int | None
    rank: int | None  # 1..3: the position of the placed period in the pupil's wishes
    reason: str  # stable code, see the module's docstring
    params: Mapping[str, object]  # figures for the sentence (ints, dates, tuples of ints)


@dataclass(frozen=True)
class Allocation:
    seed: int
    lottery: tuple[int, ...]  # pupil ids in lottery order (earlier = ahead on ties)
    outcomes: tuple[Outcome, ...]  # one per pupil, in input order

    def placed(self) -> dict[int, int]:
        """Pupil id -> offer period id, for the placed pupils."""
        return {
            o.pupil_id: o.offer_period_id for o in self.outcomes if o.offer_period_id is not None
        }

    def counts(self) -> tuple[int, int, int, int]:
        """(placed, on first wish, on second, on third): what the allocation maximises."""
        ranks = Counter(o.rank for o in self.outcomes if o.offer_period_id is not None)
        return (sum(ranks.values()), ranks[1], ranks[2], ranks[3])

    def outcome_of(self, pupil_id: int) -> Outcome:
        for outcome in self.outcomes:
            if outcome.pupil_id == pupil_id:
                return outcome
        raise KeyError(pupil_id)

    def free_places(
        self, periods: Iterable[OfferPeriod], taken: Mapping[int, int] | None = None
    ) -> dict[int, int]:
        """Offer period id -> places still free after this allocation (and `taken`)."""
        used = Counter(self.placed().values())
        left = _places_left(periods, taken)
        return {pid: left[pid] - used[pid] for pid in left}


def fits(pupil: Pupil, period: OfferPeriod) -> bool:
    """The pupil's grade is offered and their class period lies within the offer period."""
    return (
        pupil.grade in period.grades
        and period.starts_on <= pupil.starts_on
        and pupil.ends_on <= period.ends_on
    )


def new_seed() -> int:
    """A fresh lottery seed (63 bits, from `secrets`), to record with the round."""
    return secrets.randbits(63)


def lottery_order(pupils: Sequence[Pupil], seed: int) -> tuple[int, ...]:
    """The pupil ids in lottery order: the input order shuffled by `random.Random(seed)`."""
    order = [p.id for p in pupils]
    random.Random(seed).shuffle(order)
    return tuple(order)


def allocate(
    pupils: Sequence[Pupil],
    periods: Sequence[OfferPeriod],
    seed: int,
    taken: Mapping[int, int] | None = None,
) -> Allocation:
    """The rank-maximal allocation, ties by the lottery of `seed` (see the module doc).

    `taken`: places already used per offer period by earlier confirmed rounds. Wishes
    for unknown offer periods or ones that do not fit the pupil are ignored.
    """
    round_ = _Round(pupils, periods, taken)
    lottery = lottery_order(pupils, seed)
    position = {pid: i for i, pid in enumerate(lottery)}
    # Wishes that can still be met: (rank, offer period id) per pupil index.
    open_wishes = {
        index: [(rank, pid) for rank, pid in wished if round_.left[pid] > 0]
        for index, wished in enumerate(round_.wished)
    }
    chosen: dict[int, int] = {}
    for component in _components(open_wishes):
        in_lottery_order = sorted(component, key=lambda index: position[pupils[index].id])
        chosen.update(_rank_maximal(in_lottery_order, open_wishes, round_.left))
    return Allocation(seed=seed, lottery=lottery, outcomes=round_.outcomes(chosen))


def _components(open_wishes: Mapping[int, list[tuple[int, int]]]) -> list[list[int]]:
    """The pupils (indices) in groups that share no offer period with another group.

    The objective is a sum over pupils, so each group's best is part of the round's best;
    small groups keep the flows small and the costs' integers short (a period of the
    year's internships is such a group where the offers differ by period).
    """
    parent: dict[object, object] = {}

    def root(node: object) -> object:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for index, wishes in open_wishes.items():
        for _rank, pid in wishes:
            parent[root(("pupil", index))] = root(("period", pid))
    groups: dict[object, list[int]] = {}
    for index, wishes in open_wishes.items():
        if wishes:
            groups.setdefault(root(("pupil", index)), []).append(index)
    return list(groups.values())


def _rank_maximal(
    in_lottery_order: Sequence[int],
    open_wishes: Mapping[int, list[tuple[int, int]]],
    left: Mapping[int, int],
) -> dict[int, int]:
    """Pupil index -> offer period id: one min-cost flow, costs as in the module doc."""
    n = len(in_lottery_order)
    m = n + 1
    unit = 4**n  # one unit of the rank-3 level: above the whole lottery level
    placement = unit * m**3  # above all rank levels together
    graph = nx.DiGraph()
    graph.add_node("source", demand=-n)
    graph.add_node("sink", demand=n)
    periods = set()
    for position, index in enumerate(in_lottery_order):
        node = ("pupil", index)
        graph.add_edge("source", node, capacity=1, weight=0)
        graph.add_edge(node, "sink", capacity=1, weight=0)  # not placed
        for rank, pid in open_wishes[index]:
            gain = (
                placement
                + unit * m ** (MAX_WISHES - rank)
                + (MAX_WISHES + 1 - rank) * 4 ** (n - 1 - position)
            )
            graph.add_edge(node, ("period", pid), capacity=1, weight=-gain)
            periods.add(pid)
    for pid in periods:
        graph.add_edge(("period", pid), "sink", capacity=left[pid], weight=0)
    _cost, flow = nx.network_simplex(graph)
    chosen = {}
    for index in in_lottery_order:
        for target, amount in flow[("pupil", index)].items():
            if amount and target != "sink":
                chosen[index] = target[1]
    return chosen


def first_come_first_served(
    pupils: Sequence[Pupil],
    periods: Sequence[OfferPeriod],
    taken: Mapping[int, int] | None = None,
) -> Allocation:
    """In input order, each pupil gets their best fitting wish with a place left.

    The baseline of `bench/internships.py`; its "lottery" is the input order, seed 0.
    """
    round_ = _Round(pupils, periods, taken)
    left = dict(round_.left)
    chosen: dict[int, int] = {}
    for index in range(len(pupils)):
        for _rank, pid in round_.wished[index]:
            if left[pid] > 0:
                left[pid] -= 1
                chosen[index] = pid
                break
    return Allocation(seed=0, lottery=tuple(p.id for p in pupils), outcomes=round_.outcomes(chosen))


def next_in_line(
    offer_period_id: int,
    outcomes: Allocation | Iterable[Outcome],
    pupils: Sequence[Pupil],
    lottery: Sequence[int],
    periods: Iterable[OfferPeriod] | None = None,
) -> int | None:
    """The unplaced pupil to offer a freed place of `offer_period_id` to, or None.

    Waiting list: the unplaced pupils who wished this offer period, best rank first,
    then in lottery order (pupils missing from the lottery after, in input order). With
    `periods`, only pupils whom the offer period fits.
    """
    if isinstance(outcomes, Allocation):
        outcomes = outcomes.outcomes
    unplaced = {o.pupil_id for o in outcomes if o.offer_period_id is None}
    period = None
    if periods is not None:
        period = next((p for p in periods if p.id == offer_period_id), None)
        if period is None:
            return None
    position = {pid: i for i, pid in enumerate(lottery)}
    best: tuple[int, int] | None = None
    chosen = None
    for index, pupil in enumerate(pupils):
        if pupil.id not in unplaced or offer_period_id not in pupil.wishes:
            continue
        if period is not None and not fits(pupil, period):
            continue
        key = (
            pupil.wishes.index(offer_period_id),
            position.get(pupil.id, len(position) + index),
        )
        if best is None or key < best:
            best, chosen = key, pupil.id
    return chosen


def exhaustive_optimum(
    pupils: Sequence[Pupil],
    periods: Sequence[OfferPeriod],
    taken: Mapping[int, int] | None = None,
) -> tuple[int, int, int, int]:
    """The best (placed, firsts, seconds, thirds) by trying every allocation.

    Exponential (up to 4**len(pupils) allocations): for checking small cases only.
    """
    round_ = _Round(pupils, periods, taken)
    left = dict(round_.left)
    counts = [0, 0, 0, 0]
    best = (0, 0, 0, 0)

    def visit(index: int) -> None:
        nonlocal best
        if index == len(pupils):
            best = max(best, (counts[0], counts[1], counts[2], counts[3]))
            return
        visit(index + 1)  # not placed
        for rank, pid in round_.wished[index]:
            if left[pid] > 0:
                left[pid] -= 1
                counts[0] += 1
                counts[rank] += 1
                visit(index + 1)
                counts[rank] -= 1
                counts[0] -= 1
                left[pid] += 1

    visit(0)
    return best


def _places_left(periods: Iterable[OfferPeriod], taken: Mapping[int, int] | None) -> dict[int, int]:
    taken = taken or {}
    return {p.id: max(0, p.places - taken.get(p.id, 0)) for p in periods}


class _Round:
    """The inputs checked and indexed: fitting wishes, places left, figures for reasons."""

    def __init__(
        self,
        pupils: Sequence[Pupil],
        periods: Sequence[OfferPeriod],
        taken: Mapping[int, int] | None,
    ) -> None:
        if len({p.id for p in pupils}) != len(pupils):
            raise ValueError("pupils: the same pupil id twice")
        if len({p.id for p in periods}) != len(periods):
            raise ValueError("periods: the same offer period id twice")
        for pupil in pupils:
            if len(pupil.wishes) > MAX_WISHES:
                raise ValueError(f"wishes: pupil {pupil.id} has more than {MAX_WISHES}")
        self.pupils = pupils
        self.periods = {p.id: p for p in periods}
        self.left = _places_left(periods, taken)
        # Per pupil (by index): (rank, period id) of the wishes that exist and fit,
        # best first; a period wished twice counts at its better rank.
        self.wished: list[list[tuple[int, int]]] = []
        for pupil in pupils:
            seen: set[int] = set()
            wished = []
            for rank, pid in enumerate(pupil.wishes, start=1):
                period = self.periods.get(pid)
                if pid in seen or period is None or not fits(pupil, period):
                    continue
                seen.add(pid)
                wished.append((rank, pid))
            self.wished.append(wished)
        self.demand = Counter(w for wished in self.wished for w in wished)  # (rank, period)

    def outcomes(self, chosen: Mapping[int, int]) -> tuple[Outcome, ...]:
        """One outcome per pupil (input order) from pupil index -> offer period id."""
        free = Counter(self.left)
        free.subtract(chosen.values())
        fitting_for: dict[tuple[int, date, date], list[OfferPeriod]] = {}
        result = []
        for index, pupil in enumerate(self.pupils):
            pid = chosen.get(index)
            wished = self.wished[index]
            if pid is not None:
                rank = next(r for r, p in wished if p == pid)
                missed = wished[0] if wished[0][0] < rank else None
                params = self._missed(missed) if missed else {}
                result.append(Outcome(pupil.id, pid, rank, REASON_OF_RANK[rank], params))
                continue
            key = (pupil.grade, pupil.starts_on, pupil.ends_on)  # a class, as a rule
            if key not in fitting_for:
                fitting_for[key] = [p for p in self.periods.values() if fits(pupil, p)]
            fitting = fitting_for[key]
            still_free = tuple(sorted(p.id for p in fitting if free[p.id] > 0))
            if not fitting:
                reason = NO_FITTING_OFFER
                params = {
                    "grade": pupil.grade,
                    "starts_on": pupil.starts_on,
                    "ends_on": pupil.ends_on,
                    "free": (),
                }
            elif not wished:
                reason, params = NO_WISHES, {"free": still_free}
            else:
                reason, params = WISHES_FULL, {"free": still_free, **self._missed(wished[0])}
            result.append(Outcome(pupil.id, None, None, reason, params))
        return tuple(result)

    def _missed(self, wish: tuple[int, int]) -> dict[str, object]:
        rank, pid = wish
        return {
            "wish": rank,
            "offer_period_id": pid,
            "places": self.left[pid],
            "wishes": self.demand[wish],
        }
