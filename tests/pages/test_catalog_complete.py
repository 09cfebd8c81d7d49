"""Every marked text has a translation a reader can use, with the same placeholders.

German must be complete. English msgids are the English text, so an empty English
msgstr means "as written" (gettext's fallback); a filled one must not be blank. Czech
gaps are reported, not failed, so that a branch can add texts before its translator.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from tests.pages.test_i18n import _catalog, _source_ids

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _effective(locale: str, wanted: set[str]) -> dict[str, str]:
    strings = {m.id: m.string for m in _catalog(locale) if m.id in wanted}
    if locale == "en":
        return {i: (s or i) for i, s in strings.items()}
    return strings


def test_german_and_english_translate_every_marked_text(tmp_path: Path) -> None:
    wanted = _source_ids(tmp_path)
    for locale in ("de", "en"):
        found = _effective(locale, wanted)
        blank = sorted(i for i in wanted if not str(found.get(i) or "").strip())
        assert not blank, (locale, blank[:10])
    czech = _effective("cs", wanted)
    gaps = sorted(i for i in wanted if not czech.get(i))
    if gaps:
        warnings.warn(f"{len(gaps)} texts without Czech: {gaps[:5]}", stacklevel=1)


def test_translations_keep_the_placeholders_of_their_text(tmp_path: Path) -> None:
    """A placeholder the msgid lacks would raise at render time; one dropped loses data."""
    for locale in ("de", "en", "cs"):
        wrong = [
            (m.id, m.string)
            for m in _catalog(locale)
            if m.id
            and isinstance(m.string, str)
            and m.string
            and set(_PLACEHOLDER.findall(m.string)) != set(_PLACEHOLDER.findall(m.id))
        ]
        assert not wrong, (locale, wrong[:5])
