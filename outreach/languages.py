"""The languages outreach writes in, and how a stated preference maps onto them."""

from __future__ import annotations

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "language_of"]

DEFAULT_LANGUAGE = "de"
LANGUAGES = ("de", "en", "cs")


def language_of(value: str | None) -> str:
    """`en-GB`, `EN`, `cs_CZ` -> a language we write; anything else -> German."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE
