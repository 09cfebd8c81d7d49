"""Presenter invitations: a school invites firms to present at its parents' evening.

Rules, all here: only the hosting school (or the network office) invites and withdraws;
only the invited firm answers; anyone else is told the invitation does not exist, so a
firm learns nothing of its competitors' invitations. Each change and its mails commit
together (the outbox); the firm's coordinators hear of an invitation or a withdrawal,
the inviting teacher (or the school's contact) of an answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from outreach.access import load_event_row
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events import services as events
from outreach.events.evening_notices import tell_firm, tell_school
from outreach.events.schemas import EventIn, EventOut, EventPatch, SlotIn, SlotPatch, VenueIn
from outreach.events.tables import Event, Slot
from outreach.organisations.tables import Organisation
from outreach.presenters.schemas import EveningEdit, InvitationOut, InviteIn
from outreach.presenters.tables import PresenterInvitation
from outreach.principal import Principal
from outreach.timeutil import local, utcnow

__all__ = [
    "InviteResult",
    "accept",
    "accepted_presenters",
    "create_evening",
    "decline",
    "forget_old_words",
    "forget_words_of",
    "get_invitation",
    "invitations_for_event",
    "invite_firms",
    "list_invitations",
    "update_evening",
    "withdraw",
]

P = PresenterInvitation
# From which states each answer may be given: a firm may change its mind until withdrawn.
_ANSWERABLE = {"accepted": ("invited", "declined"), "declined": ("invited", "accepted")}


@dataclass(frozen=True)
class InviteResult:
    invited: list[InvitationOut]  # new or renewed invitations (mailed)
    unchanged: list[InvitationOut]  # already invited or accepted: left alone, not mailed


def _may_host(event: Event, by: Principal) -> bool:
    return by.is_admin or (by.role == "school" and by.belongs_to(event.host))


async def _evening(event_id: int, by: Principal, *, lock: bool = False) -> Event:
    """The parents' evening `by` hosts; NotFound for anyone else (existence not revealed)."""
    query = Event.objects().where(Event.id == event_id)
    event = await (for_update(query) if lock else query).first()
    if event is None or not _may_host(event, by):
        if event is not None and event.status != "draft" and by.is_member:
            raise Forbidden("only the hosting school invites presenters", field="event")
        raise NotFound(f"no event {event_id}", field="event")
    if event.kind != "parents_evening":
        raise Conflict(
            "only parents' evenings have presenting firms", field="event", reason="not_evening"
        )
    return event


async def _open_evening(event: Event, now: datetime) -> None:
    if event.status == "cancelled":
        raise Conflict("this event is cancelled", reason="event_cancelled")
    last_end = (
        await Slot.select(Slot.ends_at)
        .where(
            (Slot.event == event.id) & (Slot.cancelled == False)  # noqa: E712
        )
        .order_by(Slot.ends_at, ascending=False)
        .first()
    )
    if last_end is not None and last_end["ends_at"] <= now:
        raise Conflict("the parents' evening is over", reason="evening_over")


async def invite_firms(
    event_id: int, data: InviteIn, *, by: Principal, now: datetime | None = None
) -> InviteResult:
    """Invite each firm once; a declined or withdrawn invitation is renewed and mailed again."""
    now = now or utcnow()
    if not by.is_member:
        raise Unauthorised("sign in to invite presenters")
    slugs = list(dict.fromkeys(s.strip().lower() for s in data.firms if s.strip()))
    if not slugs:
        raise Invalid("choose at least one firm", field="firms")
    message = data.message.strip()
    async with write_transaction():
        event = await _evening(event_id, by, lock=True)
        await _open_evening(event, now)
        firms = await Organisation.select(
            Organisation.id, Organisation.slug, Organisation.kind
        ).where(Organisation.slug.is_in(slugs))
        found = {f["slug"]: f for f in firms if f["kind"] == "firm"}
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise Invalid.because("unknown_firm", field="firms", slug=tuple(unknown))
        fresh = [
            P(
                event=event.id,
                firm=found[s]["id"],
                pair=f"{event.id}:{found[s]['id']}",
                status="invited",
                message=message,
                invited_by=by.user_id,
                invited_at=now,
                updated_at=now,
            )
            for s in slugs
        ]
        # Insert what is new; the unique pair makes a racing second invitation a no-op.
        inserted = (
            await P.insert(*fresh).on_conflict(target=P.pair, action="DO NOTHING").returning(P.id)
        )
        renewed = await (
            P.update(
                {
                    P.status: "invited",
                    P.message: message,
                    P.invited_by: by.user_id,
                    P.invited_at: now,
                    P.answered_at: None,
                    P.answered_by: None,
                    P.answer: "",
                    P.updated_at: now,
                }
            )
            .where(
                P.pair.is_in([f.pair for f in fresh]) & P.status.is_in(["declined", "withdrawn"])
            )
            .returning(P.id)
        )
        mailed = {row["id"] for row in inserted} | {row["id"] for row in renewed}
        for invitation_id in sorted(mailed):
            await tell_firm(invitation_id, "presenter.invited", now)
    chosen = await _out((P.event == event_id) & P.firm.slug.is_in(slugs))
    return InviteResult(
        invited=[i for i in chosen if i.id in mailed],
        unchanged=[i for i in chosen if i.id not in mailed],
    )


