"""The internship mails: one per class to its teacher with every pupil's result and the
reason's sentence with its figures, one per firm with its own pupils only, the
cancelled and handed-on place; each in the recipient's language, links to their pages."""

from __future__ import annotations

import pytest

from outreach.accounts.tables import User
from outreach.internships import placements, rounds, wishes
from outreach.internships.schemas import RoundIn
from outreach.notifications.mail import TEMPLATE_DIR
from outreach.outbox.schemas import INTERNSHIP_KINDS
from outreach.outbox.tables import Notification
from tests.factories import make_world
from tests.internships.helpers import make_class, make_offer, period_of, pupils
from tests.notifications.helpers import read_eml_dir, text_of
from tests.presenters.helpers import deliver_all


@pytest.fixture
async def world(db):
    return await make_world()


async def _round(world, *, grade_two_class: bool = False) -> tuple[int, int, int]:
    """Firm A: 1 place for 3 first wishes; firm B: 3 places for 8a's and 9c's pupils, and
    places nobody wished. The 4th pupil wishes only A: not placed (seed 3), the unwished
    offer still free for it."""
    a = await make_offer(world.firm_a, places=1)
    b = await make_offer(world.firm_b, places=3, occupation="Feinwerkmechaniker")
    await make_offer(world.firm_b, places=2, occupation="Zerspanungsmechaniker")
    klass = await make_class(world.school_a)
    await wishes.put_pupils(
        klass.id,
        pupils(
            [period_of(a), period_of(b)],
            [period_of(a), period_of(b)],
            [period_of(b)],
            [period_of(a)],
        ),
        by=world.school_a,
    )
    other = await make_class(world.school_b, label="9c", grade=9)
    await wishes.put_pupils(other.id, pupils([period_of(b)], prefix="Q"), by=world.school_b)
    preview = await rounds.preview_round(
        RoundIn(classes=[klass.id, other.id], seed=3), by=world.admin
    )
    await rounds.confirm_round(preview.id, by=world.admin)
    return klass.id, other.id, preview.id


def _to(mails, address):
    return [m for m in mails if m["To"] == address]


async def test_one_mail_per_class_and_firm_with_reasons_in_german(world, mail_settings):
    await _round(world)
    kinds = await Notification.select(Notification.kind, Notification.recipient)
    assert sorted((k["kind"], k["recipient"]) for k in kinds) == sorted(
        [
            ("internship.class_results", world.school_a.email),
            ("internship.class_results", world.school_b.email),
            ("internship.firm_placements", world.firm_a.email),
            ("internship.firm_placements", world.firm_b.email),
        ]
    )
    assert await deliver_all() == ["sent"] * 4
    mails = read_eml_dir(mail_settings.mail_dir)
    [teacher] = _to(mails, world.school_a.email)
    text = text_of(teacher)
    assert "Praktikumsplätze der Klasse 8a" in teacher["Subject"]
    assert "3 von 4 Schülerinnen und Schülern haben einen Platz" in text
    assert text.count("Uhrmacher bei ") == 1  # firm A's one place
    assert text.count("Feinwerkmechaniker bei ") >= 2
    assert text.count("Erster Wunsch.") == 2
    # The pupil who lost the lottery for A: its second wish, with the figures.
    assert "Zweiter Wunsch: der erste hatte 1 Plätze bei 3 Wünschen." in text
    # Not placed: its only wish was full; B's free place is offered to it.
    assert "- Name4 (P4): nicht vermittelt" in text
    assert "Nicht vermittelt: jeder gewünschte Platz war vergeben." in text
    assert "Noch freie Zeiträume: Zerspanungsmechaniker bei " in text
    assert f"{mail_settings.base_url}/school/internships/classes/" in text
    assert "{{" not in text and "%(" not in text
    # Class 9c of the other school is in the other school's mail only.
    assert "9c" not in text and "Q1" not in text
    [firm_a] = _to(mails, world.firm_a.email)
    firm_text = text_of(firm_a)
    assert "Diese Schülerinnen und Schüler machen ihr Praktikum bei" in firm_text
    assert firm_text.count("Name") == 1  # only its own pupil
    assert "P1" not in firm_text and "P2" not in firm_text  # never the code
    assert "Wunsch" not in firm_text  # never the rank
    assert f"{mail_settings.base_url}/firm/internships" in firm_text
    [firm_b] = _to(mails, world.firm_b.email)
    assert "9c" in text_of(firm_b) and "8a" in text_of(firm_b)
    # Delivered once: a second run sends nothing more.
    assert await deliver_all() == []


