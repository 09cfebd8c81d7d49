"""The network's Bilanz: work plan progress, charts, tables and exports of a school year.

One page for everyone signed in: the office sees the network, a firm or school its own
figures and network totals (the services decide what each may see). The office edits
the plan on /office/workplan. Charts are SVG images served here, each with its table.

The Bilanz is mounted under `/reports` (open to every member), the work plan's editing
under `/office` (see `outreach.pages`); the routes here are relative to them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from outreach.booking.queries import list_bookings
from outreach.errors import Invalid, NotFound
from outreach.events import services as events
from outreach.organisations import services as organisations
from outreach.pages import i18n
from outreach.pages.common import (
    FormErrors,
    convert,
    flash,
    form_data,
    gettext_for,
    page,
    parse_int,
    redirect,
)
from outreach.pages.forms import Refused, go_on, handle_form
from outreach.pages.i18n import N_
from outreach.principal import Principal
from outreach.timeutil import local, utcnow
from outreach.web import IdPath
from outreach.workplan import charts, exports, services
from outreach.workplan.facts import month_labels, previous_year, school_year_bounds
from outreach.workplan.reports import (
    NETWORK_TOTAL,
    PERCENT,
    REPORTS,
    TIME_COLUMN,
    TOTAL,
    get_report,
    get_reports,
)
from outreach.workplan.schemas import (
    MilestoneIn,
    MilestonePatch,
    PriorityIn,
    PriorityPatch,
    ReportOut,
    WorkPlanIn,
    WorkPlanOut,
)
from outreach.workplan.tables import METRICS

__all__ = ["HANDLERS", "OFFICE_HANDLERS"]

# The tables of the Bilanz, in the order they are shown.
TABLES = (
    "comparison",
    "by-host",
    "by-school",
    "by-grade",
    "by-kind",
    "by-month",
    "fill-by-host",
    "no-shows",
    "seminars",
    "fill-by-slot",
    "internships-by-host",
    "internships-by-school",
)
# The internship reports' columns, for the catalogs (the pages say every column with `_`).
INTERNSHIP_COLUMNS = (
    N_("Offers"),
    N_("Places offered"),
    N_("Wishes"),
    N_("Placements"),
    N_("First wish (percent)"),
    N_("Days attended"),
    N_("Working days"),
    N_("Attendance (percent)"),
    N_("Apprenticeship offers"),
)
CHARTS = ("progress", "month", "host", "grade", "fill")
BOOKING_STATUSES = ("pending", "confirmed", "waitlisted", "declined", "cancelled")


@dataclass(frozen=True)
class _ReaderTable:
    """A report as its reader reads it (see `_for_reader`)."""

    name: str
    columns: list[Any]
    rows: list[list[Any]]
    total: list[Any] | None


def _for_reader(report: ReportOut, locale: str, _: Any, *, export: bool = False) -> _ReaderTable:
    """Headings and labels in the reader's language; numbers, percentages, times and months
    written by Babel for `locale` ("41,7 %" in German). An export keeps the types instead
    (numbers, `exports.Percent`, times as instants): `exports` writes them for the file."""
    percent_columns = {i for i, c in enumerate(report.columns) if str(c).endswith(PERCENT)}

    def label(value: Any) -> Any:
        if value in (TOTAL, NETWORK_TOTAL) or report.name == "comparison":
            return _(str(value))
        if report.name == "by-kind":
            return _(i18n.EVENT_KIND_NAMES.get(str(value), i18n.EVENT_KIND_NAMES["other"]))
        if report.name == "by-month":
            return i18n.local_month(date.fromisoformat(f"{value}-01"), locale)
        return value

    def cell(value: Any, column: int, percent_row: bool) -> Any:
        if value is None:
            return None
        if report.columns[column] == TIME_COLUMN and value not in (TOTAL, NETWORK_TOTAL):
            moment = datetime.fromisoformat(str(value))
            return moment if export else i18n.local_datetime(moment, locale, "short")
        if column == 0:
            return label(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if column in percent_columns or percent_row:
            return exports.Percent(value) if export else i18n.percent(value, locale)
        return value if export else i18n.number(value, locale)

    def row(values: list[Any]) -> list[Any]:
        percent_row = str(values[0]).endswith(PERCENT) if values else False
        return [cell(v, i, percent_row) for i, v in enumerate(values)]

    return _ReaderTable(
        name=report.name,
        columns=[c if str(c)[:1].isdigit() else _(str(c)) for c in report.columns],
        rows=[row(r) for r in report.rows],
        total=row(report.total) if report.total is not None else None,
    )


def _year(request: Request[Any, Any, Any]) -> str:
    """The school year asked for, or the current one; a bad value names the field."""
    year = request.query_params.get("year") or services.current_school_year()
    school_year_bounds(year)
    return year


def _years(year: str) -> list[str]:
    current = services.current_school_year()
    found = {current, previous_year(current), year}
    return sorted(found, reverse=True)


@get("/")
async def bilanz(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    year = _year(request)
    plan_id = await services.plan_for_year(year)
    plan = await services.get_plan(plan_id, by=by) if plan_id else None
    found = await get_reports(list(TABLES), year, by=by)
    locale, _ = i18n.locale_of(request), gettext_for(request)
    tables = {name: _for_reader(report, locale, _) for name, report in found.items()}
    return page(
        request,
        "reports/bilanz.html",
        year=year,
        years=_years(year),
        plan=plan,
        tables=tables,
        charts=CHARTS if plan and plan.milestones else CHARTS[1:],
        printing=request.query_params.get("print") == "1",
    )


def _chart_svg(name: str, year: str, reports: dict[str, ReportOut], _: Any, plan: Any) -> str:
    if name == "progress":
        shown = [m for m in plan.milestones if m.percent is not None] if plan else []
        return charts.progress_chart(
            _("Milestones: share of the target reached"),
            [m.title for m in shown],
            [m.percent or 0.0 for m in shown],
            [100.0 * (m.expected or 0) / m.target for m in shown],
            names=(_("recorded"), _("expected, attendance not yet recorded")),
        )
    if name == "month":
        this, before = reports["by-month"], reports["by-month-before"]
        this_month = local(utcnow()).strftime("%Y-%m")
        return charts.line_chart(
            _("Pupils reached per month"),
            [label[5:] for label in month_labels(year)],
            {
                # Months still to come have no figure yet, not a zero.
                year: [row[2] if row[0] <= this_month else None for row in this.rows],
                before.school_year: [row[2] for row in before.rows],
            },
        )
    if name == "host":
        rows = reports["by-host"].rows
        return charts.bar_chart(
            _("Classes and pupils by host"),
            [str(r[0]) for r in rows],
            {_("Classes"): [r[1] for r in rows], _("Pupils"): [r[2] for r in rows]},
            horizontal=True,
        )
    if name == "grade":
        rows = reports["by-grade"].rows
        return charts.bar_chart(
            _("Pupils reached by grade"),
            [str(r[0]) for r in rows],
            {_("Pupils"): [r[2] for r in rows]},
        )
    rows = reports["fill-by-host"].rows
    return charts.bar_chart(
        _("Fill rate by host, in percent"),
        [str(r[0]) for r in rows],
        {_("Fill rate (percent)"): [r[4] for r in rows]},
        horizontal=True,
    )


@get("/charts/{name:str}")
async def chart(
    request: Request[Any, Any, Any], name: FromPath[str], by: NamedDependency[Principal]
) -> Response[bytes]:
    """One chart as a static SVG image (`<name>.svg`)."""
    name = name.removesuffix(".svg")
    if name not in CHARTS:
        raise NotFound(f"no chart {name}", field="name")
    year = _year(request)
    reports: dict[str, ReportOut] = {}
    plan = None
    if name == "progress":
        plan_id = await services.plan_for_year(year)
        plan = await services.get_plan(plan_id, by=by) if plan_id else None
    elif name == "month":
        reports["by-month"] = await get_report("by-month", year, by=by)
        reports["by-month-before"] = await get_report("by-month", previous_year(year), by=by)
    else:
        source = {"host": "by-host", "grade": "by-grade", "fill": "fill-by-host"}[name]
        reports[source] = await get_report(source, year, by=by)
    svg = _chart_svg(name, year, reports, gettext_for(request), plan)
    return Response(
        svg.encode(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )


def _file(rows: list[list[Any]], name: str, fmt: str, locale: str) -> Response[bytes]:
    if fmt not in exports.CONTENT_TYPES:
        raise Invalid("format must be csv or xlsx", field="format")
    body = exports.to_csv(rows, locale) if fmt == "csv" else exports.to_xlsx(rows, sheet=name)
    return Response(
        body,
        media_type=exports.CONTENT_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "Cache-Control": "private, no-store",
        },
    )


@get("/export/{name:str}")
async def export_report(
    request: Request[Any, Any, Any], name: FromPath[str], by: NamedDependency[Principal]
) -> Response[bytes]:
    if name not in REPORTS:
        raise NotFound(f"no report {name}", field="name")
    year = _year(request)
    found = await get_report(name, year, by=by)
    locale = i18n.locale_of(request)
    shown = _for_reader(found, locale, gettext_for(request), export=True)
    rows = [shown.columns, *shown.rows, *([shown.total] if shown.total is not None else [])]
    fmt = request.query_params.get("format", "csv")
    return _file(rows, f"{name}-{year.replace('/', '-')}", fmt, locale)


@get("/bookings/export")
async def export_bookings(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Response[bytes]:
    """Bookings as filtered on the bookings page; each role gets only what it may see."""
    status = request.query_params.get("status") or None
    if status not in (None, *BOOKING_STATUSES):
        raise Invalid("unknown status", field="status")
    event_id = parse_int(request.query_params.get("event"))
    found = await list_bookings(
        by=by, status=status, event_id=event_id, limit=100_000, audit_view="bookings_export"
    )
    fmt = request.query_params.get("format", "csv")
    return _file(_bookings_for_reader(found, request), "bookings", fmt, i18n.locale_of(request))


_BOOKING_HEADINGS = {
    "id": N_("Booking"),
    "status": N_("Status"),
    "kind": N_("Kind"),
    "starts_at": N_("Time"),
    "event": N_("Event"),
    "host": N_("Host"),
    "school": N_("School"),
    "class": N_("Class"),
    "grade": N_("Grade"),
    "pupils": N_("Pupils"),
    "adults": N_("Adults"),
    "persons": N_("Persons"),
    "contact_name": N_("Contact"),
    "contact_email": N_("E-mail"),
    "notes": N_("Note from the booker"),
}


def _bookings_for_reader(found: list[Any], request: Request[Any, Any, Any]) -> list[list[Any]]:
    """The booking export in the reader's language: headings, statuses and kinds; numbers
    and times stay typed for `exports` to write."""
    _ = gettext_for(request)
    head, *rows = exports.booking_rows(found)
    at = {key: head.index(key) for key in ("status", "kind")}
    for row in rows:
        row[at["status"]] = _(i18n.STATUS_NAMES[row[at["status"]]])
        row[at["kind"]] = _(i18n.BOOKING_KIND_NAMES[row[at["kind"]]])
    return [[_(_BOOKING_HEADINGS[key]) for key in head], *rows]


# --------------------------------------------------------------------------- office


async def _plan_page(
    request: Request[Any, Any, Any],
    me: Principal,
    year: str,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    plan_id = await services.plan_for_year(year)
    plan = await services.get_plan(plan_id, by=me) if plan_id else None
    every = await events.list_events(events.EventFilter(), by=me)
    owners = [o for o in await organisations.list_organisations() if o.kind in ("firm", "school")]
    return page(
        request,
        "reports/workplan_edit.html",
        status_code=status_code,
        year=year,
        years=_years(year),
        plan=plan,
        metrics=METRICS,
        owners=owners,
        events=every,
        values=values or {},
        errors=errors,
    )


@get("/workplan")
async def edit_plan(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    return await _plan_page(request, by, _year(request))


def _plan_again(
    request: Request[Any, Any, Any], by: Principal, year: str
) -> Callable[[Refused], Awaitable[Template]]:
    """The plan page once more, each refusal beside the field it names."""

    async def again(refused: Refused) -> Template:
        return await _plan_page(
            request,
            by,
            year,
            values=refused.values,
            errors=refused.errors,
            status_code=refused.status_code,
        )

    return again


@post("/workplan")
async def create_plan(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    data = await form_data(request)
    year = str(data.get("school_year", "")).strip()
    shown = year if year.count("/") == 1 else services.current_school_year()
    return await handle_form(
        request,
        lambda data: services.create_plan(convert(data, WorkPlanIn), by=by),
        data=data,
        fields=None,
        done=lambda _done: go_on(request, f"/office/workplan?year={year}"),
        again=_plan_again(request, by, shown),
    )


@post("/workplan/{plan_id:int}/priorities")
async def add_priority(
    request: Request[Any, Any, Any], plan_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    year = _year(request)
    added = gettext_for(request)("The priority is added.")
    return await handle_form(
        request,
        lambda data: services.add_priority(plan_id, convert(data, PriorityIn), by=by),
        refusals=(Invalid,),
        fields=None,
        done=lambda _done: go_on(request, f"/office/workplan?year={year}", added),
        again=_plan_again(request, by, year),
    )


@post("/workplan/{plan_id:int}/milestones")
async def add_milestone(
    request: Request[Any, Any, Any], plan_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    year = _year(request)
    added = gettext_for(request)("The milestone is added.")

    async def add(data: dict[str, Any]) -> Any:
        raw_events = data.get("event_ids") or []
        values = {
            **data,
            "event_ids": [
                parse_int(e) for e in (raw_events if isinstance(raw_events, list) else [raw_events])
            ],
        }
        return await services.add_milestone(plan_id, convert(values, MilestoneIn), by=by)

    return await handle_form(
        request,
        add,
        refusals=(Invalid, NotFound),
        fields=None,
        done=lambda _done: go_on(request, f"/office/workplan?year={year}", added),
        again=_plan_again(request, by, year),
    )


@post("/milestones/{milestone_id:int}/events")
async def link_event(
    request: Request[Any, Any, Any], milestone_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    year = _year(request)

    async def link(data: dict[str, Any]) -> Any:
        event_id = parse_int(data.get("event_id"))
        if event_id is None:
            raise Invalid("choose an event", field="event_id")
        return await services.link_event(milestone_id, event_id, by=by)

    return await handle_form(
        request,
        link,
        refusals=(Invalid,),
        fields=None,
        done=lambda _done: go_on(request, f"/office/workplan?year={year}"),
        again=_plan_again(request, by, year),
    )


@get("/milestones/{milestone_id:int}/delete")
async def confirm_delete_milestone(
    request: Request[Any, Any, Any], milestone_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    """Deleting asks first, on a page of its own: a form, no script needed."""
    _ = gettext_for(request)
    plan = await _plan_holding(by, milestone_id=milestone_id)
    found = next(ms for ms in plan.milestones if ms.id == milestone_id)
    return page(
        request,
        "confirm_delete.html",
        heading=_("Delete the milestone “%(title)s”?") % {"title": found.title},
        consequence=_(
            "The milestone leaves the work plan %(year)s with its links to events; "
            "the events themselves stay. This cannot be undone."
        )
        % {"year": plan.school_year},
        action=f"/office/milestones/{milestone_id}/delete",
        back=f"/office/workplan?year={quote(plan.school_year, safe='')}",
    )


@post("/milestones/{milestone_id:int}/delete")
async def delete_milestone(
    request: Request[Any, Any, Any], milestone_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    plan = await _plan_holding(by, milestone_id=milestone_id)
    await services.delete_milestone(milestone_id, by=by)
    return go_on(
        request,
        f"/office/workplan?year={quote(plan.school_year, safe='')}",
        _("The milestone is deleted."),
    )


async def _plan_holding(
    me: Principal, *, milestone_id: int = 0, priority_id: int = 0
) -> WorkPlanOut:
    plan_id = await services.plan_of(me, milestone_id=milestone_id, priority_id=priority_id)
    return await services.get_plan(plan_id, by=me)


_MILESTONE_FIELDS = {k: k for k in ("title", "owner", "due_on", "metric", "target", "priority_id")}


async def _milestone_form(
    request: Request[Any, Any, Any],
    me: Principal,
    plan: WorkPlanOut,
    milestone_id: int,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    """The milestone's own page: its fields, and the events that count towards it
    (linked here rather than in the plan's table, which then fits a 1,280 px screen)."""
    milestone = next(ms for ms in plan.milestones if ms.id == milestone_id)
    every = await events.list_events(events.EventFilter(), by=me)
    return page(
        request,
        "reports/milestone_edit.html",
        status_code=status_code,
        plan=plan,
        milestone_id=milestone_id,
        milestone=milestone,
        owners=await _owners(),
        metrics=METRICS,
        linkable=[e for e in every if e.id not in milestone.event_ids],
        event_titles={e.id: e.title for e in every},
        values=values,
        errors=errors,
    )


async def _owners() -> list[Any]:
    return [o for o in await organisations.list_organisations() if o.kind in ("firm", "school")]


@get("/milestones/{milestone_id:int}/edit")
async def edit_milestone_form(
    request: Request[Any, Any, Any], milestone_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    plan = await _plan_holding(by, milestone_id=milestone_id)
    found = next(ms for ms in plan.milestones if ms.id == milestone_id)
    values = {
        "title": found.title,
        "owner": found.owner or "",
        "due_on": found.due_on.isoformat(),
        "metric": found.metric,
        "target": found.target,
        "priority_id": found.priority_id or "",
    }
    return await _milestone_form(request, by, plan, milestone_id, values)


@post("/milestones/{milestone_id:int}/edit")
async def edit_milestone(
    request: Request[Any, Any, Any], milestone_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    plan = await _plan_holding(by, milestone_id=milestone_id)

    async def update(data: dict[str, Any]) -> Any:
        if not str(data.get("title", "")).strip():
            raise Invalid("title is required", field="title")
        changes = convert(data, MilestonePatch)
        # An empty choice is a choice here: the network as owner, no priority.
        changes.owner = str(data.get("owner") or "").strip() or None
        changes.priority_id = parse_int(data.get("priority_id"))
        return await services.update_milestone(milestone_id, changes, by=by)

    async def again(refused: Refused) -> Template:
        return await _milestone_form(
            request,
            by,
            plan,
            milestone_id,
            refused.values,
            refused.errors,
            status_code=refused.status_code,
        )

    return await handle_form(
        request,
        update,
        fields=_MILESTONE_FIELDS,
        done=lambda _done: go_on(
            request, f"/office/workplan?year={plan.school_year}", _("The milestone is saved.")
        ),
        again=again,
    )


@post("/milestones/{milestone_id:int}/events/{event_id:int}/unlink")
async def unlink_event(
    request: Request[Any, Any, Any],
    milestone_id: IdPath,
    event_id: IdPath,
    by: NamedDependency[Principal],
) -> Redirect:
    plan = await _plan_holding(by, milestone_id=milestone_id)
    await services.unlink_event(milestone_id, event_id, by=by)
    flash(request, gettext_for(request)("The event no longer counts towards the milestone."))
    return redirect(f"/office/workplan?year={plan.school_year}")


def _priority_form(
    request: Request[Any, Any, Any],
    plan: WorkPlanOut,
    priority_id: int,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "reports/priority_edit.html",
        status_code=status_code,
        plan=plan,
        priority_id=priority_id,
        values=values,
        errors=errors,
    )


@get("/priorities/{priority_id:int}/edit")
async def edit_priority_form(
    request: Request[Any, Any, Any], priority_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    plan = await _plan_holding(by, priority_id=priority_id)
    found = next(p for p in plan.priorities if p.id == priority_id)
    values = {"title": found.title, "description": found.description}
    return _priority_form(request, plan, priority_id, values)


@post("/priorities/{priority_id:int}/edit")
async def edit_priority(
    request: Request[Any, Any, Any], priority_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    plan = await _plan_holding(by, priority_id=priority_id)

    async def update(data: dict[str, Any]) -> Any:
        if not str(data.get("title", "")).strip():
            raise Invalid("title is required", field="title")
        changes = convert(data, PriorityPatch)
        changes.description = str(data.get("description", ""))
        return await services.update_priority(priority_id, changes, by=by)

    return await handle_form(
        request,
        update,
        fields={"title": "title", "description": "description"},
        done=lambda _done: go_on(
            request, f"/office/workplan?year={plan.school_year}", _("The priority is saved.")
        ),
        again=lambda r: _priority_form(
            request, plan, priority_id, r.values, r.errors, status_code=r.status_code
        ),
    )


HANDLERS = [bilanz, chart, export_report, export_bookings]
OFFICE_HANDLERS = [
    edit_plan,
    create_plan,
    add_priority,
    add_milestone,
    link_event,
    confirm_delete_milestone,
    delete_milestone,
    edit_milestone_form,
    edit_milestone,
    unlink_event,
    edit_priority_form,
    edit_priority,
]
