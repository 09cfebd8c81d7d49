"""The catalogs under `outreach/locale/` (compiled in memory), and a reason's sentence in
a reader's language: the pages and the mails say the refusals and outcomes alike.

The `.po` files are compiled on first use, so a fresh clone needs no build step and no
`.mo` file is committed. A reason's parameters (figures, dates, names) are formatted by
Babel for the language.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from outreach.languages import babel_locale
from outreach.reasons import TEXTS
from outreach.timeutil import LOCAL_TZ

__all__ = ["LOCALE_DIR", "holiday_name", "reason_text", "translations"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The catalog of `locale`, compiled from its `.po` file in memory (cached)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return gettext_module.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    # Fuzzy entries are guesses: leave them out, the English source shows instead.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def holiday_name(name: str, name_en: str, locale: str) -> str:
    """A holiday as the reader calls it: the German name, the English one, or its Czech
    (the catalog's, by the English name; the English name where it has none)."""
    if locale == "de":
        return name
    return name_en if locale == "en" else translations(locale).gettext(name_en)


def _value(value: Any, locale: str) -> str:
    if isinstance(value, datetime):
        moment = value.astimezone(LOCAL_TZ)
        day = format_date(moment, "medium", locale=babel_locale(locale))
        return f"{day} {format_time(moment, 'short', locale=babel_locale(locale))}"
    if isinstance(value, date):
        return format_date(value, "medium", locale=babel_locale(locale))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return format_decimal(value, locale=babel_locale(locale))
    if isinstance(value, (tuple, list, frozenset, set)):
        return ", ".join(_value(v, locale) for v in value)
    return str(value)


def reason_text(reason: str, params: Mapping[str, Any], locale: str) -> str:
    """The reason's sentence in `locale`, its parameters filled in for that language.

    A parameter `x` with an English form `x_en` (a holiday's name) is named as the reader
    calls it (German, English, or the catalog's Czech).
    """
    values = {
        key: holiday_name(value, params[f"{key}_en"], locale)
        if f"{key}_en" in params
        else _value(value, locale)
        for key, value in params.items()
    }
    return translations(locale).gettext(TEXTS[reason]) % values
