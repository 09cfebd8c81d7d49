"""The annual work plan: the network office writes it, every member reads it.

Progress is never typed in: each milestone measures one metric over confirmed bookings
whose slot began between 1 August and the end of its due day (and in its school year):
of the linked events if any are linked, else of the owner (a firm: its events; a
school: its visits and its events), else of the whole network.

Members are competitors: a firm or school sees the network's milestones and its own,
and figures only where they are its own or network totals (a network milestone linked
to another member's events shows no figures to them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from outreach.db import write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events.tables import Event
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import as_utc, utcnow
from outreach.workplan.facts import (
    BookingGroup,
    MilestoneScope,
    day_end,
    milestone_groups,
    school_year_bounds,
    school_year_of,
)
from outreach.workplan.reports import group_figures, metric_value
from outreach.workplan.schemas import (
    MilestoneIn,
    MilestoneOut,
    MilestonePatch,
    PriorityIn,
    PriorityOut,
    PriorityPatch,
    WorkPlanIn,
    WorkPlanOut,
)
from outreach.workplan.tables import Milestone, MilestoneEvent, Priority, WorkPlan

__all__ = [
    "add_milestone",
    "add_priority",
    "create_plan",
    "current_school_year",
    "delete_milestone",
    "get_plan",
    "link_event",
    "list_plans",
    "plan_for_year",
    "plan_of",
    "unlink_event",
    "update_milestone",
    "update_priority",
]


def current_school_year(now: datetime | None = None) -> str:
    return school_year_of(now or utcnow())


def _admin(by: Principal) -> None:
    if not by.is_member:
        raise Unauthorised("sign in to change the work plan")
    if not by.is_admin:
        raise Forbidden("only the network office changes the work plan")


def _member(by: Principal) -> None:
    if not by.is_member:
        raise Unauthorised("sign in to see the work plan")


async def create_plan(data: WorkPlanIn, *, by: Principal, now: datetime | None = None) -> int:
    _admin(by)
    school_year_bounds(data.school_year)
    title = data.title.strip()
    if not title:
        raise Invalid("title is required", field="title")
    async with write_transaction():
        if await WorkPlan.exists().where(WorkPlan.school_year == data.school_year):
            raise Conflict.because("exists", field="school_year", school_year=data.school_year)
        stamp = as_utc(now) if now else utcnow()
        row = WorkPlan(
            school_year=data.school_year,
            title=title,
            notes=data.notes,
            created_at=stamp,
            updated_at=stamp,
        )
        await row.save()
    return row.id


async def list_plans(*, by: Principal) -> list[dict[str, Any]]:
    _member(by)
    return await WorkPlan.select(WorkPlan.id, WorkPlan.school_year, WorkPlan.title).order_by(
        WorkPlan.school_year, ascending=False
    )


async def plan_for_year(year: str) -> int | None:
    school_year_bounds(year)
    row = await WorkPlan.select(WorkPlan.id).where(WorkPlan.school_year == year).first()
    return row["id"] if row else None


async def _plan_row(plan_id: int) -> WorkPlan:
    row = await WorkPlan.objects().where(WorkPlan.id == plan_id).first()
    if row is None:
        raise NotFound(f"no work plan {plan_id}", field="plan")
    return row


async def add_priority(plan_id: int, data: PriorityIn, *, by: Principal) -> int:
    _admin(by)
    async with write_transaction():
        await _plan_row(plan_id)
        row = Priority(
            plan=plan_id,
            title=data.title.strip(),
            description=data.description,
            position=data.position,
        )
        await row.save()
    return row.id


async def add_milestone(
    plan_id: int, data: MilestoneIn, *, by: Principal, now: datetime | None = None
) -> int:
    _admin(by)
    async with write_transaction():
        plan = await _plan_row(plan_id)
        if school_year_of(data.due_on) != plan.school_year:
            raise Invalid.because(
                "outside_school_year", field="due_on", school_year=plan.school_year
            )
        owner_id = await _owner_id(data.owner)
        if data.priority_id is not None and not await Priority.exists().where(
            (Priority.id == data.priority_id) & (Priority.plan == plan_id)
        ):
            raise Invalid(f"no priority {data.priority_id} in this plan", field="priority_id")
        stamp = as_utc(now) if now else utcnow()
        row = Milestone(
            plan=plan_id,
            priority=data.priority_id,
            title=data.title.strip(),
            owner=owner_id,
            due_on=data.due_on,
            metric=data.metric,
            target=data.target,
            position=data.position,
            created_at=stamp,
            updated_at=stamp,
        )
        await row.save()
        for event_id in dict.fromkeys(data.event_ids):
            await _link(row.id, event_id)
    return row.id


async def _owner_id(slug: str | None) -> int | None:
    if slug is None or not slug.strip():
        return None
    org = await Organisation.objects().where(Organisation.slug == slug.strip()).first()
    if org is None or org.kind not in ("firm", "school", "network"):
        raise Invalid.because("unknown_organisation", field="owner", slug=slug)
    return None if org.kind == "network" else org.id


async def _milestone_row(milestone_id: int) -> Milestone:
    row = await Milestone.objects().where(Milestone.id == milestone_id).first()
    if row is None:
        raise NotFound(f"no milestone {milestone_id}", field="milestone")
    return row


async def _link(milestone_id: int, event_id: int) -> None:
    if not await Event.exists().where(Event.id == event_id):
        raise Invalid(f"no event {event_id}", field="event_id")
    if not await MilestoneEvent.exists().where(
        (MilestoneEvent.milestone == milestone_id) & (MilestoneEvent.event == event_id)
    ):
        await MilestoneEvent(milestone=milestone_id, event=event_id).save()


async def link_event(milestone_id: int, event_id: int, *, by: Principal) -> None:
    _admin(by)
    async with write_transaction():
        await _milestone_row(milestone_id)
        await _link(milestone_id, event_id)


async def unlink_event(milestone_id: int, event_id: int, *, by: Principal) -> None:
    _admin(by)
    async with write_transaction():
        await _milestone_row(milestone_id)
        await MilestoneEvent.delete().where(
            (MilestoneEvent.milestone == milestone_id) & (MilestoneEvent.event == event_id)
        )


async def plan_of(by: Principal, *, milestone_id: int = 0, priority_id: int = 0) -> int:
    """The plan a milestone or a priority belongs to, for the office's edit forms."""
    _admin(by)
    if milestone_id:
        return (await _milestone_row(milestone_id)).plan
    row = await Priority.select(Priority.plan).where(Priority.id == priority_id).first()
    if row is None:
        raise NotFound(f"no priority {priority_id}", field="priority")
    return row["plan"]


