"""HTTP API of the work plan and the reports: thin, rules live in the services."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from outreach.principal import Principal
from outreach.web import BEARER, READ_ERRORS, WRITE_ERRORS, IdPath
from outreach.workplan import exports, services
from outreach.workplan.reports import ReportName, get_report
from outreach.workplan.schemas import (
    EventLinkIn,
    MilestoneIn,
    MilestonePatch,
    PriorityIn,
    PriorityPatch,
    ReportOut,
    WorkPlanIn,
    WorkPlanOut,
)

__all__ = ["MilestoneController", "ReportController", "WorkPlanController"]

Year = Annotated[str | None, QueryParameter(pattern=r"^\d{4}/\d{2}$")]
Format = Annotated[str, QueryParameter(pattern="^(json|csv|xlsx)$")]


class WorkPlanController(Controller):
    path = "/api/v1/workplans"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["work plan"]

    @get("/", responses=READ_ERRORS)
    async def list_plans(self, by: NamedDependency[Principal]) -> list[dict[str, Any]]:
        """The work plans by school year (members)."""
        return await services.list_plans(by=by)

    @post("/", status_code=201, responses=WRITE_ERRORS)
    async def create_plan(
        self, data: JSONBody[WorkPlanIn], by: NamedDependency[Principal]
    ) -> WorkPlanOut:
        """A plan for one school year, e.g. `2026/27` (network office)."""
        plan_id = await services.create_plan(data, by=by)
        return await services.get_plan(plan_id, by=by)

    @get("/{plan_id:int}", responses=READ_ERRORS)
    async def get_plan(self, plan_id: IdPath, by: NamedDependency[Principal]) -> WorkPlanOut:
        """Priorities and milestones with progress computed from attendance; members see
        network and own milestones, with figures only where they are theirs or totals."""
        return await services.get_plan(plan_id, by=by)

    @post("/{plan_id:int}/priorities", status_code=201, responses=WRITE_ERRORS)
    async def add_priority(
        self, plan_id: IdPath, data: JSONBody[PriorityIn], by: NamedDependency[Principal]
    ) -> WorkPlanOut:
        await services.add_priority(plan_id, data, by=by)
        return await services.get_plan(plan_id, by=by)

    @post("/{plan_id:int}/milestones", status_code=201, responses=WRITE_ERRORS)
    async def add_milestone(
        self, plan_id: IdPath, data: JSONBody[MilestoneIn], by: NamedDependency[Principal]
    ) -> WorkPlanOut:
        await services.add_milestone(plan_id, data, by=by)
        return await services.get_plan(plan_id, by=by)

    @patch("/{plan_id:int}/priorities/{priority_id:int}", responses=WRITE_ERRORS)
    async def update_priority(
        self,
        plan_id: IdPath,
        priority_id: IdPath,
        data: JSONBody[PriorityPatch],
        by: NamedDependency[Principal],
    ) -> WorkPlanOut:
        """Rename a priority or change its description (network office)."""
        await services.update_priority(priority_id, data, by=by, plan_id=plan_id)
        return await services.get_plan(plan_id, by=by)


class MilestoneController(Controller):
    path = "/api/v1/milestones"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["work plan"]

    @post("/{milestone_id:int}/events", status_code=204, responses=WRITE_ERRORS)
    async def link_event(
        self,
        milestone_id: IdPath,
        data: JSONBody[EventLinkIn],
        by: NamedDependency[Principal],
    ) -> None:
        """Count the bookings of this event towards the milestone."""
        await services.link_event(milestone_id, data.event_id, by=by)

    @patch("/{milestone_id:int}", responses=WRITE_ERRORS)
    async def update_milestone(
        self, milestone_id: IdPath, data: JSONBody[MilestonePatch], by: NamedDependency[Principal]
    ) -> WorkPlanOut:
        """Change a milestone's title, owner, due day, measure, target or priority; the plan
        with its progress recomputed is returned."""
        plan_id = await services.update_milestone(milestone_id, data, by=by)
        return await services.get_plan(plan_id, by=by)

    @delete("/{milestone_id:int}/events/{event_id:int}", status_code=204, responses=WRITE_ERRORS)
    async def unlink_event(
        self, milestone_id: IdPath, event_id: IdPath, by: NamedDependency[Principal]
    ) -> None:
        """Stop counting this event's bookings towards the milestone."""
        await services.unlink_event(milestone_id, event_id, by=by)

    @delete("/{milestone_id:int}", status_code=204, responses=WRITE_ERRORS)
    async def delete_milestone(self, milestone_id: IdPath, by: NamedDependency[Principal]) -> None:
        await services.delete_milestone(milestone_id, by=by)


class ReportController(Controller):
    path = "/api/v1/reports"
    security = BEARER  # every operation here needs a signed-in caller
    tags = ["reports"]

    @get("/{name:str}", responses=READ_ERRORS)
    async def report(
        self,
        name: FromPath[ReportName],
        by: NamedDependency[Principal],
        year: Year = None,
        format: Format = "json",
    ) -> Response[Any]:
        """One report of a school year (default: the current one) as JSON, CSV or XLSX.

        Names: by-school, by-host, by-grade, by-kind, by-month, fill-by-slot,
        fill-by-host, no-shows, seminars, comparison.
        """
        found: ReportOut = await get_report(name, year or services.current_school_year(), by=by)
        if format == "json":
            return Response(found)
        rows = exports.report_rows(found)
        body = exports.to_csv(rows) if format == "csv" else exports.to_xlsx(rows, sheet=name)
        filename = f"{name}-{found.school_year.replace('/', '-')}.{format}"
        return Response(
            body,
            media_type=exports.CONTENT_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
