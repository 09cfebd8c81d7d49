"""Builds one notification's mail: headers, text and HTML from Jinja2, and the iTIP part.

Templates live in `templates/notifications/<kind>.{subject.txt,txt,html}` and extend
`templates/mail_base.{txt,html}`; they are written in German and translated by
`texts.py` into the recipient's language. Times are shown in Europe/Berlin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from outreach import links
from outreach.languages import babel_locale, language_of
from outreach.notifications import mime
from outreach.notifications.itip import Invitation, booking_uid, render_itip, render_itip_many
from outreach.notifications.schemas import ItipMethod, MailContext
from outreach.notifications.texts import translator
from outreach.notifications.transports import OutgoingMail, PermanentDeliveryError
from outreach.outbox.schemas import HOST_KINDS, ClaimedNotification
from outreach.timeutil import LOCAL_TZ, as_utc, local

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = [
    "TEMPLATE_DIR",
    "build_day_message",
    "build_mail",
    "build_message",
    "format_when",
    "invitable_visits",
    "message_id",
]

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
# CRLF line ends as on the wire; header values are RFC 2047-encoded when not ASCII.
_POLICY = policy.SMTP
_EN_DASH = "\u2013"


def build_mail(
    note: ClaimedNotification,
    ctx: MailContext,
    settings: Settings,
    *,
    method: ItipMethod | None,
    now: datetime,
) -> OutgoingMail:
    """A booking notice, written once in its wire form (`mime`): what the transport sends."""
    values = _template_values(note, ctx, settings, method=method, now=now)
    subject = one_line(_render(f"notifications/{note.kind}.subject.txt", values))
    values["subject"] = subject
    calendar = None
    if method is not None:
        # base64 keeps the calendar's CRLF lines and 75-octet folding byte for byte.
        calendar = method, render_itip(_invitation(note, ctx, settings, method))
    parts = mime.alternative(
        _render(f"notifications/{note.kind}.txt", values),
        _render(f"notifications/{note.kind}.html", values),
        calendar,
    )
    sender, sender_name = _sender(settings)
    recipient = _checked_address(note.recipient)
    shown_sender, utf8_from = mime.header_address(sender, one_line(sender_name))
    shown_to, utf8_to = mime.header_address(recipient, one_line(_recipient_name(note, ctx)))
    headers = [("Subject", subject), ("From", shown_sender), ("To", shown_to)]
    if note.kind not in HOST_KINDS and ctx.host_email:
        # Replies from teachers reach the firm, not the no-reply sender.
        reply_to, _ = mime.header_address(_checked_address(ctx.host_email), one_line(ctx.host_name))
        headers.append(("Reply-To", reply_to))
    identifier = message_id(note, settings)
    headers += [
        ("Date", format_datetime(as_utc(now))),
        ("Message-ID", identifier),
        # Every mail about one booking threads together in the reader's client.
        ("References", f"<booking-{ctx.booking_id}@{links.mail_host(settings)}>"),
        ("Content-Language", language_of(note.language)),
        ("Auto-Submitted", "auto-generated"),
    ]
    return mime.write_mail(
        headers,
        parts,
        sender=sender,
        recipients=[recipient],
        message_id=identifier,
        utf8=utf8_from or utf8_to,
    )


def build_message(
    note: ClaimedNotification,
    ctx: MailContext,
    settings: Settings,
    *,
    method: ItipMethod | None,
    now: datetime,
) -> EmailMessage:
    """`build_mail` parsed back, for a reader that looks inside (the link checks)."""
    mail = build_mail(note, ctx, settings, method=method, now=now)
    return cast(EmailMessage, BytesParser(policy=_POLICY).parsebytes(mail.data))


def build_day_message(
    note: ClaimedNotification,
    visits: Sequence[MailContext],
    *,
    day: date,
    class_label: str,
    itinerary_url: str,
    settings: Settings,
    now: datetime,
    invite: bool = True,
) -> tuple[EmailMessage, list[int]]:
    """The one mail of a class's day (`itinerary.confirmed`) and the bookings it invites.

    Lists every visit of the day with its status; the confirmed ones, still to come,
    travel as one iTIP REQUEST with a VEVENT each (same UIDs and SEQUENCE as the
    visit's own mails, so a later change or cancellation of one visit updates it), and
    each again as an attached .ics of its own for Outlook and Gmail, which read only
    the first VEVENT of an invitation. Not `invite`: the recipient's visits reach their
    calendar by the subscription, and the mail carries no calendar part.
    """
    lang = language_of(note.language)
    _ = translator(lang)
    invited = invitable_visits(visits, now) if invite else []
    first = visits[0]
    rows = [
        {
            "host_name": v.host_name,
            "event_title": v.event_title,
            "time": _time_range(v.slot_starts_at, v.slot_ends_at, lang),
            "where": v.location,
            "status": _(_VISIT_STATUS.get(v.booking_status, v.booking_status)),
            "reason": v.booking_reason if v.booking_status in ("declined", "cancelled") else "",
            "booking_url": links.signed_booking_url(settings, v.booking_id),
        }
        for v in visits
    ]
    values: dict[str, Any] = {
        "_": _,
        "lang": lang,
        "kind": note.kind,
        "method": "REQUEST",
        "has_invitation": bool(invited),
        "recipient_name": first.contact_name
        if note.recipient.lower() == first.contact_email.lower()
        else "",
        "class_label": class_label,
        "school_name": first.school_name,
        "day": format_date(day, format="full", locale=babel_locale(lang)),
        "date_short": format_date(day, format="medium", locale=babel_locale(lang)),
        "visits": rows,
        "invited_count": len(invited),
        "itinerary_url": itinerary_url,
    }
    subject = one_line(_render(f"notifications/{note.kind}.subject.txt", values))
    values["subject"] = subject
    message = EmailMessage(policy=_POLICY)
    message.set_content(_render(f"notifications/{note.kind}.txt", values))
    message.add_alternative(_render(f"notifications/{note.kind}.html", values), subtype="html")
    invitations = [_invitation(note, v, settings, "REQUEST") for v in invited]
    if invitations:
        ical = render_itip_many(invitations)
        message.add_alternative(
            ical, subtype="calendar", params={"method": "REQUEST"}, cte="base64"
        )
        for n, (visit, invitation) in enumerate(zip(invited, invitations, strict=True), start=1):
            message.add_attachment(
                render_itip(invitation),
                subtype="calendar",
                params={"method": "REQUEST"},
                cte="base64",
                filename=f"{n}-{_file_part(visit.host_name)}.ics",
            )
    host = links.mail_host(settings)
    message["Subject"] = subject
    message["From"] = one_line(settings.mail_from)
    message["To"] = _address(note.recipient, values["recipient_name"])
    message["Date"] = format_datetime(as_utc(now))
    message["Message-ID"] = message_id(note, settings)
    message["References"] = " ".join(f"<booking-{v.booking_id}@{host}>" for v in visits)
    message["Content-Language"] = lang
    message["Auto-Submitted"] = "auto-generated"
    return message, [v.booking_id for v in invited]


def invitable_visits(visits: Sequence[MailContext], now: datetime) -> list[MailContext]:
    """The visits of a day that a calendar may hold: confirmed, on, and still to come."""
    return [
        v
        for v in visits
        if v.booking_status == "confirmed"
        and not (v.slot_cancelled or v.event_status == "cancelled")
        and now < v.slot_ends_at
    ]


# The statuses of a visit as the day's mail names them (translated in texts.py).
_VISIT_STATUS = {
    "confirmed": "bestätigt",
    "pending": "wartet auf Antwort der Firma",
    "declined": "abgelehnt",
    "cancelled": "storniert",
    "waitlisted": "Warteliste",
}


def _time_range(start: datetime, end: datetime, lang: str) -> str:
    begins = format_time(local(start), format="short", tzinfo=LOCAL_TZ, locale=babel_locale(lang))
    ends = format_time(local(end), format="short", tzinfo=LOCAL_TZ, locale=babel_locale(lang))
    return f"{begins}{_EN_DASH}{ends}"


def _file_part(name: str) -> str:
    """A file name's part from a firm's name: letters and digits, dashes between."""
    words = "".join(c if c.isalnum() else " " for c in name.lower()).split()
    return "-".join(words)[:40] or "besuch"


def message_id(note: ClaimedNotification, settings: Settings) -> str:
    """The same id for every attempt at one notification, so receivers can drop repeats."""
    digest = hashlib.sha256(note.dedupe_key.encode()).hexdigest()[:16]
    return f"<notification-{note.id}.{digest}@{links.mail_host(settings)}>"


def format_when(start: datetime, end: datetime, language: str) -> str:
    """`Dienstag, 10. März 2026, 09:00-10:30` (with an en dash) in Berlin time."""
    lang = language_of(language)
    start_l, end_l = local(start), local(end)
    day = format_date(start_l, format="full", locale=babel_locale(lang))
    begins = format_time(start_l, format="short", tzinfo=LOCAL_TZ, locale=babel_locale(lang))
    ends = format_time(end_l, format="short", tzinfo=LOCAL_TZ, locale=babel_locale(lang))
    if start_l.date() == end_l.date():
        return f"{day}, {begins}{_EN_DASH}{ends}"
    last_day = format_date(end_l, format="full", locale=babel_locale(lang))
    return f"{day}, {begins} {_EN_DASH} {last_day}, {ends}"


def one_line(value: str) -> str:
    """Header-safe: CR, LF and runs of white space become one space."""
    return " ".join(value.split())


def _address(email: str, name: str) -> Address:
    email = _checked_address(email)
    local_part, domain = email.split("@")
    try:
        return Address(display_name=one_line(name), username=local_part, domain=domain)
    except (ValueError, IndexError) as exc:
        raise PermanentDeliveryError(f"not an e-mail address: {email!r}") from exc


def _checked_address(email: str) -> str:
    email = one_line(email)
    if email.count("@") != 1 or " " in email:
        raise PermanentDeliveryError(f"not an e-mail address: {email!r}")
    return email


def _recipient_name(note: ClaimedNotification, ctx: MailContext) -> str:
    if note.kind in HOST_KINDS:
        return ctx.host_contact_name
    return ctx.contact_name if note.recipient.lower() == ctx.contact_email.lower() else ""


def _template_values(
    note: ClaimedNotification,
    ctx: MailContext,
    settings: Settings,
    *,
    method: ItipMethod | None,
    now: datetime,
) -> dict[str, Any]:
    lang = language_of(note.language)
    payload = note.payload
    return {
        "_": translator(lang),
        "lang": lang,
        "kind": note.kind,
        "method": method,
        "has_invitation": method is not None and note.kind not in HOST_KINDS,
        "recipient_name": _recipient_name(note, ctx),
        "event_title": ctx.event_title,
        "host_name": ctx.host_name,
        "school_name": ctx.school_name,
        "class_label": ctx.class_label,
        "grade": ctx.grade,
        "pupils": ctx.pupils,
        "adults": ctx.adults,
        "persons": ctx.persons,
        "contact_name": ctx.contact_name,
        "contact_email": ctx.contact_email,
        # The booker's note goes to the host only, never back out to anyone else.
        "notes": ctx.notes if note.kind in HOST_KINDS else "",
        "is_pending": ctx.booking_status == "pending",
        # An unconfirmed registration beyond the share unconfirmed ones may hold waits.
        "is_waiting": ctx.booking_status == "waitlisted",
        "is_waitlisted": ctx.booking_status == "waitlisted",
        "when": format_when(ctx.slot_starts_at, ctx.slot_ends_at, lang),
        "date_short": format_date(
            local(ctx.slot_starts_at), format="medium", locale=babel_locale(lang)
        ),
        "old_when": _old_when(payload, lang),
        "where": ctx.location,
        "reason": _reason(note, ctx),
        "by": str(payload.get("by", "")),
        "days_left": (local(ctx.slot_starts_at).date() - local(now).date()).days,
        "booking_url": _booking_link(note, ctx, settings),
        "old_persons": payload.get("old_persons", ctx.persons),
        "new_persons": payload.get("persons", ctx.persons),
        "event_url": links.event_url(settings, ctx.event_id),
        "attendees_url": links.attendees_url(settings, ctx.event_id),
        "respond_url": links.respond_url(settings, ctx.booking_id),
        # Only the first mail of an unconfirmed public registration carries this link.
        "address_url": (
            links.address_url(settings, ctx.booking_id) if payload.get("address") else ""
        ),
        "verify_until": _verify_until(payload, lang),
        **_itinerary_values(ctx, lang),
    }


def _booking_link(note: ClaimedNotification, ctx: MailContext, settings: Settings) -> str:
    """The booking page: the booker's mails carry the signed link (no account needed).

    Hosts sign in; a booker (a family without an account, or a teacher reading the
    mail on the phone) opens and manages the booking straight from the mail.
    """
    if note.kind in HOST_KINDS:
        return links.booking_url(settings, ctx.booking_id)
    return links.signed_booking_url(settings, ctx.booking_id)


def _itinerary_values(ctx: MailContext, lang: str) -> dict[str, Any]:
    """The class's day this visit was part of: the visits still on, and where to replace."""
    notice = ctx.itinerary
    if notice is None:
        return {"itinerary": None, "itinerary_day": "", "itinerary_others": []}
    others = [
        f"{v.host_name}, {local(v.starts_at):%H:%M}{_EN_DASH}{local(v.ends_at):%H:%M}"
        for v in notice.other_visits
        if v.status in ("pending", "confirmed", "waitlisted")
    ]
    return {
        "itinerary": notice,
        "itinerary_day": format_date(notice.day, format="full", locale=babel_locale(lang)),
        "itinerary_others": others,
    }


def _verify_until(payload: dict[str, Any], lang: str) -> str:
    raw = payload.get("verify_by")
    if not raw:
        return ""
    moment = local(datetime.fromisoformat(str(raw)))
    day = format_date(moment, format="medium", locale=babel_locale(lang))
    return (
        f"{day}, {format_time(moment, format='short', tzinfo=LOCAL_TZ, locale=babel_locale(lang))}"
    )


def _old_when(payload: dict[str, Any], lang: str) -> str:
    old_start, old_end = payload.get("old_starts_at"), payload.get("old_ends_at")
    if not old_start or not old_end:
        return ""
    return format_when(datetime.fromisoformat(old_start), datetime.fromisoformat(old_end), lang)


def _reason(note: ClaimedNotification, ctx: MailContext) -> str:
    given = str(note.payload.get("reason") or "").strip()
    if given:
        return given
    return ctx.event_cancel_reason if note.kind == "event.cancelled" else ctx.booking_reason


def _invitation(
    note: ClaimedNotification, ctx: MailContext, settings: Settings, method: ItipMethod
) -> Invitation:
    # ORGANIZER is the mail's sender (From), not the firm: Gmail, Outlook and Apple Mail
    # trust an invitation and its later updates and cancellation only from the address
    # that organises it (RFC 6047, section 3), and that address must stay the same for
    # the UID's whole life, which a firm's contact address does not. The firm is named
    # in the text and answers by Reply-To. See README, "Calendars".
    organizer_email, organizer_name = _sender(settings)
    return Invitation(
        method=method,
        uid=booking_uid(ctx.booking_id, links.mail_host(settings)),
        sequence=ctx.sequence,
        # DTSTAMP: when this message was written (the outbox row), the same on every retry.
        stamp=note.created_at,
        start=ctx.slot_starts_at,
        end=ctx.slot_ends_at,
        summary=ctx.event_title,
        location=ctx.location,
        description=_booking_link(note, ctx, settings),
        url=_booking_link(note, ctx, settings),
        organizer_email=organizer_email,
        organizer_name=organizer_name,
        attendee_email=note.recipient,
        attendee_name=_recipient_name(note, ctx),
    )


def _sender(settings: Settings) -> tuple[str, str]:
    """The address and name of MAIL_FROM, the From of every mail."""
    name, address = _parsed_sender(settings.mail_from)
    return address or "noreply@outreach.invalid", name


@lru_cache(maxsize=4)
def _parsed_sender(mail_from: str) -> tuple[str, str]:
    return parseaddr(mail_from)


@lru_cache(maxsize=4)
def _environment(directory: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(directory),
        # Compiled once per process: the templates do not change under a running one.
        auto_reload=False,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(name: str, values: dict[str, Any]) -> str:
    return _environment(TEMPLATE_DIR).get_template(name).render(values)
