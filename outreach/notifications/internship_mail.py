"""The mails of internship notices, rendered like the booking mails, in the recipient's
language (German, English, Czech).

- `internship.class_results`: to a class's teacher, once per class and round: each
  pupil's first name, firm, occupation and the reason's sentence with its figures; an
  unplaced pupil the offers that fit and still have places.
- `internship.firm_placements`: to a firm, once per round: its pupils (first name,
  class, school, occupation), never their codes, ranks or other wishes.
- `internship.cancelled`, `internship.next_in_line`: to the school and the firm: a
  placement cancelled (with the reason given), a freed place handed on.

Templates `templates/notifications/internship.<what>.{subject.txt,txt,html}` extend the
shared mail base. A notice whose round is no longer confirmed, or whose placement moved
on since, is not mailed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from babel.dates import format_date

from outreach import links
from outreach.accounts.tables import User
from outreach.catalogs import reason_text
from outreach.internships.loading import stored_params
from outreach.internships.rounds import still_free
from outreach.internships.tables import (
    HOLDING,
    ClassPeriod,
    InternshipOffer,
    OfferPeriod,
    Placement,
    Round,
)
from outreach.languages import babel_locale, language_of
from outreach.notifications.mail import _address, _render, message_id, one_line
from outreach.notifications.texts import translator
from outreach.outbox.schemas import ClaimedNotification
from outreach.reasons import TEXTS
from outreach.timeutil import as_utc

if TYPE_CHECKING:
    from collections.abc import Callable

    from outreach.config import Settings

__all__ = ["internship_message"]

_EN_DASH = "\u2013"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
P = Placement


def _period(first: date, last: date, lang: str) -> str:
    locale = babel_locale(lang)
    return (
        f"{format_date(first, 'medium', locale=locale)} {_EN_DASH} "
        f"{format_date(last, 'medium', locale=locale)}"
    )


def _params(text: str) -> dict[str, Any]:
    """The stored figures, days as dates again (so each language writes them its way)."""
    return {
        k: date.fromisoformat(v) if isinstance(v, str) and _ISO_DAY.match(v) else v
        for k, v in stored_params(text).items()
    }


async def _class(class_id: int) -> dict[str, Any] | None:
    C = ClassPeriod
    return (
        await C.select(
            C.id,
            C.class_label,
            C.starts_on,
            C.ends_on,
            C.school.name.as_alias("school_name"),
            C.school.contact_email.as_alias("school_email"),
        )
        .where(C.id == class_id)
        .first()
    )


async def _offers(period_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each offer period's occupation, firm and dates."""
    if not period_ids:
        return {}
    rows = await OfferPeriod.select(
        OfferPeriod.id,
        OfferPeriod.starts_on,
        OfferPeriod.ends_on,
        OfferPeriod.offer.as_alias("offer"),
        OfferPeriod.offer.occupation.as_alias("occupation"),
    ).where(OfferPeriod.id.is_in(sorted(set(period_ids))))
    offers = {r["offer"] for r in rows}
    firms = {
        o["id"]: o
        for o in await InternshipOffer.select(
            InternshipOffer.id,
            InternshipOffer.host.as_alias("firm_id"),
            InternshipOffer.host.name.as_alias("firm"),
            InternshipOffer.host.contact_email.as_alias("firm_email"),
        ).where(InternshipOffer.id.is_in(sorted(offers)))
    }
    return {r["id"]: {**r, **firms[r["offer"]]} for r in rows}


def _place(offer: dict[str, Any], _: Callable[..., str]) -> str:
    return _("%(occupation)s bei %(firm)s", occupation=offer["occupation"], firm=offer["firm"])


def _free_place(offer: dict[str, Any], lang: str, _: Callable[..., str]) -> str:
    return f"{_place(offer, _)} ({_period(offer['starts_on'], offer['ends_on'], lang)})"


async def _round_confirmed(round_id: int) -> bool:
    row = await Round.select(Round.status).where(Round.id == round_id).first()
    return row is not None and row["status"] == "confirmed"


