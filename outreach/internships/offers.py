"""Internship offers: a firm (or the office for it) creates, changes and publishes them;
everyone sees the published ones with their free places."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from outreach.db import for_update, write_transaction
from outreach.errors import DomainError, Invalid, NotFound, together
from outreach.internships.rules import acting_org, taken_places, today
from outreach.internships.schemas import OfferIn, OfferOut, OfferPeriodOut, OfferStatus
from outreach.internships.tables import InternshipOffer, OfferPeriod
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = [
    "create_offer",
    "get_offer",
    "list_offers",
    "offers_of_host",
    "set_offer_status",
    "set_places",
    "update_offer",
]

OF = InternshipOffer


def _check_periods(data: OfferIn, now: datetime) -> None:
    found: list[DomainError] = []
    first = today(now)
    for i, period in enumerate(data.periods):
        if period.starts_on < first:
            found.append(
                Invalid.because("in_the_past", field=f"periods[{i}].starts_on", today=first)
            )
        if period.ends_on < period.starts_on:
            found.append(
                Invalid.because(
                    "ends_before_starts", field=f"periods[{i}].ends_on", starts_on=period.starts_on
                )
            )
    if found:
        raise together(found)


def _may_manage(offer: InternshipOffer, by: Principal) -> bool:
    return by.is_admin or (by.role == "firm" and by.belongs_to(offer.host))


async def create_offer(data: OfferIn, *, by: Principal, now: datetime | None = None) -> OfferOut:
    """A firm's offer with its periods, in one transaction."""
    now = now or utcnow()
    host = await acting_org(by, "firm", data.host, field="host")
    _check_periods(data, now)
    async with write_transaction():
        offer = OF(
            host=host,
            occupation=data.occupation.strip(),
            description=data.description.strip(),
            grades=sorted(set(data.grades)),
            status=data.status,
            contact_name=data.contact_name.strip(),
            contact_email=data.contact_email.strip(),
            created_by=by.user_id,
            created_at=now,
            updated_at=now,
        )
        await offer.save()
        await OfferPeriod.insert(
            *(
                OfferPeriod(
                    offer=offer.id, starts_on=p.starts_on, ends_on=p.ends_on, places=p.places
                )
                for p in data.periods
            )
        )
    return await get_offer(offer.id, by=by)


async def _managed(offer_id: int, by: Principal) -> InternshipOffer:
    offer = await for_update(OF.objects().where(OF.id == offer_id)).first()
    if offer is None or not _may_manage(offer, by):
        raise NotFound("no such offer", field="offer")
    return offer


async def update_offer(
    offer_id: int, data: OfferIn, *, by: Principal, now: datetime | None = None
) -> OfferOut:
    """The offer's own fields as given; its periods stay (their places: `set_places`)."""
    now = now or utcnow()
    async with write_transaction():
        await _managed(offer_id, by)
        await OF.update(
            {
                OF.occupation: data.occupation.strip(),
                OF.description: data.description.strip(),
                OF.grades: sorted(set(data.grades)),
                OF.status: data.status,
                OF.contact_name: data.contact_name.strip(),
                OF.contact_email: data.contact_email.strip(),
                OF.updated_at: now,
            }
        ).where(OF.id == offer_id)
    return await get_offer(offer_id, by=by)


async def set_offer_status(
    offer_id: int, status: OfferStatus, *, by: Principal, now: datetime | None = None
) -> OfferOut:
    """Publish an offer (or take it back to draft)."""
    async with write_transaction():
        await _managed(offer_id, by)
        changed = {OF.status: status, OF.updated_at: now or utcnow()}
        await OF.update(changed).where(OF.id == offer_id)
    return await get_offer(offer_id, by=by)


async def set_places(period_id: int, places: int, *, by: Principal) -> OfferOut:
    """Change a period's places; never below the places held by confirmed rounds."""
    if not 1 <= places <= 500:
        raise Invalid.because("out_of_range", field="places", min=1, max=500)
    async with write_transaction():
        period = await OfferPeriod.objects().where(OfferPeriod.id == period_id).first()
        if period is None:
            raise NotFound("no such offer period", field="period")
        await _managed(period.offer, by)
        held = (await taken_places([period_id])).get(period_id, 0)
        if places < held:
            raise Invalid.because("below_booked", field="places", booked=held)
        await OfferPeriod.update({OfferPeriod.places: places}).where(OfferPeriod.id == period_id)
    return await get_offer(period.offer, by=by)


async def _out(rows: Sequence[dict]) -> list[OfferOut]:
    ids = [row["id"] for row in rows]
    periods = (
        await OfferPeriod.select()
        .where(OfferPeriod.offer.is_in(ids))
        .order_by(OfferPeriod.starts_on)
        if ids
        else []
    )
    taken = await taken_places([p["id"] for p in periods])
    by_offer: dict[int, list[OfferPeriodOut]] = {}
    for p in periods:
        by_offer.setdefault(p["offer"], []).append(
            OfferPeriodOut(
                id=p["id"],
                starts_on=p["starts_on"],
                ends_on=p["ends_on"],
                places=p["places"],
                free=max(0, p["places"] - taken.get(p["id"], 0)),
            )
        )
    return [
        OfferOut(
            id=row["id"],
            host=row["host.slug"],
            host_name=row["host.name"],
            occupation=row["occupation"],
            description=row["description"],
            grades=list(row["grades"] or []),
            status=row["status"],
            periods=by_offer.get(row["id"], []),
            contact_name=row["contact_name"],
            contact_email=row["contact_email"],
        )
        for row in rows
    ]


_COLUMNS = (
    OF.id,
    OF.host.slug,
    OF.host.name,
    OF.occupation,
    OF.description,
    OF.grades,
    OF.status,
    OF.contact_name,
    OF.contact_email,
)


async def get_offer(offer_id: int, *, by: Principal) -> OfferOut:
    row = await OF.select(*_COLUMNS, OF.host).where(OF.id == offer_id).first()
    if row is None or (row["status"] != "published" and not _manages(row["host"], by)):
        raise NotFound("no such offer", field="offer")
    return (await _out([row]))[0]


def _manages(host: int, by: Principal) -> bool:
    return by.is_admin or (by.role == "firm" and by.belongs_to(host))


async def list_offers(
    *,
    by: Principal,
    grade: int | None = None,
    occupation: str | None = None,
    host: str | None = None,
) -> list[OfferOut]:
    """Published offers (everyone), filtered by grade, occupation (words in it), host slug."""
    query = OF.select(*_COLUMNS, OF.host).where(OF.status == "published")
    if host:
        query = query.where(OF.host.slug == host.strip().lower())
    rows = await query.order_by(OF.occupation).order_by(OF.id)
    if grade is not None:
        rows = [r for r in rows if grade in (r["grades"] or [])]
    words = (occupation or "").strip().casefold()
    if words:
        rows = [r for r in rows if words in r["occupation"].casefold()]
    return await _out(rows)


async def offers_of_host(*, by: Principal) -> list[OfferOut]:
    """A firm's own offers, drafts too (the office: every offer)."""
    query = OF.select(*_COLUMNS, OF.host)
    if not by.is_admin:
        if by.role != "firm" or by.org_id is None:
            return []
        query = query.where(OF.host == by.org_id)
    return await _out(await query.order_by(OF.occupation).order_by(OF.id))
