"""Languages of the pages: German first, English and Czech too.

The catalogs are the `.po` files under `outreach/locale/`; they are compiled in memory
on first use, so a fresh clone needs no build step and no `.mo` file is committed.
The locale of a request: the `lang` cookie (the switch), else `Accept-Language`, else
German. Dates and times are shown in Europe/Berlin, formatted by Babel for the locale.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent
from jinja2 import pass_context
from jinja2.runtime import Context

from outreach.catalogs import LOCALE_DIR, holiday_name, translations
from outreach.languages import babel_locale
from outreach.timeutil import LOCAL_TZ

__all__ = [
    "BOOKING_KIND_NAMES",
    "DEFAULT_LOCALE",
    "EVENT_KIND_NAMES",
    "HOLIDAY_NAMES",
    "LANG_COOKIE",
    "LOCALES",
    "LOCALE_DIR",
    "N_",
    "ORG_KIND_NAMES",
    "STATUS_NAMES",
    "Gettext",
    "context_locale",
    "holiday_name",
    "install",
    "local_datetime",
    "local_month",
    "locale_of",
    "negotiate",
    "number",
    "percent",
    "translations",
]

LOCALES = ("de", "en", "cs")


def N_(message: str) -> str:  # the conventional name for "mark for translation only"
    return message


DEFAULT_LOCALE = "de"
LANG_COOKIE = "lang"

# The words for the codes people read (pages, exports): one home, translated with `_()`.
EVENT_KIND_NAMES = {
    "open_day": N_("Open day"),
    "factory_tour": N_("Factory tour"),
    "parents_evening": N_("Parents' evening"),
    "teacher_training": N_("Teacher training"),
    "other": N_("Other event"),
}
STATUS_NAMES = {
    "pending": N_("awaiting confirmation"),
    "confirmed": N_("confirmed"),
    "waitlisted": N_("on the waiting list"),
    "declined": N_("declined"),
    "cancelled": N_("cancelled"),
    "draft": N_("draft"),
    "published": N_("published"),
}
BOOKING_KIND_NAMES = {"class_visit": N_("Class visit"), "registration": N_("Registration")}
# Holidays by their English names (the school holiday file's `name_en`, the `holidays`
# package's English names for Saxony): marked so that the catalogs can name them in Czech.
HOLIDAY_NAMES = (
    N_("autumn holidays"),
    N_("Christmas holidays"),
    N_("winter holidays"),
    N_("Easter holidays"),
    N_("Whitsun holidays"),
    N_("summer holidays"),
    N_("New Year's Day"),
    N_("Good Friday"),
    N_("Easter Monday"),
    N_("Labor Day"),
    N_("Ascension Day"),
    N_("Pentecost Monday"),
    N_("German Unity Day"),
    N_("Reformation Day"),
    N_("Repentance and Prayer Day"),
    N_("Christmas Day"),
    N_("Second Day of Christmas"),
)
ORG_KIND_NAMES = {
    "firm": N_("firm"),
    "school": N_("school"),
    "partner": N_("partner"),
    "network": N_("network"),
}


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


def context_locale(context: Context) -> str:
    """The language a template renders in."""
    # A page's context carries its locale (`pages.common.page`, `render_fragment`): read
    # there, not through `request.state`, which Litestar builds anew on every access (a
    # calendar page asks some 170 times: a fifth of its rendering).
    locale = context.get("locale")
    if isinstance(locale, str) and locale in LOCALES:
        return locale
    request = context.get("request")
    return locale_of(request) if request is not None else DEFAULT_LOCALE


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(context_locale(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context_locale(context)).ngettext(singular, plural, n)


def local_datetime(value: datetime, locale: str, fmt: str = "medium") -> str:
    """An instant in Europe/Berlin, written the way `locale` writes it."""
    return format_datetime(value, fmt, tzinfo=LOCAL_TZ, locale=babel_locale(locale))


def local_month(value: date, locale: str) -> str:
    """ "September 2026", "září 2026": a month as a heading names it."""
    return format_date(value, "LLLL yyyy", locale=babel_locale(locale))


def number(value: float, locale: str, fmt: str = "#,##0.#") -> str:
    """A count or measure in the locale's notation: 1234.5 -> "1.234,5" in German."""
    return format_decimal(value, fmt, locale=babel_locale(locale))


def percent(value: float, locale: str) -> str:
    """A percentage given as 0-100, one decimal at most: 41.7 -> "41,7 %" in German."""
    return format_percent(value / 100, _percent_pattern(locale), locale=babel_locale(locale))


@cache
def _percent_pattern(locale: str) -> str:
    """The locale's own percent pattern (where the sign goes, with or without a space),
    with one optional decimal: "#,##0\u00a0%" -> "#,##0.#\u00a0%" in German."""
    pattern = babel_locale(locale).percent_formats[None].pattern
    return pattern.replace("#,##0", "#,##0.#", 1)


@pass_context
def _datetime(context: Context, value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return local_datetime(value, context_locale(context), fmt)


@pass_context
def _date(context: Context, value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ).date()
    return format_date(value, fmt, locale=babel_locale(context_locale(context)))


@pass_context
def _time(context: Context, value: datetime | None, fmt: str = "short") -> str:
    if value is None:
        return ""
    return format_time(value, fmt, tzinfo=LOCAL_TZ, locale=babel_locale(context_locale(context)))


@pass_context
def _weekday(context: Context, index: int, width: str = "abbreviated") -> str:
    return babel_locale(context_locale(context)).days["format"][width][index]


@pass_context
def _month(context: Context, value: date) -> str:
    return local_month(value, context_locale(context))


@pass_context
def _decimal(context: Context, value: float | None, fmt: str = "0.#") -> str:
    """A number in the locale's notation: 0.27 -> "0,3" in German (one decimal by default)."""
    if value is None:
        return ""
    return number(value, context_locale(context), fmt)


@pass_context
def _percent(context: Context, value: float | None) -> str:
    return "" if value is None else percent(value, context_locale(context))


@pass_context
def _holiday(context: Context, closure: Any) -> str:
    return holiday_name(closure.name, closure.name_en, context_locale(context))


def install(environment: Any) -> None:
    """Add `{% trans %}`, `_()` and the date filters to the pages' Jinja environment."""
    environment.add_extension("jinja2.ext.i18n")
    # `Context.call` hands the template context to these, so each call sees its request.
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    environment.filters.update(
        datetime=_datetime, date=_date, time=_time, weekday=_weekday, month=_month
    )
    environment.filters.update(decimal=_decimal, percent=_percent, holiday=_holiday)
    environment.globals.update(
        EVENT_KIND_NAMES=EVENT_KIND_NAMES,
        STATUS_NAMES=STATUS_NAMES,
        BOOKING_KIND_NAMES=BOOKING_KIND_NAMES,
        ORG_KIND_NAMES=ORG_KIND_NAMES,
    )