async def _answer(
    invitation_id: int, status: str, message: str, *, by: Principal, now: datetime | None
) -> InvitationOut:
    now = now or utcnow()
    if len(message) > 2000:
        raise Invalid("message must be at most 2000 characters", field="message")
    async with write_transaction():
        row = await for_update(P.objects().where(P.id == invitation_id)).first()
        if row is None or not (by.role == "firm" and by.belongs_to(row.firm)):
            # The school and the office know it exists but may not answer for the firm.
            if row is not None and (by.is_admin or await _hosts(row, by)):
                raise Forbidden("only the invited firm answers", field="invitation")
            raise NotFound(f"no invitation {invitation_id}", field="invitation")
        if row.status not in _ANSWERABLE[status]:
            if row.status == status:
                return await get_invitation(invitation_id, by=by)
            raise Conflict(
                "the school has withdrawn this invitation", reason="withdrawn", field="invitation"
            )
        event = await Event.objects().where(Event.id == row.event).first()
        assert event is not None  # cascade: an invitation has its event
        await _open_evening(event, now)
        updated = await (
            P.update(
                {
                    P.status: status,
                    P.answer: message.strip(),
                    P.answered_by: by.user_id,
                    P.answered_at: now,
                    P.updated_at: now,
                }
            )
            .where((P.id == invitation_id) & P.status.is_in(list(_ANSWERABLE[status])))
            .returning(P.id)
        )
        if updated:
            await tell_school(invitation_id, now)
    return await get_invitation(invitation_id, by=by)


async def accept(
    invitation_id: int, message: str = "", *, by: Principal, now: datetime | None = None
) -> InvitationOut:
    """The invited firm will present; the school is told."""
    return await _answer(invitation_id, "accepted", message, by=by, now=now)


async def decline(
    invitation_id: int, message: str = "", *, by: Principal, now: datetime | None = None
) -> InvitationOut:
    """The invited firm will not present; the school is told."""
    return await _answer(invitation_id, "declined", message, by=by, now=now)


async def withdraw(
    invitation_id: int, *, by: Principal, now: datetime | None = None
) -> InvitationOut:
    """The hosting school takes an invitation back; the firm is told."""
    now = now or utcnow()
    async with write_transaction():
        row = await for_update(P.objects().where(P.id == invitation_id)).first()
        if row is None or not (by.is_admin or await _hosts(row, by)):
            if row is not None and by.role == "firm" and by.belongs_to(row.firm):
                raise Forbidden("only the hosting school withdraws", field="invitation")
            raise NotFound(f"no invitation {invitation_id}", field="invitation")
        if row.status == "withdrawn":
            return await get_invitation(invitation_id, by=by)
        if row.status == "declined":
            raise Conflict("the firm has declined already", reason="declined", field="invitation")
        await P.update({P.status: "withdrawn", P.updated_at: now}).where(P.id == invitation_id)
        await tell_firm(invitation_id, "presenter.withdrawn", now)
    return await get_invitation(invitation_id, by=by)


async def forget_words_of(user_id: int) -> None:
    """A deleted person's words to firms or schools go with their account (the
    invitation and its answer stay, as the evening's record)."""
    await P.update({P.message: ""}).where((P.invited_by == user_id) & (P.message != ""))
    await P.update({P.answer: ""}).where((P.answered_by == user_id) & (P.answer != ""))


