"""The class day planner's search: pure functions, no database, no clock.

A day is a list of `Candidate` visits (slots that each have room for the whole class)
and `Rules` (the school day, lunch, travel). A proposal is a chain of candidates at
different hosts, in time order, where each next visit starts no earlier than the end of
the previous one plus the travel time between their venues (straight-line distance x
detour factor at the travel speed, plus a buffer), inside the school day, with room
for a lunch break inside the lunch window when one is asked for.

`search` is a depth-first branch and bound: a visit's successors are only the
candidates that start after it ends plus the shortest possible leg (computed once per
visit), tried wanted and topical first so that good days are found early; a chain that
cannot get its lunch break any more is cut, and a chain whose optimistic bound cannot
beat the N-th best proposal found so far is not extended. `exhaustive` checks every
combination; it is the baseline of `bench/planner.py` and the oracle of the property
tests: both give the same proposals.

Ranking (smaller `key` is better): more wanted hosts, then more visits matching the
topics, then more visits, then fewer idle minutes (waiting plus travel), then less
travel, then the earlier start. Proposals are distinct by their sequence of hosts: the
best of each sequence, so five proposals are five different days, not one day with
five slot variations.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Candidate",
    "Leg",
    "Plan",
    "Rules",
    "SearchResult",
    "evaluate",
    "exhaustive",
    "haversine_km",
    "lunch_start",
    "make_leg",
    "search",
    "travel_minutes",
]

EARTH_RADIUS_KM = 6371.0088
LUNCH_FROM = 11 * 60
LUNCH_UNTIL = 14 * 60


@dataclass(frozen=True, slots=True)
class Candidate:
    """One bookable slot. Times are minutes after the day's local midnight."""

    slot_id: int
    host: str
    start: int
    end: int
    lat: float
    lon: float
    wanted: bool = False  # its host is one the teacher asked for
    topical: bool = False  # its event has one of the topics the teacher asked for


@dataclass(frozen=True, slots=True)
class Rules:
    arrive: int  # minutes after local midnight
    leave: int
    speed_kmh: float
    detour: float = 1.3
    buffer: int = 10
    min_visits: int = 2
    max_visits: int = 3
    lunch_minutes: int = 0
    lunch_from: int = LUNCH_FROM
    lunch_until: int = LUNCH_UNTIL
    limit: int = 5


@dataclass(frozen=True, slots=True)
class Leg:
    origin: Candidate
    destination: Candidate
    km: float  # straight line
    minutes: int  # travel on the detoured distance plus the buffer


@dataclass(frozen=True, slots=True)
class Plan:
    visits: tuple[Candidate, ...]
    legs: tuple[Leg, ...]
    lunch: tuple[int, int] | None  # start, end in minutes
    wanted: int
    topical: int
    waiting: int  # minutes the class stands around: before the first visit and between
    travel: int  # minutes on the way, buffers included

    @property
    def key(self) -> tuple[int, int, int, int, int, int, tuple[int, ...]]:
        return (
            -self.wanted,
            -self.topical,
            -len(self.visits),
            self.waiting + self.travel,
            self.travel,
            self.visits[0].start,
            tuple(v.slot_id for v in self.visits),
        )

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(v.host for v in self.visits)

    @property
    def score(self) -> int:
        """One number in the order of `key` (higher is better), for people and clients.

        Base 5 digits for wanted hosts, topic matches and visits (each at most 4), then
        a thousand minus the idle minutes (capped, a school day has fewer).
        """
        head = (self.wanted * 5 + self.topical) * 5 + len(self.visits)
        return head * 1000 + max(0, 999 - min(999, self.waiting + self.travel))


@dataclass
class SearchResult:
    plans: list[Plan]
    checked: int  # chains (search) or combinations (exhaustive) looked at


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def travel_minutes(km: float, rules: Rules) -> int:
    """Whole minutes from one venue to the next, buffer included (rounded up)."""
    return math.ceil(km * rules.detour / rules.speed_kmh * 60 - 1e-9) + rules.buffer


def lunch_start(gap_start: int, gap_end: int, travel: int, rules: Rules) -> int | None:
    """Where a lunch break fits in a gap that also holds `travel` minutes, or None.

    Eat first and then travel, or travel first and eat at the next venue; the earlier.
    """
    need = rules.lunch_minutes
    eat_first = max(gap_start, rules.lunch_from)
    if eat_first + need <= min(gap_end - travel, rules.lunch_until):
        return eat_first
    travel_first = max(gap_start + travel, rules.lunch_from)
    if travel_first + need <= min(gap_end, rules.lunch_until):
        return travel_first
    return None


def make_leg(a: Candidate, b: Candidate, rules: Rules) -> Leg:
    km = haversine_km(a.lat, a.lon, b.lat, b.lon)
    return Leg(a, b, km, travel_minutes(km, rules))


def _inside_day(c: Candidate, rules: Rules) -> bool:
    return rules.arrive <= c.start and c.end <= rules.leave and c.start < c.end