async def _class_results(note: ClaimedNotification, lang: str) -> tuple[dict[str, Any], str]:
    round_id, class_id = int(note.payload["round_id"]), int(note.payload["class_id"])
    if not await _round_confirmed(round_id):
        return {}, "the round is not confirmed"
    klass = await _class(class_id)
    if klass is None:
        return {}, "the class no longer exists"
    rows = await (
        P.select(
            P.pupil,
            P.pupil.first_name.as_alias("first_name"),
            P.pupil.code.as_alias("code"),
            P.offer_period,
            P.reason,
            P.params,
            P.status,
        )
        .where((P.round == round_id) & (P.pupil.class_period == class_id))
        .order_by(P.pupil.position)
        .order_by(P.pupil)
    )
    waiting = [r["pupil"] for r in rows if r["status"] not in HOLDING]
    free = await still_free(round_id, waiting) if waiting else {}
    offers = await _offers(
        [r["offer_period"] for r in rows if r["offer_period"] is not None]
        + [p for ids in free.values() for p in ids]
    )
    _ = translator(lang)
    pupils = []
    for r in rows:
        held = r["status"] in HOLDING and r["offer_period"] is not None
        cancelled = r["status"] == "cancelled"
        if held:
            place = _place(offers[r["offer_period"]], _)
        else:
            place = _("abgesagt") if cancelled else _("nicht vermittelt")
        still = [] if held else [_free_place(offers[p], lang, _) for p in free.get(r["pupil"], ())]
        params = _params(r["params"])
        # The places free now, by name (the round stored their ids); the sentence that
        # names them (wishes_full) says them, else a line of their own does.
        said = "%(free)s" in TEXTS.get(r["reason"], "")
        params["free"] = "; ".join(still) or "\u2013"
        pupils.append(
            {
                "name": r["first_name"] or _("(Name gelöscht)"),
                "code": r["code"],  # the school's own code: the teacher knows it
                "place": place,
                "reason": "" if cancelled else reason_text(r["reason"], params, lang),
                "free": "" if said and not cancelled else "; ".join(still),
            }
        )
    values = {
        "class_id": class_id,
        "class_label": klass["class_label"],
        "school_name": klass["school_name"],
        "period": _period(klass["starts_on"], klass["ends_on"], lang),
        "pupils": pupils,
        "placed": sum(1 for r in rows if r["status"] in HOLDING),
        "total": len(rows),
        "reply": klass["school_email"],
    }
    return values, ""


async def _firm_placements(note: ClaimedNotification, lang: str) -> tuple[dict[str, Any], str]:
    round_id, firm_id = int(note.payload["round_id"]), int(note.payload["firm_id"])
    if not await _round_confirmed(round_id):
        return {}, "the round is not confirmed"
    rows = await (
        P.select(
            P.id,
            P.pupil.first_name.as_alias("first_name"),
            P.pupil.class_period.as_alias("class_id"),
            P.offer_period,
        )
        .where(
            (P.round == round_id)
            & P.status.is_in(list(HOLDING))
            & (P.offer_period.offer.host == firm_id)
        )
        .order_by(P.offer_period)
        .order_by(P.id)
    )
    if not rows:
        return {}, "the firm has no placement in this round any more"
    offers = await _offers([r["offer_period"] for r in rows])
    classes = {c: await _class(c) for c in sorted({r["class_id"] for r in rows})}
    _ = translator(lang)
    pupils = []
    for r in rows:
        klass, offer = classes[r["class_id"]], offers[r["offer_period"]]
        assert klass is not None
        pupils.append(
            {
                "name": r["first_name"] or _("(Name gelöscht)"),
                "class_label": klass["class_label"],
                "school_name": klass["school_name"],
                "occupation": offer["occupation"],
                "period": _period(klass["starts_on"], klass["ends_on"], lang),
            }
        )
    firm = next(iter(offers.values()))
    return {"firm_name": firm["firm"], "pupils": pupils, "count": len(pupils)}, ""


