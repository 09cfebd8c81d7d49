"""The office changes milestones and priorities and unlinks events, by API and on its page."""

from __future__ import annotations

from datetime import date

import pytest

from outreach.workplan import services
from outreach.workplan.schemas import MilestoneIn, PriorityIn, WorkPlanIn
from tests.factories import make_event, make_world
from tests.pages.conftest import give_password, post_form, sign_in
from tests.support import bearer

YEAR = "2030/31"


@pytest.fixture
async def plan(db):
    world = await make_world()
    await give_password(world.admin.email)
    await give_password(world.firm_a.email)
    plan_id = await services.create_plan(WorkPlanIn(school_year=YEAR, title="Plan"), by=world.admin)
    first = await services.add_priority(plan_id, PriorityIn(title="Eltern"), by=world.admin)
    second = await services.add_priority(plan_id, PriorityIn(title="Lehrer"), by=world.admin)
    event = await make_event(world.firm_a, kind="open_day")
    await services.add_milestone(
        plan_id,
        MilestoneIn(
            title="Vier Klassen",
            due_on=date(2031, 3, 4),
            metric="class_visits",
            target=4,
            priority_id=first,
            event_ids=[event],
        ),
        by=world.admin,
    )
    milestone = (await services.get_plan(plan_id, by=world.admin)).milestones[0].id
    return {
        "world": world,
        "plan": plan_id,
        "milestone": milestone,
        "event": event,
        "priorities": (first, second),
    }


async def _milestone(plan):
    found = await services.get_plan(plan["plan"], by=plan["world"].admin)
    return found.milestones[0]


async def test_the_api_changes_a_milestone_field_by_field(client, plan):
    admin = bearer(plan["world"].tokens["admin"])
    path = f"/api/v1/milestones/{plan['milestone']}"
    second = plan["priorities"][1]
    changed = await client.patch(
        path,
        json={"title": "Fünf Klassen", "target": 5, "owner": "firm-a", "priority_id": second},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    [ms] = changed.json()["milestones"]
    assert (ms["title"], ms["target"], ms["owner"], ms["priority_id"]) == (
        "Fünf Klassen",
        5,
        "firm-a",
        second,
    )
    assert (ms["due_on"], ms["metric"]) == ("2031-03-04", "class_visits")  # untouched
    cleared = await client.patch(path, json={"owner": None, "priority_id": None}, headers=admin)
    assert cleared.status_code == 200
    assert (
        cleared.json()["milestones"][0]["owner"],
        cleared.json()["milestones"][0]["priority_id"],
    ) == (None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_on": "2032-01-10"}, "due_on"),  # outside the plan's school year
        ({"owner": "no-such-firm"}, "owner"),
        ({"priority_id": 999_999}, "priority_id"),
        ({"target": 0}, "target"),
        ({"title": "   "}, "title"),
        ({"metric": "smiles"}, "metric"),
    ],
)
async def test_bad_milestone_changes_name_the_field_and_change_nothing(client, plan, body, field):
    before = await _milestone(plan)
    refused = await client.patch(
        f"/api/v1/milestones/{plan['milestone']}",
        json=body,
        headers=bearer(plan["world"].tokens["admin"]),
    )
    assert refused.status_code == 422, refused.text
    assert field in refused.text
    assert await _milestone(plan) == before


async def test_only_the_office_changes_the_plan(client, plan):
    before = await _milestone(plan)
    firm = bearer(plan["world"].tokens["firm_a"])
    mid, event = plan["milestone"], plan["event"]
    assert (
        await client.patch(f"/api/v1/milestones/{mid}", json={"target": 9}, headers=firm)
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/milestones/{mid}/events/{event}", headers=firm)
    ).status_code == 403
    priority = f"/api/v1/workplans/{plan['plan']}/priorities/{plan['priorities'][0]}"
    assert (await client.patch(priority, json={"title": "X"}, headers=firm)).status_code == 403
    assert (await client.patch(priority, json={"title": "X"})).status_code == 401
    assert await _milestone(plan) == before


