"""The mail of a presenter-invitation notice, rendered like the booking mails.

Templates `templates/notifications/presenter.<status>.{subject.txt,txt,html}` extend the
shared mail base; the details block shows the evening instead of a booking.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from outreach import links
from outreach.events.tables import Slot
from outreach.languages import language_of
from outreach.notifications.mail import _address, _render, format_when, message_id, one_line
from outreach.notifications.texts import translator
from outreach.outbox.schemas import ClaimedNotification
from outreach.presenters.tables import PresenterInvitation as P
from outreach.timeutil import as_utc

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = ["presenter_message"]

# The states in which each notice still tells the truth; a withdrawn invitation is not
# mailed, an answer changed since is told by the later notice.
_STILL = {
    "presenter.invited": ("invited", "accepted", "declined"),
    "presenter.withdrawn": ("withdrawn",),
    "presenter.accepted": ("accepted",),
    "presenter.declined": ("declined",),
    "presenter.evening_cancelled": ("invited", "accepted"),
    "presenter.evening_changed": ("invited", "accepted"),
}


async def _superseded(payload: dict[str, Any]) -> bool:
    """A later change of the evening's time raised the slot's SEQUENCE: its notice tells."""
    row = await Slot.select(Slot.sequence).where(Slot.id == int(payload.get("slot_id", 0))).first()
    return row is not None and row["sequence"] > int(payload.get("sequence", 0))


def _old_when(payload: dict[str, Any], lang: str) -> str:
    if not payload.get("old_starts_at") or not payload.get("old_ends_at"):
        return ""
    return format_when(
        datetime.fromisoformat(payload["old_starts_at"]),
        datetime.fromisoformat(payload["old_ends_at"]),
        lang,
    )


async def _context(invitation_id: int) -> dict[str, Any] | None:
    row = (
        await P.select(
            P.id,
            P.event,
            P.status,
            P.message,
            P.answer,
            P.firm.name.as_alias("firm_name"),
            P.firm.contact_email.as_alias("firm_email"),
            P.event.title.as_alias("event_title"),
            P.event.status.as_alias("event_status"),
            P.event.cancel_reason.as_alias("cancel_reason"),
            P.event.host.name.as_alias("school_name"),
            P.event.host.contact_email.as_alias("school_email"),
            P.event.venue.name.as_alias("venue_name"),
            P.event.venue.street.as_alias("venue_street"),
            P.event.venue.postal_code.as_alias("venue_postal_code"),
            P.event.venue.city.as_alias("venue_city"),
        )
        .where(P.id == invitation_id)
        .first()
    )
    if row is None:
        return None
    slot = (
        await Slot.select(Slot.starts_at, Slot.ends_at)
        .where(
            (Slot.event == row["event"]) & (Slot.cancelled == False)  # noqa: E712
        )
        .order_by(Slot.starts_at)
        .first()
    )
    row["slot"] = slot
    return row


async def presenter_message(
    note: ClaimedNotification, settings: Settings, *, now: datetime
) -> tuple[EmailMessage | None, str]:
    """The mail, or None and why it is not sent (the invitation changed since)."""
    ctx = await _context(int(note.payload.get("invitation_id", 0)))
    if ctx is None:
        return None, "the invitation no longer exists"
    if ctx["status"] not in _STILL[note.kind]:
        return None, f"the invitation is {ctx['status']} by now"
    if note.kind != "presenter.evening_cancelled" and ctx["event_status"] == "cancelled":
        return None, "the parents' evening is cancelled"
    if note.kind == "presenter.evening_changed" and await _superseded(dict(note.payload)):
        return None, "a later change of the evening is told instead"
    lang = language_of(note.language)
    town = " ".join(p for p in (ctx["venue_postal_code"], ctx["venue_city"]) if p)
    slot = ctx["slot"]
    values: dict[str, Any] = {
        "_": translator(lang),
        "lang": lang,
        "kind": note.kind,
        "method": None,
        "has_invitation": False,
        "recipient_name": "",
        "event_title": ctx["event_title"],
        "host_name": ctx["school_name"],
        "school_name": ctx["school_name"],
        "firm_name": ctx["firm_name"],
        "class_label": "",
        "persons": "",
        "when": format_when(slot["starts_at"], slot["ends_at"], lang) if slot else "",
        "old_when": _old_when(dict(note.payload), lang),
        "where": ", ".join(p for p in (ctx["venue_name"], ctx["venue_street"], town) if p),
        "message": ctx["message"],
        "reason": ctx["cancel_reason"],
        "answer": ctx["answer"],
        "firm_url": f"{settings.base_url}/firm#invitations",
        "evening_url": f"{settings.base_url}/school/evenings/{ctx['event']}",
        "event_url": links.event_url(settings, ctx["event"]),
    }
    subject = one_line(_render(f"notifications/{note.kind}.subject.txt", values))
    values["subject"] = subject
    message = EmailMessage()
    message.set_content(_render(f"notifications/{note.kind}.txt", values))
    message.add_alternative(_render(f"notifications/{note.kind}.html", values), subtype="html")
    message["Subject"] = subject
    message["From"] = one_line(settings.mail_from)
    message["To"] = _address(note.recipient, "")
    to_firm = note.kind in (
        "presenter.invited",
        "presenter.withdrawn",
        "presenter.evening_cancelled",
        "presenter.evening_changed",
    )
    reply = ctx["school_email"] if to_firm else ctx["firm_email"]
    if reply:
        message["Reply-To"] = _address(reply, ctx["school_name" if to_firm else "firm_name"])
    message["Date"] = format_datetime(as_utc(now))
    message["Message-ID"] = message_id(note, settings)
    message["References"] = f"<presenter-{ctx['id']}@{links.mail_host(settings)}>"
    message["Content-Language"] = lang
    message["Auto-Submitted"] = "auto-generated"
    return message, ""