@pytest.mark.parametrize("language", ["en", "cs"])
async def test_the_mails_are_in_the_recipients_language(world, mail_settings, language):
    for who in (world.school_a, world.firm_b):
        await User.update({User.language: language}).where(User.email == who.email)
    await _round(world)
    await deliver_all()
    mails = read_eml_dir(mail_settings.mail_dir)
    [teacher] = _to(mails, world.school_a.email)
    [firm] = _to(mails, world.firm_b.email)
    text = text_of(teacher)
    expected = {
        "en": ("Internship places of class 8a", "Second wish: the first had 1 places for 3"),
        "cs": ("Místa na praxi třídy 8a", "Druhé přání: první mělo 1 míst na 3 přání."),
    }[language]
    assert expected[0] in teacher["Subject"]
    assert expected[1] in text, text
    assert teacher["Content-Language"] == language == firm["Content-Language"]
    for mail in (teacher, firm):
        assert "{{" not in text_of(mail) and "%(" not in text_of(mail)
    assert {"en": "These pupils do", "cs": "Tito žáci"}[language] in text_of(firm)


async def test_cancelled_and_handed_on_places_are_told_to_school_and_firm(world, mail_settings):
    await _round(world)
    await deliver_all()
    [held] = await placements.list_placements(by=world.firm_a)
    await placements.cancel_placement(held.id, by=world.firm_a, reason="Betrieb geschlossen")
    told = await Notification.select(Notification.kind, Notification.recipient).where(
        Notification.kind.is_in(["internship.cancelled", "internship.next_in_line"])
    )
    kinds = sorted((t["kind"], t["recipient"]) for t in told)
    assert ("internship.cancelled", world.school_a.email) in kinds
    assert ("internship.cancelled", world.firm_a.email) in kinds
    assert ("internship.next_in_line", world.firm_a.email) in kinds  # the place went on
    assert set(await deliver_all()) == {"sent"}
    mails = read_eml_dir(mail_settings.mail_dir)
    cancelled = [m for m in mails if "Praktikumsplatz storniert" in m["Subject"]]
    assert len(cancelled) == 2
    assert "Grund: Betrieb geschlossen" in text_of(cancelled[0])
    moved = [m for m in mails if "Praktikumsplatz nachbesetzt" in m["Subject"]]
    assert moved
    for mail in moved:
        assert "Ein Platz wurde frei und ging an den nächsten Wunsch in der Reihe." in text_of(mail)


async def test_teacher_and_firms_get_one_mail_each_and_a_firm_no_rank(world, mail_settings):
    a = await make_offer(world.firm_a, places=1, occupation="Uhrmacher")
    klass = await make_class(world.school_a, label="8c")
    await wishes.put_pupils(klass.id, pupils([period_of(a)], [period_of(a)]), by=world.school_a)
    preview = await rounds.preview_round(RoundIn(classes=[klass.id], seed=5), by=world.admin)
    await rounds.confirm_round(preview.id, by=world.admin)
    assert await deliver_all() == ["sent", "sent"]
    mails = {m["To"].addresses[0].addr_spec: m for m in read_eml_dir(mail_settings.mail_dir)}
    teacher = mails[world.school_a.email]
    assert "Praktikumsplätze der Klasse 8c" in teacher["Subject"]
    body = text_of(teacher)
    assert "Uhrmacher" in body and "nicht vermittelt" in body and "P1" in body
    firm = text_of(mails[world.firm_a.email])
    [placed] = preview.placements
    name = (
        f"Name{placed.pupil - min(p.pupil for p in [*preview.placements, *preview.unplaced]) + 1}"
    )
    assert name in firm and "8c" in firm
    assert "P1" not in firm and "P2" not in firm  # no codes, no ranks for the firm
    await placements.cancel_placement(placed.placement, by=world.firm_a, reason="krank")
    outcomes = await deliver_all()
    assert outcomes.count("sent") == 4  # cancelled and handed on: teacher and firm each
    subjects = sorted(m["Subject"] for m in read_eml_dir(mail_settings.mail_dir))
    assert sum("storniert" in s for s in subjects) == 2
    assert sum("nachbesetzt" in s for s in subjects) == 2


def test_every_internship_notice_has_its_three_templates() -> None:
    from pathlib import Path

    for kind in INTERNSHIP_KINDS:
        for suffix in ("subject.txt", "txt", "html"):
            assert (Path(TEMPLATE_DIR) / "notifications" / f"{kind}.{suffix}").is_file(), kind