def evaluate(chain: Sequence[Candidate], rules: Rules) -> Plan | None:
    """The plan of `chain` if it is a valid day for the class, else None.

    The reference definition: `search` must agree with it on every chain it returns.
    """
    if not chain or not rules.min_visits <= len(chain) <= rules.max_visits:
        return None
    if len({c.host for c in chain}) != len(chain):
        return None
    if not all(_inside_day(c, rules) for c in chain):
        return None
    legs = []
    for a, b in itertools.pairwise(chain):
        leg = make_leg(a, b, rules)
        if b.start < a.end + leg.minutes:
            return None
        legs.append(leg)
    lunch = None
    inside = False  # lunch before the last visit ends: it shortens the waiting
    if rules.lunch_minutes:
        # The first gap that holds it, as the search places it: arrival, between, after.
        gaps = [(rules.arrive, chain[0].start, 0)]
        gaps += [(leg.origin.end, leg.destination.start, leg.minutes) for leg in legs]
        for gap_start, gap_end, travel in gaps:
            at = lunch_start(gap_start, gap_end, travel, rules)
            if at is not None:
                lunch, inside = at, True
                break
        else:
            at = lunch_start(chain[-1].end, rules.leave, 0, rules)
            if at is None:
                return None
            lunch = at
    travel = sum(leg.minutes for leg in legs)
    between = sum(b.start - a.end for a, b in itertools.pairwise(chain))
    gaps_total = chain[0].start - rules.arrive + between
    waiting = gaps_total - travel - (rules.lunch_minutes if inside else 0)
    return Plan(
        visits=tuple(chain),
        legs=tuple(legs),
        lunch=(lunch, lunch + rules.lunch_minutes) if lunch is not None else None,
        wanted=sum(c.wanted for c in chain),
        topical=sum(c.topical for c in chain),
        waiting=waiting,
        travel=travel,
    )


