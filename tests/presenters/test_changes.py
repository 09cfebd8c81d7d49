"""A parents' evening moves or changes: the invited and presenting firms hear of it once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.config import get_settings
from outreach.events import evening_notices
from outreach.events import services as events
from outreach.events.schemas import EventPatch, SlotPatch, VenueIn
from outreach.events.tables import Slot
from outreach.presenters import services as presenters
from outreach.presenters.schemas import EveningEdit, InviteIn
from tests.factories import at, make_world, school_day
from tests.notifications.helpers import read_eml_dir, text_of
from tests.presenters.helpers import deliver_all, make_evening, notices
from tests.support import bearer

CHANGED = "presenter.evening_changed"


@pytest.fixture
async def world(db):
    return await make_world()


async def _evening_with_answers(world) -> tuple[int, int]:
    """School A's evening: firm A accepted, firm B declined; every earlier mail is sent."""
    evening = await make_evening(world.school_a)
    invited = await presenters.invite_firms(
        evening, InviteIn(firms=["firm-a", "firm-b"]), by=world.school_a
    )
    by_firm = {i.firm: i.id for i in invited.invited}
    await presenters.accept(by_firm["firm-a"], by=world.firm_a)
    await presenters.decline(by_firm["firm-b"], by=world.firm_b)
    await deliver_all()
    _forget_mails()
    slot = await Slot.select(Slot.id).where(Slot.event == evening).first()
    return evening, slot["id"]


def _forget_mails() -> None:
    """The mails sent so far are not what these tests look at."""
    folder = get_settings().mail_dir
    if folder.exists():
        for sent in folder.glob("*.eml"):
            sent.unlink()


def _changed(rows: list[dict]) -> list[str]:
    return [n["recipient"] for n in rows if n["kind"] == CHANGED]


async def test_a_moved_evening_is_told_once_to_the_presenting_firm(world, mail_settings):
    evening, slot_id = await _evening_with_answers(world)
    day = school_day(22)
    await events.update_slot(
        slot_id,
        SlotPatch(starts_at=at(day, 19), ends_at=at(day, 21)),
        by=world.school_a,
    )
    # Firm A presents and is told; firm B declined and is not.
    assert _changed(await notices()) == [world.firm_a.email]
    # The same times again move nothing and tell nobody; a capacity change neither.
    await events.update_slot(
        slot_id, SlotPatch(starts_at=at(day, 19), ends_at=at(day, 21)), by=world.school_a
    )
    await events.update_slot(slot_id, SlotPatch(capacity=90), by=world.school_a)
    assert _changed(await notices()) == [world.firm_a.email]
    # Telling the same change again (a retried hook) queues nothing new.
    await evening_notices.tell_evening_changed(evening, now=at(day, 8), slot_id=slot_id)
    assert _changed(await notices()) == [world.firm_a.email]
    assert await deliver_all() == ["sent"]
    [mail] = read_eml_dir(mail_settings.mail_dir)
    assert mail["To"].addresses[0].addr_spec == world.firm_a.email
    assert "Elternabend geändert" in mail["Subject"]
    body = text_of(mail)
    assert "Bisher" in body and "18:30" in body and "19:00" in body
    # A second move is a second change: told again.
    await events.update_slot(
        slot_id,
        SlotPatch(starts_at=at(day, 18), ends_at=at(day, 20)),
        by=world.school_a,
    )
    assert _changed(await notices()) == [world.firm_a.email] * 2
    assert await deliver_all() == ["sent"]


async def test_a_new_title_or_venue_is_told_a_new_description_is_not(world, mail_settings):
    evening, _ = await _evening_with_answers(world)
    still_invited = await make_evening(world.school_a)
    await presenters.invite_firms(still_invited, InviteIn(firms=["firm-b"]), by=world.school_a)
    await deliver_all()
    _forget_mails()
    await events.update_event(evening, EventPatch(description="Mit Imbiss"), by=world.school_a)
    assert _changed(await notices()) == []
    await events.update_event(evening, EventPatch(title="Berufe am Abend"), by=world.school_a)
    await events.update_event(
        still_invited, EventPatch(venue=VenueIn(name="Aula")), by=world.school_a
    )
    # Accepted (firm A) and still invited (firm B) firms both hear of it.
    assert _changed(await notices()) == [world.firm_a.email, world.firm_b.email]
    assert await deliver_all() == ["sent", "sent"]
    mails = read_eml_dir(mail_settings.mail_dir)
    to_a = next(m for m in mails if m["To"].addresses[0].addr_spec == world.firm_a.email)
    assert "Berufe am Abend" in to_a["Subject"] and "Bisher" not in text_of(to_a)
    to_b = next(m for m in mails if m["To"].addresses[0].addr_spec == world.firm_b.email)
    assert "Aula" in text_of(to_b)