async def update_priority(
    priority_id: int, patch: PriorityPatch, *, by: Principal, plan_id: int | None = None
) -> int:
    """Rename or describe a priority (of `plan_id` if given); its plan's id is returned."""
    _admin(by)
    async with write_transaction():
        row = await Priority.objects().where(Priority.id == priority_id).first()
        if row is None or (plan_id is not None and row.plan != plan_id):
            raise NotFound(f"no priority {priority_id}", field="priority")
        if patch.title is not msgspec.UNSET:
            title = patch.title.strip()
            if not title:
                raise Invalid("title is required", field="title")
            row.title = title
        if patch.description is not msgspec.UNSET:
            row.description = patch.description
        await row.save([Priority.title, Priority.description])
    return row.plan


async def update_milestone(
    milestone_id: int, patch: MilestonePatch, *, by: Principal, now: datetime | None = None
) -> int:
    """Change what a milestone measures, by when and for whom; its plan's id is returned.

    The same rules as adding one: the due day lies in the plan's school year, the owner is
    a member (null: the network), the priority belongs to the same plan.
    """
    _admin(by)
    async with write_transaction():
        row = await _milestone_row(milestone_id)
        plan = await _plan_row(row.plan)
        if patch.title is not msgspec.UNSET:
            title = patch.title.strip()
            if not title:
                raise Invalid("title is required", field="title")
            row.title = title
        if patch.due_on is not msgspec.UNSET:
            if school_year_of(patch.due_on) != plan.school_year:
                raise Invalid.because(
                    "outside_school_year", field="due_on", school_year=plan.school_year
                )
            row.due_on = patch.due_on
        if patch.metric is not msgspec.UNSET:
            row.metric = patch.metric
        if patch.target is not msgspec.UNSET:
            row.target = patch.target
        if patch.owner is not msgspec.UNSET:
            row.owner = await _owner_id(patch.owner)
        if patch.priority_id is not msgspec.UNSET:
            if patch.priority_id is not None and not await Priority.exists().where(
                (Priority.id == patch.priority_id) & (Priority.plan == plan.id)
            ):
                raise Invalid(f"no priority {patch.priority_id} in this plan", field="priority_id")
            row.priority = patch.priority_id
        row.updated_at = as_utc(now) if now else utcnow()
        await row.save(
            [
                Milestone.title,
                Milestone.due_on,
                Milestone.metric,
                Milestone.target,
                Milestone.owner,
                Milestone.priority,
                Milestone.updated_at,
            ]
        )
    return plan.id


