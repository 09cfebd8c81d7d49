"""Internships in the feeds: all-day entries rendered when a feed is joined.

- The public feeds list each published offer's periods (occupation, firm, grades,
  places): no pupil, no first name. A feed filtered by kind (visits) has none; one
  filtered by host or grade only the offers of that firm or grade.
- A school's and a firm's private feeds list their placements of confirmed rounds over
  the class's period (the school: its pupils; the firm: its own offers' pupils), with
  the pupil's first name, never the code or the wish's rank. A cancelled placement stays
  30 days as STATUS:CANCELLED with a higher SEQUENCE, as visits do.

Entries are all-day: DTSTART;VALUE=DATE on the first day, DTEND the day after the last
(exclusive), so no time zone or DST change moves them. Their DTSTAMP is the row's last
change, so the bytes stay the same until a row changes. The services mark the
organisation changed (`calendar.changes.mark_changed(org_id=)`) and the publisher joins
the feeds again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from outreach.calendar.ical import VEventSpec, vevent_bytes
from outreach.config import get_settings
from outreach.db import is_postgres, pg_fetch
from outreach.feeds.render import CANCELLED_KEPT, PAST_KEPT, feed_host
from outreach.internships.tables import ClassPeriod, InternshipOffer, OfferPeriod, Placement
from outreach.timeutil import local

__all__ = ["offer_entries", "placement_entries"]

_DASH = "\u2013"
_DAY = timedelta(days=1)


def _grades(grades: list[int] | None) -> str:
    return ", ".join(str(g) for g in sorted(grades or ()))


def _day(now: datetime) -> date:
    return local(now).date()


# PostgreSQL: `_offer_rows`' query written once (a public feed's republish runs it for
# every change; building the three-table join with Piccolo cost more than running it).
_PG_OFFER_ROWS = (
    "SELECT p.id, p.starts_on, p.ends_on, p.places, p.offer, o.occupation, o.description, "
    "o.grades, o.updated_at AS stamp, h.name AS firm FROM internship_offer_period p "
    "JOIN internship_offer o ON o.id = p.offer LEFT JOIN organisation h ON h.id = o.host "
    "WHERE o.status = 'published' AND p.ends_on >= $1 AND ($2::integer IS NULL OR o.host = $2) "
    "ORDER BY p.starts_on, p.id"
)


async def _offer_rows(host_id: int | None, since: date) -> list[dict[str, Any]]:
    if is_postgres():
        return [dict(r) for r in await pg_fetch(_PG_OFFER_ROWS, since, host_id)]
    OP = OfferPeriod
    query = OP.select(
        OP.id,
        OP.starts_on,
        OP.ends_on,
        OP.places,
        OP.offer.as_alias("offer"),
        OP.offer.occupation.as_alias("occupation"),
        OP.offer.description.as_alias("description"),
        OP.offer.grades.as_alias("grades"),
        OP.offer.updated_at.as_alias("stamp"),
        OP.offer.host.name.as_alias("firm"),
    ).where((OP.offer.status == "published") & (OP.ends_on >= since))
    if host_id is not None:
        query = query.where(OP.offer.host == host_id)
    return await query.order_by(OP.starts_on).order_by(OP.id)


async def offer_entries(*, host_id: int | None, grade: int | None, now: datetime) -> list[bytes]:
    """The published offers' periods, for a public feed (optionally one firm or grade)."""
    base = get_settings().base_url
    out = []
    for r in await _offer_rows(host_id, _day(now) - PAST_KEPT):
        if grade is not None and grade not in (r["grades"] or ()):
            continue
        lines = [
            f"Praktikumsplatz als {r['occupation']} bei {r['firm']}.",
            f"Klassenstufen {_grades(r['grades'])}; {r['places']} Plätze.",
        ]
        if r["description"]:
            lines.append(r["description"])
        url = f"{base}/internships"
        lines.append(url)
        spec = VEventSpec(
            uid=f"internship-offer-period-{r['id']}@{feed_host()}",
            sequence=0,
            stamp=r["stamp"],
            start=r["starts_on"],
            end=r["ends_on"] + _DAY,
            summary=f"Praktikum: {r['occupation']} {_DASH} {r['firm']}",
            description="\n".join(lines),
            url=url,
            categories=("Praktikum",),
            classification="PUBLIC",
            last_modified=r["stamp"],
        )
        out.append(vevent_bytes(spec))
    return out


