"""Four independent readers of our feeds, each answering in UTC instants.

- icalendar (the library that writes them, reading back; TZIDs through zoneinfo),
- vobject (builds its time zones from the feed's own VTIMEZONE),
- recurring-ical-events (expands RRULEs, as many Python calendar tools do),
- Mozilla's ical.js run by Node.js (Thunderbird's parser; the feed's VTIMEZONE too).

ical.js comes from npm: `tests/feeds/icaljs` pins it (package-lock.json); node_modules is
installed on first use. Without Node.js the tests skip locally and fail on CI.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
import vobject

from tests.support import require_service

ICALJS_DIR = Path(__file__).resolve().parent / "icaljs"


@dataclass(frozen=True)
class Entry:
    uid: str
    start: datetime  # UTC
    end: datetime  # UTC


def _utc(moment: datetime) -> datetime:
    assert moment.tzinfo is not None, f"floating time {moment}: the TZID was not resolved"
    return moment.astimezone(UTC)


def with_icalendar(body: bytes) -> list[Entry]:
    calendar = icalendar.Calendar.from_ical(body)
    return [
        Entry(str(e["UID"]), _utc(e.decoded("DTSTART")), _utc(e.decoded("DTEND")))
        for e in calendar.walk("VEVENT")
    ]


def with_vobject(body: bytes) -> list[Entry]:
    calendar = vobject.readOne(body.decode("utf-8"))
    events = getattr(calendar, "vevent_list", [])
    return [Entry(e.uid.value, _utc(e.dtstart.value), _utc(e.dtend.value)) for e in events]


def with_recurring(body: bytes, start: datetime, end: datetime) -> list[Entry]:
    calendar = icalendar.Calendar.from_ical(body)
    return [
        Entry(str(e["UID"]), _utc(e["DTSTART"].dt), _utc(e["DTEND"].dt))
        for e in recurring_ical_events.of(calendar).between(start, end)
    ]


def icaljs_ready() -> Path:
    """The ical.js checker, with its pinned package installed; skip or fail without Node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        require_service("Node.js", "node and npm are needed to run Mozilla's ical.js")
    # As tests/e2e installs axe-core: the first xdist worker installs from the committed
    # lock (`npm ci`) while holding a file lock; the others wait, then find it installed.
    with (ICALJS_DIR / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (ICALJS_DIR / "node_modules" / "ical.js" / "package.json").exists():
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=ICALJS_DIR,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                require_service("ical.js from npm", done.stderr.strip()[-2000:])
    return ICALJS_DIR


def with_icaljs(body: bytes, *, until: datetime | None = None) -> list[dict[str, Any]]:
    """Events as ical.js reads them: uid, start, end, tzid, zoneFromFeed, occurrences."""
    args = ["node", str(ICALJS_DIR / "parse.mjs")]
    if until is not None:
        args.append(f"--until={until.astimezone(UTC).isoformat()}")
    done = subprocess.run(args, input=body, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)["events"]


def icaljs_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def icaljs_entries(body: bytes) -> list[Entry]:
    return [
        Entry(e["uid"], icaljs_time(e["start"]), icaljs_time(e["end"])) for e in with_icaljs(body)
    ]