async def delete_milestone(milestone_id: int, *, by: Principal) -> None:
    _admin(by)
    async with write_transaction():
        await _milestone_row(milestone_id)
        await Milestone.delete().where(Milestone.id == milestone_id)


# --------------------------------------------------------------------------- reading


async def get_plan(plan_id: int, *, by: Principal, now: datetime | None = None) -> WorkPlanOut:
    """The plan as `by` may see it, each milestone with its progress computed now."""
    _member(by)
    now = as_utc(now) if now else utcnow()
    plan = await _plan_row(plan_id)
    priorities = await Priority.select().where(Priority.plan == plan_id).order_by(Priority.position)
    milestones = (
        await Milestone.select(
            Milestone.all_columns(),
            Milestone.owner.slug.as_alias("owner_slug"),
            Milestone.owner.name.as_alias("owner_name"),
        )
        .where(Milestone.plan == plan_id)
        .order_by(Milestone.position)
        .order_by(Milestone.due_on)
        .order_by(Milestone.id)
    )
    if not by.is_admin:
        milestones = [m for m in milestones if m["owner"] in (None, by.org_id)]
    links, hosts = await _links([m["id"] for m in milestones])
    # Members see only network and own milestones (above); of those, figures unless
    # linked events of another member would show that member's numbers.
    visible = {
        m["id"]
        for m in milestones
        if by.is_admin
        or all(hosts[e][1] == "network" or hosts[e][0] == by.org_id for e in links.get(m["id"], []))
    }
    groups = await milestone_groups(
        plan.school_year,
        [
            MilestoneScope(
                id=m["id"],
                until=day_end(m["due_on"]),
                event_ids=tuple(links.get(m["id"], [])),
                owner=m["owner"],
            )
            for m in milestones
            if m["id"] in visible
        ],
        now=now,
    )
    out = [_milestone_out(m, links.get(m["id"], []), groups.get(m["id"]), now) for m in milestones]
    return WorkPlanOut(
        id=plan.id,
        school_year=plan.school_year,
        title=plan.title,
        notes=plan.notes,
        priorities=[
            PriorityOut(p["id"], p["title"], p["description"], p["position"]) for p in priorities
        ],
        milestones=out,
    )


async def _links(
    milestone_ids: list[int],
) -> tuple[dict[int, list[int]], dict[int, tuple[int | None, str | None]]]:
    """The events linked to each milestone, and each such event's host and its kind."""
    if not milestone_ids:
        return {}, {}
    link = MilestoneEvent
    rows = await link.select(
        link.milestone,
        link.event,
        link.event.host.as_alias("host"),
        link.event.host.kind.as_alias("host_kind"),
    ).where(link.milestone.is_in(milestone_ids))
    found: dict[int, list[int]] = {}
    hosts: dict[int, tuple[int | None, str | None]] = {}
    for row in rows:
        found.setdefault(row["milestone"], []).append(row["event"])
        hosts[row["event"]] = (row["host"], row["host_kind"])
    return {k: sorted(v) for k, v in found.items()}, hosts


def _milestone_out(
    m: dict[str, Any], events: list[int], groups: list[BookingGroup] | None, now: datetime
) -> MilestoneOut:
    """A milestone with its progress from its `milestone_groups` (None: hidden)."""
    base = {
        "id": m["id"],
        "title": m["title"],
        "priority_id": m["priority"],
        "owner": m["owner_slug"],
        "owner_name": m["owner_name"] or "",
        "due_on": m["due_on"],
        "metric": m["metric"],
        "target": m["target"],
        "event_ids": events,
    }
    if groups is None:
        return MilestoneOut(**base, actual=None, expected=None, percent=None, status="hidden")
    actual, expected = metric_value(group_figures(groups), m["metric"])
    percent = round(100.0 * actual / m["target"], 1)
    if actual >= m["target"]:
        status = "achieved"
    elif now >= day_end(m["due_on"]):
        status = "missed"
    else:
        status = "open"
    return MilestoneOut(**base, actual=actual, expected=expected, percent=percent, status=status)
