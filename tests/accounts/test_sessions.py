"""Page sessions live on the server: sign-out and the rest end them for every copy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.accounts.services import set_user_active
from outreach.accounts.sessions import (
    LAST_SEEN_EVERY,
    end_sessions,
    principal_for_session,
    start_session,
)
from outreach.accounts.tables import UserSession
from outreach.config import get_settings
from outreach.security import hash_secret
from outreach.timeutil import utcnow
from tests.factories import make_world
from tests.pages.conftest import give_password, post_form, sign_in

COOKIE = "outreach_session"


@pytest.fixture
async def world(db):
    made = await make_world()
    await give_password(made.school_a.email)
    return made


async def _replay(client, cookie: str):
    """A request carrying only this copy of the session cookie, as an attacker sends it."""
    client.cookies.clear()
    return await client.get(
        "/school", headers={"cookie": f"{COOKIE}={cookie}"}, follow_redirects=False
    )


async def test_a_cookie_replayed_after_sign_out_is_refused(client, world):
    await sign_in(client, world.school_a.email)
    copied = client.cookies.get(COOKIE)
    assert (await _replay(client, copied)).status_code == 200  # the copy works until...
    client.cookies.set(COOKIE, copied)
    assert (await post_form(client, "/signout", {}, from_page="/school")).status_code == 303
    replayed = await _replay(client, copied)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/signin")
    assert await UserSession.count().where(UserSession.user == world.school_a.user_id) == 0


async def test_sign_out_everywhere_ends_the_sessions_on_other_devices(client, world):
    await sign_in(client, world.school_a.email)
    other_device = client.cookies.get(COOKIE)
    client.cookies.clear()
    await sign_in(client, world.school_a.email)
    account = await client.get("/account")
    assert 'action="/account/signout-everywhere"' in account.text
    done = await post_form(client, "/account/signout-everywhere", {}, from_page="/account")
    assert done.status_code == 303 and done.headers["location"] == "/signin"
    assert (await client.get("/school", follow_redirects=False)).status_code == 303
    assert (await _replay(client, other_device)).status_code == 303


async def test_the_store_keeps_a_hash_and_an_absolute_lifetime(world):
    now = utcnow()
    session = await start_session(world.school_a.user_id, now=now)
    row = await UserSession.objects().where(UserSession.user == world.school_a.user_id).first()
    assert row.key_hash == hash_secret(session) and session not in row.key_hash
    lifetime = timedelta(hours=get_settings().session_hours)
    assert row.expires_at == now + lifetime
    # Being busy does not extend it: the end is fixed at sign-in.
    later = now + lifetime - timedelta(minutes=1)
    assert (await principal_for_session(session, now=later)).user_id == world.school_a.user_id
    assert await principal_for_session(session, now=now + lifetime) is None


async def test_last_seen_is_written_only_every_few_minutes(world):
    now = utcnow()
    session = await start_session(world.school_a.user_id, now=now)

    async def last_seen():
        row = await UserSession.select(UserSession.last_seen_at).first()
        return row["last_seen_at"]

    await principal_for_session(session, now=now + LAST_SEEN_EVERY / 2)
    assert await last_seen() == now
    await principal_for_session(session, now=now + LAST_SEEN_EVERY)
    assert await last_seen() == now + LAST_SEEN_EVERY


async def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(world):
    session = await start_session(world.school_a.user_id)
    await set_user_active(world.school_a.user_id, False, by=world.admin)
    await set_user_active(world.school_a.user_id, True, by=world.admin)
    assert await principal_for_session(session) is None
    assert await end_sessions(world.school_a.user_id) == 0
