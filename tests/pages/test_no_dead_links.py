"""No dead link anywhere: every mail's links and every page a role can reach.

On the demo network (`outreach demo`), one app and one client:

- every mail kind the outbox knows is rendered in German, English and Czech, and
  every link in it is opened by a visitor without a session: it answers 200, or
  sends to the sign-in form (a host's or teacher's page);
- each demo role (signed out, the office, a firm coordinator, a teacher) starts on
  its start page and follows every same-origin link of every page it reaches,
  bounded per kind of page and in total: every link answers 200 (or, signed out,
  a redirect to sign-in); never 404, 405 or 5xx.

SQLite only: this is a page test; the rules behind the pages run on both databases
in their own tests.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from outreach.accounts.services import principal_for
from outreach.accounts.tables import User
from outreach.app import create_app
from outreach.booking.tables import Booking
from outreach.config import get_settings, set_settings
from outreach.demo import DEMO_PASSWORD, load_demo
from outreach.events.tables import Slot
from outreach.itineraries.views import itinerary_page_url
from outreach.notifications import services as delivery
from outreach.notifications.mail import build_day_message, build_message
from outreach.notifications.presenter_mail import presenter_message
from outreach.notifications.schemas import CANCEL_KINDS, REQUEST_KINDS
from outreach.organisations.tables import Organisation
from outreach.outbox import services as outbox
from outreach.outbox.schemas import DAY_KINDS, KINDS, PRESENTER_KINDS, ClaimedNotification
from outreach.presenters import services as presenters
from outreach.presenters.schemas import InviteIn
from outreach.presenters.tables import PresenterInvitation
from outreach.timeutil import utcnow
from tests.crawl import ROLES, Answer, crawl, fine, local
from tests.pages.conftest import post_form

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

LANGUAGES = ("de", "en", "cs")
_URL = re.compile(r"""https?://[^\s<>"']+""")


