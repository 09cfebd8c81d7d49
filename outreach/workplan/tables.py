from __future__ import annotations

from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from outreach.events.tables import Event
from outreach.organisations.tables import Organisation

# What a milestone measures; every figure is computed from bookings, never typed in.
METRICS = (
    "class_visits",
    "pupils",
    "schools",
    "seminar_participants",
    "open_day_visitors",
    "parents_evening_attendance",
)


class WorkPlan(Table, tablename="work_plan"):
    """The network's plan for one Saxon school year (1 August to 31 July)."""

    school_year = Varchar(length=7, unique=True, index=True)  # "2026/27"
    title = Varchar(length=200)
    notes = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Priority(Table, tablename="work_plan_priority"):
    plan = ForeignKey(WorkPlan, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=200)
    description = Text(default="")
    position = Integer(default=0)


class Milestone(Table, tablename="work_plan_milestone"):
    plan = ForeignKey(WorkPlan, on_delete=OnDelete.cascade, index=True)
    priority = ForeignKey(Priority, null=True, on_delete=OnDelete.set_null)
    title = Varchar(length=200)
    # A firm or school that owns it; null: the network as a whole.
    owner = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict)
    due_on = Date()
    metric = Varchar(length=32)
    target = Integer()
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class MilestoneEvent(Table, tablename="work_plan_milestone_event"):
    """An event whose bookings count towards a milestone (then only linked events count)."""

    milestone = ForeignKey(Milestone, on_delete=OnDelete.cascade, index=True)
    event = ForeignKey(Event, on_delete=OnDelete.cascade, index=True)
