"""The holiday calendar: Saxon public holidays and the shipped school holiday file.

No database needed: these tests read the TOML data file and the `holidays` package.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from outreach.calendar import holidays as cal
from outreach.calendar.holidays import (
    ENV_VAR,
    PUBLIC_HOLIDAY,
    SCHOOL_HOLIDAY,
    HolidayCalendarError,
    closure_on,
    closures_between,
    covered_school_years,
    covers,
    school_year_of,
)


@pytest.fixture(autouse=True)
def shipped_calendar(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the shipped file with nothing cached."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    cal.clear_cache()
    yield
    cal.clear_cache()


# ------------------------------------------------------------- public holidays


@pytest.mark.parametrize(
    ("day", "name", "name_en"),
    [
        (date(2026, 10, 31), "Reformationstag", "Reformation Day"),
        (date(2026, 11, 18), "Buß- und Bettag", "Repentance and Prayer Day"),
        (date(2026, 10, 3), "Tag der Deutschen Einheit", "German Unity Day"),
        (date(2027, 11, 17), "Buß- und Bettag", "Repentance and Prayer Day"),
    ],
)
def test_saxon_public_holiday(day: date, name: str, name_en: str) -> None:
    closure = closure_on(day)
    assert closure is not None
    assert closure.reason == PUBLIC_HOLIDAY
    assert closure.name == name
    assert closure.name_en == name_en
    assert closure.first_day == closure.last_day == day
    assert closure.message == f"{day.isoformat()} is a public holiday in Saxony ({name})"


def test_public_holiday_wins_over_school_holiday() -> None:
    # Karfreitag 2026 is the first day of the Osterferien 2026.
    closure = closure_on(date(2026, 4, 3))
    assert closure is not None
    assert (closure.reason, closure.name) == (PUBLIC_HOLIDAY, "Karfreitag")
    # The next day is still closed, now for the school holidays.
    closure = closure_on(date(2026, 4, 4))
    assert closure is not None
    assert (closure.reason, closure.name) == (SCHOOL_HOLIDAY, "Osterferien")


def test_buss_und_bettag_is_saxon_only_in_this_calendar() -> None:
    # Buß- und Bettag is a public holiday only in Saxony; it must not be dropped,
    # and the day before it is an ordinary school day.
    assert closure_on(date(2026, 11, 17)) is None


# ------------------------------------------------------------- school holidays

# 2026/27, every kind of holiday: (name, a day inside, first day, last day).
# Where the published first or last day is a public holiday (Karfreitag
# 26.03.2027) the next day in is used; the public holiday itself is checked in
# test_school_holiday_boundaries_where_a_public_holiday_falls.
SCHOOL_HOLIDAYS_2026_27 = [
    ("Herbstferien", date(2026, 10, 15), date(2026, 10, 12), date(2026, 10, 24)),
    ("Weihnachtsferien", date(2026, 12, 30), date(2026, 12, 23), date(2027, 1, 2)),
    ("Winterferien", date(2027, 2, 10), date(2027, 2, 8), date(2027, 2, 19)),
    ("Osterferien", date(2027, 3, 31), date(2027, 3, 27), date(2027, 4, 2)),
    ("Pfingstferien", date(2027, 5, 7), date(2027, 5, 7), date(2027, 5, 7)),
    ("Pfingstferien", date(2027, 5, 16), date(2027, 5, 15), date(2027, 5, 18)),
    ("Sommerferien", date(2027, 8, 2), date(2027, 7, 10), date(2027, 8, 20)),
]


@pytest.mark.parametrize(("name", "inside", "first", "last"), SCHOOL_HOLIDAYS_2026_27)
def test_school_holiday_days_are_closed(name: str, inside: date, first: date, last: date) -> None:
    for day in (inside, first, last):
        closure = closure_on(day)
        assert closure is not None, day
        assert closure.reason == SCHOOL_HOLIDAY, day
        assert closure.name == name, day
        assert closure.school_year == "2026/27"
        assert closure.day == day
        assert closure.includes(first) and closure.includes(last)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 10, 11),  # Sunday before the Herbstferien
        date(2026, 10, 26),  # Monday after them (the 25th is a Sunday)
        date(2026, 12, 22),  # last school day before Christmas
        date(2027, 1, 4),  # first school day of January
        date(2027, 2, 5),  # Friday before the Winterferien
        date(2027, 2, 22),  # Monday after them
        date(2027, 3, 25),  # Thursday before Karfreitag
        date(2027, 4, 5),  # Monday after the Osterferien
        date(2027, 5, 8),  # Saturday after the Friday after Ascension
        date(2027, 5, 14),  # Friday before the Whitsun days
        date(2027, 5, 19),  # Wednesday after them
        date(2027, 7, 9),  # last school day before the Sommerferien
        date(2027, 8, 23),  # first school day of 2027/28 (the 21st is a Saturday)
    ],
)
def test_days_just_outside_school_holidays_are_open(day: date) -> None:
    assert closure_on(day) is None


@pytest.mark.parametrize(
    ("day", "reason", "name"),
    [
        (date(2026, 10, 24), SCHOOL_HOLIDAY, "Herbstferien"),  # last day, a Saturday
        (date(2026, 10, 25), None, None),  # the Sunday after: weekends are not closures
        (date(2027, 3, 26), PUBLIC_HOLIDAY, "Karfreitag"),  # first day of the Osterferien
        (date(2027, 5, 6), PUBLIC_HOLIDAY, "Christi Himmelfahrt"),  # day before 07.05.
        (date(2027, 5, 17), PUBLIC_HOLIDAY, "Pfingstmontag"),  # inside the Whitsun days
        (date(2027, 1, 1), PUBLIC_HOLIDAY, "Neujahr"),  # inside the Weihnachtsferien
    ],
)
def test_school_holiday_boundaries_where_a_public_holiday_falls(
    day: date, reason: str | None, name: str | None
) -> None:
    closure = closure_on(day)
    if reason is None:
        assert closure is None
    else:
        assert closure is not None
        assert (closure.reason, closure.name) == (reason, name)


def test_ordinary_school_days_are_not_closures() -> None:
    assert closure_on(date(2026, 9, 15)) is None  # Tuesday
    assert closure_on(date(2027, 6, 9)) is None  # Wednesday
    assert closure_on(date(2026, 9, 12)) is None  # a Saturday: weekends are not handled here


def test_school_holiday_message() -> None:
    closure = closure_on(date(2026, 10, 15))
    assert closure is not None
    assert closure.message == (
        "2026-10-15 is in the school holidays in Saxony (Herbstferien, 12.10.\u201324.10.2026)"
    )
    closure = closure_on(date(2026, 12, 28))
    assert closure is not None
    assert closure.message == (
        "2026-12-28 is in the school holidays in Saxony "
        "(Weihnachtsferien, 23.12.2026\u201302.01.2027)"
    )


def test_summer_2026_and_2025_26_year() -> None:
    assert closure_on(date(2026, 7, 3)) is None
    for day in (date(2026, 7, 4), date(2026, 8, 14)):
        closure = closure_on(day)
        assert closure is not None
        assert (closure.name, closure.school_year) == ("Sommerferien", "2025/26")
    assert closure_on(date(2026, 8, 17)) is None  # Monday, first day of 2026/27
    winter = closure_on(date(2026, 2, 16))
    assert winter is not None and winter.name == "Winterferien"


# -------------------------------------------------------------------- listing


def test_closures_between_lists_in_date_order() -> None:
    found = closures_between(date(2026, 10, 1), date(2026, 11, 30))
    assert [(c.reason, c.name) for c in found] == [
        (PUBLIC_HOLIDAY, "Tag der Deutschen Einheit"),
        (SCHOOL_HOLIDAY, "Herbstferien"),
        (PUBLIC_HOLIDAY, "Reformationstag"),
        (PUBLIC_HOLIDAY, "Buß- und Bettag"),
    ]
    herbst = found[1]
    assert (herbst.first_day, herbst.last_day) == (date(2026, 10, 12), date(2026, 10, 24))
    assert herbst.message == (
        "School holidays in Saxony: Herbstferien (autumn holidays), 12.10.\u201324.10.2026"
    )


def test_closures_between_includes_periods_overlapping_the_edges() -> None:
    found = closures_between(date(2026, 12, 31), date(2027, 1, 1))
    assert [c.name for c in found] == ["Weihnachtsferien", "Neujahr"]
    assert found[0].first_day == date(2026, 12, 23)
    assert closures_between(date(2026, 9, 14), date(2026, 9, 18)) == []


def test_closures_between_every_school_year_is_complete() -> None:
    kinds = {"Herbstferien", "Weihnachtsferien", "Winterferien", "Osterferien"}
    kinds |= {"Pfingstferien", "Sommerferien"}
    found = closures_between(date(2025, 8, 1), date(2028, 9, 30))
    for year in ("2025/26", "2026/27", "2027/28"):
        names = {c.name for c in found if c.school_year == year}
        assert names == kinds, year


def test_closures_between_rejects_a_reversed_range() -> None:
    with pytest.raises(ValueError, match="before"):
        closures_between(date(2026, 11, 1), date(2026, 10, 1))


# ------------------------------------------------------------------- coverage


def test_covered_school_years() -> None:
    years = covered_school_years()
    assert {"2025/26", "2026/27", "2027/28"} <= set(years)
    assert years == sorted(years)


def test_covers_and_school_year_of() -> None:
    assert school_year_of(date(2026, 7, 31)) == "2025/26"
    assert school_year_of(date(2026, 8, 1)) == "2026/27"
    assert school_year_of(date(2099, 9, 1)) == "2099/00"
    assert covers(date(2026, 10, 15))
    assert not covers(date(2040, 10, 15))


def test_shipped_file_names_its_source() -> None:
    text = resources.files("outreach").joinpath("data", "school_holidays_sn.toml").read_text()
    assert "Sächsisches Staatsministerium für Kultus" in text
    assert "Staatsministerium für Kultus" in cal.school_holiday_source()


# ---------------------------------------------------------------- other files

VALID_FILE = """\
[calendar]
region = "Saxony"
country = "DE"
subdivision = "SN"
source = "test"

