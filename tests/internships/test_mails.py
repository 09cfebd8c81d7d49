"""The mails of a confirmed round and of a place handed on, as delivered."""

from __future__ import annotations

import pytest

from outreach.internships import placements, rounds, wishes
from outreach.internships.schemas import RoundIn
from tests.factories import make_world
from tests.internships.helpers import make_class, make_offer, period_of, pupils
from tests.notifications.helpers import read_eml_dir, text_of
from tests.presenters.helpers import deliver_all


@pytest.fixture
async def world(db):
    return await make_world()


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