async def test_a_withdrawn_firm_hears_nothing_of_changes(world):
    _, slot_id = await _evening_with_answers(world)
    [accepted] = await presenters.list_invitations(by=world.firm_a)
    await presenters.withdraw(accepted.id, by=world.school_a)
    day = school_day(23)
    await events.update_slot(
        slot_id, SlotPatch(starts_at=at(day, 19), ends_at=at(day, 21)), by=world.school_a
    )
    assert _changed(await notices()) == []


async def test_the_api_patch_of_the_slot_tells_the_firm(client, world, mail_settings):
    _, slot_id = await _evening_with_answers(world)
    day = school_day(24)
    moved = await client.patch(
        f"/api/v1/slots/{slot_id}",
        json={"starts_at": at(day, 19).isoformat(), "ends_at": at(day, 20, 30).isoformat()},
        headers=bearer(world.tokens["school_a"]),
    )
    assert moved.status_code == 200, moved.text
    assert _changed(await notices()) == [world.firm_a.email]
    # A refused move (into the past) changes nothing and tells nobody.
    refused = await client.patch(
        f"/api/v1/slots/{slot_id}",
        json={"starts_at": at(school_day(0) - timedelta(days=3), 19).isoformat()},
        headers=bearer(world.tokens["school_a"]),
    )
    assert refused.status_code == 422
    assert _changed(await notices()) == [world.firm_a.email]


async def test_changing_title_and_time_in_one_edit_sends_one_mail(world, mail_settings):
    evening, _ = await _evening_with_answers(world)
    day = school_day(25)
    await presenters.update_evening(
        evening,
        EveningEdit(
            title="Neuer Titel",
            starts_at=at(day, 19),
            ends_at=at(day, 21),
            capacity=80,
            venue_name="Aula",
        ),
        by=world.school_a,
    )
    # Two changes queued (title and venue, then the time); the earlier is superseded.
    assert _changed(await notices()) == [world.firm_a.email] * 2
    assert await deliver_all() == ["skipped", "sent"]
    [mail] = read_eml_dir(mail_settings.mail_dir)
    body = text_of(mail)
    assert "Neuer Titel" in mail["Subject"] and "Aula" in body and "Bisher" in body


async def test_an_unchanged_edit_tells_nobody(world):
    evening, _ = await _evening_with_answers(world)
    shown = await events.get_event(evening, by=world.school_a)
    [slot] = shown.slots
    await presenters.update_evening(
        evening,
        EveningEdit(
            title=shown.title,
            description=shown.description,
            venue_name=shown.venue.name if shown.venue else "",
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            capacity=slot.capacity,
        ),
        by=world.school_a,
    )
    assert _changed(await notices()) == []
    row = await Slot.select(Slot.sequence).where(Slot.id == slot.id).first()
    assert row["sequence"] == 0


@pytest.mark.parametrize("language", ["en", "cs"])
async def test_the_change_mail_is_in_the_firms_language(world, mail_settings, language):
    from outreach.accounts.tables import User

    await User.update({User.language: language}).where(User.email == world.firm_a.email)
    _, slot_id = await _evening_with_answers(world)
    day = school_day(22)
    await events.update_slot(
        slot_id, SlotPatch(starts_at=at(day, 19), ends_at=at(day, 21)), by=world.school_a
    )
    assert await deliver_all() == ["sent"]
    [mail] = read_eml_dir(mail_settings.mail_dir)
    expected = {"en": "Parents' evening changed", "cs": "Schůzka s rodiči změněna"}[language]
    assert expected in mail["Subject"]
    assert "{{" not in text_of(mail) and "%(" not in text_of(mail)


async def test_a_change_not_yet_sent_when_the_evening_is_cancelled_is_dropped(world, mail_settings):
    evening, slot_id = await _evening_with_answers(world)
    day = school_day(22)
    await events.update_slot(
        slot_id, SlotPatch(starts_at=at(day, 19), ends_at=at(day, 21)), by=world.school_a
    )
    await events.cancel_event(evening, "Krankheit", by=world.school_a)
    assert await deliver_all() == ["skipped", "sent"]
    [mail] = read_eml_dir(mail_settings.mail_dir)
    assert "abgesagt" in mail["Subject"]
