"""Sessions, invitations and password resets: tokens without tables, dying when they should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.accounts.services import (
    NewUser,
    invite_user,
    list_users,
    password_token_user,
    request_password_reset,
    set_password_with_token,
)
from outreach.accounts.sessions import principal_for_session, start_session
from outreach.errors import Forbidden, Invalid, NotFound
from tests.factories import make_world


@pytest.fixture
async def world(db):
    return await make_world()


async def test_an_invitation_sets_the_password_once(world):
    user, token = await invite_user(
        NewUser(email="neu@test.example", role="firm", org_slug="firm-a"), by=world.admin
    )
    assert user.password_hash is None
    assert (await password_token_user(token)).id == user.id
    principal = await set_password_with_token(token, "a-long-password")
    assert principal.user_id == user.id and principal.org_id == user.organisation
    with pytest.raises(NotFound):
        await set_password_with_token(token, "another-long-password")


async def test_only_the_office_invites(world):
    with pytest.raises(Forbidden):
        await invite_user(NewUser(email="x@test.example", role="admin"), by=world.firm_a)
    with pytest.raises(Forbidden):
        await list_users(by=world.firm_a)
    assert any(u["email"] == world.firm_a.email for u in await list_users(by=world.admin))


async def test_a_reset_link_expires_and_unknown_addresses_get_none(world):
    assert await request_password_reset("nobody@test.example") is None
    assert await request_password_reset("not an address") is None
    now = datetime.now(UTC)
    user, token = await request_password_reset(world.school_a.email, now=now)
    assert (await password_token_user(token, now=now + timedelta(hours=1))).id == user.id
    with pytest.raises(NotFound):
        await password_token_user(token, now=now + timedelta(hours=3))
    with pytest.raises(NotFound):
        await password_token_user(token[:-1] + ("0" if token[-1] != "0" else "1"))
    with pytest.raises(Invalid) as caught:
        await set_password_with_token(token, "short")
    assert caught.value.field == "password"


async def test_a_new_password_ends_older_sessions(world):
    session = await start_session(world.school_a.user_id)
    assert (await principal_for_session(session)).user_id == world.school_a.user_id
    _, token = await request_password_reset(world.school_a.email)
    await set_password_with_token(token, "a-fresh-password")
    assert await principal_for_session(session) is None
    assert await principal_for_session("forged") is None
