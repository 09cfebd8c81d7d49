"""What teachers and firms are told of internship placements, written to the outbox
inside the transaction of the change (one mail per class, one per firm and round)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from outreach.accounts.tables import User
from outreach.internships.tables import ClassPeriod, InternshipOffer, Placement
from outreach.organisations.tables import Organisation
from outreach.outbox import services as outbox

__all__ = ["firm_recipients", "teacher_recipients", "tell_placement", "tell_round_confirmed"]

Recipient = tuple[str, str]  # address, language


async def teacher_recipients(class_id: int) -> list[Recipient]:
    """The teacher who set up the class while active; else the school's teachers; else
    the school's contact address."""
    row = (
        await ClassPeriod.select(
            ClassPeriod.school,
            ClassPeriod.created_by.email.as_alias("email"),
            ClassPeriod.created_by.language.as_alias("language"),
            ClassPeriod.created_by.active.as_alias("active"),
            ClassPeriod.created_by.role.as_alias("role"),
            ClassPeriod.school.contact_email.as_alias("contact"),
        )
        .where(ClassPeriod.id == class_id)
        .first()
    )
    if row is None:
        return []
    if row["email"] and row["active"] and row["role"] == "school":
        return [(row["email"], row["language"] or "de")]
    return await _members(row["school"], "school", row["contact"])


async def firm_recipients(firm_id: int) -> list[Recipient]:
    """Every active coordinator of the firm, or the firm's contact address."""
    org = (
        await Organisation.select(Organisation.contact_email)
        .where(Organisation.id == firm_id)
        .first()
    )
    return await _members(firm_id, "firm", org["contact_email"] if org else "")


async def _members(org_id: int, role: str, contact: str) -> list[Recipient]:
    people = await User.select(User.email, User.language).where(
        (User.organisation == org_id) & (User.role == role) & (User.active == True)  # noqa: E712
    )
    return [(p["email"], p["language"] or "de") for p in people] or [(contact, "de")]


async def _enqueue(
    kind: str, key: str, people: list[Recipient], payload: dict[str, Any], now: datetime
) -> None:
    for email, language in people:
        who = outbox.recipient_key(email or "")
        await outbox.enqueue(
            kind,
            booking_id=None,
            recipient=email or "",
            language=language,
            payload=payload,
            instant=now,
            key=f"{kind}:{key}:{who}",
        )


async def tell_round_confirmed(round_id: int, classes: list[int], now: datetime) -> None:
    """Each class's teacher gets the class's results; each firm with placements its own."""
    for class_id in sorted(classes):
        await _enqueue(
            "internship.class_results",
            f"r{round_id}:c{class_id}",
            await teacher_recipients(class_id),
            {"round_id": round_id, "class_id": class_id},
            now,
        )
    rows = await Placement.select(Placement.offer_period.offer.host.as_alias("host")).where(
        (Placement.round == round_id) & Placement.offer_period.is_not_null()
    )
    for firm_id in sorted({r["host"] for r in rows}):
        await _enqueue(
            "internship.firm_placements",
            f"r{round_id}:f{firm_id}",
            await firm_recipients(firm_id),
            {"round_id": round_id, "firm_id": firm_id},
            now,
        )


async def tell_placement(
    placement_id: int, kind: str, now: datetime, *, change: str, reason: str = ""
) -> None:
    """The pupil's teacher and the firm hear of a cancelled or handed-on placement."""
    row = (
        await Placement.select(
            Placement.pupil.class_period.as_alias("class_id"),
            Placement.offer_period.offer.as_alias("offer"),
        )
        .where(Placement.id == placement_id)
        .first()
    )
    if row is None or row["offer"] is None:
        return
    host = (
        await InternshipOffer.select(InternshipOffer.host)
        .where(InternshipOffer.id == row["offer"])
        .first()
    )
    people = await teacher_recipients(row["class_id"])
    if host is not None:
        people += await firm_recipients(host["host"])
    payload: dict[str, Any] = {"placement_id": placement_id}
    if reason:
        payload["reason"] = reason[:2000]
    await _enqueue(kind, f"p{placement_id}:{change}", people, payload, now)
