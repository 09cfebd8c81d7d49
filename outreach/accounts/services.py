"""Users, API tokens and private feed tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from outreach.accounts import token_cache
from outreach.accounts.sessions import end_sessions
from outreach.accounts.tables import CALENDAR_DELIVERIES, ROLES, ApiToken, User
from outreach.addresses import normalise_email
from outreach.audit.services import record
from outreach.config import get_settings
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.links import mail_host
from outreach.notifications.transports import transport_for
from outreach.organisations.services import get_by_slug
from outreach.principal import Principal
from outreach.security import (
    hash_password,
    new_token,
    same_text,
    secret_matches,
    split_token,
    verify_password,
)
from outreach.shared_loads import SharedLoads

__all__ = [
    "LANGUAGES",
    "FeedOwner",
    "NewUser",
    "UserChange",
    "authenticate_password",
    "authenticate_token",
    "create_user",
    "feed_token_for",
    "get_user",
    "invite_user",
    "issue_api_token",
    "list_open_invitations",
    "list_users",
    "password_token_user",
    "principal_for",
    "reinvite_user",
    "request_password_reset",
    "rotate_feed_token",
    "send_account_mail",
    "set_password_with_token",
    "set_user_active",
    "update_user",
    "user_for_feed_token",
]

LANGUAGES = ("de", "en", "cs")
API_PREFIX = "otk"
FEED_PREFIX = "otf"
# Which organisation kind each role belongs to.
_ROLE_ORG_KIND = {"firm": "firm", "school": "school"}


@dataclass(frozen=True)
class NewUser:
    email: str
    role: str
    org_slug: str | None = None
    name: str = ""
    password: str | None = None
    language: str = "de"


async def _organisation_for(role: str, org_slug: str | None) -> int | None:
    """The organisation a user of `role` belongs to: a firm's or a school's own kind."""
    if role not in ROLES:
        raise Invalid.because("not_one_of", field="role", choices=tuple(ROLES))
    if role in _ROLE_ORG_KIND:
        if not org_slug:
            raise Invalid.because("needs_organisation", field="org", role=role)
        org = await get_by_slug(org_slug, field="org")
        if org.kind != _ROLE_ORG_KIND[role]:
            raise Invalid.because(
                "organisation_kind", field="org", slug=org.slug, kind=org.kind, role=role
            )
        return org.id
    return (await get_by_slug(org_slug, field="org")).id if org_slug else None


async def create_user(
    data: NewUser, *, by: Principal | None = None, action: str = "user.create"
) -> User:
    """Create a user; `by=None` is the operator on the command line."""
    if by is not None and not by.is_admin:
        raise Forbidden("only the network office creates users")
    email = normalise_email(data.email)
    if data.language not in LANGUAGES:
        raise Invalid.because("not_one_of", field="language", choices=tuple(LANGUAGES))
    org_id = await _organisation_for(data.role, data.org_slug)
    if data.password is not None and len(data.password) < 10:
        raise Invalid.because("password_too_short", field="password", min=MIN_PASSWORD)
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
        await record(
            action,
            by=by,
            object_type="user",
            object_id=user.id,
            detail={"role": user.role, "organisation": org_id},
        )
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
    known = token_cache.api_tokens.get(token)
    if isinstance(known, Principal):
        return known
    generation = token_cache.api_tokens.generation()
    parts = split_token(token, API_PREFIX)
    row = None
    if parts is not None:
        # The token and its user in one statement (a cache miss costs one round trip).
        owner = ApiToken.user
        row = (
            await ApiToken.select(
                ApiToken.verifier_hash,
                owner.id.as_alias("user_id"),
                owner.role.as_alias("role"),
                owner.organisation.as_alias("org_id"),
                owner.email.as_alias("email"),
                owner.language.as_alias("language"),
                owner.active.as_alias("active"),
            )
            .where((ApiToken.selector == parts[0]) & ApiToken.revoked_at.is_null())
            .first()
        )
    # Compare even when nothing was found, so a wrong selector costs the same time.
    stored = row["verifier_hash"] if row else "0" * 64
    if row is None or parts is None or not secret_matches(stored, parts[1]):
        raise Unauthorised("the bearer token is not valid")
    if not row["active"]:
        raise Unauthorised("the bearer token is not valid")
    principal = Principal(
        role=row["role"],
        user_id=row["user_id"],
        org_id=row["org_id"],
        email=row["email"],
        language=row["language"],
    )
    token_cache.api_tokens.put(token, row["user_id"], principal, generation=generation)
    return principal


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
    token_cache.feed_tokens.forget_user(by.user_id)
    return _feed_token(selector)


async def feed_token_for(*, by: Principal) -> str:
    """The acting user's feed token, issued on first use."""
    if by.user_id is None:
        raise Unauthorised("sign in to have a private feed")
    selector = await User.select(User.feed_selector).where(User.id == by.user_id).first()
    if selector is None or not selector["feed_selector"]:
        return await rotate_feed_token(by=by)
    return _feed_token(selector["feed_selector"])