async def forget_old_words(before: datetime) -> int:
    """Invitations of evenings whose last time ended before `before` keep no free text:
    the retention of contact data (`ANONYMISE_AFTER_DAYS`), as for bookings."""
    worded = await P.select(P.id, P.event).where((P.message != "") | (P.answer != ""))
    if not worded:
        return 0
    recent = await Slot.select(Slot.event).where(
        Slot.event.is_in(list({w["event"] for w in worded})) & (Slot.ends_at >= before)
    )
    ongoing = {row["event"] for row in recent}
    old = [w["id"] for w in worded if w["event"] not in ongoing]
    if old:
        await P.update({P.message: "", P.answer: ""}).where(P.id.is_in(old))
    return len(old)


async def _hosts(row: PresenterInvitation, by: Principal) -> bool:
    if by.role != "school" or by.org_id is None:
        return False
    host = await Event.select(Event.host).where(Event.id == row.event).first()
    return host is not None and host["host"] == by.org_id


# --------------------------------------------------------------------------- reading


_COLUMNS = (
    P.id,
    P.event,
    P.status,
    P.message,
    P.answer,
    P.invited_at,
    P.answered_at,
    P.event.title.as_alias("event_title"),
    P.event.status.as_alias("event_status"),
    P.event.host.slug.as_alias("school"),
    P.event.host.name.as_alias("school_name"),
    P.firm.slug.as_alias("firm"),
    P.firm.name.as_alias("firm_name"),
)


async def _out(where: Any) -> list[InvitationOut]:
    rows = await P.select(*_COLUMNS).where(where).order_by(P.id)
    if not rows:
        return []
    event_ids = list({r["event"] for r in rows})
    firsts: dict[int, datetime] = {}
    for slot in (
        await Slot.select(Slot.event, Slot.starts_at)
        .where(
            Slot.event.is_in(event_ids) & (Slot.cancelled == False)  # noqa: E712
        )
        .order_by(Slot.starts_at)
    ):
        firsts.setdefault(slot["event"], slot["starts_at"])
    return [
        InvitationOut(
            id=r["id"],
            event_id=r["event"],
            event_title=r["event_title"],
            school=r["school"],
            school_name=r["school_name"],
            firm=r["firm"],
            firm_name=r["firm_name"],
            status=r["status"],
            message=r["message"],
            answer=r["answer"],
            starts_at=local(firsts[r["event"]]) if r["event"] in firsts else None,
            invited_at=local(r["invited_at"]),
            answered_at=local(r["answered_at"]) if r["answered_at"] else None,
            event_status=r["event_status"],
        )
        for r in rows
    ]


async def get_invitation(invitation_id: int, *, by: Principal) -> InvitationOut:
    """One invitation for the invited firm, the hosting school or the office."""
    row = await P.objects().where(P.id == invitation_id).first()
    if row is None or not (
        by.is_admin or (by.role == "firm" and by.belongs_to(row.firm)) or await _hosts(row, by)
    ):
        raise NotFound(f"no invitation {invitation_id}", field="invitation")
    return (await _out(P.id == invitation_id))[0]


async def list_invitations(*, by: Principal, status: str | None = None) -> list[InvitationOut]:
    """A firm's invitations, a school's invitations out, or all of them for the office."""
    if not by.is_member:
        raise Unauthorised("sign in to see invitations")
    if by.is_admin:
        where: Any = P.id > 0
    elif by.role == "firm" and by.org_id is not None:
        where = P.firm == by.org_id
    elif by.role == "school" and by.org_id is not None:
        where = P.event.host == by.org_id
    else:
        return []
    if status is not None:
        where = where & (P.status == status)
    return await _out(where)


async def invitations_for_event(event_id: int, *, by: Principal) -> list[InvitationOut]:
    """The host (and office) see every invitation; everyone else only the accepted ones."""
    event = await load_event_row(event_id, by)
    if _may_host(event, by):
        return await _out(P.event == event_id)
    accepted = await _out((P.event == event_id) & (P.status == "accepted"))
    # Who presents is public; what the school and each firm wrote to each other is not
    # (the firms are competitors): only the invited firm keeps its own exchange.
    own_firm = await _firm_slug(by)
    return [
        invitation
        if invitation.firm == own_firm
        else msgspec.structs.replace(invitation, message="", answer="")
        for invitation in accepted
    ]


