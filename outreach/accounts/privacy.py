"""A person's own data: export it as JSON, delete the account.

Export: the account, its organisation, the bookings the person made (nobody else's),
and metadata of their API tokens and feed, never a secret or a hash.

Deletion: every token is revoked, the account row is anonymised (the row stays so that
audit entries and itineraries keep a valid reference, but it holds no name, no address,
no password and cannot sign in), every session of the account is ended (deleted),
the bookings the person made (and those registered under their address without an
account) lose their contact data while status, counts and grade stay for the places
held and the reports; the outbox forgets every notice to the address, and the words the
person wrote on presenter invitations go. The last network office account
cannot be deleted, or nobody could run the network.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from outreach.accounts.services import DELETED_DOMAIN
from outreach.accounts.sessions import end_sessions
from outreach.accounts.tables import ApiToken, User
from outreach.audit.services import record
from outreach.booking.cascades import anonymise_bookings_of
from outreach.booking.queries import bookings_made_by
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Invalid, Unauthorised
from outreach.organisations.tables import Organisation
from outreach.outbox import services as outbox
from outreach.presenters import services as presenters
from outreach.principal import Principal
from outreach.security import verify_password
from outreach.timeutil import local, utcnow

__all__ = ["EXPORT_VERSION", "delete_account", "export_data"]

EXPORT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return local(value).isoformat() if value else None


async def _me(by: Principal) -> User:
    if by.user_id is None:
        raise Unauthorised("sign in to see your own data")
    user = await User.objects().where((User.id == by.user_id) & (User.active == True)).first()  # noqa: E712
    if user is None:
        raise Unauthorised("sign in to see your own data")
    return user


async def export_data(*, by: Principal, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about the acting user, as plain JSON-ready values."""
    user = await _me(by)
    organisation = None
    if user.organisation is not None:
        org = await Organisation.objects().where(Organisation.id == user.organisation).first()
        if org is not None:
            organisation = {"slug": org.slug, "name": org.name, "kind": org.kind}
    tokens = await ApiToken.select(
        ApiToken.label, ApiToken.created_at, ApiToken.last_used_at, ApiToken.revoked_at
    ).where(ApiToken.user == user.id)
    return {
        "export_version": EXPORT_VERSION,
        "exported_at": _iso(now or utcnow()),
        "account": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "language": user.language,
            "created_at": _iso(user.created_at),
            "has_password": bool(user.password_hash),
        },
        "organisation": organisation,
        "bookings": await bookings_made_by(user.id),
        "api_tokens": [
            {
                "label": t["label"],
                "created_at": _iso(t["created_at"]),
                "last_used_at": _iso(t["last_used_at"]),
                "revoked_at": _iso(t["revoked_at"]),
            }
            for t in tokens
        ],
        "private_feed": {"issued": bool(user.feed_selector)},
        "calendar_delivery": user.calendar_delivery,
    }


async def delete_account(
    *,
    by: Principal,
    password: str | None = None,
    confirm_email: str | None = None,
    now: datetime | None = None,
) -> int:
    """Delete the acting user's account; returns how many bookings were anonymised.

    The caller proves intent: the pages ask for the password again, the API (already
    holding a bearer token) for the account's own e-mail address.
    """
    now = now or utcnow()
    user = await _me(by)
    if password is not None:
        if not verify_password(user.password_hash, password):
            raise Invalid("the password is wrong", field="password")
    elif confirm_email is not None:
        if not hmac.compare_digest(confirm_email.strip().lower().encode(), user.email.encode()):
            raise Invalid("confirm must be your account's e-mail address", field="confirm")
    else:
        raise Invalid("confirm the deletion", field="confirm")
    async with write_transaction():
        if user.role == "admin":
            # Lock the admins, so two admins deleting themselves at once cannot both pass.
            admins = await for_update(
                User.select(User.id).where((User.role == "admin") & (User.active == True))  # noqa: E712
            )
            if len(admins) <= 1:
                raise Conflict(
                    "the last network office account cannot be deleted",
                    field="account",
                    reason="last_admin",
                )
        await ApiToken.update({ApiToken.revoked_at: now}).where(
            (ApiToken.user == user.id) & ApiToken.revoked_at.is_null()
        )
        await end_sessions(user.id)
        anonymised = await anonymise_bookings_of(user.id, user.email, now=now)
        # Notices to the address (also those about no booking) and the person's words.
        await outbox.forget_address(user.email)
        await presenters.forget_words_of(user.id)
        await User.update(
            {
                User.email: f"deleted-{user.id}@{DELETED_DOMAIN}",
                User.name: "",
                User.password_hash: None,
                User.feed_selector: None,
                User.organisation: None,
                User.active: False,
            }
        ).where(User.id == user.id)
        await record(
            "account.delete",
            by=by,
            object_type="user",
            object_id=user.id,
            detail={"role": user.role, "bookings_anonymised": anonymised},
            now=now,
        )
    return anonymised
