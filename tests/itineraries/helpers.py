"""A small network around Glashütte for the planner's tests, built through the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from outreach.events.schemas import EventIn, SlotIn, VenueIn
from outreach.events.services import add_slot, create_event
from outreach.organisations.services import OrganisationIn, create_organisation
from outreach.principal import Principal
from tests.factories import at, make_user, make_world, school_day

# Real-ish places: three firms about a kilometre apart in Glashütte, one in Dresden.
PLACES = {
    "rehn": (50.8478, 13.7776),
    "kaden": (50.8562, 13.7815),
    "seifert": (50.8509, 13.7789),
    "lange": (50.8530, 13.7850),
    "dresden": (51.0504, 13.7373),
}


@dataclass
class Net:
    day: date
    world: object
    firms: dict[str, Principal] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)

    async def tour(
        self,
        firm: str,
        *,
        topics: tuple[str, ...] = (),
        grades: tuple[int, ...] = (),
        booking_mode: str = "auto",
    ) -> int:
        lat, lon = PLACES[firm]
        event = await create_event(
            EventIn(
                kind="factory_tour",
                title=f"Tour bei {firm}",
                topics=list(topics),
                grades=list(grades),
                venue=VenueIn(name=f"Werk {firm}", street="Hauptstraße 1", lat=lat, lon=lon),
                booking_mode=booking_mode,  # type: ignore[arg-type]
                waitlist=False,
                status="published",
            ),
            by=self.firms[firm],
        )
        self.events[firm] = event.id
        return event.id

    async def slot(
        self,
        firm: str,
        hour: int,
        minute: int = 0,
        *,
        minutes: int = 90,
        capacity: int = 30,
        day: date | None = None,
        event: int | None = None,
    ) -> int:
        start = at(day or self.day, hour, minute)
        out = await add_slot(
            event or self.events[firm],
            SlotIn(
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                capacity=capacity,
                min_party=1,
                max_party=capacity,
            ),
            by=self.firms[firm],
        )
        return out.id


async def make_net(firms: tuple[str, ...] = ("rehn", "kaden", "seifert", "lange")) -> Net:
    """The usual cast (two schools, admin) plus the named firms, each with a user."""
    world = await make_world()
    net = Net(day=school_day(), world=world)
    for slug in firms:
        lat, lon = PLACES[slug]
        await create_organisation(
            OrganisationIn(
                kind="firm",
                slug=slug,
                name=f"{slug.title()} GmbH",
                lat=lat,
                lon=lon,
                contact_name=f"Frau {slug.title()}",
                contact_email=f"kontakt@{slug}.example",
                contact_phone="035053 0000",
            )
        )
        net.firms[slug], net.tokens[slug] = await make_user("firm", slug)
    return net


async def three_firm_day(net: Net, *, lunch_gap: bool = False) -> dict[str, int]:
    """Rehn 9:00, Kaden 11:00, Seifert 13:00 (13:30 with `lunch_gap`), 90 minutes each."""
    await net.tour("rehn", topics=("feinmechanik",))
    await net.tour("kaden", topics=("cnc",))
    await net.tour("seifert", topics=("uhrmacher",))
    return {
        "rehn": await net.slot("rehn", 9),
        "kaden": await net.slot("kaden", 11),
        "seifert": await net.slot("seifert", 13, 30 if lunch_gap else 0),
    }
