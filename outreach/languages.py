"""The languages outreach writes in, and how a stated preference maps onto them."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "babel_locale", "language_of"]

DEFAULT_LANGUAGE = "de"
LANGUAGES = ("de", "en", "cs")


def language_of(value: str | None) -> str:
    """`en-GB`, `EN`, `cs_CZ` -> a language we write; anything else -> German."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=32)  # bounded: a code comes from stored data
def babel_locale(code: str) -> Locale:
    """Babel's Locale for `code`, parsed once per process.

    Babel's format functions parse a locale given as a string on every call (~5 % of a
    page's CPU, issue 21); given a Locale they use it as it is.
    """
    return Locale.parse(code)