class _Best:
    """The best plan of each host sequence, keeping only what can still be in the top N.

    The N-th best key only ever falls, so a plan that is not better than it can never
    enter the top N: it is dropped at once, and `threshold` bounds the search.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.by_hosts: dict[tuple[str, ...], Plan] = {}
        self.threshold: tuple[object, ...] | None = None

    def offer(self, plan: Plan) -> None:
        key = plan.key
        if self.threshold is not None and key >= self.threshold:
            return
        hosts = plan.hosts
        current = self.by_hosts.get(hosts)
        if current is not None and current.key <= key:
            return
        self.by_hosts[hosts] = plan
        if len(self.by_hosts) >= self.limit:
            top = heapq.nsmallest(self.limit, self.by_hosts.values(), key=lambda p: p.key)
            self.by_hosts = {p.hosts: p for p in top}
            self.threshold = top[-1].key

    def plans(self) -> list[Plan]:
        return sorted(self.by_hosts.values(), key=lambda p: p.key)[: self.limit]


def exhaustive(candidates: Iterable[Candidate], rules: Rules) -> SearchResult:
    """Every combination of min..max visits, each checked: the baseline."""
    pool = sorted(candidates, key=lambda c: (c.start, c.end, c.slot_id))
    best = _Best(rules.limit)
    checked = 0
    for size in range(rules.min_visits, rules.max_visits + 1):
        for combo in itertools.combinations(pool, size):
            checked += 1
            plan = evaluate(combo, rules)
            if plan is not None:
                best.offer(plan)
    return SearchResult(best.plans(), checked)


@dataclass
class _Node:
    """A chain under construction, with its running totals."""

    chain: list[Candidate] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    lunch: int | None = None  # placed before the last visit's end
    wanted: int = 0
    topical: int = 0
    waiting: int = 0
    travel: int = 0


def search(
    candidates: Iterable[Candidate],
    rules: Rules,
    *,
    required: Sequence[Candidate] = (),
) -> SearchResult:
    """The best `rules.limit` plans, by depth-first branch and bound.

    `required` visits are in every plan (a replacement keeps the class's other visits);
    they need not lie inside the school day or be in `candidates`.
    """
    fixed = sorted(required, key=lambda c: (c.start, c.slot_id))
    fixed_ids = {c.slot_id for c in fixed}
    fixed_hosts = {c.host for c in fixed}
    pool = [
        c
        for c in candidates
        if c.slot_id not in fixed_ids and c.host not in fixed_hosts and _inside_day(c, rules)
    ]
    pool = sorted([*pool, *fixed], key=lambda c: (c.start, c.end, c.slot_id))
    starts = [c.start for c in pool]
    best = _Best(rules.limit)
    checked = 0
    lunch = rules.lunch_minutes
    # The latest start of any / a wanted / a topical candidate per host: what the bound
    # can still hope to add after a given time.
    latest: dict[str, int] = {}
    latest_wanted: dict[str, int] = {}
    latest_topical: dict[str, int] = {}
    for c in pool:
        latest[c.host] = max(latest.get(c.host, -1), c.start)
        if c.wanted:
            latest_wanted[c.host] = max(latest_wanted.get(c.host, -1), c.start)
        if c.topical:
            latest_topical[c.host] = max(latest_topical.get(c.host, -1), c.start)
    # Travel by pair of venues (a firm's slots share one): km and minutes.
    trips: dict[tuple[float, float, float, float], tuple[float, int]] = {}

    def trip(a: Candidate, b: Candidate) -> tuple[float, int]:
        pair = (a.lat, a.lon, b.lat, b.lon)
        found = trips.get(pair)
        if found is None:
            km = haversine_km(*pair)
            found = trips[pair] = (km, travel_minutes(km, rules))
        return found

    def hopeless(node: _Node) -> bool:
        """True when no extension of `node` can beat the N-th best proposal so far.

        Compares an optimistic key (more wanted, topical and visits than could still
        be added; idle and travel as they are, since they only grow) with the
        threshold lexicographically, computing each part only when the ones before tie.
        """
        threshold = best.threshold
        if threshold is None:
            return False
        room = rules.max_visits - len(node.chain)
        after = node.chain[-1].end + rules.buffer

        def can_add(table: dict[str, int]) -> int:
            if room == 0:
                return 0
            found = sum(1 for h, t in table.items() if t >= after and h not in node.hosts)
            return min(room, found)

        for n, limit in enumerate(threshold):
            if n == 0:
                value: object = -(node.wanted + can_add(latest_wanted))
            elif n == 1:
                value = -(node.topical + can_add(latest_topical))
            elif n == 2:
                value = -(len(node.chain) + can_add(latest))
            elif n == 3:
                value = node.waiting + node.travel
            elif n == 4:
                value = node.travel
            elif n == 5:
                value = node.chain[0].start
            else:
                value = tuple(c.slot_id for c in node.chain)
            if value != limit:
                return value > limit  # type: ignore[operator]
        return True  # equal to the threshold: not better

    def finish(node: _Node) -> None:
        """Offer `node` as a proposal when it is one."""
        if len(node.chain) < rules.min_visits:
            return
        placed: tuple[int, int] | None = None
        if lunch:
            if node.lunch is not None:
                placed = (node.lunch, node.lunch + lunch)
            else:
                at = lunch_start(node.chain[-1].end, rules.leave, 0, rules)
                if at is None:
                    return
                placed = (at, at + lunch)
        best.offer(
            Plan(
                visits=tuple(node.chain),
                legs=tuple(node.legs),
                lunch=placed,
                wanted=node.wanted,
                topical=node.topical,
                waiting=node.waiting,
                travel=node.travel,
            )
        )

    # Promising candidates first (wanted, then topical, then early), so that good
    # proposals are found early and the bound prunes sooner. With required visits the
    # order stays by time: passing a required visit ends a branch.
    ranked = pool if fixed else sorted(pool, key=lambda c: (not c.wanted, not c.topical))
    following: dict[int, list[Candidate]] = {}

    def successors(last: Candidate) -> list[Candidate]:
        found = following.get(last.slot_id)
        if found is None:
            earliest = last.end + rules.buffer  # no leg is shorter than the buffer
            if fixed:
                found = pool[bisect.bisect_left(starts, earliest) :]
            else:
                found = [c for c in ranked if c.start >= earliest]
            following[last.slot_id] = found
        return found

    def grow(node: _Node, fixed_left: int) -> None:
        nonlocal checked
        last = node.chain[-1]
        pending = fixed[len(fixed) - fixed_left] if fixed_left else None
        for c in successors(last):
            if pending is not None and c.start > pending.start:
                break  # passing a required visit would leave it out
            if c.host in node.hosts:
                continue
            checked += 1
            km, minutes = trip(last, c)
            if c.start < last.end + minutes:
                continue
            gap = c.start - last.end
            placed = node.lunch
            waiting = node.waiting + gap - minutes
            if lunch and placed is None:
                at = lunch_start(last.end, c.start, minutes, rules)
                if at is not None:
                    placed, waiting = at, waiting - lunch
                elif c.end > rules.lunch_until - lunch:
                    continue  # no later gap can hold the lunch break
            child = _Node(
                chain=[*node.chain, c],
                legs=[*node.legs, Leg(last, c, km, minutes)],
                hosts=node.hosts | {c.host},
                lunch=placed,
                wanted=node.wanted + c.wanted,
                topical=node.topical + c.topical,
                waiting=waiting,
                travel=node.travel + minutes,
            )
            left = fixed_left - (1 if c is pending else 0)
            _visit(child, left)

    def _visit(node: _Node, fixed_left: int) -> None:
        if hopeless(node):
            return
        if fixed_left == 0:
            finish(node)
        if len(node.chain) < rules.max_visits:
            grow(node, fixed_left)

    first_fixed = fixed[0] if fixed else None
    for c in ranked:
        if first_fixed is not None and c.start > first_fixed.start:
            break
        checked += 1
        placed = None
        waiting = c.start - rules.arrive
        if lunch:
            at = lunch_start(rules.arrive, c.start, 0, rules)
            if at is not None:
                placed, waiting = at, waiting - lunch
            elif c.end > rules.lunch_until - lunch:
                continue
        node = _Node(
            chain=[c],
            hosts={c.host},
            lunch=placed,
            wanted=int(c.wanted),
            topical=int(c.topical),
            waiting=waiting,
        )
        _visit(node, len(fixed) - (1 if c is first_fixed else 0))
    return SearchResult(best.plans(), checked)