@pytest.fixture
async def demo(db: str, settings: Any, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    """The demo network, and one app without rate limits (one client signs in often)."""
    set_settings(dataclasses.replace(settings, rate_limit_per_minute=0, data_dir=tmp_path))
    outbox.set_dispatcher(None)
    await load_demo()
    async with AsyncTestClient(app=create_app(start_workers=False, use_pool=False)) as client:
        yield client
    set_settings(settings)


def _local(url: str) -> str | None:
    return local(url, get_settings().base_url)


async def _get(client: Any, path: str) -> Answer:
    response = await client.get(path, follow_redirects=False)
    return Answer(
        response.status_code,
        response.headers.get("location", ""),
        response.headers.get("content-type", ""),
        response.text,
    )


# --------------------------------------------------------------------------- the mails


def _note(kind: str, booking_id: int | None, language: str, payload: dict[str, Any]) -> Any:
    now = utcnow()
    return ClaimedNotification(
        id=1,
        dedupe_key=f"{kind}:{booking_id}:{language}",
        kind=kind,
        booking_id=booking_id,
        recipient="reader@test.example",
        language=language,
        payload=payload,
        attempts=1,
        created_at=now,
        lease_until=now + timedelta(minutes=5),
    )


def _mail_links(message: EmailMessage) -> list[str]:
    texts = []
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html", "text/calendar"):
            texts.append(part.get_content())
    raw = "\n".join(texts).replace("\r\n ", "")  # unfold calendar lines
    found = {html.unescape(u).rstrip(".,;)") for u in _URL.findall(raw)}
    assert all(u.startswith(get_settings().base_url) for u in found), found
    return sorted(found)


async def _booking_mails(booking_id: int) -> list[EmailMessage]:
    ctx = await delivery._load_context(booking_id)
    assert ctx is not None
    verify_by = (utcnow() + timedelta(hours=2)).isoformat()
    payload = {
        "by": "host",
        "reason": "Krankheit",
        "old_starts_at": (ctx.slot_starts_at - timedelta(days=1)).isoformat(),
        "old_ends_at": (ctx.slot_ends_at - timedelta(days=1)).isoformat(),
        "old_persons": ctx.persons + 1,
        "persons": ctx.persons,
    }
    mails = []
    for language in LANGUAGES:
        for kind in KINDS:
            extra = {"address": True, "verify_by": verify_by} if kind == "booking.received" else {}
            method = (
                "REQUEST" if kind in REQUEST_KINDS else "CANCEL" if kind in CANCEL_KINDS else None
            )
            note = _note(kind, booking_id, language, {**payload, **extra})
            mails.append(build_message(note, ctx, get_settings(), method=method, now=utcnow()))
    return mails


async def _class_day_mails(booking_id: int) -> list[EmailMessage]:
    """The class day's mail (`itinerary.confirmed`) around one visit, in each language."""
    ctx = delivery._load_context(booking_id)
    visit = dataclasses.replace(await ctx, booking_status="confirmed")
    mails = []
    for language in LANGUAGES:
        (kind,) = DAY_KINDS
        message, invited = build_day_message(
            _note(kind, booking_id, language, {"itinerary_id": 1}),
            [visit],
            day=visit.slot_starts_at.date(),
            class_label=visit.class_label,
            itinerary_url=itinerary_page_url(1),
            settings=get_settings(),
            now=utcnow(),
        )
        assert invited == [booking_id]
        mails.append(message)
    return mails


async def _presenter_mails() -> list[EmailMessage]:
    """Each presenter notice on an invitation in a state that notice is sent in."""
    upcoming = (
        await Slot.select(Slot.event.id.as_alias("id"), Slot.event.host.as_alias("host"))
        .where(
            (Slot.event.kind == "parents_evening")
            & (Slot.event.status == "published")
            & (Slot.starts_at > utcnow())
        )
        .first()
    )
    evening = {"id": upcoming["id"], "host": upcoming["host"]}
    teacher = await User.objects().where(User.organisation == evening["host"]).first()
    school = principal_for(teacher)
    firms = await Organisation.select(Organisation.slug, Organisation.id).where(
        Organisation.kind == "firm"
    )
    answered = {
        row["firm"]
        for row in await PresenterInvitation.select(PresenterInvitation.firm).where(
            PresenterInvitation.event == evening["id"]
        )
    }
    fresh = [f for f in firms if f["id"] not in answered][:4]
    done = await presenters.invite_firms(
        evening["id"], InviteIn(firms=[f["slug"] for f in fresh]), by=school
    )
    ids = [i.id for i in done.invited]
    firm_users = {
        f["id"]: principal_for(await User.objects().where(User.organisation == f["id"]).first())
        for f in fresh
    }
    await presenters.accept(ids[1], by=firm_users[fresh[1]["id"]])
    await presenters.decline(ids[2], by=firm_users[fresh[2]["id"]])
    await presenters.withdraw(ids[3], by=school)
    by_kind = {
        "presenter.invited": ids[0],
        "presenter.evening_changed": ids[0],
        "presenter.evening_cancelled": ids[1],
        "presenter.accepted": ids[1],
        "presenter.declined": ids[2],
        "presenter.withdrawn": ids[3],
    }
    assert set(by_kind) == set(PRESENTER_KINDS)
    mails = []
    for language in LANGUAGES:
        for kind, invitation in by_kind.items():
            note = _note(kind, None, language, {"invitation_id": invitation})
            message, why = await presenter_message(note, get_settings(), now=utcnow())
            assert message is not None, (kind, why)
            mails.append(message)
    return mails


async def _dead_mail_links(client: Any) -> list[Any]:
    registration = (
        await Booking.select(Booking.id)
        .where(
            (Booking.kind == "registration")
            & Booking.booked_by.is_null()
            & Booking.status.is_in(["confirmed", "pending", "waitlisted"])
            & (Booking.slot.starts_at > utcnow())
        )
        .first()
    )
    visit = (
        await Booking.select(Booking.id)
        .where(
            (Booking.kind == "class_visit")
            & Booking.status.is_in(["confirmed", "pending"])
            & (Booking.slot.starts_at > utcnow())
        )
        .first()
    )
    mails = [
        *await _booking_mails(registration["id"]),
        *await _booking_mails(visit["id"]),
        *await _class_day_mails(visit["id"]),
        *await _presenter_mails(),
    ]
    assert len(mails) == 3 * (2 * len(KINDS) + len(DAY_KINDS) + len(PRESENTER_KINDS))
    links = Counter(link for mail in mails for link in _mail_links(mail))
    # The booker's mails carry the signed booking link (a family has no account).
    assert any("/bookings/" in link and "token=" in link for link in links)
    dead = []
    for link in sorted(links):
        client.cookies.clear()  # a reader of a mail has no session
        answer = await _get(client, _local(link))
        if not fine(answer, signed_out=True):
            dead.append((link, answer.status))
    print(f"\nmails: {len(mails)} rendered, {len(links)} distinct links opened")
    return dead


# --------------------------------------------------------------------------- the pages


async def test_no_link_in_any_mail_or_page_is_dead(demo):
    """One demo network, one app, one client: the mails, then each role's pages."""
    client = demo
    dead = await _dead_mail_links(client)
    for role, (email, start) in ROLES.items():
        client.cookies.clear()
        if email is not None:
            response = await post_form(
                client, "/signin", {"email": email, "password": DEMO_PASSWORD}
            )
            assert response.status_code == 303, response.text
        opened, found = await crawl(
            lambda path: _get(client, path),
            start,
            signed_out=email is None,
            base=get_settings().base_url,
        )
        print(f"{role}: {opened} pages opened from {start}, {len(found)} dead links")
        assert opened > 10, role
        dead += [(role, *d) for d in found]
    assert not dead, dead
