"""The pages' catalogs: German complete, Czech gaps known, catalogs in step with the code."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.pofile import read_po

from outreach.pages.i18n import LOCALE_DIR, negotiate, translations

ROOT = Path(__file__).resolve().parents[2]


def _catalog(locale: str):
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _source_ids(tmp_path: Path) -> set[str]:
    """Every text the pages' code and templates mark, extracted as `pybabel extract` does."""
    from babel.messages.frontend import CommandLineInterface

    pot = tmp_path / "messages.pot"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        keywords = ["-k", "_", "-k", "N_", "-k", "t"]
        output = ["--no-location", "-o", str(pot), "."]
        CommandLineInterface().run(
            ["pybabel", "-q", "extract", "-F", "babel.cfg", *keywords, *output]
        )
    finally:
        os.chdir(cwd)
    with pot.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_every_text_of_the_pages_is_in_the_catalogs_and_german_is_complete(tmp_path):
    wanted = _source_ids(tmp_path)
    for locale in ("de", "en", "cs"):
        ids = {m.id for m in _catalog(locale) if m.id}
        assert not wanted - ids, (locale, sorted(wanted - ids)[:10])
    german = _catalog("de")
    untranslated = [m.id for m in german if m.id and not m.string]
    assert not untranslated, untranslated[:10]


def test_the_catalogs_compile_and_translate():
    assert translations("de").gettext("Sign in") == "Anmelden"
    assert translations("cs").gettext("Sign in") == "Přihlásit"
    assert translations("en").gettext("Sign in") == "Sign in"


def test_accept_language_picks_the_best_supported_language():
    assert negotiate(None) == "de"
    assert negotiate("fr-FR,fr;q=0.9") == "de"
    assert negotiate("fr;q=1.0, cs;q=0.8, en;q=0.5") == "cs"
    assert negotiate("en-GB,en;q=0.9,de;q=0.8") == "en"
    assert negotiate("de;q=0.2, en;q=0.9") == "en"
