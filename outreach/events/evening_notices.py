"""What the firms and the school of a parents' evening are told, written to the outbox.

Below the events and presenters services: the event services tell the firms of a
change to the evening inside their own transaction, the presenter services tell of
invitations and answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from outreach.accounts.tables import User
from outreach.events.tables import Slot
from outreach.outbox import services as outbox
from outreach.presenters.tables import PresenterInvitation

__all__ = ["tell_evening_cancelled", "tell_evening_changed", "tell_firm", "tell_school"]

P = PresenterInvitation


async def tell_firm(
    invitation_id: int,
    kind: str,
    now: datetime,
    *,
    payload: dict[str, Any] | None = None,
    change: str | None = None,
) -> None:
    """Every active coordinator of the firm, or the firm's contact address if it has none.

    `change` names the change told (instead of the instant) in the dedupe key.
    """
    row = (
        await P.select(P.firm, P.firm.contact_email.as_alias("contact"))
        .where(P.id == invitation_id)
        .first()
    )
    assert row is not None
    people = await User.select(User.email, User.language).where(
        (User.organisation == row["firm"]) & (User.role == "firm") & (User.active == True)  # noqa: E712
    )
    recipients = [(p["email"], p["language"]) for p in people] or [(row["contact"], "de")]
    for email, language in recipients:
        await _enqueue(kind, invitation_id, email, language, now, payload=payload, change=change)


async def tell_evening_changed(
    event_id: int,
    *,
    now: datetime,
    slot_id: int | None = None,
    old_starts_at: datetime | None = None,
    old_ends_at: datetime | None = None,
) -> None:
    """Inside the transaction that moved the evening or changed its title or venue: each
    firm still invited or presenting is told once per change.

    A change is the slot's new SEQUENCE (both a move and a title or venue change raise
    it), so the dedupe key is per invitation and slot sequence; the mail shows the
    evening as it is when sent, and one superseded by a later change is not sent.
    """
    rows = await P.select(P.id).where(
        (P.event == event_id) & P.status.is_in(["invited", "accepted"])
    )
    if not rows:
        return
    live = (Slot.event == event_id) & (Slot.cancelled == False)  # noqa: E712
    query = Slot.select(Slot.id, Slot.sequence)
    slot = (
        await (query.where(Slot.id == slot_id) if slot_id is not None else query.where(live))
        .order_by(Slot.starts_at)
        .first()
    )
    if slot is None:
        return  # no time left to tell about
    payload: dict[str, Any] = {"slot_id": slot["id"], "sequence": slot["sequence"]}
    if old_starts_at is not None and old_ends_at is not None:
        payload["old_starts_at"] = old_starts_at.isoformat()
        payload["old_ends_at"] = old_ends_at.isoformat()
    for row in rows:
        await tell_firm(
            row["id"],
            "presenter.evening_changed",
            now,
            payload=payload,
            change=f"s{slot['id']}.{slot['sequence']}",
        )


async def tell_evening_cancelled(event_id: int, *, now: datetime) -> None:
    """Inside the cancelling transaction: firms still invited or presenting are told."""
    rows = await P.select(P.id).where(
        (P.event == event_id) & P.status.is_in(["invited", "accepted"])
    )
    for row in rows:
        await tell_firm(row["id"], "presenter.evening_cancelled", now)


async def tell_school(invitation_id: int, now: datetime) -> None:
    """The teacher who invited, while active; else the school's contact address."""
    row = (
        await P.select(
            P.status,
            P.invited_by.email.as_alias("email"),
            P.invited_by.language.as_alias("language"),
            P.invited_by.active.as_alias("active"),
            P.event.host.contact_email.as_alias("contact"),
        )
        .where(P.id == invitation_id)
        .first()
    )
    assert row is not None
    if row["email"] and row["active"]:
        email, language = row["email"], row["language"] or "de"
    else:
        email, language = row["contact"], "de"
    await _enqueue(f"presenter.{row['status']}", invitation_id, email, language, now)


async def _enqueue(
    kind: str,
    invitation_id: int,
    email: str,
    language: str,
    now: datetime,
    *,
    payload: dict[str, Any] | None = None,
    change: str | None = None,
) -> None:
    # Per recipient, by a keyed hash of the address: the key keeps no address.
    who = outbox.recipient_key(email or "")
    await outbox.enqueue(
        kind,
        booking_id=None,
        recipient=email or "",
        language=language,
        payload={**(payload or {}), "invitation_id": invitation_id},
        instant=now,
        key=f"{kind}:i{invitation_id}:{who}:{change or now.isoformat()}",
    )
