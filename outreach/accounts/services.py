"""Users, API tokens and private feed tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from outreach.accounts.tables import ROLES, ApiToken, User
from outreach.config import get_settings
from outreach.db import write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.organisations.services import get_by_slug
from outreach.principal import Principal
from outreach.security import (
    hash_password,
    new_token,
    secret_matches,
    split_token,
    verify_password,
)

__all__ = [
    "LANGUAGES",
    "NewUser",
    "authenticate_password",
    "authenticate_token",
    "create_user",
    "feed_token_for",
    "get_user",
    "issue_api_token",
    "normalise_email",
    "principal_for",
    "rotate_feed_token",
    "user_for_feed_token",
]

LANGUAGES = ("de", "en", "cs")
API_PREFIX = "otk"
FEED_PREFIX = "otf"
# Deliberately loose: the mail server is the real judge; this catches typos and injection.
_EMAIL = re.compile(r"^[^@\s<>,;\"\r\n]+@[^@\s<>,;\"\r\n]+\.[^@\s<>,;\"\r\n]+$")
# Which organisation kind each role belongs to.
_ROLE_ORG_KIND = {"firm": "firm", "school": "school"}


def normalise_email(email: str, *, field: str = "email") -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise Invalid(f"{field} is not a valid e-mail address", field=field)
    return email


@dataclass(frozen=True)
class NewUser:
    email: str
    role: str
    org_slug: str | None = None
    name: str = ""
    password: str | None = None
    language: str = "de"


async def create_user(data: NewUser, *, by: Principal | None = None) -> User:
    """Create a user; `by=None` is the operator on the command line."""
    if by is not None and not by.is_admin:
        raise Forbidden("only the network office creates users")
    email = normalise_email(data.email)
    if data.role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if data.language not in LANGUAGES:
        raise Invalid(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    org_id: int | None = None
    if data.role in _ROLE_ORG_KIND:
        if not data.org_slug:
            raise Invalid(f"a {data.role} user needs an organisation", field="org")
        org = await get_by_slug(data.org_slug, field="org")
        if org.kind != _ROLE_ORG_KIND[data.role]:
            raise Invalid(
                f"organisation {org.slug!r} is a {org.kind}, not a {_ROLE_ORG_KIND[data.role]}",
                field="org",
            )
        org_id = org.id
    elif data.org_slug:
        org_id = (await get_by_slug(data.org_slug, field="org")).id
    if data.password is not None and len(data.password) < 10:
        raise Invalid("password must have at least 10 characters", field="password")
    async with write_transaction():
        if await User.exists().where(User.email == email):
            raise Conflict("a user with this e-mail address exists", field="email")
        user = User(
            email=email,
            name=data.name.strip(),
            role=data.role,
            organisation=org_id,
            password_hash=hash_password(data.password) if data.password else None,
            language=data.language,
        )
        await user.save()
    return user


async def issue_api_token(user_id: int, *, label: str = "") -> str:
    """A new bearer token for the API; only its hash is stored, so show it once."""
    token, selector, verifier_hash = new_token(API_PREFIX)
    await ApiToken(user=user_id, selector=selector, verifier_hash=verifier_hash, label=label).save()
    return token


def principal_for(user: User) -> Principal:
    return Principal(
        role=user.role,
        user_id=user.id,
        org_id=user.organisation,
        email=user.email,
        language=user.language,
    )


async def authenticate_token(token: str) -> Principal:
    parts = split_token(token, API_PREFIX)
    row = None
    if parts is not None:
        row = (
            await ApiToken.objects()
            .where((ApiToken.selector == parts[0]) & ApiToken.revoked_at.is_null())
            .first()
        )
    # Compare even when nothing was found, so a wrong selector costs the same time.
    stored = row.verifier_hash if row else "0" * 64
    if row is None or parts is None or not secret_matches(stored, parts[1]):
        raise Unauthorised("the bearer token is not valid")
    user = await User.objects().where((User.id == row.user) & (User.active == True)).first()  # noqa: E712
    if user is None:
        raise Unauthorised("the bearer token is not valid")
    return principal_for(user)


async def authenticate_password(email: str, password: str) -> Principal:
    """The same answer, in about the same time, for an unknown user and a wrong password."""
    user = await User.objects().where(User.email == email.strip().lower()).first()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise Unauthorised("e-mail address or password is wrong")
    return principal_for(user)


def _feed_token(selector: str) -> str:
    # The verifier is derived from the server secret, so the database alone (a backup,
    # a leak) never holds a usable feed URL, yet the user can be shown theirs again.
    verifier = hmac.new(
        get_settings().secret_key.encode(), f"feed:{selector}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{FEED_PREFIX}_{selector}_{verifier}"


async def rotate_feed_token(*, by: Principal) -> str:
    """A new private feed token (128 random bits); the old URL stops working at once."""
    if by.user_id is None:
        raise Unauthorised("sign in to have a private feed")
    selector = secrets.token_hex(16)
    await User.update({User.feed_selector: selector}).where(User.id == by.user_id)
    return _feed_token(selector)


async def feed_token_for(*, by: Principal) -> str:
    """The acting user's feed token, issued on first use."""
    if by.user_id is None:
        raise Unauthorised("sign in to have a private feed")
    selector = await User.select(User.feed_selector).where(User.id == by.user_id).first()
    if selector is None or not selector["feed_selector"]:
        return await rotate_feed_token(by=by)
    return _feed_token(selector["feed_selector"])


async def user_for_feed_token(token: str) -> User:
    """A wrong token, a rotated one and no token look the same: not found."""
    parts = split_token(token, FEED_PREFIX)
    if parts is None or not hmac.compare_digest(_feed_token(parts[0]), token):
        raise NotFound("no such feed")
    user = (
        await User.objects()
        .where(
            (User.feed_selector == parts[0]) & (User.active == True)  # noqa: E712
        )
        .first()
    )
    if user is None:
        raise NotFound("no such feed")
    return user


async def get_user(user_id: int) -> User:
    user = await User.objects().where(User.id == user_id).first()
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user
