"""The verified-token caches: one person's token never answers for another, and
revocation takes effect at once in this process and within TOKEN_CACHE_SECONDS elsewhere.

The cache works only while a pool serves (production); here it is switched on, with a
clock the test moves, so the bound is shown without waiting. "Another process" is a
change straight in the database, past the services that forget entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from outreach.accounts import token_cache
from outreach.accounts.services import (
    authenticate_token,
    feed_token_for,
    rotate_feed_token,
    set_user_active,
    user_for_feed_token,
)
from outreach.accounts.sessions import end_sessions
from outreach.accounts.tables import ApiToken, User
from outreach.errors import NotFound, Unauthorised
from outreach.timeutil import utcnow
from tests.factories import World, make_world
from tests.pages.conftest import give_password, post_form, sign_in
from tests.querycount import counting
from tests.support import Clock


@pytest.fixture
def clock() -> Iterator[Clock]:
    clock = Clock()
    for cache in (token_cache.api_tokens, token_cache.feed_tokens):
        cache.clear()
        cache.always, cache.clock = True, clock
    yield clock
    for cache in (token_cache.api_tokens, token_cache.feed_tokens):
        cache.clear()
        cache.always, cache.clock = False, token_cache.time.monotonic


@pytest.fixture
async def world(db: str) -> World:
    return await make_world()


async def test_a_verified_api_token_is_checked_again_only_after_the_bound(
    world: World, clock: Clock
) -> None:
    token = world.tokens["school_a"]
    assert (await authenticate_token(token)).user_id == world.school_a.user_id
    with counting() as counts:
        assert (await authenticate_token(token)).user_id == world.school_a.user_id
    assert counts.statements == 0  # from the cache
    # Revoked by another process: this one believes its entry until the bound ...
    await ApiToken.update({ApiToken.revoked_at: utcnow()}).where(
        ApiToken.user == world.school_a.user_id
    )
    clock.now += token_cache.TOKEN_CACHE_SECONDS - 0.01
    assert (await authenticate_token(token)).user_id == world.school_a.user_id
    # ... and no longer.
    clock.now += 0.01
    with pytest.raises(Unauthorised):
        await authenticate_token(token)


async def test_one_persons_token_never_answers_for_another(world: World, clock: Clock) -> None:
    a, b = world.tokens["school_a"], world.tokens["firm_a"]
    assert (await authenticate_token(a)).user_id == world.school_a.user_id
    assert (await authenticate_token(b)).user_id == world.firm_a.user_id
    assert (await authenticate_token(a)).user_id == world.school_a.user_id
    # A's selector with a wrong verifier is not A's token, cached or not.
    forged = a[:-4] + ("aaaa" if not a.endswith("aaaa") else "bbbb")
    with pytest.raises(Unauthorised):
        await authenticate_token(forged)
    feed_a = await feed_token_for(by=world.school_a)
    feed_b = await feed_token_for(by=world.firm_a)
    assert (await user_for_feed_token(feed_a)).id == world.school_a.user_id
    assert (await user_for_feed_token(feed_b)).id == world.firm_a.user_id
    with pytest.raises(NotFound):
        await user_for_feed_token(feed_a[:-1] + ("0" if feed_a[-1] != "0" else "1"))


async def test_many_requests_of_one_expired_feed_token_verify_it_once(
    world: World, clock: Clock
) -> None:
    token = await feed_token_for(by=world.firm_a)
    wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
    with counting() as counts:
        owners = await asyncio.gather(*(user_for_feed_token(token) for _ in range(20)))
    assert {owner.id for owner in owners} == {world.firm_a.user_id}
    assert counts.statements == 1
    # A wrong token is refused to every one of them, and is not remembered.
    answers = await asyncio.gather(
        *(user_for_feed_token(wrong) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(answer, NotFound) for answer in answers)
    with pytest.raises(NotFound):
        await user_for_feed_token(wrong)


def test_a_check_that_began_before_a_revocation_keeps_nothing(clock: Clock) -> None:
    cache = token_cache.feed_tokens
    began = cache.generation()
    cache.forget_user(7)  # a rotation while the check reads the database
    cache.put("old-token", 7, "owner", generation=began)
    assert cache.get("old-token") is None
    now = cache.generation()
    cache.put("new-token", 7, "owner", generation=now)
    assert cache.get("new-token") == "owner"


async def test_a_refused_token_is_not_cached(world: World, clock: Clock) -> None:
    with pytest.raises(Unauthorised):
        await authenticate_token("not-a-token")
    forged = world.tokens["school_a"][:-1] + "x"
    for _ in range(2):
        with pytest.raises(Unauthorised):
            await authenticate_token(forged)
    assert not token_cache.api_tokens._entries


async def test_feed_rotation_takes_effect_at_once_here_and_within_the_bound_elsewhere(
    world: World, clock: Clock
) -> None:
    old = await feed_token_for(by=world.firm_a)
    assert (await user_for_feed_token(old)).id == world.firm_a.user_id
    new = await rotate_feed_token(by=world.firm_a)
    with pytest.raises(NotFound):
        await user_for_feed_token(old)  # this process: at once
    assert (await user_for_feed_token(new)).id == world.firm_a.user_id
    # Another process rotates: the cached `new` is believed until the bound only.
    await User.update({User.feed_selector: "0" * 32}).where(User.id == world.firm_a.user_id)
    assert (await user_for_feed_token(new)).id == world.firm_a.user_id
    clock.now += token_cache.TOKEN_CACHE_SECONDS
    with pytest.raises(NotFound):
        await user_for_feed_token(new)


async def test_deactivation_stops_api_and_feed_tokens_at_once(world: World, clock: Clock) -> None:
    api = world.tokens["firm_a"]
    feed = await feed_token_for(by=world.firm_a)
    await authenticate_token(api)
    await user_for_feed_token(feed)
    await set_user_active(world.firm_a.user_id, False, by=world.admin)
    with pytest.raises(Unauthorised):
        await authenticate_token(api)
    with pytest.raises(NotFound):
        await user_for_feed_token(feed)
    # The other person's cached token is untouched.
    assert (await authenticate_token(world.tokens["school_a"])).role == "school"


async def test_deactivation_elsewhere_takes_effect_within_the_bound(
    world: World, clock: Clock
) -> None:
    api = world.tokens["firm_a"]
    await authenticate_token(api)
    await User.update({User.active: False}).where(User.id == world.firm_a.user_id)
    clock.now += token_cache.TOKEN_CACHE_SECONDS
    with pytest.raises(Unauthorised):
        await authenticate_token(api)


async def test_signing_out_everywhere_forgets_the_users_verified_tokens(
    world: World, clock: Clock
) -> None:
    api = world.tokens["school_a"]
    await authenticate_token(api)
    await end_sessions(world.school_a.user_id)  # sign-out everywhere, deactivation, erasure
    with counting() as counts:
        await authenticate_token(api)  # an API token outlives sign-out, but is checked again
    assert counts.statements > 0


async def test_without_a_pool_every_request_checks(world: World) -> None:
    token = world.tokens["school_a"]
    await authenticate_token(token)
    with counting() as counts:
        await authenticate_token(token)
    assert counts.statements > 0


async def test_sign_out_ends_the_page_session_at_once_with_the_caches_on(
    client: Any, world: World, clock: Clock
) -> None:
    # Sessions are not cached: signing out takes effect on the very next request.
    await give_password(world.school_a.email)
    await sign_in(client, world.school_a.email)
    assert (await client.get("/school", follow_redirects=False)).status_code == 200
    copied = client.cookies.get("outreach_session")
    assert (await post_form(client, "/signout", {}, from_page="/school")).status_code == 303
    client.cookies.clear()
    replayed = await client.get(
        "/school", headers={"cookie": f"outreach_session={copied}"}, follow_redirects=False
    )
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/signin")