async def _placement(note: ClaimedNotification, lang: str) -> tuple[dict[str, Any], str]:
    row = (
        await P.select(
            P.id,
            P.status,
            P.reason,
            P.params,
            P.offer_period,
            P.pupil.first_name.as_alias("first_name"),
            P.pupil.class_period.as_alias("class_id"),
        )
        .where(P.id == int(note.payload["placement_id"]))
        .first()
    )
    if row is None or row["offer_period"] is None:
        return {}, "the placement no longer exists"
    if note.kind == "internship.next_in_line" and row["status"] not in HOLDING:
        return {}, f"the placement is {row['status']} by now"
    klass = await _class(row["class_id"])
    offer = (await _offers([row["offer_period"]]))[row["offer_period"]]
    assert klass is not None
    _ = translator(lang)
    values = {
        "class_id": row["class_id"],
        "pupil_name": row["first_name"] or _("(Name gelöscht)"),
        "class_label": klass["class_label"],
        "school_name": klass["school_name"],
        "firm_name": offer["firm"],
        "occupation": offer["occupation"],
        "period": _period(klass["starts_on"], klass["ends_on"], lang),
        "reason": str(note.payload.get("reason", "")),
        "sentence": reason_text(row["reason"], _params(row["params"]), lang)
        if note.kind == "internship.next_in_line"
        else "",
        "firm_email": offer["firm_email"],
        "school_email": klass["school_email"],
        "firm_id": offer["firm_id"],
    }
    return values, ""


async def _role_of(address: str, kind: str) -> str:
    """Whose page the link opens: the recipient's own (a school's or a firm's)."""
    if kind == "internship.class_results":
        return "school"
    if kind == "internship.firm_placements":
        return "firm"
    user = await User.select(User.role).where(User.email == address).first()
    return user["role"] if user and user["role"] in ("school", "firm") else "school"


def _page(settings: Settings, role: str, class_id: int | None) -> str:
    """The recipient's page of it: the class's results for the school, the firm's
    internships page (its placements) for the firm."""
    if role == "school" and class_id is not None:
        return f"{settings.base_url}/school/internships/classes/{class_id}"
    return f"{settings.base_url}/{role}/internships"


_CONTEXT = {
    "internship.class_results": _class_results,
    "internship.firm_placements": _firm_placements,
    "internship.cancelled": _placement,
    "internship.next_in_line": _placement,
}


async def internship_message(
    note: ClaimedNotification, settings: Settings, *, now: datetime
) -> tuple[EmailMessage | None, str]:
    """The mail, or None and why it is not sent."""
    lang = language_of(note.language)
    context, skip = await _CONTEXT[note.kind](note, lang)
    if skip:
        return None, skip
    role = await _role_of(note.recipient, note.kind)
    values: dict[str, Any] = {
        "_": translator(lang),
        "lang": lang,
        "kind": note.kind,
        "method": None,
        "has_invitation": False,
        "recipient_name": "",
        "page_url": _page(settings, role, context.get("class_id")),
        **context,
    }
    subject = one_line(_render(f"notifications/{note.kind}.subject.txt", values))
    values["subject"] = subject
    message = EmailMessage()
    message.set_content(_render(f"notifications/{note.kind}.txt", values))
    message.add_alternative(_render(f"notifications/{note.kind}.html", values), subtype="html")
    message["Subject"] = subject
    message["From"] = one_line(settings.mail_from)
    message["To"] = _address(note.recipient, "")
    reply = context.get("firm_email") if role == "school" else context.get("school_email")
    if reply:
        message["Reply-To"] = _address(reply, "")
    message["Date"] = format_datetime(as_utc(now))
    message["Message-ID"] = message_id(note, settings)
    # One thread per round (results) or placement (its changes).
    thread = (
        f"internship-round-{note.payload['round_id']}"
        if "round_id" in note.payload
        else f"internship-placement-{note.payload.get('placement_id')}"
    )
    message["References"] = f"<{thread}@{links.mail_host(settings)}>"
    message["Content-Language"] = lang
    message["Auto-Submitted"] = "auto-generated"
    return message, ""