async def test_the_api_unlinks_an_event_and_renames_a_priority(client, plan):
    admin = bearer(plan["world"].tokens["admin"])
    mid, event = plan["milestone"], plan["event"]
    gone = await client.delete(f"/api/v1/milestones/{mid}/events/{event}", headers=admin)
    assert gone.status_code == 204
    assert (await _milestone(plan)).event_ids == []
    missing = await client.delete(f"/api/v1/milestones/999999/events/{event}", headers=admin)
    assert missing.status_code == 404
    first, second = plan["priorities"]
    renamed = await client.patch(
        f"/api/v1/workplans/{plan['plan']}/priorities/{first}",
        json={"title": "Elternarbeit"},
        headers=admin,
    )
    assert renamed.status_code == 200, renamed.text
    titles = {p["id"]: p["title"] for p in renamed.json()["priorities"]}
    assert titles == {first: "Elternarbeit", second: "Lehrer"}
    # A priority of another plan is not found under this one.
    other = await services.create_plan(
        WorkPlanIn(school_year="2031/32", title="P2"), by=plan["world"].admin
    )
    wrong = await client.patch(
        f"/api/v1/workplans/{other}/priorities/{first}", json={"title": "X"}, headers=admin
    )
    assert wrong.status_code == 404


async def test_the_office_edits_on_its_pages(client, plan):
    await sign_in(client, plan["world"].admin.email)
    mid, event = plan["milestone"], plan["event"]
    overview = await client.get("/office/workplan", params={"year": YEAR})
    assert f'href="/office/milestones/{mid}/edit"' in overview.text
    edit = f"/office/milestones/{mid}/edit"
    form = await client.get(edit)
    assert form.status_code == 200 and 'value="Vier Klassen"' in form.text
    # Linked events are managed on the milestone's own page (the plan stays 1,280 px wide).
    assert f'action="/office/milestones/{mid}/events/{event}/unlink"' in form.text
    data = {
        "title": "Sechs Klassen",
        "owner": "firm-a",
        "due_on": "2031-05-01",
        "metric": "pupils",
        "target": "6",
        "priority_id": "",
    }
    refused = await post_form(client, edit, {**data, "due_on": "2032-05-01"})
    assert refused.status_code == 422
    assert 'id="f-due_on-error"' in refused.text
    assert (await _milestone(plan)).title == "Vier Klassen"
    saved = await post_form(client, edit, data)
    assert saved.status_code == 303, saved.text
    ms = await _milestone(plan)
    assert (ms.title, ms.owner, ms.due_on, ms.metric, ms.target, ms.priority_id) == (
        "Sechs Klassen",
        "firm-a",
        date(2031, 5, 1),
        "pupils",
        6,
        None,
    )
    unlinked = await post_form(
        client, f"/office/milestones/{mid}/events/{event}/unlink", {}, from_page=edit
    )
    assert unlinked.status_code == 303
    assert (await _milestone(plan)).event_ids == []
    first = plan["priorities"][0]
    priority_edit = f"/office/priorities/{first}/edit"
    assert 'value="Eltern"' in (await client.get(priority_edit)).text
    empty = await post_form(client, priority_edit, {"title": ""})
    assert empty.status_code == 422 and 'id="f-title-error"' in empty.text
    assert (
        await post_form(client, priority_edit, {"title": "Eltern und Familien"})
    ).status_code == 303
    shown = await services.get_plan(plan["plan"], by=plan["world"].admin)
    assert shown.priorities[0].title == "Eltern und Familien"


async def test_a_firm_cannot_open_the_edit_pages(client, plan):
    await sign_in(client, plan["world"].firm_a.email)
    for path in (
        f"/office/milestones/{plan['milestone']}/edit",
        f"/office/priorities/{plan['priorities'][0]}/edit",
    ):
        assert (await client.get(path, follow_redirects=False)).status_code in (403, 404)
