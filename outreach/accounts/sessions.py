"""Page sessions kept on the server: started at sign-in, ended by sign-out and the rest.

The session cookie (encrypted and signed) carries a random 256-bit session id; the
table keeps only its SHA-256, the user, an absolute expiry and when it was last seen.
Every signed-in request costs one indexed lookup (joined with the user, who must still
be active); `last_seen_at` is written at most every few minutes, not on every request.
Sign-out, a new password, deactivation, account deletion and "sign out everywhere"
delete the rows, so a copy of the cookie opens nothing afterwards.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from outreach.accounts import token_cache
from outreach.accounts.tables import UserSession
from outreach.config import get_settings
from outreach.principal import Principal
from outreach.security import hash_secret
from outreach.timeutil import utcnow

__all__ = [
    "SESSION_KEY",
    "end_session",
    "end_sessions",
    "principal_for_session",
    "sessions_of",
    "start_session",
]

# The key in the session cookie's payload that holds the session id.
SESSION_KEY = "sid"
# How stale `last_seen_at` may get before a request writes it again.
LAST_SEEN_EVERY = timedelta(minutes=5)


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


async def start_session(user_id: int, *, now: datetime | None = None) -> str:
    """A new session for the user; returns the id the cookie carries (not stored)."""
    now = _now(now)
    session_id = secrets.token_urlsafe(32)
    # Housekeeping while we are here: expired sessions are of no use to anyone.
    await UserSession.delete().where(UserSession.expires_at <= now)
    await UserSession.insert(
        UserSession(
            user=user_id,
            key_hash=hash_secret(session_id),
            created_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
            last_seen_at=now,
        )
    )
    return session_id


async def principal_for_session(
    session_id: str, *, now: datetime | None = None
) -> Principal | None:
    """The session's user while the session lives and the user is active; else None."""
    now = _now(now)
    row = (
        await UserSession.select(
            UserSession.id,
            UserSession.last_seen_at,
            UserSession.user.id.as_alias("user_id"),
            UserSession.user.role.as_alias("role"),
            UserSession.user.organisation.as_alias("org_id"),
            UserSession.user.email.as_alias("email"),
            UserSession.user.language.as_alias("language"),
        )
        .where(
            (UserSession.key_hash == hash_secret(session_id))
            & (UserSession.expires_at > now)
            & (UserSession.user.active == True)  # noqa: E712
        )
        .first()
    )
    if row is None:
        return None
    if row["last_seen_at"] is None or now - row["last_seen_at"] >= LAST_SEEN_EVERY:
        await UserSession.update({UserSession.last_seen_at: now}).where(UserSession.id == row["id"])
    return Principal(
        role=row["role"],
        user_id=row["user_id"],
        org_id=row["org_id"],
        email=row["email"],
        language=row["language"],
    )


async def end_session(session_id: str) -> None:
    """Sign-out: this session ends; the user's other sessions (other devices) stay."""
    await UserSession.delete().where(UserSession.key_hash == hash_secret(session_id))


async def end_sessions(user_id: int) -> int:
    """Every session of the user ends; returns how many there were.

    Deactivation, erasure and signing out everywhere end here: the user's verified
    tokens are forgotten in this process too (other processes: within their bound).
    """
    ended = await UserSession.delete().where(UserSession.user == user_id).returning(UserSession.id)
    token_cache.forget_user(user_id)
    return len(ended)


async def sessions_of(user_id: int, *, now: datetime | None = None) -> int:
    """How many live sessions the user has (shown on the My data page)."""
    return await UserSession.count().where(
        (UserSession.user == user_id) & (UserSession.expires_at > _now(now))
    )
