"""Holiday calendar: the days schools are closed, so class visits are refused.

Two sources, checked in this order:

* public holidays, from the `holidays` package (maintained upstream, updated
  yearly; for Saxony it includes Reformationstag and Buß- und Bettag);
* school holidays, from a TOML data file the project ships
  (``outreach/data/school_holidays_sn.toml``), so a new school year is an edit
  of that file, not a code change. ``OUTREACH_SCHOOL_HOLIDAYS_FILE`` may point
  to another file in the same format (a network outside Saxony).

Weekends are deliberately not a closure here: whether visits happen on
weekends is the booking engine's decision.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from holidays import HolidayBase

__all__ = [
    "ENV_VAR",
    "PUBLIC_HOLIDAY",
    "SCHOOL_HOLIDAY",
    "Closure",
    "HolidayCalendarError",
    "clear_cache",
    "closure_on",
    "closures_between",
    "covered_school_years",
    "covers",
    "school_holiday_source",
    "school_year_of",
]

ENV_VAR: Final = "OUTREACH_SCHOOL_HOLIDAYS_FILE"
PUBLIC_HOLIDAY: Final = "public_holiday"
SCHOOL_HOLIDAY: Final = "school_holiday"

Reason = Literal["public_holiday", "school_holiday"]

_DEFAULT_FILE: Final = "school_holidays_sn.toml"
_CALENDAR_KEYS: Final = frozenset({"region", "country", "subdivision", "source"})
_TOP_KEYS: Final = frozenset({"calendar", "holiday"})
_ENTRY_KEYS: Final = frozenset({"school_year", "name", "name_en", "first_day", "last_day"})
_SCHOOL_YEAR_RE: Final = re.compile(r"(\d{4})/(\d{2})")
# No school holiday period is anywhere near this long; a longer one is a typo
# in a year (2026-01-02 written as 2027-01-02) that would block a whole year.
_MAX_PERIOD: Final = timedelta(days=100)
# A listing is for people (admin page); a decade is plenty and bounds the work a
# request with an absurd range can cause.
_MAX_LISTING: Final = timedelta(days=3660)
# Date ranges in messages use the en dash, as the ministry's lists do.
_DASH: Final = "\u2013"


class HolidayCalendarError(ValueError):
    """The school holiday file is missing or malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Closure:
    """Why schools are closed: one public holiday, or one school holiday period.

    ``first_day``/``last_day`` are inclusive (equal for a public holiday).
    ``school_year`` ("2026/27") is set for school holidays only. ``day`` is the
    day that was asked about (set by `closure_on`, None in listings), so
    `message` can name it.
    """

    reason: Reason
    name: str
    name_en: str
    first_day: date
    last_day: date
    school_year: str | None = None
    day: date | None = None
    region: str = "Saxony"

    def includes(self, day: date) -> bool:
        """True if ``day`` lies in this closure (boundaries included)."""
        return self.first_day <= day <= self.last_day

    @property
    def span(self) -> str:
        """The period in German notation: "12.10.-24.10.2026" (with an en dash)."""
        if self.first_day == self.last_day:
            return f"{self.first_day:%d.%m.%Y}"
        if self.first_day.year == self.last_day.year:
            return f"{self.first_day:%d.%m.}{_DASH}{self.last_day:%d.%m.%Y}"
        return f"{self.first_day:%d.%m.%Y}{_DASH}{self.last_day:%d.%m.%Y}"

    @property
    def message(self) -> str:
        """A sentence for the person booking, e.g. why a class visit is refused."""
        if self.reason == PUBLIC_HOLIDAY:
            # Name in German as schools and firms know it; the English name is in name_en.
            return (
                f"{self.first_day.isoformat()} is a public holiday in {self.region} ({self.name})"
            )
        if self.day is None:
            return f"School holidays in {self.region}: {self.name} ({self.name_en}), {self.span}"
        return (
            f"{self.day.isoformat()} is in the school holidays in {self.region} "
            f"({self.name}, {self.span})"
        )


@dataclass(frozen=True, slots=True)
class _Calendar:
    region: str
    country: str
    subdivision: str
    source: str
    school_holidays: tuple[Closure, ...]
    school_years: tuple[str, ...]


