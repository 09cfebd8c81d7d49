"""The mails about internship placements, rendered like the booking mails.

Templates `templates/notifications/internship.<what>.{subject.txt,txt,html}` extend the
shared mail base; the details block lists the placements. A firm's mail names each
pupil's first name, class, school and period, never a rank or another wish.
"""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from outreach.internships.tables import HOLDING, ClassPeriod, InternshipOffer, Placement
from outreach.languages import language_of
from outreach.notifications.mail import _address, _render, message_id, one_line
from outreach.notifications.texts import translator
from outreach.outbox.schemas import ClaimedNotification
from outreach.timeutil import as_utc

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = ["internship_message"]

P = Placement


def _span(first: date, last: date) -> str:
    return f"{first:%d.%m.%Y}\u2013{last:%d.%m.%Y}"  # an en dash, as the holiday spans


async def _placements(where: Any) -> list[dict[str, Any]]:
    """Placements with pupil, class and the offer's occupation and firm (two-deep joins)."""
    rows = (
        await P.select(
            P.id,
            P.status,
            P.round.status.as_alias("round_status"),
            P.pupil.first_name.as_alias("first_name"),
            P.pupil.code.as_alias("code"),
            P.pupil.class_period.as_alias("class_id"),
            P.offer_period,
            P.offer_period.offer.as_alias("offer"),
        )
        .where(where)
        .order_by(P.id)
    )
    offers = {
        o["id"]: o
        for o in await InternshipOffer.select(
            InternshipOffer.id,
            InternshipOffer.occupation,
            InternshipOffer.host.as_alias("host_id"),
            InternshipOffer.host.name.as_alias("firm"),
        ).where(InternshipOffer.id.is_in([r["offer"] for r in rows if r["offer"]] or [0]))
    }
    classes = {
        c["id"]: c
        for c in await ClassPeriod.select(
            ClassPeriod.id,
            ClassPeriod.class_label,
            ClassPeriod.starts_on,
            ClassPeriod.ends_on,
            ClassPeriod.school.name.as_alias("school"),
        ).where(ClassPeriod.id.is_in([r["class_id"] for r in rows] or [0]))
    }
    for r in rows:
        r["offer_row"] = offers.get(r["offer"])
        r["class_row"] = classes[r["class_id"]]
    return rows


async def _context(note: ClaimedNotification, gettext: Any) -> tuple[dict[str, Any] | None, str]:
    payload = note.payload
    if note.kind == "internship.class_results":
        klass = (await _classes([int(payload.get("class_id", 0))])).get(
            int(payload.get("class_id", 0))
        )
        if klass is None:
            return None, "the class no longer exists"
        rows = await _placements(
            (P.round == int(payload.get("round_id", 0))) & (P.pupil.class_period == klass["id"])
        )
        lines = []
        for r in rows:
            offer = r["offer_row"]
            if r["status"] in HOLDING and offer is not None:
                lines.append(
                    f"{r['first_name']} ({r['code']}): {offer['occupation']}, {offer['firm']}"
                )
            else:
                lines.append(f"{r['first_name']} ({r['code']}): {gettext('nicht vermittelt')}")
        return {
            "class_label": klass["class_label"],
            "school_name": klass["school"],
            "when": _span(klass["starts_on"], klass["ends_on"]),
            "lines": lines,
            "url_path": "/school",
        }, ""
    if note.kind == "internship.firm_placements":
        firm_id = int(payload.get("firm_id", 0))
        rows = await _placements(
            (P.round == int(payload.get("round_id", 0)))
            & P.offer_period.is_not_null()
            & P.status.is_in(list(HOLDING))
        )
        rows = [r for r in rows if r["offer_row"] and r["offer_row"]["host_id"] == firm_id]
        if not rows:
            return None, "no placement at the firm any more"
        return {
            "firm_name": rows[0]["offer_row"]["firm"],
            "lines": [_line_for_firm(r) for r in rows],
            "url_path": "/firm",
        }, ""
    [row] = await _placements(P.id == int(payload.get("placement_id", 0))) or [None]
    if row is None or row["offer_row"] is None:
        return None, "the placement no longer exists"
    if note.kind == "internship.next_in_line" and row["status"] not in (
        "placed",
        "confirmed_by_firm",
    ):
        return None, f"the placement is {row['status']} by now"
    return {
        "first_name": row["first_name"],
        "class_label": row["class_row"]["class_label"],
        "school_name": row["class_row"]["school"],
        "firm_name": row["offer_row"]["firm"],
        "lines": [_line_for_firm(row)],
        "reason": str(payload.get("reason", "")),
        "url_path": "",
    }, ""


def _line_for_firm(r: dict[str, Any]) -> str:
    klass = r["class_row"]
    return (
        f"{r['first_name']}, {klass['class_label']}, {klass['school']},"
        f" {r['offer_row']['occupation']}, {_span(klass['starts_on'], klass['ends_on'])}"
    )


async def _classes(ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await ClassPeriod.select(
        ClassPeriod.id,
        ClassPeriod.class_label,
        ClassPeriod.starts_on,
        ClassPeriod.ends_on,
        ClassPeriod.school.name.as_alias("school"),
    ).where(ClassPeriod.id.is_in(ids or [0]))
    return {r["id"]: r for r in rows}


async def internship_message(
    note: ClaimedNotification, settings: Settings, *, now: datetime
) -> tuple[EmailMessage | None, str]:
    """The mail, or None and why it is not sent (the placement changed since)."""
    lang = language_of(note.language)
    _ = translator(lang)
    values, skip = await _context(note, _)
    if values is None:
        return None, skip
    values |= {
        "_": _,
        "lang": lang,
        "kind": note.kind,
        "recipient_name": "",
        "method": None,
        "has_invitation": False,
        "reason": values.get("reason", ""),
        "url": f"{settings.base_url}{values.pop('url_path')}",
    }
    subject = one_line(_render(f"notifications/{note.kind}.subject.txt", values))
    values["subject"] = subject
    message = EmailMessage()
    message.set_content(_render(f"notifications/{note.kind}.txt", values))
    message.add_alternative(_render(f"notifications/{note.kind}.html", values), subtype="html")
    message["Subject"] = subject
    message["From"] = one_line(settings.mail_from)
    message["To"] = _address(note.recipient, "")
    message["Date"] = format_datetime(as_utc(now))
    message["Message-ID"] = message_id(note, settings)
    message["Content-Language"] = lang
    message["Auto-Submitted"] = "auto-generated"
    return message, ""