async def placement_entries(*, role: str | None, org_id: int | None, now: datetime) -> list[bytes]:
    """A school's (its pupils') or a firm's (its offers') placements of confirmed rounds."""
    if org_id is None or role not in ("school", "firm"):
        return []
    P = Placement
    query = P.select(
        P.id,
        P.status,
        P.reason,
        P.updated_at,
        P.cancelled_at,
        P.pupil.first_name.as_alias("first_name"),
        P.pupil.class_period.as_alias("class_id"),
        P.offer_period.offer.as_alias("offer"),
    ).where(
        (P.round.status == "confirmed")
        & P.offer_period.is_not_null()
        & P.status.is_in(["placed", "confirmed_by_firm", "cancelled"])
    )
    if role == "school":
        query = query.where(P.pupil.class_period.school == org_id)
    else:
        query = query.where(P.offer_period.offer.host == org_id)
    rows = await query.order_by(P.id)
    if not rows:
        return []
    C, OF = ClassPeriod, InternshipOffer
    classes = {
        c["id"]: c
        for c in await C.select(
            C.id, C.class_label, C.starts_on, C.ends_on, C.school.name.as_alias("school")
        ).where(C.id.is_in(sorted({r["class_id"] for r in rows})))
    }
    offers = {
        o["id"]: o
        for o in await OF.select(OF.id, OF.occupation, OF.host.name.as_alias("firm")).where(
            OF.id.is_in(sorted({r["offer"] for r in rows}))
        )
    }
    today = _day(now)
    base = get_settings().base_url
    out = []
    for r in rows:
        klass, offer = classes[r["class_id"]], offers[r["offer"]]
        if klass["ends_on"] < today - PAST_KEPT:
            continue
        cancelled = r["status"] == "cancelled"
        if cancelled and r["cancelled_at"] is not None and r["cancelled_at"] + CANCELLED_KEPT < now:
            continue
        out.append(vevent_bytes(_placement_spec(r, klass, offer, role, base)))
    return out


def _placement_spec(
    r: dict[str, Any], klass: dict[str, Any], offer: dict[str, Any], role: str, base: str
) -> VEventSpec:
    cancelled = r["status"] == "cancelled"
    name = r["first_name"] or "Schüler/in"
    if role == "school":
        summary = f"Praktikum {name} (Klasse {klass['class_label']}) {_DASH} {offer['firm']}"
        url = f"{base}/school/internships/classes/{r['class_id']}"
    else:
        summary = f"Praktikum {name} ({klass['school']}, Klasse {klass['class_label']})"
        url = f"{base}/firm/internships"
    if cancelled:
        summary = f"Entfällt: {summary}"
    lines = [
        f"{name}, Klasse {klass['class_label']}, {klass['school']}.",
        f"Praktikum als {offer['occupation']} bei {offer['firm']}.",
    ]
    if r["status"] == "confirmed_by_firm":
        lines.append("Von der Firma bestätigt.")
    lines.append(url)
    return VEventSpec(
        uid=f"internship-placement-{r['id']}@{feed_host()}",
        # A place handed on (next in line) and a cancellation each raise it.
        sequence=int(r["reason"] == "next_in_line") + int(cancelled),
        stamp=r["updated_at"],
        start=klass["starts_on"],
        end=klass["ends_on"] + _DAY,
        summary=summary,
        description="\n".join(lines),
        url=url,
        status="CANCELLED" if cancelled else "CONFIRMED",
        categories=("Praktikum",),
        classification="PRIVATE",
        last_modified=r["updated_at"],
    )