async def _firm_slug(by: Principal) -> str | None:
    if by.role != "firm" or by.org_id is None:
        return None
    row = await Organisation.select(Organisation.slug).where(Organisation.id == by.org_id).first()
    return row["slug"] if row else None


async def accepted_presenters(event_ids: Iterable[int]) -> dict[int, list[dict[str, str]]]:
    """Firms that will present, by event: for the public pages (published events only)."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = (
        await P.select(P.event, P.firm.slug.as_alias("slug"), P.firm.name.as_alias("name"))
        .where(P.event.is_in(ids) & (P.status == "accepted"))
        .order_by(P.firm.name)
    )
    found: dict[int, list[dict[str, str]]] = {}
    for r in rows:
        found.setdefault(r["event"], []).append({"slug": r["slug"], "name": r["name"]})
    return found


async def create_evening(
    event: EventIn, first_time: SlotIn, *, by: Principal, now: datetime | None = None
) -> EventOut:
    """A school's parents' evening and its time in one go: both are saved, or neither."""
    if event.kind != "parents_evening":
        raise Invalid("schools host parents' evenings", field="kind")
    async with write_transaction():
        created = await events.create_event(event, by=by, now=now)
        await events.add_slot(created.id, first_time, by=by, now=now)
    return await events.get_event(created.id, by=by, now=now)


async def update_evening(
    event_id: int, edit: EveningEdit, *, by: Principal, now: datetime | None = None
) -> EventOut:
    """The hosting school changes its evening: what differs is saved in one transaction.

    Only fields that differ are passed on, so that an unchanged form raises no SEQUENCE
    and tells nobody; the title and venue go first and the time after, so that a firm
    told of both gets one mail (the later notice supersedes the earlier, see mail.py).
    """
    now = now or utcnow()
    if not edit.title.strip():
        raise Invalid("title is required", field="title")
    async with write_transaction():
        event = await _evening(event_id, by, lock=True)
        current = await events.get_event(event_id, by=by, now=now)
        host = await Organisation.objects().where(Organisation.id == event.host).first()
        assert host is not None  # an event has its host
        changes = EventPatch()
        if edit.title.strip() != event.title:
            changes.title = edit.title
        if edit.description != event.description:
            changes.description = edit.description
        wanted = _venue_wanted(edit.venue_name.strip(), current, host)
        if wanted is not None:
            changes.venue = wanted
        if changes != EventPatch():
            await events.update_event(event_id, changes, by=by, now=now)
        live = [s for s in current.slots if not s.cancelled]
        if not live:
            await events.add_slot(
                event_id,
                SlotIn(starts_at=edit.starts_at, ends_at=edit.ends_at, capacity=edit.capacity),
                by=by,
                now=now,
            )
        else:
            slot = live[0]
            move = SlotPatch()
            if (edit.starts_at, edit.ends_at) != (slot.starts_at, slot.ends_at):
                move.starts_at, move.ends_at = edit.starts_at, edit.ends_at
            if edit.capacity != slot.capacity:
                move.capacity = edit.capacity
            if move != SlotPatch():
                await events.update_slot(slot.id, move, by=by, now=now)
    return await events.get_event(event_id, by=by, now=now)


def _venue_wanted(name: str, current: EventOut, host: Organisation) -> VenueIn | None:
    """The venue to save, or None when the form asks for the one the evening has."""
    venue = current.venue
    if not name:  # the school's own address
        wanted = VenueIn(
            name=host.name,
            street=host.street,
            postal_code=host.postal_code,
            city=host.city,
            lat=host.lat,
            lon=host.lon,
        )
        same = venue is not None and (venue.name, venue.street) == (host.name, host.street)
        return None if same else wanted
    if venue is not None and venue.name == name:
        return None
    # A new room keeps the address the evening had (or the school's).
    return VenueIn(
        name=name,
        street=venue.street if venue else host.street,
        postal_code=venue.postal_code if venue else host.postal_code,
        city=venue.city if venue else host.city,
        lat=venue.lat if venue else host.lat,
        lon=venue.lon if venue else host.lon,
    )