[[holiday]]
school_year = "2030/31"
name = "Herbstferien"
name_en = "autumn holidays"
first_day = 2030-10-07
last_day = 2030-10-19
"""


def use_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "school_holidays.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(path))
    cal.clear_cache()
    return path


def test_env_var_selects_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_file(tmp_path, monkeypatch, VALID_FILE)
    assert covered_school_years() == ["2030/31"]
    closure = closure_on(date(2030, 10, 7))
    assert closure is not None and closure.name == "Herbstferien"
    assert closure_on(date(2026, 10, 15)) is None  # the shipped file is not used
    assert closure_on(date(2030, 10, 31)) is not None  # public holidays still come in


def test_last_day_before_first_day_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = use_file(tmp_path, monkeypatch, VALID_FILE.replace("2030-10-19", "2030-10-01"))
    with pytest.raises(HolidayCalendarError) as info:
        closure_on(date(2030, 10, 8))
    message = str(info.value)
    assert str(path) in message
    assert "[[holiday]] #1 (2030/31 Herbstferien)" in message
    assert "last_day 2030-10-01 is before first_day 2030-10-07" in message


def test_unknown_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_file(tmp_path, monkeypatch, VALID_FILE + 'comment = "bridge day"\n')
    with pytest.raises(HolidayCalendarError, match=r"#1 \(2030/31 Herbstferien\).*unknown key"):
        covered_school_years()
    with pytest.raises(HolidayCalendarError, match="comment"):
        covered_school_years()


def test_missing_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_file(tmp_path, monkeypatch, VALID_FILE.replace('name_en = "autumn holidays"\n', ""))
    with pytest.raises(HolidayCalendarError, match=r"missing key.*name_en"):
        covered_school_years()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("2030-10-19", "2030-10-19T08:00:00", "date without time"),
        ("2030-10-19", '"19.10.2030"', "ISO date"),
        ('"2030/31"', '"2030/2031"', "school_year must look like"),
        ("first_day = 2030-10-07", "first_day = 2020-10-07", "longer than"),
        ("2030-10-07\nlast_day = 2030-10-19", "2032-10-07\nlast_day = 2032-10-19", "school year"),
        ('subdivision = "SN"', 'subdivision = "XX"', "does not know DE/XX"),
        ('source = "test"\n', "", r"\[calendar\].*missing key.*source"),
        ("[[holiday]]", "[[holiday", "not valid TOML"),
    ],
)
def test_malformed_values_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, expected: str
) -> None:
    assert old in VALID_FILE
    use_file(tmp_path, monkeypatch, VALID_FILE.replace(old, new))
    with pytest.raises(HolidayCalendarError, match=expected):
        closure_on(date(2030, 10, 8))


def test_missing_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope.toml"))
    with pytest.raises(HolidayCalendarError, match="cannot read school holiday file"):
        covered_school_years()
