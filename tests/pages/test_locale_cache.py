"""Babel locales are parsed once per process and write dates exactly as before."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from outreach.languages import LANGUAGES, babel_locale


def test_a_locale_is_parsed_once_and_formats_as_the_code_does() -> None:
    day = date(2027, 3, 28)
    for code in LANGUAGES:
        assert babel_locale(code) is babel_locale(code)
        assert format_date(day, "full", locale=babel_locale(code)) == format_date(
            day, "full", locale=code
        )
    assert babel_locale("de") is not babel_locale("cs")