async def calendar_delivery(*, by: Principal) -> str:
    """How the acting user's own visits reach their calendar (see CALENDAR_DELIVERIES)."""
    if by.user_id is None:
        raise Unauthorised("sign in to choose how visits reach your calendar")
    row = await User.select(User.calendar_delivery).where(User.id == by.user_id).first()
    return row["calendar_delivery"] if row else CALENDAR_DELIVERIES[0]


async def set_calendar_delivery(choice: str, *, by: Principal) -> None:
    """Invitations by mail, the subscription, or both; the private feed follows on its
    next request (it is rebuilt when its owner's choice differs from the stored one)."""
    if by.user_id is None:
        raise Unauthorised("sign in to choose how visits reach your calendar")
    if choice not in CALENDAR_DELIVERIES:
        raise Invalid.because("not_one_of", field="calendar_delivery", choices=CALENDAR_DELIVERIES)
    await User.update({User.calendar_delivery: choice}).where(User.id == by.user_id)


@dataclass(frozen=True, slots=True)
class FeedOwner:
    """What a private feed depends on of its owner (plain fields: read on every request)."""

    id: int
    role: str
    organisation: int | None
    calendar_delivery: str


# Verifications of feed tokens in flight: the clients of one feed find its verified
# token expired in the same moment, and one of them reads the database for them all.
# Keyed by the token only while in flight (the requests hold it anyway).
_feed_verifications: SharedLoads[FeedOwner] = SharedLoads()  # by (token, generation)


async def user_for_feed_token(token: str) -> FeedOwner:
    """A wrong token, a rotated one and no token look the same: not found."""
    known = token_cache.feed_tokens.get(token)
    if isinstance(known, FeedOwner):
        return known
    # A request that comes after a revocation does not join a verification that began
    # before it: the generation is part of the key.
    generation = token_cache.feed_tokens.generation()
    return await _feed_verifications.run(
        (token, generation), lambda: _verify_feed_token(token, generation)
    )


async def _verify_feed_token(token: str, generation: int) -> FeedOwner:
    parts = split_token(token, FEED_PREFIX)
    if parts is None or not same_text(_feed_token(parts[0]), token):
        raise NotFound("no such feed")
    row = (
        await User.select(User.id, User.role, User.organisation, User.calendar_delivery)
        .where(
            (User.feed_selector == parts[0]) & (User.active == True)  # noqa: E712
        )
        .first()
    )
    if row is None:
        raise NotFound("no such feed")
    owner = FeedOwner(**row)
    token_cache.feed_tokens.put(token, owner.id, owner, generation=generation)
    return owner


async def get_user(user_id: int) -> User:
    user = await User.objects().where(User.id == user_id).first()
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


# ---------------------------------------------------------------------------
# Sessions of the web pages, invitations and password resets.
#
# No table is needed: a set-password link is an HMAC (with SECRET_KEY) over the user,
# its purpose, its expiry and the tail of the current password hash, so it dies when
# the password changes (used once), when it expires, or when SECRET_KEY changes.

PASSWORD_TOKEN_HOURS = {"reset": 2, "invite": 24 * 14}
MIN_PASSWORD = 10
MAX_PASSWORD = 1000


