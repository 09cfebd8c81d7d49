"""The network office changes, deactivates, reactivates and re-invites people."""

from __future__ import annotations

import pytest

from outreach.accounts import services as accounts
from outreach.accounts.tables import User
from outreach.errors import Conflict, Forbidden, Invalid, Unauthorised
from tests.factories import make_world
from tests.pages.conftest import PASSWORD, give_password, post_form, sign_in
from tests.support import bearer


@pytest.fixture
async def world(db):
    world = await make_world()
    for principal in (world.school_a, world.admin):
        await give_password(principal.email)
    return world


async def test_the_office_changes_name_role_and_organisation(world):
    changed = await accounts.update_user(
        world.school_a.user_id,
        accounts.UserChange(name="Frau Neu", role="firm", org_slug="firm-b", language="cs"),
        by=world.admin,
    )
    principal = accounts.principal_for(changed)
    assert (principal.role, principal.language) == ("firm", "cs")
    assert principal.org_id == world.firm_b.org_id
    with pytest.raises(Invalid) as wrong_kind:
        await accounts.update_user(
            world.firm_a.user_id,
            accounts.UserChange(name="", role="firm", org_slug="school-a"),
            by=world.admin,
        )
    assert wrong_kind.value.field == "org"
    with pytest.raises(Forbidden):
        await accounts.update_user(
            world.firm_a.user_id,
            accounts.UserChange(name="x", role="admin", org_slug=None),
            by=world.firm_a,
        )
    with pytest.raises(Conflict):
        await accounts.update_user(
            world.admin.user_id,
            accounts.UserChange(name="x", role="school", org_slug="school-a"),
            by=world.admin,
        )


async def test_a_deactivated_user_cannot_sign_in_or_use_tokens_until_reactivated(client, world):
    await sign_in(client, world.school_a.email)
    feed = await accounts.feed_token_for(by=world.school_a)
    assert (
        await client.get("/api/v1/me/feed", headers=bearer(world.tokens["school_a"]))
    ).status_code == 200

    await accounts.set_user_active(world.school_a.user_id, False, by=world.admin)
    # The open session ends, the token and the feed stop working, sign-in is refused.
    assert (await client.get("/school", follow_redirects=False)).status_code == 303
    refused = await client.get("/api/v1/me/feed", headers=bearer(world.tokens["school_a"]))
    assert refused.status_code == 401
    assert (await client.get(f"/feeds/private/{feed}.ics")).status_code == 404
    with pytest.raises(Unauthorised):
        await accounts.authenticate_password(world.school_a.email, PASSWORD)
    assert await accounts.request_password_reset(world.school_a.email) is None

    await accounts.set_user_active(world.school_a.user_id, True, by=world.admin)
    assert (await accounts.authenticate_password(world.school_a.email, PASSWORD)).role == "school"
    again = await client.get("/api/v1/me/feed", headers=bearer(world.tokens["school_a"]))
    assert again.status_code == 200
    with pytest.raises(Conflict):
        await accounts.set_user_active(world.admin.user_id, False, by=world.admin)
    with pytest.raises(Forbidden):
        await accounts.set_user_active(world.school_b.user_id, False, by=world.school_a)


async def test_open_invitations_are_listed_and_sent_again(client, world, settings):
    invited, _token = await accounts.invite_user(
        accounts.NewUser(email="neu@test.example", role="school", org_slug="school-a"),
        by=world.admin,
    )
    listed = [u["email"] for u in await accounts.list_open_invitations(by=world.admin)]
    assert "neu@test.example" in listed
    assert world.admin.email not in listed  # has a password
    await sign_in(client, world.admin.email)
    page = await client.get("/office/users")
    assert 'id="open-invitations"' in page.text and "neu@test.example" in page.text
    before = set(settings.mail_dir.glob("*.eml")) if settings.mail_dir.is_dir() else set()
    sent = await post_form(
        client, f"/office/users/{invited.id}/reinvite", {}, from_page="/office/users"
    )
    assert sent.status_code == 303
    new = set(settings.mail_dir.glob("*.eml")) - before
    assert len(new) == 1
    from email import message_from_bytes, policy

    mail = message_from_bytes(new.pop().read_bytes(), policy=policy.default)
    assert mail["To"] == "neu@test.example"
    body = mail.get_body().get_content()
    link = body.split("http://outreach.test/password/set?token=", 1)[1].split()[0]
    assert (await accounts.password_token_user(link)).id == invited.id
    with pytest.raises(Conflict):
        await accounts.reinvite_user(world.admin.user_id, by=world.admin)


async def test_the_office_pages_edit_and_deactivate(client, world):
    await sign_in(client, world.admin.email)
    path = f"/office/users/{world.firm_a.user_id}"
    bad = await post_form(
        client, path, {"name": "X", "role": "firm", "org": "school-a", "language": "de"}
    )
    assert bad.status_code == 422 and 'id="f-org-error"' in bad.text
    ok = await post_form(
        client, path, {"name": "Herr Rehn", "role": "firm", "org": "firm-a", "language": "en"}
    )
    assert ok.status_code == 303
    row = await User.objects().where(User.id == world.firm_a.user_id).first()
    assert (row.name, row.language) == ("Herr Rehn", "en")
    off = await post_form(client, path + "/active", {"active": "0"}, from_page=path)
    assert off.status_code == 303
    assert (await User.objects().where(User.id == world.firm_a.user_id).first()).active is False
    on = await post_form(client, path + "/active", {"active": "1"}, from_page=path)
    assert on.status_code == 303
    assert (await User.objects().where(User.id == world.firm_a.user_id).first()).active is True
