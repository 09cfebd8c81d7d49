"""The internship figures of a school year: offers, wishes, placements, first-wish share,
attendance and apprenticeship offers, per firm and per school.

A school year's internships are the offer periods and class periods that begin in it
(1 August to 31 July, local days). What counts:
- an offer: a published offer with a period in the year; its places are the sum of
  those periods' places;
- a wish: one ranked wish of a pupil of a class of the year (counted for the firm
  wished and for the pupil's school);
- a placement: a place held in a confirmed round (placed or confirmed by the firm; a
  cancelled one is not counted); the first-wish share is the share of those on rank 1;
- attendance: the days attended over the period's working days, of the placements
  whose attendance the firm recorded; an apprenticeship offer is one recorded as offered.

Fetched with a few SELECTs and added up in Python, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from outreach.internships.rules import working_days
from outreach.internships.tables import (
    HOLDING,
    ClassPeriod,
    InternshipOffer,
    OfferPeriod,
    Placement,
    Wish,
)
from outreach.principal import Principal
from outreach.timeutil import local
from outreach.workplan.facts import school_year_bounds

__all__ = ["InternshipFacts", "in_internship_scope", "internship_facts"]


@dataclass(frozen=True, slots=True)
class OfferFact:
    host_id: int
    host_name: str
    offer_id: int
    places: int
    school_id: None = None


@dataclass(frozen=True, slots=True)
class WishFact:
    host_id: int
    host_name: str
    school_id: int
    school_name: str


@dataclass(frozen=True, slots=True)
class PlacementFact:
    host_id: int
    host_name: str
    school_id: int
    school_name: str
    first_wish: bool
    days_attended: int | None  # None: not recorded yet
    working_days: int
    apprenticeship_offered: bool


@dataclass(frozen=True, slots=True)
class InternshipFacts:
    offers: list[OfferFact]
    wishes: list[WishFact]
    placements: list[PlacementFact]


def _days(year: str) -> tuple[date, date]:
    """The first and the last day of the school year (local days)."""
    start, end = school_year_bounds(year)
    return local(start).date(), local(end).date() - timedelta(days=1)


async def internship_facts(year: str) -> InternshipFacts:
    first, last = _days(year)
    OP = OfferPeriod
    periods = await OP.select(
        OP.places,
        OP.offer.as_alias("offer"),
        OP.offer.host.as_alias("host_id"),
        OP.offer.host.name.as_alias("host_name"),
    ).where((OP.offer.status == "published") & (OP.starts_on >= first) & (OP.starts_on <= last))
    offers: dict[int, OfferFact] = {}
    for r in periods:
        had = offers.get(r["offer"])
        offers[r["offer"]] = OfferFact(
            r["host_id"], r["host_name"], r["offer"], r["places"] + (had.places if had else 0)
        )
    C = ClassPeriod
    classes = {
        c["id"]: c
        for c in await C.select(
            C.id, C.starts_on, C.ends_on, C.school, C.school.name.as_alias("school_name")
        ).where((C.starts_on >= first) & (C.starts_on <= last))
    }
    if not classes:
        return InternshipFacts(sorted(offers.values(), key=lambda o: o.offer_id), [], [])
    ids = sorted(classes)
    wish_rows = await Wish.select(
        Wish.pupil.class_period.as_alias("class_id"),
        Wish.offer_period.offer.as_alias("offer"),
    ).where(Wish.pupil.class_period.is_in(ids))
    P = Placement
    placement_rows = await P.select(
        P.rank,
        P.days_attended,
        P.apprenticeship_offered,
        P.pupil.class_period.as_alias("class_id"),
        P.offer_period.offer.as_alias("offer"),
    ).where(
        P.pupil.class_period.is_in(ids)
        & (P.round.status == "confirmed")
        & P.status.is_in(list(HOLDING))
        & P.offer_period.is_not_null()
    )
    offer_ids = sorted({r["offer"] for r in [*wish_rows, *placement_rows]})
    hosts = {
        o["id"]: o
        for o in (
            await InternshipOffer.select(
                InternshipOffer.id,
                InternshipOffer.host.as_alias("host_id"),
                InternshipOffer.host.name.as_alias("host_name"),
            ).where(InternshipOffer.id.is_in(offer_ids))
            if offer_ids
            else []
        )
    }
    wishes = [
        WishFact(
            hosts[r["offer"]]["host_id"],
            hosts[r["offer"]]["host_name"],
            classes[r["class_id"]]["school"],
            classes[r["class_id"]]["school_name"],
        )
        for r in wish_rows
    ]
    placements = []
    for r in placement_rows:
        klass, host = classes[r["class_id"]], hosts[r["offer"]]
        placements.append(
            PlacementFact(
                host["host_id"],
                host["host_name"],
                klass["school"],
                klass["school_name"],
                r["rank"] == 1,
                r["days_attended"],
                working_days(klass["starts_on"], klass["ends_on"]),
                bool(r["apprenticeship_offered"]),
            )
        )
    return InternshipFacts(sorted(offers.values(), key=lambda o: o.offer_id), wishes, placements)


def in_internship_scope(fact: OfferFact | WishFact | PlacementFact, by: Principal) -> bool:
    """A member's own figures: a firm its offers' wishes and placements, a school its
    pupils' (a school has no offers)."""
    if by.is_admin:
        return True
    if by.org_id is None:
        return False
    if by.role == "firm":
        return fact.host_id == by.org_id
    return by.role == "school" and fact.school_id == by.org_id