# --------------------------------------------------------------------- loading


def _fail(where: str, problem: str) -> HolidayCalendarError:
    return HolidayCalendarError(f"school holiday file {where}: {problem}")


def _as_date(value: Any, where: str, key: str) -> date:
    # datetime is a subclass of date: refuse it, a time of day here is a mistake.
    if isinstance(value, datetime):
        raise _fail(where, f"{key} must be a date without time, got {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(where, f"{key} must be an ISO date (YYYY-MM-DD), got {value!r}")


def _as_text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{key} must be a non-empty string, got {value!r}")
    return value.strip()


def _check_keys(table: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(
            where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    missing = sorted(allowed - set(table))
    if missing:
        raise _fail(where, f"missing key(s) {', '.join(missing)}")


def _parse_entry(raw: Any, index: int, label: str, region: str) -> Closure:
    where = f"{label}, [[holiday]] #{index}"
    if not isinstance(raw, dict):
        raise _fail(where, "must be a table")
    # Name the entry as precisely as its content allows, so the error is easy to find.
    if isinstance(raw.get("school_year"), str) and isinstance(raw.get("name"), str):
        where += f" ({raw['school_year']} {raw['name']})"
    _check_keys(raw, _ENTRY_KEYS, where)

    school_year = _as_text(raw["school_year"], where, "school_year")
    match = _SCHOOL_YEAR_RE.fullmatch(school_year)
    if match is None or (int(match[1]) + 1) % 100 != int(match[2]):
        raise _fail(where, f"school_year must look like '2026/27', got {school_year!r}")
    first_day = _as_date(raw["first_day"], where, "first_day")
    last_day = _as_date(raw["last_day"], where, "last_day")
    if last_day < first_day:
        raise _fail(where, f"last_day {last_day} is before first_day {first_day}")
    if last_day - first_day > _MAX_PERIOD:
        raise _fail(where, f"{first_day} to {last_day} is longer than {_MAX_PERIOD.days} days")
    # A school year 2026/27 has its holidays in 2026 and 2027; anything else is a typo.
    start_year = int(match[1])
    if first_day.year not in (start_year, start_year + 1):
        raise _fail(where, f"first_day {first_day} does not fall in school year {school_year}")

    return Closure(
        reason=SCHOOL_HOLIDAY,
        name=_as_text(raw["name"], where, "name"),
        name_en=_as_text(raw["name_en"], where, "name_en"),
        first_day=first_day,
        last_day=last_day,
        school_year=school_year,
        region=region,
    )


def _parse(data: dict[str, Any], label: str) -> _Calendar:
    _check_keys(data, _TOP_KEYS, label)
    meta = data["calendar"]
    if not isinstance(meta, dict):
        raise _fail(label, "[calendar] must be a table")
    _check_keys(meta, _CALENDAR_KEYS, f"{label}, [calendar]")
    where = f"{label}, [calendar]"
    region = _as_text(meta["region"], where, "region")
    country = _as_text(meta["country"], where, "country")
    subdivision = _as_text(meta["subdivision"], where, "subdivision")
    source = _as_text(meta["source"], where, "source")
    try:
        _country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise _fail(
            where, f"the holidays package does not know {country}/{subdivision}: {exc}"
        ) from exc

    entries = data["holiday"]
    if not isinstance(entries, list) or not entries:
        raise _fail(label, "needs at least one [[holiday]] entry")
    closures = [_parse_entry(raw, i, label, region) for i, raw in enumerate(entries, start=1)]
    closures.sort(key=lambda c: (c.first_day, c.last_day))
    years = sorted({c.school_year for c in closures if c.school_year})
    return _Calendar(region, country, subdivision, source, tuple(closures), tuple(years))


@cache
def _load(location: str | None) -> _Calendar:
    """Read and validate the file once per location (None: the packaged file)."""
    try:
        if location is None:
            label = f"outreach/data/{_DEFAULT_FILE}"
            raw = resources.files("outreach").joinpath("data", _DEFAULT_FILE).read_bytes()
        else:
            label = location
            raw = Path(location).read_bytes()
    except OSError as exc:
        raise HolidayCalendarError(f"cannot read school holiday file {label}: {exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HolidayCalendarError(f"school holiday file {label} is not valid TOML: {exc}") from exc
    return _parse(data, label)


def _calendar() -> _Calendar:
    # The env var is read on every call (cheap) so tests and tools can switch files;
    # the parse itself is cached per path.
    return _load(os.environ.get(ENV_VAR) or None)


# -------------------------------------------------------------- public holidays


def _country_holidays(country: str, **options: Any) -> HolidayBase:
    # The holidays package takes a fifth of a second to import: each process that starts
    # (CLI commands, servers, workers) pays it on its first date check, not at start-up.
    import holidays

    return holidays.country_holidays(country, **options)


def _language(country: str, wanted: str) -> str | None:
    # Check instead of passing blindly: holidays quietly falls back to another
    # language for an unsupported one, which would mislabel the name.
    supported = _country_holidays(country).supported_languages
    return wanted if wanted in supported else None


@cache
def _public_holidays(country: str, subdivision: str, year: int) -> dict[date, tuple[str, str]]:
    """{day: (local name, English name)} for one year; cached, the package is slow."""
    local = _country_holidays(
        country, subdiv=subdivision, years=year, language=_language(country, "de")
    )
    english = _country_holidays(
        country, subdiv=subdivision, years=year, language=_language(country, "en_US")
    )
    # Copy into a plain dict: a HolidayBase grows itself on lookups of other years.
    return {day: (name, english.get(day, name)) for day, name in local.items()}


def _public_closure(cal: _Calendar, day: date, names: tuple[str, str]) -> Closure:
    return Closure(
        reason=PUBLIC_HOLIDAY,
        name=names[0],
        name_en=names[1],
        first_day=day,
        last_day=day,
        day=day,
        region=cal.region,
    )


# ------------------------------------------------------------------ public API


def closure_on(day: date) -> Closure | None:
    """Why schools are closed on ``day``, or None on an ordinary school day.

    Public holidays win over school holidays (Karfreitag inside the
    Osterferien is reported as Karfreitag). Days outside the school years the
    file covers only get public holidays: check `covers` for those.
    """
    cal = _calendar()
    names = _public_holidays(cal.country, cal.subdivision, day.year).get(day)
    if names is not None:
        return _public_closure(cal, day, names)
    for closure in cal.school_holidays:
        if closure.includes(day):
            return replace(closure, day=day)
    return None


def closures_between(first: date, last: date) -> list[Closure]:
    """Every closure touching ``first``..``last`` (inclusive), in date order.

    School holiday periods are listed whole, even if they start before
    ``first``; public holidays inside school holidays are listed too.
    """
    if last < first:
        raise ValueError(f"closures_between: last {last} is before first {first}")
    if last - first > _MAX_LISTING:
        raise ValueError(f"closures_between: at most {_MAX_LISTING.days} days at a time")
    cal = _calendar()
    found: list[Closure] = []
    for year in range(first.year, last.year + 1):
        for day, names in _public_holidays(cal.country, cal.subdivision, year).items():
            if first <= day <= last:
                found.append(_public_closure(cal, day, names))
    found.extend(c for c in cal.school_holidays if c.first_day <= last and c.last_day >= first)
    found.sort(key=lambda c: (c.first_day, c.reason != PUBLIC_HOLIDAY, c.last_day))
    return found


def covered_school_years() -> list[str]:
    """The school years ("2026/27") the school holiday file has entries for, sorted."""
    return list(_calendar().school_years)


def school_year_of(day: date) -> str:
    """The school year ``day`` belongs to: in Saxony (and most of Germany) 1 Aug to 31 Jul."""
    start = day.year if day.month >= 8 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def covers(day: date) -> bool:
    """True if the school holidays of ``day``'s school year are in the file.

    For other days `closure_on` can only know public holidays, so callers that
    must not accept a visit in unknown school holidays should check this.
    """
    return school_year_of(day) in _calendar().school_years


def school_holiday_source() -> str:
    """Where the school holiday dates come from (the file's [calendar] source)."""
    return _calendar().source


def clear_cache() -> None:
    """Forget the loaded file and holiday lookups (after editing the file, in tests)."""
    _load.cache_clear()
    _public_holidays.cache_clear()