def _hash_tail(user: User) -> str:
    return (user.password_hash or "")[-16:]


def _password_mac(user: User, purpose: str, expires: int) -> str:
    message = f"password:{purpose}:{user.id}:{expires}:{_hash_tail(user)}".encode()
    return hmac.new(get_settings().secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def _password_token(user: User, purpose: str, now: datetime) -> str:
    expires = int((now + timedelta(hours=PASSWORD_TOKEN_HOURS[purpose])).timestamp())
    return f"{purpose}.{user.id}.{expires}.{_password_mac(user, purpose, expires)}"


async def password_token_user(token: str, *, now: datetime | None = None) -> User:
    """The user a set-password link is for; NotFound for a wrong, used or expired link."""
    now = now or datetime.now(UTC)
    parts = token.split(".")
    gone = NotFound("this link is not valid (any more)", field="token")
    if len(parts) != 4 or parts[0] not in PASSWORD_TOKEN_HOURS:
        raise gone
    purpose, raw_id, raw_expires, mac = parts
    if not raw_id.isdigit() or not raw_expires.isdigit():
        raise gone
    user = await User.objects().where((User.id == int(raw_id)) & (User.active == True)).first()  # noqa: E712
    if user is None or not same_text(_password_mac(user, purpose, int(raw_expires)), mac):
        raise gone
    if now.timestamp() > int(raw_expires):
        raise gone
    return user


async def set_password_with_token(
    token: str, password: str, *, now: datetime | None = None
) -> Principal:
    """Set the password a reset or invitation link is for; the link is used up by it."""
    if len(password) < MIN_PASSWORD:
        raise Invalid.because("password_too_short", field="password", min=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise Invalid.because("password_too_long", field="password", max=MAX_PASSWORD)
    async with write_transaction():
        user = await password_token_user(token, now=now)
        user.password_hash = hash_password(password)
        await user.save([User.password_hash])
        # A new password ends every session: whoever knew the old one is signed out.
        await end_sessions(user.id)
    return principal_for(user)


async def request_password_reset(
    email: str, *, now: datetime | None = None
) -> tuple[User, str] | None:
    """A reset link's token for an active user with this address; None for anyone else.

    The caller answers the same in both cases, so the form does not reveal who has an account.
    """
    try:
        address = normalise_email(email)
    except Invalid:
        return None
    user = await User.objects().where((User.email == address) & (User.active == True)).first()  # noqa: E712
    if user is None:
        return None
    return user, _password_token(user, "reset", now or datetime.now(UTC))


async def invite_user(
    data: NewUser, *, by: Principal, now: datetime | None = None
) -> tuple[User, str]:
    """Create a user without a password (network office only) and its set-password token."""
    if not by.is_admin:
        raise Forbidden("only the network office invites users")
    user = await create_user(
        NewUser(
            email=data.email,
            role=data.role,
            org_slug=data.org_slug,
            name=data.name,
            password=None,
            language=data.language,
        ),
        by=by,
        action="user.invite",
    )
    return user, _password_token(user, "invite", now or datetime.now(UTC))


async def list_users(*, by: Principal) -> list[dict[str, object]]:
    """Every user with its organisation, for the network office."""
    if not by.is_admin:
        raise Forbidden("only the network office sees all users")
    rows = await User.select(
        User.id,
        User.email,
        User.name,
        User.role,
        User.language,
        User.active,
        User.password_hash,
        User.organisation.name.as_alias("organisation_name"),
    ).order_by(User.email)
    for row in rows:
        # Whether the invitation was taken up; the hash itself never leaves this module.
        row["has_password"] = bool(row.pop("password_hash"))
    return rows


DELETED_DOMAIN = "deleted.invalid"


async def set_user_active(user_id: int, active: bool, *, by: Principal) -> User:
    """The office deactivates a user (sign-in, sessions, tokens and feed stop) or undoes it."""
    if not by.is_admin:
        raise Forbidden("only the network office deactivates users")
    if user_id == by.user_id and not active:
        raise Conflict("you cannot deactivate yourself", field="user")
    async with write_transaction():
        user = await for_update(User.objects().where(User.id == user_id)).first()
        if user is None:
            raise NotFound(f"no user {user_id}", field="user")
        if user.email.endswith("@" + DELETED_DOMAIN):
            raise Conflict("a deleted account cannot be reactivated", field="user")
        if not active and user.role == "admin" and user.active:
            admins = await for_update(
                User.select(User.id).where((User.role == "admin") & (User.active == True))  # noqa: E712
            )
            if len(admins) <= 1:
                raise Conflict(
                    "the last network office account cannot be deactivated",
                    field="user",
                    reason="last_admin_active",
                )
        if not active:
            await end_sessions(user.id)  # reactivating does not bring them back
        if user.active != active:
            user.active = active
            await user.save([User.active])
            await record(
                "user.activate" if active else "user.deactivate",
                by=by,
                object_type="user",
                object_id=user.id,
                detail={"role": user.role},
            )
    return user


async def send_account_mail(recipient: str, subject: str, text: str) -> None:
    """A plain mail to one person (invitation, reset link), through the mail transport.

    Sent at once, not via the outbox: the outbox is for booking notices, and the person
    is waiting for this one; a failure is shown to whoever asked for it.
    """
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    settings = get_settings()
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid("account", domain=mail_host(settings))
    message.set_content(text)
    await transport_for(settings).send(message)


# ---------------------------------------------------------------------------
# The network office manages people: change, deactivate, reactivate, invite again.
#
# A deactivated user (`active` false) is refused everywhere a person is recognised:
# password sign-in, page sessions, API tokens, private feeds and set-password links
# (`authenticate_*`, `sessions.principal_for_session`, `user_for_feed_token`,
# `password_token_user` all ask for an active user). Reactivating restores all of it.


@dataclass(frozen=True)
class UserChange:
    name: str
    role: str
    org_slug: str | None
    language: str = "de"


def _office_only(by: Principal) -> None:
    if not by.is_admin:
        raise Forbidden("only the network office manages users")


async def update_user(user_id: int, data: UserChange, *, by: Principal) -> User:
    """Change a person's name, role, organisation and mail language."""
    _office_only(by)
    if data.language not in LANGUAGES:
        raise Invalid.because("not_one_of", field="language", choices=tuple(LANGUAGES))
    if len(data.name) > 200:
        raise Invalid("name must be at most 200 characters", field="name")
    org_id = await _organisation_for(data.role, data.org_slug)
    if user_id == by.user_id and data.role != "admin":
        raise Conflict("you cannot take the network office role from yourself", field="role")
    async with write_transaction():
        user = await get_user(user_id)
        before = {"role": user.role, "organisation": user.organisation}
        user.name = data.name.strip()
        user.role = data.role
        user.organisation = org_id
        user.language = data.language
        await user.save([User.name, User.role, User.organisation, User.language])
        token_cache.forget_user(user.id)  # what the tokens stand for changed
        after = {"role": user.role, "organisation": user.organisation}
        changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
        if changed:  # what the person may see and do changed: the office answers for it
            await record(
                "user.change", by=by, object_type="user", object_id=user.id, detail=changed
            )
    return user


async def list_open_invitations(*, by: Principal) -> list[dict[str, object]]:
    """Active people who have not set a password yet: their invitation is still open."""
    _office_only(by)
    return await (
        User.select(
            User.id,
            User.email,
            User.name,
            User.role,
            User.created_at,
            User.organisation.name.as_alias("organisation_name"),
        )
        .where(User.password_hash.is_null() & (User.active == True))  # noqa: E712
        .order_by(User.created_at)
    )


async def reinvite_user(
    user_id: int, *, by: Principal, now: datetime | None = None
) -> tuple[User, str]:
    """A fresh set-password link for an open invitation (the old link stays valid too)."""
    _office_only(by)
    user = await get_user(user_id)
    if not user.active:
        raise Conflict("the user is deactivated; reactivate them first", field="user")
    if user.password_hash:
        raise Conflict("this person has set a password; they can reset it themselves", field="user")
    return user, _password_token(user, "invite", now or datetime.now(UTC))
