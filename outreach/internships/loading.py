"""The allocation's inputs read from the tables: pupils with their wishes, the published
offers' periods, a round's outcomes as the allocation knows them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from outreach.internships import allocation
from outreach.internships.tables import HOLDING, OfferPeriod, Placement, Pupil, Wish

__all__ = ["offer_periods", "outcomes_of", "pupils_of", "stored_params", "wishes_of"]


async def wishes_of(pupil_ids: list[int]) -> dict[int, list[int]]:
    """Each pupil's wished offer periods, best rank first."""
    wishes: dict[int, list[int]] = {}
    if pupil_ids:
        for w in (
            await Wish.select(Wish.pupil, Wish.offer_period)
            .where(Wish.pupil.is_in(pupil_ids))
            .order_by(Wish.rank)
        ):
            wishes.setdefault(w["pupil"], []).append(w["offer_period"])
    return wishes


async def pupils_of(class_ids: Iterable[int]) -> list[allocation.Pupil]:
    ids = sorted(set(class_ids))
    if not ids:
        return []
    rows = (
        await Pupil.select(
            Pupil.id,
            Pupil.class_period.grade.as_alias("grade"),
            Pupil.class_period.starts_on.as_alias("starts_on"),
            Pupil.class_period.ends_on.as_alias("ends_on"),
        )
        .where(Pupil.class_period.is_in(ids))
        .order_by(Pupil.id)
    )
    wishes = await wishes_of([r["id"] for r in rows])
    return [
        allocation.Pupil(
            id=r["id"],
            grade=r["grade"],
            starts_on=r["starts_on"],
            ends_on=r["ends_on"],
            wishes=tuple(wishes.get(r["id"], ())),
        )
        for r in rows
    ]


async def offer_periods(ids: Iterable[int] | None = None) -> list[allocation.OfferPeriod]:
    """The periods of published offers (those named, or all)."""
    query = OfferPeriod.select(
        OfferPeriod.id,
        OfferPeriod.offer,
        OfferPeriod.starts_on,
        OfferPeriod.ends_on,
        OfferPeriod.places,
        OfferPeriod.offer.grades.as_alias("grades"),
    ).where(OfferPeriod.offer.status == "published")
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        query = query.where(OfferPeriod.id.is_in(wanted))
    return [
        allocation.OfferPeriod(
            id=r["id"],
            offer_id=r["offer"],
            grades=frozenset(r["grades"] or ()),
            starts_on=r["starts_on"],
            ends_on=r["ends_on"],
            places=r["places"],
        )
        for r in await query.order_by(OfferPeriod.id)
    ]


def stored_params(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def outcomes_of(round_id: int) -> list[allocation.Outcome]:
    """The round's outcomes now: a cancelled placement holds no place."""
    rows = await Placement.select(
        Placement.pupil, Placement.offer_period, Placement.rank, Placement.reason, Placement.status
    ).where(Placement.round == round_id)
    return [
        allocation.Outcome(
            pupil_id=r["pupil"],
            offer_period_id=r["offer_period"] if r["status"] in HOLDING else None,
            rank=r["rank"] if r["status"] in HOLDING else None,
            reason=r["reason"],
            params={},
        )
        for r in rows
    ]
