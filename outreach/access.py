"""Who may see and who may manage an event: asked by every feature that touches one."""

from __future__ import annotations

from outreach.errors import NotFound
from outreach.events.tables import Event
from outreach.principal import Principal

__all__ = ["can_manage", "can_see", "load_event_row", "visible_event"]


def can_manage(event: Event, by: Principal) -> bool:
    return by.is_admin or (by.role in ("firm", "school") and by.belongs_to(event.host))


def can_see(event: Event, by: Principal) -> bool:
    if can_manage(event, by):
        return True
    if event.status == "draft":
        return False
    return event.visibility == "public" or by.is_member


async def load_event_row(event_id: int, by: Principal) -> Event:
    """The event if `by` may see it; NotFound otherwise, so its existence is not revealed."""
    return visible_event(await Event.objects().where(Event.id == event_id).first(), event_id, by)


def visible_event(event: Event | None, event_id: int, by: Principal) -> Event:
    """`event` (read already) if `by` may see it; NotFound as `load_event_row` says it."""
    if event is None or not can_see(event, by):
        raise NotFound(f"no event {event_id}", field="event")
    return event
