"""Presenter invitations: who invites and answers, what each side sees, what is mailed."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events import services as events
from outreach.presenters import services as presenters
from outreach.presenters.schemas import InviteIn
from outreach.presenters.tables import PresenterInvitation
from outreach.principal import ANONYMOUS
from tests.factories import make_event, make_world
from tests.notifications.helpers import read_eml_dir, text_of
from tests.presenters.helpers import deliver_all, make_evening, notices


@pytest.fixture
async def world(db):
    return await make_world()


async def test_the_school_invites_the_firm_accepts_and_both_are_mailed(world, mail_settings):
    evening = await make_evening(world.school_a)
    result = await presenters.invite_firms(
        evening, InviteIn(firms=["firm-a"], message="Bitte 10 Minuten"), by=world.school_a
    )
    [invitation] = result.invited
    assert (invitation.status, invitation.firm, invitation.message) == (
        "invited",
        "firm-a",
        "Bitte 10 Minuten",
    )
    assert [(n["kind"], n["recipient"]) for n in await notices()] == [
        ("presenter.invited", world.firm_a.email)
    ]
    done = await presenters.accept(invitation.id, "Gern", by=world.firm_a)
    assert (done.status, done.answer) == ("accepted", "Gern")
    assert [(n["kind"], n["recipient"]) for n in await notices()][1:] == [
        ("presenter.accepted", world.school_a.email)
    ]
    assert await deliver_all() == ["sent", "sent"]
    mails = read_eml_dir(mail_settings.mail_dir)
    to_firm = next(m for m in mails if m["To"].addresses[0].addr_spec == world.firm_a.email)
    assert "Einladung zum Elternabend" in to_firm["Subject"]
    assert "Bitte 10 Minuten" in text_of(to_firm)
    assert "http://outreach.test/firm#invitations" in text_of(to_firm)
    to_school = next(m for m in mails if m["To"].addresses[0].addr_spec == world.school_a.email)
    assert "Zusage" in to_school["Subject"] and "Gern" in text_of(to_school)
    # The public sees the firm that accepted.
    shown = await presenters.accepted_presenters([evening])
    assert [f["slug"] for f in shown[evening]] == ["firm-a"]


async def test_only_the_hosting_school_or_the_office_invites(world):
    evening = await make_evening(world.school_a)
    for intruder in (world.school_b, world.firm_a, world.firm_b):
        with pytest.raises((Forbidden, NotFound)):
            await presenters.invite_firms(evening, InviteIn(firms=["firm-b"]), by=intruder)
    with pytest.raises(Unauthorised):
        await presenters.invite_firms(evening, InviteIn(firms=["firm-b"]), by=ANONYMOUS)
    assert await PresenterInvitation.count() == 0
    result = await presenters.invite_firms(evening, InviteIn(firms=["firm-b"]), by=world.admin)
    assert [i.firm for i in result.invited] == ["firm-b"]


async def test_only_the_invited_firm_answers_and_others_learn_nothing(world):
    evening = await make_evening(world.school_a)
    [invitation] = (
        await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    ).invited
    with pytest.raises(NotFound):
        await presenters.accept(invitation.id, by=world.firm_b)
    with pytest.raises(NotFound):
        await presenters.get_invitation(invitation.id, by=world.firm_b)
    with pytest.raises(NotFound):
        await presenters.accept(invitation.id, by=world.school_b)
    with pytest.raises(Forbidden):
        await presenters.accept(invitation.id, by=world.school_a)
    with pytest.raises(Forbidden):
        await presenters.decline(invitation.id, by=world.admin)
    assert await presenters.list_invitations(by=world.firm_b) == []
    assert await presenters.list_invitations(by=world.school_b) == []
    assert [i.id for i in await presenters.list_invitations(by=world.firm_a)] == [invitation.id]
    assert [i.id for i in await presenters.list_invitations(by=world.school_a)] == [invitation.id]
    # Before it is accepted, the public and other members see no presenter.
    assert await presenters.invitations_for_event(evening, by=world.firm_b) == []
    assert await presenters.invitations_for_event(evening, by=ANONYMOUS) == []
    assert len(await presenters.invitations_for_event(evening, by=world.school_a)) == 1
    row = await PresenterInvitation.objects().where(PresenterInvitation.id == invitation.id).first()
    assert row.status == "invited"


async def test_invitations_are_for_parents_evenings_of_member_firms(world):
    tour = await make_event(world.firm_a)
    with pytest.raises(Conflict):
        await presenters.invite_firms(tour, InviteIn(firms=["firm-b"]), by=world.admin)
    evening = await make_evening(world.school_a)
    with pytest.raises(Invalid) as unknown:
        await presenters.invite_firms(
            evening, InviteIn(firms=["firm-a", "no-such-firm", "school-b"]), by=world.school_a
        )
    assert unknown.value.field == "firms"
    assert "no-such-firm" in unknown.value.message and "school-b" in unknown.value.message
    assert await PresenterInvitation.count() == 0


async def test_inviting_again_mails_once_and_a_declined_firm_can_be_asked_again(world):
    evening = await make_evening(world.school_a)
    first = await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    again = await presenters.invite_firms(
        evening, InviteIn(firms=["firm-a", "firm-b"]), by=world.school_a
    )
    assert [i.firm for i in again.invited] == ["firm-b"]
    assert [i.id for i in again.unchanged] == [first.invited[0].id]
    assert [n["kind"] for n in await notices()].count("presenter.invited") == 2
    await presenters.decline(first.invited[0].id, "Keine Zeit", by=world.firm_a)
    renewed = await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    assert [(i.id, i.status, i.answer) for i in renewed.invited] == [
        (first.invited[0].id, "invited", "")
    ]
    assert await PresenterInvitation.count() == 2


async def test_racing_invitations_of_one_firm_make_one_row_and_one_mail(world):
    evening = await make_evening(world.school_a)
    await asyncio.gather(
        *(
            presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
            for _ in range(5)
        ),
        return_exceptions=False,
    )
    assert await PresenterInvitation.count() == 1
    assert [n["kind"] for n in await notices()] == ["presenter.invited"]


async def test_withdrawn_invitation_cannot_be_accepted_and_the_firm_is_told(world, mail_settings):
    evening = await make_evening(world.school_a)
    [invitation] = (
        await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    ).invited
    with pytest.raises(Forbidden):
        await presenters.withdraw(invitation.id, by=world.firm_a)
    gone = await presenters.withdraw(invitation.id, by=world.school_a)
    assert gone.status == "withdrawn"
    with pytest.raises(Conflict):
        await presenters.decline(invitation.id, by=world.firm_a)
    # The invitation mail is no longer true: it is skipped; the withdrawal goes out.
    assert await deliver_all() == ["skipped", "sent"]
    [mail] = read_eml_dir(mail_settings.mail_dir)
    assert "zurückgezogen" in mail["Subject"]


async def test_cancelled_evening_takes_no_invitations_and_answers(world, mail_settings):
    evening = await make_evening(world.school_a)
    [invitation] = (
        await presenters.invite_firms(
            evening, InviteIn(firms=["firm-a", "firm-b"]), by=world.school_a
        )
    ).invited[:1]
    await presenters.accept(invitation.id, by=world.firm_a)
    assert await deliver_all() == ["sent", "sent", "sent"]
    await presenters.decline(
        (await presenters.list_invitations(by=world.firm_b))[0].id, by=world.firm_b
    )
    await events.cancel_event(evening, "Krankheit", by=world.school_a)
    # The firm that was to present is told; the one that declined is not.
    told = [n for n in await notices() if n["kind"] == "presenter.evening_cancelled"]
    assert [n["recipient"] for n in told] == [world.firm_a.email]
    # Firm B's answer to the school is moot once the evening is cancelled: not mailed.
    assert await deliver_all() == ["skipped", "sent"]
    cancelled = [m for m in read_eml_dir(mail_settings.mail_dir) if "abgesagt" in m["Subject"]]
    assert len(cancelled) == 1 and "Krankheit" in text_of(cancelled[0])
    with pytest.raises(Conflict):
        await presenters.invite_firms(evening, InviteIn(firms=["firm-b"]), by=world.school_a)
    with pytest.raises(Conflict):
        await presenters.decline(invitation.id, by=world.firm_a)


@pytest.mark.parametrize("language", ["en", "cs"])
async def test_the_mails_are_in_the_recipients_language(world, mail_settings, language):
    from outreach.accounts.tables import User

    await User.update({User.language: language}).where(User.email == world.firm_a.email)
    evening = await make_evening(world.school_a)
    await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    assert await deliver_all() == ["sent"]
    [mail] = read_eml_dir(mail_settings.mail_dir)
    expected = {"en": "Invitation to a parents' evening", "cs": "Pozvánka"}[language]
    assert expected in mail["Subject"]
    assert mail["Content-Language"] == language
    assert "{{" not in text_of(mail) and "%(" not in text_of(mail)


def test_every_presenter_notice_has_its_three_templates() -> None:
    from pathlib import Path

    from outreach.notifications.mail import TEMPLATE_DIR
    from outreach.outbox.schemas import PRESENTER_KINDS

    for kind in PRESENTER_KINDS:
        for suffix in ("subject.txt", "txt", "html"):
            assert (Path(TEMPLATE_DIR) / "notifications" / f"{kind}.{suffix}").is_file(), kind


def _deliveries(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("outreach_notification_deliveries_total", {"outcome": outcome})
        or 0.0
    )


async def test_presenter_notices_are_counted_like_every_delivery(world, mail_settings):
    """One delivery path: a presenter notice sent or skipped shows in the delivery metric."""
    evening = await make_evening(world.school_a)
    sent_before, skipped_before = _deliveries("sent"), _deliveries("skipped")
    await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    assert await deliver_all() == ["sent"]
    assert _deliveries("sent") == sent_before + 1
    result = await presenters.invite_firms(evening, InviteIn(firms=["firm-b"]), by=world.school_a)
    [invitation] = result.invited
    await presenters.withdraw(invitation.id, by=world.school_a)
    # Withdrawn before its mail went out: the invitation is skipped, the withdrawal sent.
    outcomes = await deliver_all()
    assert sorted(outcomes) == ["sent", "skipped"]
    assert _deliveries("sent") == sent_before + 2
    assert _deliveries("skipped") == skipped_before + 1
