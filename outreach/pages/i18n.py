"""Languages of the pages: German first, English and Czech too.

The catalogs are the `.po` files under `outreach/locale/`; they are compiled in memory
on first use, so a fresh clone needs no build step and no `.mo` file is committed.
The locale of a request: the `lang` cookie (the switch), else `Accept-Language`, else
German. Dates and times are shown in Europe/Berlin, formatted by Babel for the locale.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

from outreach.timeutil import LOCAL_TZ

__all__ = [
    "DEFAULT_LOCALE",
    "LANG_COOKIE",
    "LOCALES",
    "Gettext",
    "install",
    "locale_of",
    "negotiate",
    "translations",
]

LOCALES = ("de", "en", "cs")
DEFAULT_LOCALE = "de"
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


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


class Gettext:
    """`_()` of one language, which also knows the language (to format figures for it)."""

    __slots__ = ("locale",)

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def __call__(self, message: str) -> str:
        return translations(self.locale).gettext(message)


def negotiate(accept_language: str | None) -> str:
    """The best of our locales for an `Accept-Language` header; German when none fits."""
    if not accept_language:
        return DEFAULT_LOCALE
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((-quality, index, tag.strip().lower()))
    for neg_quality, _, tag in sorted(weighted):
        if neg_quality >= 0:
            break
        base = tag.split("-")[0]
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def locale_of(request: Any) -> str:
    """The request's locale, worked out once and kept on `request.state`."""
    state = request.state
    cached = state.get("locale") if hasattr(state, "get") else None
    if cached:
        return str(cached)
    chosen = request.cookies.get(LANG_COOKIE)
    locale = chosen if chosen in LOCALES else negotiate(request.headers.get("accept-language"))
    state["locale"] = locale
    return locale


def _ctx_locale(context: Context) -> str:
    request = context.get("request")
    return locale_of(request) if request is not None else DEFAULT_LOCALE


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(_ctx_locale(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(_ctx_locale(context)).ngettext(singular, plural, n)


@pass_context
def _datetime(context: Context, value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(value, fmt, tzinfo=LOCAL_TZ, locale=_ctx_locale(context))


@pass_context
def _date(context: Context, value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ).date()
    return format_date(value, fmt, locale=_ctx_locale(context))


@pass_context
def _time(context: Context, value: datetime | None, fmt: str = "short") -> str:
    if value is None:
        return ""
    return format_time(value, fmt, tzinfo=LOCAL_TZ, locale=_ctx_locale(context))


@pass_context
def _weekday(context: Context, index: int, width: str = "abbreviated") -> str:
    return Locale.parse(_ctx_locale(context)).days["format"][width][index]


@pass_context
def _month(context: Context, value: date) -> str:
    return format_date(value, "LLLL yyyy", locale=_ctx_locale(context))


@pass_context
def _decimal(context: Context, value: float | None, fmt: str = "0.#") -> str:
    """A number in the locale's notation: 0.27 -> "0,3" in German (one decimal by default)."""
    if value is None:
        return ""
    return format_decimal(value, fmt, locale=_ctx_locale(context))


def install(environment: Any) -> None:
    """Add `{% trans %}`, `_()` and the date filters to the pages' Jinja environment."""
    environment.add_extension("jinja2.ext.i18n")
    # `Context.call` hands the template context to these, so each call sees its request.
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    environment.filters.update(
        datetime=_datetime, date=_date, time=_time, weekday=_weekday, month=_month
    )
    environment.filters["decimal"] = _decimal
