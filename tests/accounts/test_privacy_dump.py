"""Privacy by dump (issue 16, finding 1): after an account is deleted, or after the
retention period, a dump of the whole database holds none of the person's strings.

The dump is the database's own: every row of every table of the SQLite file
(`iterdump`), or `pg_dump --data-only` of the PostgreSQL database (byte columns decoded,
so a rendered feed would be searched too). The outbox, the idempotency records and the
audit log are in it like every other table.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import sqlite3
from datetime import timedelta

import pytest

from outreach.accounts.services import NewUser, create_user, feed_token_for, issue_api_token
from outreach.accounts.sessions import start_session
from outreach.booking.links import confirm_address
from outreach.booking.tables import Booking, IdempotencyRecord
from outreach.booking.writes import IDEMPOTENCY_KEEP, purge_idempotency_records
from outreach.config import Settings
from outreach.events.tables import Slot
from outreach.links import address_token
from tests.factories import make_event, make_slot, make_world
from tests.pages.conftest import give_password
from tests.presenters.helpers import deliver_all, make_evening
from tests.support import bearer
from workers.scheduler import housekeeping

# The person: a teacher with an account, who also registered for an open day privately.
NAME = "Wilhelmina Quast"
EMAIL = "wilhelmina.quast@school-a.example"
PHONE = "0351 4711 0815"
NOTE = f"Bitte vorher anrufen: {PHONE}, Rollstuhl"
# A public registrant without an account, for the retention half.
REGISTRANT = "Jaroslav Novacek"
REGISTRANT_EMAIL = "jaroslav.novacek@mail.example"
REGISTRANT_PHONE = "0176 5550 1234"


async def dump(settings: Settings) -> str:
    """Every row of every table, as the database itself writes them out."""
    if settings.database_url:
        process = await asyncio.create_subprocess_exec(
            "pg_dump",
            "--data-only",
            "--no-owner",
            f"--dbname={settings.database_url}",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0
        text = out.decode()
        # bytea columns are written as \\x<hex>: decode them, so their text is searched too.
        decoded = [
            bytes.fromhex(h).decode("utf-8", "replace")
            for h in re.findall(r"\\\\x((?:[0-9a-f]{2})+)", text)
        ]
        return "\n".join([text, *decoded])
    connection = sqlite3.connect(settings.sqlite_path)
    try:
        lines = list(connection.iterdump())
        # BLOB columns are written as X'<hex>': decode them as above.
        decoded = [
            bytes.fromhex(h).decode("utf-8", "replace")
            for line in lines
            for h in re.findall(r"X'((?:[0-9A-Fa-f]{2})+)'", line)
        ]
        return "\n".join([*lines, *decoded])
    finally:
        connection.close()


def found(text: str, strings: list[str]) -> list[str]:
    lowered = text.lower()
    return [s for s in strings if s.lower() in lowered]


@pytest.fixture
async def world(db):
    return await make_world()


async def _scene(client, world) -> dict[str, int]:
    """The person books a class visit with a note, registers for an open day without
    signing in, and invites a firm to the school's parents' evening, which accepts; every
    notice is sent. Each booking went with an Idempotency-Key, as the pages send one."""
    tour = await make_event(world.firm_a)
    tour_slot = await make_slot(world.firm_a, tour, capacity=40)
    open_day = await make_event(world.firm_a, kind="open_day")
    open_slot = await make_slot(world.firm_a, open_day, capacity=40)
    visit = {
        "class_label": "8a",
        "grade": 8,
        "pupils": 20,
        "adults": 2,
        "contact_name": NAME,
        "contact_email": EMAIL,
        "notes": NOTE,
    }
    registration = {"name": NAME, "email": EMAIL, "persons": 2, "notes": NOTE}
    return {"tour_slot": tour_slot, "open_slot": open_slot, "visit": visit, "reg": registration}


async def _book(client, slot: int, body: dict, key: str, headers: dict | None = None) -> int:
    answer = await client.post(
        f"/api/v1/slots/{slot}/bookings",
        json=body,
        headers={"Idempotency-Key": key, **(headers or {})},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


async def _invite_and_accept(client, world, token: str, message: str) -> None:
    evening = await make_evening(world.school_a)
    invited = await client.post(
        f"/api/v1/events/{evening}/presenters",
        json={"firms": ["firm-a"], "message": message},
        headers=bearer(token),
    )
    assert invited.status_code == 201, invited.text
    accepted = await client.post(
        f"/api/v1/presenter-invitations/{invited.json()[0]['id']}/accept",
        json={"message": "Gern, wir kommen."},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert accepted.status_code == 200, accepted.text


async def test_a_deleted_account_leaves_no_trace_in_a_dump(client, world, settings):
    person = await create_user(
        NewUser(email=EMAIL, role="school", org_slug="school-a", name=NAME, language="de")
    )
    token = await issue_api_token(person.id)
    scene = await _scene(client, world)
    await _book(client, scene["tour_slot"], scene["visit"], "visit-1", bearer(token))
    await _book(client, scene["open_slot"], scene["reg"], "registration-1")
    await _invite_and_accept(client, world, token, f"Grüße, {NAME}, Tel. {PHONE}")
    await deliver_all()
    strings = [NAME, "Quast", EMAIL, PHONE, NOTE]
    assert found(await dump(settings), strings) == strings  # the scene holds them all

    done = await client.post("/api/v1/me/delete", json={"confirm": EMAIL}, headers=bearer(token))
    assert done.status_code == 200, done.text
    assert done.json()["bookings_anonymised"] == 2  # the visit and the registration

    assert found(await dump(settings), strings) == []
    # A retry of the registration still replays its answer, from the anonymised row.
    again = await client.post(
        f"/api/v1/slots/{scene['open_slot']}/bookings",
        json=scene["reg"],
        headers={"Idempotency-Key": "registration-1"},
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["contact_email"] == ""


async def test_anonymisation_after_the_retention_period_leaves_no_trace(client, world, settings):
    scene = await _scene(client, world)
    await _book(
        client, scene["tour_slot"], scene["visit"], "visit-1", bearer(world.tokens["school_a"])
    )
    registration = {
        "name": REGISTRANT,
        "email": REGISTRANT_EMAIL,
        "persons": 1,
        "notes": f"Tel. {REGISTRANT_PHONE}",
    }
    registered = await _book(client, scene["open_slot"], registration, "registration-1")
    await confirm_address(registered, address_token(settings, registered))
    # The host cancels with a reason naming the registrant: it is kept in the notice too.
    cancelled = await client.post(
        f"/api/v1/bookings/{registered}/cancel",
        json={"reason": f"Leider abgesagt, Herr {REGISTRANT}."},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert cancelled.status_code == 200, cancelled.text
    await _invite_and_accept(client, world, world.tokens["school_a"], f"Grüße, {NAME}, {PHONE}")
    await deliver_all()
    strings = [NAME, EMAIL, PHONE, NOTE, REGISTRANT, REGISTRANT_EMAIL, REGISTRANT_PHONE]
    assert found(await dump(settings), strings) == strings

    # The day the housekeeping runs: a year and a day after the last visit and evening.
    last = await Slot.select(Slot.ends_at).order_by(Slot.ends_at, ascending=False).first()
    await housekeeping(now=last["ends_at"] + timedelta(days=settings.anonymise_after_days + 1))

    assert found(await dump(settings), strings) == []
    assert await IdempotencyRecord.count() == 0, "records older than a day are purged"


async def test_idempotency_records_keep_ids_only_and_expire(client, world, settings):
    scene = await _scene(client, world)
    first = await _book(client, scene["open_slot"], scene["reg"], "registration-1")
    (record,) = await IdempotencyRecord.select()
    assert record["response"] == f'{{"bookings":[{first}]}}'
    assert EMAIL not in record["scoped_key"] and "client-" in record["scoped_key"]
    again = await client.post(
        f"/api/v1/slots/{scene['open_slot']}/bookings",
        json=scene["reg"],
        headers={"Idempotency-Key": "registration-1"},
    )
    assert again.status_code == 201 and again.json()["contact_name"] == NAME
    assert again.json()["id"] == first
    # Kept a day (IDEMPOTENCY_KEEP), then purged by the housekeeping.
    created = record["created_at"]
    assert await purge_idempotency_records(now=created + timedelta(hours=23)) == 0
    await housekeeping(now=created + IDEMPOTENCY_KEEP + timedelta(seconds=1))
    assert await IdempotencyRecord.count() == 0


async def test_records_written_before_keep_their_ids_only_after_the_migration(client, world):
    scene = await _scene(client, world)
    first = await _book(client, scene["open_slot"], scene["reg"], "registration-1")
    # As stored before: the whole answer, with the contact data.
    old = f'[{{"id":{first},"contact_name":"{NAME}","contact_email":"{EMAIL}"}}]'
    await IdempotencyRecord.update({IdempotencyRecord.response: old}).where(
        IdempotencyRecord.id > 0
    )
    migration = importlib.import_module(
        "outreach.piccolo_migrations.outreach_2026_12_07t14_10_00_000000"
    )
    await migration._keep_ids_only()
    (record,) = await IdempotencyRecord.select(IdempotencyRecord.response)
    assert record["response"] == f'{{"bookings":[{first}]}}'


async def test_a_dump_holds_no_usable_secret(world, settings):
    """SECURITY.md: a copy of the database opens nothing. Passwords are argon2id hashes,
    bearer tokens a selector and the SHA-256 of their verifier, a session the SHA-256 of
    its id, and a private feed URL is derived with SECRET_KEY, which is not stored."""
    password = "a-long-and-secret-passphrase"
    await give_password(world.school_a.email, password)
    feed = await feed_token_for(by=world.school_a)
    session = await start_session(world.school_a.user_id)
    token = world.tokens["school_a"]
    text = await dump(settings)
    secrets = [password, token, token.split("_", 2)[2], feed, feed.split("_", 2)[2], session]
    assert found(text, secrets) == []
    assert "$argon2id$" in text
    assert settings.secret_key not in text


async def test_a_class_visit_takes_no_pupil_names(client, world):
    """SECURITY.md: no pupil names are stored; a body naming pupils is refused as a whole."""
    scene = await _scene(client, world)
    visit = {**scene["visit"], "pupil_names": ["Anna", "Ben"]}
    answer = await client.post(
        f"/api/v1/slots/{scene['tour_slot']}/bookings",
        json=visit,
        headers=bearer(world.tokens["school_a"]),
    )
    assert answer.status_code == 422 and answer.json()["field"] == "pupil_names"
    booking_columns = {c._meta.name for c in Booking._meta.columns}
    assert not {c for c in booking_columns if "pupil" in c} - {"pupils"}
